"""The photos that could not be indexed, with their reasons: sortable, paths copyable."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from photoclip.core.browsing import Failure
from photoclip.gui.formatting import shown
from photoclip.gui.models import column_title

Index = QModelIndex | QPersistentModelIndex
#: the value a column sorts by (dates sort as dates, not as their text)
SortRole = Qt.ItemDataRole.UserRole


class FailureModel(QAbstractTableModel):
    """Failed photos: path, reason, when first seen."""

    HEADERS = ("Photo", "Reason", "Since")

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.failures: list[Failure] = []

    def set_failures(self, failures: Sequence[Failure]) -> None:
        self.beginResetModel()
        self.failures = list(failures)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.failures)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        failure = self.failures[index.row()]
        if role == SortRole:
            return (shown(failure.path), failure.reason, failure.when.timestamp())[index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            when = failure.when.strftime("%Y-%m-%d %H:%M")
            return (shown(failure.path), failure.reason, when)[index.column()]
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        return column_title(self.HEADERS, section, orientation, role)


class FailuresDialog(QDialog):
    """A sortable table of the photos that failed and why; Copy path (also Ctrl+C) puts
    the selected photos' paths on the clipboard, one per line. Emits no signals of its own.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Photos PhotoClip could not read")
        self.model = FailureModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SortRole)
        self.proxy.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.table = self._table()
        self.summary = QLabel()
        self.copy_button = QPushButton("Copy path")
        self.copy_button.clicked.connect(self.copy_paths)
        QShortcut(QKeySequence.StandardKey.Copy, self.table, self.copy_paths)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.set_failures([])
        self.resize(900, 480)

    def _table(self) -> QTableView:
        table = QTableView()
        table.setModel(self.proxy)
        table.setSortingEnabled(True)
        table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        table.verticalHeader().setVisible(False)
        table.setWordWrap(False)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.resizeSection(0, 420)
        return table

    def set_failures(self, failures: Sequence[Failure]) -> None:
        self.model.set_failures(failures)
        count = len(failures)
        self.summary.setText(
            "Every photo was read." if not count else
            f"{count} photo{'s' if count != 1 else ''} could not be read. PhotoClip tries "
            "each again when it changes."
        )  # fmt: skip
        self.copy_button.setEnabled(bool(count))

    def selected_paths(self) -> list[str]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        if not rows and self.table.currentIndex().isValid():
            rows = [self.table.currentIndex().row()]
        return [self.proxy.index(row, 0).data() for row in rows]

    def copy_paths(self) -> None:
        paths = self.selected_paths()
        if paths:
            QGuiApplication.clipboard().setText("\n".join(paths))
