"""The dialogs of batch actions on selected photos: which tag to confirm or remove, and
the preview of a move to the trash. They only show and choose; the window's BatchActions
reads their data on the pool and sends their choice to the worker."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from photoclip.core.categories import Category
from photoclip.gui.accessibility import set_accessible
from photoclip.gui.formatting import counted, shown

#: the trash preview lists this many paths, then says how many more
SHOWN_PATHS = 1000
Tag = tuple[str, str]


class TagChooser(QDialog):
    """One tag (category and label) to confirm on, or remove from, the selected photos;
    each offered with how many of them carry it now.

    Signals: chosen(str category, str label) when accepted with a tag picked."""

    chosen = Signal(str, str)

    def __init__(
        self, verb: str, selected: int, tags: Sequence[Tag], carried: Mapping[Tag, int],
        parent: QWidget | None = None,
    ) -> None:  # fmt: skip
        super().__init__(parent)
        self.setWindowTitle(f"{verb} a tag")
        self.list = QListWidget()
        for tag in tags:
            have = carried.get(tag, 0)
            item = QListWidgetItem(f"{tag[0]}: {tag[1]}   ({have} of {selected} have it)")
            item.setData(Qt.ItemDataRole.UserRole, tag)
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)
        text = f"{verb} which tag on {counted(selected, 'photo')}?"
        empty = "These photos carry no tag to remove." if verb == "Remove" else "No tags yet."
        heading = QLabel(text if tags else empty)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(verb)
        self.ok_button.setEnabled(bool(tags))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.list.itemDoubleClicked.connect(lambda _: self.accept())
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.list, 1)
        layout.addWidget(buttons)
        set_accessible(self.list, "Tags", f"The tag to {verb.lower()}")
        self.resize(420, 360)

    def choose(self, category: str, label: str) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == (category, label):
                self.list.setCurrentRow(row)

    def accept(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.chosen.emit(*item.data(Qt.ItemDataRole.UserRole))
        super().accept()


def label_tags(categories: Sequence[Category]) -> list[Tag]:
    """Every label a photo can be tagged with (counter-labels are no tags)."""
    return [(c.name, label.name) for c in categories for label in c.labels if not label.counter]


class TrashPreview(QDialog):
    """Which files go to the trash, before anything moves; Move or Cancel. Says that Undo
    brings them back. (A list view over a string model: 100k paths cost one list.)"""

    def __init__(self, paths: Sequence[Path], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Move to the trash")
        self.paths = list(paths)
        listed = [shown(p) for p in self.paths[:SHOWN_PATHS]]
        if len(self.paths) > SHOWN_PATHS:
            listed.append(f"… and {len(self.paths) - SHOWN_PATHS:,} more")
        self.list = QListView()
        self.list.setModel(QStringListModel(listed, self.list))
        self.list.setUniformItemSizes(True)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        heading = QLabel(
            f"<b>Move {counted(len(self.paths), 'photo')} to the trash?</b><br>"
            "The files leave their folders and PhotoClip. Edit › Undo puts them back "
            "(so does the system trash)."
        )
        heading.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.move_button = buttons.addButton(
            "Move to trash", QDialogButtonBox.ButtonRole.AcceptRole
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.list, 1)
        layout.addWidget(buttons)
        set_accessible(self.list, "Files to move to the trash")
        self.resize(640, 420)
