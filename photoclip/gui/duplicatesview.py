"""The near-duplicates dialog: groups of copies with thumbnails, the photo each group keeps,
and the others checked for the trash. It is the preview: nothing moves until the user
presses the button, and then only the checked photos, to the system trash (with undo).

A plain panel: it takes core.duplicates.DuplicateGroup data and thumbnails as QImages,
and emits requests; the main window runs them as worker jobs and reports back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QFont, QImage
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from photoclip.core.catalog import Photo
from photoclip.core.duplicates import DuplicateGroup
from photoclip.gui.models import column_title

Index = QModelIndex | QPersistentModelIndex
#: internalId of a group row; a photo row's is its group's row + 1
_GROUP = 0
THUMBNAIL_SIZE = 96


@dataclass
class _Group:
    #: the keeper first
    photos: list[Photo]
    #: paths checked for the trash
    checked: set[str] = field(default_factory=set)


class DuplicateModel(QAbstractItemModel):
    """A two-level tree: a row per group, under it a row per photo (the keeper first,
    never checkable; the others checkable, checked at first)."""

    HEADERS = ("Photo", "Size", "Date")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.groups: list[_Group] = []
        self.thumbnails: dict[str, QImage] = {}

    # -- data in and out ---------------------------------------------------------------------

    def set_groups(self, groups: Sequence[DuplicateGroup]) -> None:
        self.beginResetModel()
        self.groups = [_Group([g.keep, *g.others], {str(p.path) for p in g.others}) for g in groups]
        self.endResetModel()

    def set_thumbnail(self, path: str, image: QImage) -> None:
        self.thumbnails[path] = image
        for row, group in enumerate(self.groups):
            for child, photo in enumerate(group.photos):
                if str(photo.path) == path:
                    cell = self.index(child, 0, self.index(row, 0))
                    self.dataChanged.emit(cell, cell, [Qt.ItemDataRole.DecorationRole])

    def checked_paths(self) -> list[str]:
        return [str(p.path) for g in self.groups for p in g.photos if str(p.path) in g.checked]

    def all_paths(self) -> list[str]:
        return [str(p.path) for g in self.groups for p in g.photos]

    def make_keeper(self, index: Index) -> None:
        """The photo at `index` becomes its group's keeper (moved to the top, unchecked);
        the old keeper is checked for the trash instead."""
        group = self._group_of(index)
        if group is None or index.row() == 0:
            return
        parent, source = index.parent(), index.row()
        old, photo = group.photos[0], group.photos[source]
        self.beginMoveRows(parent, source, source, parent, 0)
        group.photos.insert(0, group.photos.pop(source))
        self.endMoveRows()
        group.checked.discard(str(photo.path))
        group.checked.add(str(old.path))
        last = self.index(len(group.photos) - 1, len(self.HEADERS) - 1, parent)
        self.dataChanged.emit(self.index(0, 0, parent), last)
        self.dataChanged.emit(parent, parent)

    # -- the tree ----------------------------------------------------------------------------

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, _GROUP)
        return self.createIndex(row, column, parent.row() + 1)

    def parent(self, child: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not child.isValid() or child.internalId() == _GROUP:
            return QModelIndex()
        return self.createIndex(child.internalId() - 1, 0, _GROUP)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        if not parent.isValid():
            return len(self.groups)
        if parent.internalId() == _GROUP and parent.column() == 0:
            return len(self.groups[parent.row()].photos)
        return 0

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return len(self.HEADERS)

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if self._group_of(index) is not None and index.row() > 0 and index.column() == 0:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        group = self._group_of(index)
        if group is None:
            return self._group_data(index, role)
        return self._photo_data(group, index, role)

    def setData(self, index: Index, value: object, role: int = Qt.ItemDataRole.EditRole) -> bool:
        group = self._group_of(index)
        if role != Qt.ItemDataRole.CheckStateRole or group is None or index.row() == 0:
            return False
        path = str(group.photos[index.row()].path)
        if _is_checked(value):
            group.checked.add(path)
        else:
            group.checked.discard(path)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        return True

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        return column_title(self.HEADERS, section, orientation, role)

    # -- cells -------------------------------------------------------------------------------

    def _group_of(self, index: Index) -> _Group | None:
        """The group a photo row belongs to; None for a group row."""
        if not index.isValid() or index.internalId() == _GROUP:
            return None
        return self.groups[index.internalId() - 1]

    def _group_data(self, index: Index, role: int) -> object:
        if role != Qt.ItemDataRole.DisplayRole or index.column() != 0:
            return None
        group = self.groups[index.row()]
        going = len(group.checked)
        return f"{len(group.photos)} photos: keep 1, move {going} to the trash"

    def _photo_data(self, group: _Group, index: Index, role: int) -> object:
        photo, column = group.photos[index.row()], index.column()
        keeper = index.row() == 0
        if role == Qt.ItemDataRole.DisplayRole:
            return _photo_cells(photo, keeper)[column]
        if role == Qt.ItemDataRole.ToolTipRole and column == 0:
            return str(photo.path)
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return self.thumbnails.get(str(photo.path))
        if role == Qt.ItemDataRole.CheckStateRole and column == 0 and not keeper:
            checked = str(photo.path) in group.checked
            return Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.FontRole and keeper:
            font = QFont()
            font.setBold(True)
            return font
        return None


def _photo_cells(photo: Photo, keeper: bool) -> tuple[str, str, str]:
    name = f"{photo.path.name} (keep)" if keeper else photo.path.name
    size = f"{photo.width} x {photo.height}" if photo.width and photo.height else "?"
    date = datetime.fromtimestamp(photo.date).strftime("%Y-%m-%d %H:%M")
    return name, size, date


def _is_checked(value: object) -> bool:
    if isinstance(value, Qt.CheckState):
        return value == Qt.CheckState.Checked
    return value == Qt.CheckState.Checked.value


class DuplicatesDialog(QDialog):
    """Near-duplicate groups to review; double-click a photo to keep it instead.

    Signals:
        trash_requested(list): the checked photos' paths (str), to move to the trash
        undo_requested(): take the last batch back out of the trash
        thumbnails_requested(list): paths (str) whose thumbnails `set_thumbnail` may give
    """

    trash_requested = Signal(list)
    undo_requested = Signal()
    thumbnails_requested = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Near-duplicate photos")
        self.model = DuplicateModel(self)
        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.tree.doubleClicked.connect(self._on_double_clicked)
        self.summary = QLabel()
        self.message = QLabel()
        self.progress = QProgressBar()
        self.progress.hide()
        self.trash_button = QPushButton()
        self.trash_button.clicked.connect(self._on_trash_clicked)
        self.undo_button = QPushButton("Undo last move to the trash")
        self.undo_button.setEnabled(False)
        self.undo_button.clicked.connect(self.undo_requested)
        self.model.dataChanged.connect(self._update_summary)
        self.model.modelReset.connect(self._update_summary)
        self._layout()
        self._update_summary()

    def _layout(self) -> None:
        buttons = QHBoxLayout()
        buttons.addWidget(self.undo_button)
        buttons.addStretch()
        buttons.addWidget(self.trash_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.resize(720, 560)

    # -- fed by the window -------------------------------------------------------------------

    def set_progress(self, done: int, total: int) -> None:
        """While the search runs: photos compared so far (DuplicateFinder's progress)."""
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.show()
        self.summary.setText("Looking for near-duplicates...")

    def set_groups(self, groups: Sequence[DuplicateGroup]) -> None:
        self.progress.hide()
        self.model.set_groups(groups)
        self.tree.expandAll()
        self.message.clear()
        if groups:
            self.thumbnails_requested.emit(self.model.all_paths())

    def set_thumbnail(self, path: str, image: QImage) -> None:
        self.model.set_thumbnail(path, image)

    def set_undo_enabled(self, enabled: bool) -> None:
        self.undo_button.setEnabled(enabled)

    def show_message(self, text: str) -> None:
        self.message.setText(text)

    # -- requests ----------------------------------------------------------------------------

    def _on_trash_clicked(self) -> None:
        paths = self.model.checked_paths()
        if paths:
            self.trash_requested.emit(paths)

    def _on_double_clicked(self, index: QModelIndex) -> None:
        self.model.make_keeper(index.siblingAtColumn(0))

    def _update_summary(self, *_: object) -> None:
        groups, going = len(self.model.groups), len(self.model.checked_paths())
        if not groups:
            self.summary.setText("No near-duplicate photos found.")
        else:
            self.summary.setText(
                f"{groups} groups of near-duplicates. Checked photos go to the system trash "
                "(you can undo); the photo in bold stays."
            )
        self.trash_button.setText(f"Move {going} photos to the trash")
        self.trash_button.setEnabled(going > 0)
