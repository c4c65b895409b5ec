"""The category editor: categories, their labels, phrasings, context and thresholds.

It edits copies (drafts) and hands back core `Category` objects only when everything is
valid; the main window has the worker save them and re-tag. A draft keeps the stored id
of what it was made from, so a renamed category or label goes back as itself, renamed
(the tag store keeps its corrections and calibration), not as one removed and one new.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from photoclip.core.categories import MULTI, SINGLE, Category, Label, name_problems
from photoclip.core.tagging import DEFAULT_THRESHOLD, CategoryCheck
from photoclip.core.vocabulary import others

#: Names the editor suggests but never saves: a label or category must be named.
PLACEHOLDERS = frozenset({"new label", "new category"})


@dataclass
class LabelDraft:
    name: str
    phrasings: list[str] = field(default_factory=list)
    counter: bool = False
    threshold: float | None = None
    #: the stored label this was made from (None: a new one)
    id: int | None = None

    @classmethod
    def of(cls, label: Label) -> LabelDraft:
        return cls(label.name, list(label.phrasings), label.counter, label.threshold, label.id)

    def label(self) -> Label:
        phrasings = tuple(p.strip() for p in self.phrasings if p.strip())
        return Label(self.name.strip(), phrasings, self.counter, self.threshold, id=self.id)


@dataclass
class CategoryDraft:
    name: str
    labels: list[LabelDraft]
    kind: str = SINGLE
    context: str = ""
    margin: float = 0.0
    other_words: bool = True
    #: the stored category this was made from (None: a new one)
    id: int | None = None

    @classmethod
    def of(cls, category: Category) -> CategoryDraft:
        labels = [LabelDraft.of(label) for label in category.labels]
        return cls(category.name, labels, category.kind, category.context, category.margin,
                   category.other_words, category.id)  # fmt: skip

    def category(self) -> Category:
        labels = tuple(label.label() for label in self.labels)
        margin = self.margin if self.kind == SINGLE else 0.0
        context = self.context.strip()
        return Category(self.name.strip(), labels, self.kind, context, margin,
                        self.other_words, id=self.id)  # fmt: skip


def problems(drafts: Sequence[CategoryDraft]) -> list[str]:
    """What stops these categories being saved, in words a person can act on: the store's
    own name rules (`name_problems`), plus what only an editor can produce (placeholder
    names, two categories of one name) and a category that could never tag."""
    found: list[str] = []
    seen: set[str] = set()
    for draft in drafts:
        name = draft.name.strip()
        if name.lower() in PLACEHOLDERS:
            found.append("A category has no name: give it one.")
        elif name.lower() in seen:
            found.append(f"Two categories are called '{name}': rename one.")
        seen.add(name.lower())
        found += name_problems(draft.category())
        found += _label_problems(draft, name or "the unnamed category")
    return found


def _label_problems(draft: CategoryDraft, name: str) -> list[str]:
    found: list[str] = []
    if not draft.labels:
        found.append(f"'{name}' has no labels: add one.")
    elif all(label.counter for label in draft.labels):
        found.append(f"'{name}' has only counter-labels: it could never tag a photo.")
    elif len(draft.labels) < 2:
        found.append(
            f"'{name}' needs a second label, or a counter-label (what else a photo may "
            "show), before it can tag: one label alone has nothing to be told apart from."
        )
    if any(label.name.strip().lower() in PLACEHOLDERS for label in draft.labels):
        found.append(f"A label of '{name}' has no name.")
    return found


def changes(
    originals: Sequence[Category], drafts: Sequence[CategoryDraft]
) -> tuple[list[Category], list[str]]:
    """(categories new or different from the originals, names of originals gone). A draft
    is the original of its id (renamed or not), else the one of its name; names compare
    without case, as the catalog does."""
    now = [draft.category() for draft in drafts]
    changed = [c for c in now if _original(c, originals) != c]
    ids = {c.id for c in now if c.id is not None}
    claimed = {c.name.lower() for c in now if c.id is None}  # new ones take a row by name
    removed = [c.name for c in originals if c.id not in ids and c.name.lower() not in claimed]
    return changed, removed


Tag = tuple[str, str]


def tag_renames(
    originals: Sequence[Category], changed: Sequence[Category], removed: Sequence[str]
) -> dict[Tag, Tag | None]:
    """What each original (category, label) is called after a save: its new names where the
    category or label was renamed, None where it is gone; tags that stay as they were are
    left out. A tag filter on screen follows this, instead of showing nothing."""
    renames: dict[Tag, Tag | None] = {}
    gone = {name.lower() for name in removed}
    for before in originals:
        after = _category_after(before, changed)
        for label in before.labels:
            old = (before.name, label.name)
            if before.name.lower() in gone and after is None:
                renames[old] = None
            elif after is not None:
                new = _label_after(label, after)
                if new != label.name:
                    renames[old] = (after.name, new) if new is not None else None
                elif after.name != before.name:
                    renames[old] = (after.name, label.name)
    return renames


def _category_after(before: Category, changed: Sequence[Category]) -> Category | None:
    """The saved version of `before`: the one with its id, else a new one taking its name."""
    by_id = next((c for c in changed if before.id is not None and c.id == before.id), None)
    by_name = (c for c in changed if c.id is None and c.name.lower() == before.name.lower())
    return by_id or next(by_name, None)


def _label_after(label: Label, category: Category) -> str | None:
    """The label's name in the saved category: by its id, else by its name; None if gone."""
    same = next(
        (lab for lab in category.labels if label.id is not None and lab.id == label.id), None
    )
    same = same or category.label(label.name)
    return same.name if same is not None else None


def _original(category: Category, originals: Sequence[Category]) -> Category | None:
    if category.id is not None:
        same = next((c for c in originals if c.id == category.id), None)
        if same is not None:
            return same
    return next((c for c in originals if c.name.lower() == category.name.lower()), None)


class CategoryEditor(QDialog):
    """Edit categories and labels; Save is possible only when every category is valid.

    Methods: `set_calibrated(thresholds)` shows the thresholds PhotoClip learned
    ((category, label) -> threshold; optional), `set_checks(checks)` what each category
    does to the library (the figures of `photoclip tags check`; optional),
    `select(category, label)`, `problems()`.

    Signals:
        saved(list changed, list removed): the `Category` objects added or changed (with
            the stored ids of those they were made from: a rename is a changed category
            or label with its old id), and the names of the categories removed. Emitted
            once, by Save, when valid.
    """

    saved = Signal(list, list)

    def __init__(self, categories: list[Category], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit categories")
        self.originals = list(categories)
        self.drafts = [CategoryDraft.of(c) for c in categories]
        self.calibrated: dict[tuple[str, str], float] = {}
        self.checks: dict[str, CategoryCheck] = {}
        #: which words the active model knows (None: any, as CLIP trained on web captions)
        self.known: Callable[[str], bool] | None = None
        self._loading = False
        self._make_widgets()
        self._layout()
        self._connect()
        self._refresh_categories(0)
        self.resize(820, 560)

    # -- widgets -------------------------------------------------------------------------------

    def _make_widgets(self) -> None:
        self.category_list = QListWidget()
        self.add_category_button = QPushButton("Add category")
        self.remove_category_button = QPushButton("Remove")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. “Pets”")
        self.kind_combo = QComboBox()
        self.kind_combo.addItem("One label per photo (single-choice)", SINGLE)
        self.kind_combo.addItem("Any number of labels (multi-label)", MULTI)
        self.context_edit = QLineEdit()
        self.context_edit.setPlaceholderText("optional, e.g. “a type of pet”")
        self.margin_spin = _spin(
            0.0, 1.0, "Single-choice: how far the best label's probability must lead"
        )
        self.check_text = QLabel()
        self.check_text.setWordWrap(True)
        self.check_text.setTextFormat(Qt.TextFormat.PlainText)
        self.other_words_check = QCheckBox("Compare with other words of the same kind")
        self.other_words_check.setToolTip(
            "Single-choice: other words of the labels' kind (another colour, another animal) "
            "compete as part of “none of these”"
        )
        self.others_text = QLabel()
        self.others_text.setWordWrap(True)
        self.others_text.setTextFormat(Qt.TextFormat.PlainText)
        self.label_list = QListWidget()
        self.add_label_button = QPushButton("Add label")
        self.remove_label_button = QPushButton("Remove")
        self.label_name_edit = QLineEdit()
        self.label_name_edit.setPlaceholderText("what the photos show, e.g. “dog”")
        self.phrasings_edit = QPlainTextEdit()
        self.phrasings_edit.setPlaceholderText("other ways to say it, one per line")
        self.phrasings_edit.setTabChangesFocus(True)
        self.counter_check = QCheckBox("Counter-label: competes for photos, never tags one")
        self.threshold_check = QCheckBox("Own threshold")
        self.threshold_spin = _spin(
            0.0, 1.0, "Photos whose probability for the label reaches this get it"
        )
        self.threshold_hint = QLabel()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        buttons = QDialogButtonBox.StandardButton
        self.buttons = QDialogButtonBox(buttons.Save | buttons.Cancel)
        self.save_button = self.buttons.button(buttons.Save)

    def _layout(self) -> None:
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(_column(self.category_list, self.add_category_button,
                                   self.remove_category_button))  # fmt: skip
        splitter.addWidget(self._category_box())
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([220, 600])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    def _category_box(self) -> QGroupBox:
        box = QGroupBox("Category")
        form = QFormLayout()
        form.addRow("Name:", self.name_edit)
        form.addRow("Kind:", self.kind_combo)
        form.addRow("Context:", self.context_edit)
        form.addRow("Margin:", self.margin_spin)
        form.addRow("In the library:", self.check_text)
        form.addRow("Also compared with:", self.others_text)
        form.addRow("", self.other_words_check)
        labels = QHBoxLayout()
        labels.addWidget(
            _column(self.label_list, self.add_label_button, self.remove_label_button), 1
        )
        labels.addWidget(self._label_box(), 2)
        column = QVBoxLayout(box)
        column.addLayout(form)
        column.addLayout(labels, 1)
        return box

    def _label_box(self) -> QGroupBox:
        box = QGroupBox("Label")
        threshold = QHBoxLayout()
        threshold.addWidget(self.threshold_check)
        threshold.addWidget(self.threshold_spin, 1)
        form = QFormLayout(box)
        form.addRow("Name:", self.label_name_edit)
        form.addRow("Phrasings:", self.phrasings_edit)
        form.addRow("", self.counter_check)
        form.addRow("Threshold:", threshold)
        self.threshold_hint.setWordWrap(True)
        form.addRow("", self.threshold_hint)
        return box

    def _connect(self) -> None:
        self.category_list.currentRowChanged.connect(self._on_category_selected)
        self.label_list.currentRowChanged.connect(self._on_label_selected)
        self.add_category_button.clicked.connect(self._on_add_category)
        self.remove_category_button.clicked.connect(self._on_remove_category)
        self.add_label_button.clicked.connect(self._on_add_label)
        self.remove_label_button.clicked.connect(self._on_remove_label)
        for edit in (self.name_edit, self.context_edit):
            edit.textEdited.connect(self._on_category_edited)
        self.kind_combo.currentIndexChanged.connect(self._on_category_edited)
        self.margin_spin.valueChanged.connect(self._on_category_edited)
        self.other_words_check.toggled.connect(self._on_category_edited)
        self.label_name_edit.textEdited.connect(self._on_label_edited)
        self.phrasings_edit.textChanged.connect(self._on_label_edited)
        self.counter_check.toggled.connect(self._on_label_edited)
        self.threshold_check.toggled.connect(self._on_label_edited)
        self.threshold_spin.valueChanged.connect(self._on_label_edited)
        self.buttons.accepted.connect(self._on_save)
        self.buttons.rejected.connect(self.reject)

    # -- the current selection -----------------------------------------------------------------

    def current_category(self) -> CategoryDraft | None:
        row = self.category_list.currentRow()
        return self.drafts[row] if 0 <= row < len(self.drafts) else None

    def current_label(self) -> LabelDraft | None:
        category, row = self.current_category(), self.label_list.currentRow()
        if category is None or not 0 <= row < len(category.labels):
            return None
        return category.labels[row]

    def select(self, category: int, label: int = 0) -> None:
        """Select a category (and one of its labels) by position."""
        self.category_list.setCurrentRow(category)
        self.label_list.setCurrentRow(label)

    # -- showing -------------------------------------------------------------------------------

    def _refresh_categories(self, row: int) -> None:
        self.category_list.clear()
        self.category_list.addItems([_shown(d.name) for d in self.drafts])
        self.category_list.setCurrentRow(min(row, len(self.drafts) - 1))
        if not self.drafts:
            self._on_category_selected(-1)
        self._validate()

    def _on_category_selected(self, row: int) -> None:
        draft = self.current_category()
        self._loading = True
        self.name_edit.setText(draft.name if draft else "")
        self.kind_combo.setCurrentIndex(0 if draft is None or draft.kind == SINGLE else 1)
        self.context_edit.setText(draft.context if draft else "")
        self.margin_spin.setValue(draft.margin if draft else 0.0)
        self.other_words_check.setChecked(draft.other_words if draft else True)
        self._loading = False
        self.check_text.setText(self._check_text(draft))
        for widget in (self.name_edit, self.kind_combo, self.context_edit, self.label_list,
                       self.add_label_button, self.remove_category_button):  # fmt: skip
            widget.setEnabled(draft is not None)
        self._enable_margin()
        self._refresh_labels(0)

    def _refresh_labels(self, row: int) -> None:
        draft = self.current_category()
        labels = draft.labels if draft is not None else []
        self.label_list.clear()
        self.label_list.addItems([_label_text(label) for label in labels])
        self.label_list.setCurrentRow(min(row, len(labels) - 1))
        if not labels:
            self._on_label_selected(-1)

    def _on_label_selected(self, row: int) -> None:
        label = self.current_label()
        self._loading = True
        self.label_name_edit.setText(label.name if label else "")
        self.phrasings_edit.setPlainText("\n".join(label.phrasings) if label else "")
        self.counter_check.setChecked(bool(label and label.counter))
        threshold = label.threshold if label is not None else None
        own = threshold is not None
        self.threshold_check.setChecked(own)
        calibrated = self._calibrated(label)
        usable = calibrated is not None and calibrated != float("inf")
        start = calibrated if usable and calibrated is not None else DEFAULT_THRESHOLD
        self.threshold_spin.setValue(threshold if threshold is not None else start)
        self.threshold_hint.setText(_threshold_hint(calibrated))
        self._loading = False
        for widget in (self.label_name_edit, self.phrasings_edit, self.counter_check,
                       self.threshold_check, self.remove_label_button):  # fmt: skip
            widget.setEnabled(label is not None)
        self.threshold_spin.setEnabled(own)

    def set_calibrated(self, thresholds: Mapping[tuple[str, str], float]) -> None:
        """The thresholds PhotoClip calibrated, shown beside each label's own."""
        self.calibrated = {(c.lower(), lab.lower()): t for (c, lab), t in thresholds.items()}
        self._on_label_selected(self.label_list.currentRow())

    def set_known(self, known: Callable[[str], bool] | None) -> None:
        """The words the active model knows, for the other words a category is compared
        with (a model of a closed vocabulary, such as the demo's, knows few)."""
        self.known = known
        self._validate()

    def set_checks(self, checks: Sequence[CategoryCheck]) -> None:
        """What each stored category does to the library, shown with the category."""
        self.checks = {check.category.lower(): check for check in checks}
        self.check_text.setText(self._check_text(self.current_category()))

    def _check_text(self, draft: CategoryDraft | None) -> str:
        found = self.checks.get(draft.name.strip().lower()) if draft is not None else None
        return check_text(found) if found is not None else "Not saved yet."

    def _calibrated(self, label: LabelDraft | None) -> float | None:
        category = self.current_category()
        if label is None or category is None:
            return None
        return self.calibrated.get((category.name.strip().lower(), label.name.strip().lower()))

    def _enable_margin(self) -> None:
        draft = self.current_category()
        self.margin_spin.setEnabled(draft is not None and draft.kind == SINGLE)
        self.other_words_check.setEnabled(draft is not None and draft.kind == SINGLE)

    # -- editing -------------------------------------------------------------------------------

    def _on_category_edited(self) -> None:
        draft = self.current_category()
        if self._loading or draft is None:
            return
        draft.name = self.name_edit.text()
        draft.kind = self.kind_combo.currentData()
        draft.context = self.context_edit.text()
        draft.margin = self.margin_spin.value()
        draft.other_words = self.other_words_check.isChecked()
        self.category_list.currentItem().setText(_shown(draft.name))
        self._enable_margin()
        self._validate()

    def _on_label_edited(self) -> None:
        label = self.current_label()
        if self._loading or label is None:
            return
        label.name = self.label_name_edit.text()
        label.phrasings = self.phrasings_edit.toPlainText().splitlines()
        label.counter = self.counter_check.isChecked()
        own = self.threshold_check.isChecked()
        label.threshold = round(self.threshold_spin.value(), 3) if own else None
        self.threshold_spin.setEnabled(own)
        self.label_list.currentItem().setText(_label_text(label))
        self._validate()

    def _on_add_category(self) -> None:
        # Empty names, not placeholders: nothing is saved until the user names them.
        self.drafts.append(CategoryDraft("", [LabelDraft("")]))
        self._refresh_categories(len(self.drafts) - 1)
        self.name_edit.setFocus()

    def _on_remove_category(self) -> None:
        row = self.category_list.currentRow()
        if 0 <= row < len(self.drafts):
            del self.drafts[row]
            self._refresh_categories(row)

    def _on_add_label(self) -> None:
        draft = self.current_category()
        if draft is not None:
            draft.labels.append(LabelDraft(""))
            self._refresh_labels(len(draft.labels) - 1)
            self.label_name_edit.setFocus()
            self._validate()

    def _on_remove_label(self) -> None:
        draft, row = self.current_category(), self.label_list.currentRow()
        if draft is not None and 0 <= row < len(draft.labels):
            del draft.labels[row]
            self._refresh_labels(row)
            self._validate()

    # -- saving --------------------------------------------------------------------------------

    def problems(self) -> list[str]:
        return problems(self.drafts)

    def _validate(self) -> bool:
        """Say what stops a save (and, as the labels stand now, what else they compete
        with): called after every edit."""
        self.others_text.setText(others_text(self.current_category(), self.known))
        found = self.problems()
        self.message.setText("\n".join(found))
        self.save_button.setEnabled(not found)
        return not found

    def _on_save(self) -> None:
        if not self._validate():
            return
        changed, removed = changes(self.originals, self.drafts)
        self.saved.emit(changed, removed)
        self.accept()


def check_text(check: CategoryCheck) -> str:
    """'Tags 34% of 240 photos: red 12, green 3' and its warnings, as `tags check` says."""
    counts = ", ".join(f"{label} {n}" for label, n in check.counts.items())
    text = f"Tags {check.share:.0%} of {check.photos} photos: {counts or 'no labels'}"
    return "\n".join([text, *(f"Warning: {w}" for w in check.warnings)])


def others_text(draft: CategoryDraft | None, known: Callable[[str], bool] | None) -> str:
    """The other words of the category's kind that compete with its labels, as tagging
    will use them (`vocabulary.others`)."""
    if draft is None:
        return ""
    if draft.kind != SINGLE:
        return "Nothing else: each label of a multi-label category is decided on its own."
    if not draft.other_words:
        return "Nothing else (turned off): only its labels and “none of these”."
    found = others(draft.category(), known)
    if found is None:
        return "Only its labels and “none of these”."
    return (
        f"Other {found.kind}: {', '.join(found.names)}. A photo that looks more like one of "
        "them than like any label gets no tag."
    )


def _threshold_hint(calibrated: float | None) -> str:
    if calibrated is None:
        return "Without its own threshold, a label uses one PhotoClip learns from the library."
    if calibrated == float("inf"):
        return "No photo stands out for this label: it tags nothing."
    return f"Without its own threshold, this label uses {calibrated:.3f} (learned)."


def _spin(low: float, high: float, tip: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setDecimals(3)
    spin.setSingleStep(0.005)
    spin.setToolTip(tip)
    return spin


def _column(view: QWidget, *buttons: QPushButton) -> QWidget:
    row = QHBoxLayout()
    for button in buttons:
        row.addWidget(button)
    widget = QWidget()
    column = QVBoxLayout(widget)
    column.setContentsMargins(0, 0, 0, 0)
    column.addWidget(view, 1)
    column.addLayout(row)
    return widget


def _shown(name: str) -> str:
    return name.strip() or "(no name)"


def _label_text(label: LabelDraft) -> str:
    text = _shown(label.name)
    if label.counter:
        text += " (counter)"
    if label.threshold is not None:
        text += f" ≥ {label.threshold:.3f}"
    return text
