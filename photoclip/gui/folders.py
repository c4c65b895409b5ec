"""The folder sidebar: PhotoClip's folders with their state (indexing, watching, offline,
polled, errors); choosing one filters the results to it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from photoclip.core.catalog import Catalog
from photoclip.gui.accessibility import set_accessible
from photoclip.gui.formatting import counted, shown

Index = QModelIndex | QPersistentModelIndex
PathRole = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True)
class FolderState:
    path: Path
    online: bool = True
    photos: int = 0
    failed: int = 0
    indexing: bool = False
    polled: bool = False
    #: added by the user, not yet in the catalog (the worker has not reached it)
    scanning: bool = False

    @property
    def summary(self) -> str:
        if self.scanning:
            return "scanning"
        if not self.online:
            state = "offline (photos kept)"
        elif self.indexing:
            state = "indexing"
        else:
            state = "polled" if self.polled else "watching"
        counts = counted(self.photos, "photo")
        if self.failed:
            counts += f", {self.failed:,} could not be read"
        return f"{counts} · {state}"


def read_folders(catalog: Catalog) -> list[FolderState]:
    """Each root with its photo and failure counts (one query for the counts); a file
    that could not be read is a failure, not a photo."""
    counts = {
        r[0]: (r[1] or 0, r[2] or 0)
        for r in catalog.read(
            "SELECT root_id, sum(status = 'indexed'), sum(status = 'failed') FROM photos "
            "GROUP BY root_id"
        )
    }
    return [
        FolderState(root.path, root.online, *counts.get(root.id, (0, 0)))
        for root in catalog.roots()
    ]


class FolderModel(QAbstractListModel):
    """One row per folder: its name, with its state under it."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._folders: list[FolderState] = []
        self._read: list[FolderState] = []
        #: folders added but not yet in the catalog, shown at once as "scanning"
        self._pending: set[Path] = set()
        self._stale: set[Path] = set()
        self._indexing: set[Path] = set()
        self._polled: set[Path] = set()

    def set_folders(self, folders: list[FolderState]) -> None:
        """The catalog's folders, then those added since that the worker has not reached."""
        self._read = list(folders)
        self._pending -= {f.path for f in folders} | self._stale
        self._stale = set()
        scanning = [FolderState(p, scanning=True) for p in sorted(self._pending)]
        self.beginResetModel()
        self._folders = [self._marked(f) for f in [*folders, *scanning]]
        self.endResetModel()

    def add_pending(self, paths: set[Path]) -> None:
        """Folders just added show at once (the worker may be busy for a while)."""
        self._pending |= paths - {f.path for f in self._read}
        self.set_folders(self._read)

    def settle_pending(self) -> None:
        """The worker went idle: a folder it did not add (gone, unreadable) leaves the list
        with the next read of the catalog."""
        self._stale = set(self._pending)

    def mark_indexing(self, paths: set[Path]) -> None:
        self._indexing = set(paths)
        self._refresh()

    def add_indexing(self, paths: set[Path]) -> None:
        """More folders to index; those already indexing still are."""
        self.mark_indexing(self._indexing | paths)

    def mark_polled(self, path: Path) -> None:
        self._polled.add(path)
        self._refresh()

    def set_online(self, path: Path, online: bool) -> None:
        self._folders = [replace(f, online=online) if f.path == path else f for f in self._folders]
        self._refresh()

    @property
    def folders(self) -> list[FolderState]:
        return list(self._folders)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._folders)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._folders):
            return None
        folder = self._folders[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{shown(folder.path.name or folder.path)}\n{folder.summary}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{shown(folder.path)}\n{folder.summary}"
        if role == PathRole:  # the Path itself: a Qt string would drop odd bytes
            return folder.path
        return None

    def _marked(self, folder: FolderState) -> FolderState:
        return replace(
            folder, indexing=folder.path in self._indexing, polled=folder.path in self._polled
        )

    def _refresh(self) -> None:
        self._folders = [self._marked(f) for f in self._folders]
        if self._folders:
            self.dataChanged.emit(self.index(0), self.index(len(self._folders) - 1))


class FolderList(QWidget):
    """Signals: add_requested(), remove_requested(str path) after the user confirmed,
    folder_chosen(str path) ("" for all folders)."""

    add_requested = Signal()
    remove_requested = Signal(object)  # paths as Python objects (formatting.shown)
    folder_chosen = Signal(object)

    def __init__(self, model: FolderModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.view = QListView()
        self.view.setModel(model)
        self.view.setWordWrap(True)
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.view.setSelectionMode(QListView.SelectionMode.SingleSelection)
        self.view.clicked.connect(self._on_clicked)
        title = QLabel("<b>Folders</b>")
        add, self.remove, everything = (
            QPushButton("Add…"),
            QPushButton("Remove"),
            QPushButton("All"),
        )
        add.setToolTip("Add a folder to PhotoClip (or drop one on the window)")
        self.remove.setToolTip("Remove the chosen folder from PhotoClip (its files stay)")
        everything.setToolTip("Show photos of every folder")
        self.add_button, self.all_button = add, everything
        add.clicked.connect(self.add_requested)
        self.remove.clicked.connect(self._confirm_remove)
        everything.clicked.connect(self._choose_all)
        set_accessible(
            self.view, "Folders", "PhotoClip's folders and their state; choose one to filter"
        )
        set_accessible(add, "Add a folder")
        set_accessible(self.remove, "Remove the chosen folder")
        set_accessible(everything, "Show all folders")
        buttons = QHBoxLayout()
        for button in (add, self.remove, everything):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(title)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)

    def chosen(self) -> str:
        index = self.view.currentIndex()
        return str(index.data(PathRole)) if index.isValid() else ""

    def _on_clicked(self, index: QModelIndex) -> None:
        self.folder_chosen.emit(str(index.data(PathRole)))

    def _choose_all(self) -> None:
        self.view.clearSelection()
        self.view.setCurrentIndex(QModelIndex())
        self.folder_chosen.emit("")

    def _confirm_remove(self) -> None:
        path = self.chosen()
        if not path:
            return
        answer = QMessageBox.question(
            self,
            "Remove folder",
            f"Remove {shown(path)} from PhotoClip?\n\nIts photos leave PhotoClip's search and "
            "tags; the files stay on your disk, untouched.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.remove_requested.emit(path)
