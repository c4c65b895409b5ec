"""The tag panel: categories and their labels with photo counts; click a label to filter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from photoclip.core.browsing import TagCount
from photoclip.gui.accessibility import set_accessible
from photoclip.gui.models import column_title

Index = QModelIndex | QPersistentModelIndex
NO_PARENT = 0  # internalId of a category row; a label row holds its category's row + 1


@dataclass(frozen=True)
class CategoryNode:
    name: str
    kind: str
    labels: tuple[TagCount, ...]


def group(counts: Sequence[TagCount]) -> list[CategoryNode]:
    """Counts by category, in the order given; counter-labels are left out (they never tag
    a photo, so there is nothing to filter by)."""
    order: dict[str, list[TagCount]] = {}
    kinds: dict[str, str] = {}
    for count in counts:
        order.setdefault(count.category, [])
        kinds[count.category] = count.kind
        if not count.counter:
            order[count.category].append(count)
    return [CategoryNode(name, kinds[name], tuple(labels)) for name, labels in order.items()]


class TagModel(QAbstractItemModel):
    """Two levels: categories, then their labels. Columns: name, photos.
    A label's UserRole is (category, label); a category's is (category, None)."""

    HEADERS = ("Tag", "Photos")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._categories: list[CategoryNode] = []

    def set_counts(self, counts: Sequence[TagCount]) -> None:
        self.beginResetModel()
        self._categories = group(counts)
        self.endResetModel()

    # -- structure -----------------------------------------------------------------------------

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, NO_PARENT)
        return self.createIndex(row, column, parent.row() + 1)

    def parent(self, child: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not child.isValid() or child.internalId() == NO_PARENT:
            return QModelIndex()
        return self.createIndex(child.internalId() - 1, 0, NO_PARENT)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        if not parent.isValid():
            return len(self._categories)
        if parent.column() != 0 or parent.internalId() != NO_PARENT:
            return 0
        return len(self._categories[parent.row()].labels)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return len(self.HEADERS)

    # -- data ----------------------------------------------------------------------------------

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        category, label = self._item(index)
        if role == Qt.ItemDataRole.UserRole:
            return (category.name, None if label is None else label.label)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(category, label, index.column())
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(category, label)
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        return column_title(self.HEADERS, section, orientation, role)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def _item(self, index: Index) -> tuple[CategoryNode, TagCount | None]:
        if index.internalId() == NO_PARENT:
            return self._categories[index.row()], None
        category = self._categories[index.internalId() - 1]
        return category, category.labels[index.row()]

    def _text(self, category: CategoryNode, label: TagCount | None, column: int) -> str:
        if label is None:
            return category.name if column == 0 else ""
        return label.label if column == 0 else str(label.count)

    def _tooltip(self, category: CategoryNode, label: TagCount | None) -> str:
        if label is None:
            kind = "one label per photo" if category.kind == "single" else "any number of labels"
            return f"{category.name}: {kind}"
        return f"Show the {label.count} photos tagged {category.name}: {label.label}"

    def label_index(self, category: str, label: str) -> QModelIndex:
        """The index of a label, or an invalid one."""
        for row, node in enumerate(self._categories):
            for label_row, count in enumerate(node.labels):
                if node.name == category and count.label == label:
                    return self.index(label_row, 0, self.index(row, 0))
        return QModelIndex()


class TagPanel(QWidget):
    """Categories and labels with counts; a click on a label filters the results by it.

    Methods: `set_counts(counts)`, `set_filter(category, label)` / `clear_filter()` (show
    a filter set elsewhere, emitting nothing), `current_filter()`.

    Signals:
        filter_requested(str category, str label): show only photos with this tag.
        filter_cleared(): show every photo again.
        edit_requested(): open the category editor.
        suggestions_requested(): offer the suggested categories (from the empty panel).
    """

    filter_requested = Signal(str, str)
    filter_cleared = Signal()
    edit_requested = Signal()
    suggestions_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = TagModel(self)
        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.clicked.connect(self._on_activated)
        self.tree.activated.connect(self._on_activated)
        self.filter_label = QLabel()
        self.filter_label.setWordWrap(True)
        self.clear_button = QPushButton("Clear filter")
        self.clear_button.clicked.connect(self._on_clear)
        self.edit_button = QPushButton("Edit categories…")
        self.edit_button.clicked.connect(self.edit_requested.emit)
        self.empty = self._empty_note()
        #: the tree, or (while there are no categories) a note that says how to make some:
        #: an empty white box told nobody that tags exist
        self.stack = QStackedWidget()
        self.stack.addWidget(self.tree)
        self.stack.addWidget(self.empty)
        self.stack.setCurrentWidget(self.empty)
        set_accessible(
            self.tree, "Tags", "Tag categories and labels with photo counts; choose one to filter"
        )
        set_accessible(self.clear_button, "Clear the tag filter")
        set_accessible(self.edit_button, "Edit tag categories")
        self._filter: tuple[str, str] | None = None
        self._layout()
        self._show_filter()

    def _layout(self) -> None:
        row = QHBoxLayout()
        row.addWidget(self.filter_label, 1)
        row.addWidget(self.clear_button)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.stack, 1)
        column.addLayout(row)
        column.addWidget(self.edit_button)

    def _empty_note(self) -> QWidget:
        note = QLabel(
            "No tag categories yet. A category is a list of labels, such as "
            "<i>Pets: dog, cat</i>; PhotoClip tags each photo with the label that fits."
        )
        note.setWordWrap(True)
        suggest = QPushButton("Add suggested categories…")
        suggest.clicked.connect(self.suggestions_requested.emit)
        set_accessible(suggest, "Add suggested categories", "Shows each with how many it tags")
        box = QWidget()
        column = QVBoxLayout(box)
        column.addWidget(note)
        column.addWidget(suggest)
        column.addStretch(1)
        return box

    def set_counts(self, counts: Sequence[TagCount]) -> None:
        self.model.set_counts(counts)
        self.tree.expandAll()
        has_categories = self.model.rowCount() > 0
        self.stack.setCurrentWidget(self.tree if has_categories else self.empty)
        self._show_filter()

    def current_filter(self) -> tuple[str, str] | None:
        return self._filter

    def set_filter(self, category: str, label: str) -> None:
        self._filter = (category, label)
        self._show_filter()

    def clear_filter(self) -> None:
        self._filter = None
        self._show_filter()

    def _show_filter(self) -> None:
        if self._filter is None:
            self.filter_label.setText("Showing all photos")
            self.clear_button.setEnabled(False)
            self.tree.clearSelection()
            return
        self.filter_label.setText("Only <b>{}: {}</b>".format(*map(escape, self._filter)))
        self.clear_button.setEnabled(True)
        index = self.model.label_index(*self._filter)
        if index.isValid():
            self.tree.setCurrentIndex(index)

    def _on_activated(self, index: QModelIndex) -> None:
        category, label = index.siblingAtColumn(0).data(Qt.ItemDataRole.UserRole)
        if label is None:
            return
        if self._filter != (category, label):
            self.set_filter(category, label)
            self.filter_requested.emit(category, label)

    def _on_clear(self) -> None:
        self.clear_filter()
        self.filter_cleared.emit()
