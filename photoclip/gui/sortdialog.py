"""The auto-sort dialog: rules, a preview of the plan, apply with progress, undo.

Nothing is applied without a preview: Apply is enabled only while the plan on screen is a
fresh one for the rules on screen and the core found nothing that stops it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from html import escape
from pathlib import Path

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from photoclip.core.categories import Category
from photoclip.core.sorting import (
    ALBUM,
    APPLIED,
    APPLYING,
    BLOCKED,
    DONE,
    KEPT,
    MODES,
    PENDING,
    PLANNED,
    REVERTED,
    UNDOING,
    UNDONE,
    Plan,
    Rule,
    SortError,
    Step,
)
from photoclip.gui.formatting import human_size

Index = QModelIndex | QPersistentModelIndex
DEFAULT_DESTINATION = "~/Pictures/Sorted/{category}/{label}/{year}"
WILL = {"copy": "will copy", "move": "will move", "hardlink": "will link", "symlink": "will link",
        ALBUM: "will add to album"}  # fmt: skip


def step_status(step: Step) -> str:
    """What happens (or happened) to one photo, in words."""
    renamed = step.action != ALBUM and Path(step.destination).name != Path(step.source).name
    if step.status == BLOCKED:
        return f"skipped: {step.note}"
    if step.status == PENDING:
        return WILL[step.action] + (", renamed (name taken)" if renamed else "")
    if step.status == KEPT:
        return f"kept: {step.note}"
    return {DONE: "done", UNDONE: "put back"}.get(step.status, step.status)


class PlanModel(QAbstractTableModel):
    """The plan's steps: source, destination, action, status."""

    HEADERS = ("Photo", "Goes to", "How", "Status")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.steps: list[Step] = []

    def set_steps(self, steps: Sequence[Step]) -> None:
        self.beginResetModel()
        self.steps = list(steps)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.steps)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or role not in (
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.ToolTipRole,
        ):
            return None
        step = self.steps[index.row()]
        destination = f"album “{step.destination}”" if step.action == ALBUM else step.destination
        return (step.source, destination, step.action, step_status(step))[index.column()]

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if role != Qt.ItemDataRole.DisplayRole or not 0 <= section < len(self.HEADERS):
            return None
        return self.HEADERS[section] if orientation == Qt.Orientation.Horizontal else section + 1


class SortDialog(QDialog):
    """Rules (CATEGORY:LABEL or CATEGORY:* -> a folder pattern or an album, with a mode),
    Preview, Apply with progress, Undo.

    Methods: `set_categories(categories)` (offers their tags), `show_plan(plan)`,
    `set_progress(done, total)`, `show_done(message)`, `show_error(message)`,
    `rules()` (the rules on screen; raises SortError), `add_rule(tag, destination, mode)`.

    Signals:
        plan_requested(list rules): make a plan for these core `Rule`s (Preview).
        apply_requested(): carry out the plan last shown.
        undo_requested(): put back what the last apply did.
    """

    plan_requested = Signal(list)
    apply_requested = Signal()
    undo_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Sort photos by tag")
        self.plan: Plan | None = None
        self._fresh = False  # the plan shown was made from the rules shown
        self._busy = False
        self._running = ""  # "apply" or "undo" while the main window works on it
        self._tags: list[str] = []
        self.model = PlanModel(self)
        self._make_widgets()
        self._layout()
        self._connect()
        self.add_rule()
        self._update_buttons()
        self.resize(960, 640)

    # -- widgets -------------------------------------------------------------------------------

    def _make_widgets(self) -> None:
        self.rule_table = QTableWidget(0, 3)
        self.rule_table.setHorizontalHeaderLabels(["Photos tagged", "Go to", "How"])
        header = self.rule_table.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.resizeSection(0, 220)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.rule_table.verticalHeader().setVisible(False)
        self.rule_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.add_rule_button = QPushButton("Add rule")
        self.remove_rule_button = QPushButton("Remove rule")
        self.preview_button = QPushButton("Preview")
        self.plan_view = QTableView()
        self.plan_view.setModel(self.model)
        self.plan_view.setSortingEnabled(False)
        self.plan_view.setWordWrap(False)
        self.plan_view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.plan_view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.plan_view.horizontalHeader().setStretchLastSection(True)
        self.plan_view.verticalHeader().setVisible(False)
        self.summary = QLabel("Add rules, then Preview to see what would go where.")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.apply_button = QPushButton("Apply")
        self.undo_button = QPushButton("Undo")
        self.close_button = QPushButton("Close")

    def _layout(self) -> None:
        rules = QGroupBox("Rules")
        rule_buttons = QHBoxLayout()
        for button in (self.add_rule_button, self.remove_rule_button):
            rule_buttons.addWidget(button)
        rule_buttons.addStretch(1)
        rule_buttons.addWidget(self.preview_button)
        column = QVBoxLayout(rules)
        column.addWidget(self.rule_table)
        column.addLayout(rule_buttons)
        plan = QGroupBox("Plan")
        plan_column = QVBoxLayout(plan)
        plan_column.addWidget(self.plan_view, 1)
        plan_column.addWidget(self.summary)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(rules)
        splitter.addWidget(plan)
        splitter.setSizes([200, 440])
        buttons = QDialogButtonBox()
        buttons.addButton(self.apply_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.undo_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.close_button, QDialogButtonBox.ButtonRole.RejectRole)
        bottom = QHBoxLayout()
        bottom.addWidget(self.progress, 1)
        bottom.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.message)
        layout.addLayout(bottom)

    def _connect(self) -> None:
        self.add_rule_button.clicked.connect(lambda: self.add_rule())
        self.remove_rule_button.clicked.connect(self._on_remove_rule)
        self.preview_button.clicked.connect(self._on_preview)
        self.apply_button.clicked.connect(self._on_apply)
        self.undo_button.clicked.connect(self._on_undo)
        self.close_button.clicked.connect(self.reject)

    def set_selection(self, count: int) -> None:
        """The plan covers `count` photos selected in the grid, not the whole library."""
        self.setWindowTitle(f"Sort {count:,} selected photo{'s' if count != 1 else ''} by tag")
        self.summary.setText(
            f"Only the {count:,} selected photos are sorted. Add rules, then Preview."
        )

    # -- rules ---------------------------------------------------------------------------------

    def set_categories(self, categories: Sequence[Category]) -> None:
        """Offer `Category:label` and `Category:*` for every category in the tag boxes."""
        self._tags = [text for category in categories for text in _tag_texts(category)]
        for row in range(self.rule_table.rowCount()):
            box = self._tag_box(row)
            current = box.currentText()
            box.clear()
            box.addItems(self._tags)
            box.setCurrentText(current)

    def add_rule(self, tag: str = "", destination: str = "", mode: str = "copy") -> None:
        row = self.rule_table.rowCount()
        self.rule_table.insertRow(row)
        tag_box = QComboBox()
        tag_box.setEditable(True)
        tag_box.addItems(self._tags)
        tag_box.setCurrentText(tag)
        tag_box.setPlaceholderText("Category:label or Category:*")
        tag_box.currentTextChanged.connect(self._on_rules_edited)
        where = QLineEdit(destination)
        where.setPlaceholderText(DEFAULT_DESTINATION + "   or an album name")
        where.textChanged.connect(self._on_rules_edited)
        how = QComboBox()
        for name in (*MODES, ALBUM):
            how.addItem(_mode_text(name), name)
        how.setCurrentIndex(how.findData(mode))
        how.currentIndexChanged.connect(self._on_rules_edited)
        for column, widget in enumerate((tag_box, where, how)):
            self.rule_table.setCellWidget(row, column, widget)
        self._on_rules_edited()

    def rules(self) -> list[Rule]:
        """The rules on screen as core rules; SortError says what is wrong with one."""
        found = []
        for row in range(self.rule_table.rowCount()):
            tag = self._tag_box(row).currentText().strip()
            destination = self._where(row).text().strip()
            mode = self._how(row).currentData()
            if not tag and not destination:
                continue  # an empty row is no rule
            if mode == ALBUM:
                destination = f"album:{destination}"
            else:
                check_pattern(destination)
            found.append(Rule.parse(f"{tag}={destination}", "copy" if mode == ALBUM else mode))
        if not found:
            raise SortError("Add a rule: which tag, and where its photos go.")
        return found

    def _tag_box(self, row: int) -> QComboBox:
        return self.rule_table.cellWidget(row, 0)  # type: ignore[return-value]

    def _where(self, row: int) -> QLineEdit:
        return self.rule_table.cellWidget(row, 1)  # type: ignore[return-value]

    def _how(self, row: int) -> QComboBox:
        return self.rule_table.cellWidget(row, 2)  # type: ignore[return-value]

    def _on_remove_rule(self) -> None:
        rows = {index.row() for index in self.rule_table.selectedIndexes()}
        rows = rows or {self.rule_table.currentRow()}
        for row in sorted(rows - {-1}, reverse=True):
            self.rule_table.removeRow(row)
        self._on_rules_edited()

    def _on_rules_edited(self) -> None:
        if self._fresh and self.plan is not None and self.plan.state == PLANNED:
            self.message.setText("The rules changed: Preview again before applying.")
        self._fresh = False
        self._update_buttons()

    # -- plan, apply, undo ---------------------------------------------------------------------

    def _on_preview(self) -> None:
        try:
            rules = self.rules()
        except SortError as error:
            self.show_error(str(error))
            return
        self.message.setText("Making the plan…")
        self.plan_requested.emit(rules)

    def show_plan(self, plan: Plan) -> None:
        """Show a plan (made for the rules on screen, or the latest one after apply/undo)."""
        self.plan = plan
        self._fresh = True
        self._busy, self._running = False, ""
        self.model.set_steps(plan.steps)
        self._fit_columns()
        self.summary.setText(plan_summary(plan))
        self.message.setText(_next_step(plan))
        self._update_buttons()

    def _fit_columns(self) -> None:
        header = self.plan_view.horizontalHeader()
        header.resizeSection(2, header.sectionSizeHint(2))
        self.plan_view.resizeColumnToContents(2)
        width = max(self.plan_view.viewport().width() - header.sectionSize(2), 500)
        for column, share in enumerate((0.35, 0.4)):
            header.resizeSection(column, int(width * share))

    def can_apply(self) -> bool:
        plan = self.plan
        return (
            plan is not None
            and self._fresh
            and not self._busy
            and not plan.problems
            and plan.state in (PLANNED, APPLYING)
            and any(step.status == PENDING for step in plan.steps)
        )

    def can_undo(self) -> bool:
        plan = self.plan
        return plan is not None and not self._busy and plan.state in (APPLYING, APPLIED, UNDOING)

    def _on_apply(self) -> None:
        if not self.can_apply():
            self.message.setText("Preview the plan first.")
            return
        self._start("apply", "Applying the plan…")
        self.apply_requested.emit()

    def _on_undo(self) -> None:
        if self.can_undo():
            self._start("undo", "Putting everything back…")
            self.undo_requested.emit()

    def _start(self, operation: str, text: str) -> None:
        self._busy = True
        self._running = operation
        self.message.setText(text)
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self._update_buttons()

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setVisible(True)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(done, max(total, 1)))
        self.progress.setFormat(f"{done} of {total}")

    def show_done(self, message: str, plan: Plan | None = None) -> None:
        """Apply or undo finished: the plan on screen is spent either way. With the plan as
        carried out, each row says what happened (done, skipped, kept) and the bar counts."""
        self._settle(APPLIED if self._running == "apply" else REVERTED)
        if plan is None:
            self.progress.setRange(0, 1)
            self.progress.setValue(1)
        else:
            self.model.set_steps(plan.steps)
            finished = sum(1 for step in plan.steps if step.status in (DONE, UNDONE))
            self.set_progress(finished, len(plan.steps))
        self.message.setText(message)
        self._update_buttons()

    def show_error(self, message: str) -> None:
        """Planning, apply or undo failed; an apply or undo cut short can go on or back."""
        self._settle(APPLYING if self._running == "apply" else UNDOING)
        self.progress.setVisible(False)
        self.message.setText(f"<b>Could not do it:</b> {escape(message, quote=False)}")
        self._update_buttons()

    def _settle(self, state: str) -> None:
        if self.plan is not None and self._running:
            self.plan = replace(self.plan, state=state)
        self._busy = False
        self._running = ""

    def set_undoable(self, plan: Plan) -> None:
        """Offer Undo for a sort applied earlier (the latest journal), without a preview."""
        if self.plan is None:
            self.plan = plan
            self._fresh = False
            self._update_buttons()

    def _update_buttons(self) -> None:
        self.apply_button.setEnabled(self.can_apply())
        self.undo_button.setEnabled(self.can_undo())
        for widget in (self.preview_button, self.rule_table, self.add_rule_button,
                       self.remove_rule_button):  # fmt: skip
            widget.setEnabled(not self._busy)


def check_pattern(pattern: str) -> None:
    """Refuse a folder pattern the plan could not expand, or one relative to nowhere."""
    fields = {"category": "c", "label": "l", "year": "2000", "month": "01"}
    try:
        expanded = pattern.format(**fields)
    except (KeyError, IndexError, ValueError) as error:
        raise SortError(
            f"'{pattern}': unknown field {error}; use {{category}} {{label}} {{year}} {{month}}"
        ) from error
    if pattern and not Path(expanded).expanduser().is_absolute():
        raise SortError(f"'{pattern}' is not a full folder path: start it with / or ~")


def plan_summary(plan: Plan) -> str:
    """Counts, skipped photos and why, renames, free space and problems, as rich text."""
    counts: dict[str, int] = {}
    for step in plan.steps:
        counts[step.action] = counts.get(step.action, 0) + (step.status != BLOCKED)
    skipped = sum(step.status == BLOCKED for step in plan.steps)
    parts = [f"{n} to {action}" for action, n in counts.items() if n]
    lines = [f"<b>{len(plan.steps)} photos</b>: " + (", ".join(parts) or "nothing to do")]
    if skipped:
        lines.append(f"{skipped} skipped (see Status)")
    for folder, (needed, free) in plan.space.items():
        lines.append(f"{escape(folder)}: needs {human_size(needed)}, {human_size(free)} free")
    lines += [f"Note: {escape(c)}" for c in plan.conflicts]
    lines += [f"<b>Cannot apply:</b> {escape(p)}" for p in plan.problems]
    return "<br>".join(lines)


def _next_step(plan: Plan) -> str:
    if plan.problems:
        return "Fix the problems above (free some space or change the rules), then Preview."
    if plan.state == PLANNED and not plan.steps:
        return "No photo carries these tags."
    return {
        PLANNED: "Check the plan, then Apply. Nothing has been changed yet.",
        APPLYING: "A sort was interrupted: Apply goes on with it, Undo puts it back.",
        APPLIED: "Sorted. Undo puts everything back.",
        UNDOING: "An undo was interrupted: Undo goes on with it.",
    }.get(plan.state, "Everything was put back.")


def _tag_texts(category: Category) -> list[str]:
    labels = [f"{category.name}:{label.name}" for label in category.labels if not label.counter]
    return [f"{category.name}:*", *labels]


def _mode_text(mode: str) -> str:
    return {
        "copy": "Copy",
        "move": "Move",
        "hardlink": "Hard link",
        "symlink": "Symbolic link",
        ALBUM: "Add to album",
    }[mode]
