"""The results grid: a list model of photos (with their scores) and an icon-mode view.

The view asks only for the rows it paints (uniform item sizes), and a row's thumbnail is
loaded the first time it is painted, so 100k results cost a list, not 100k images.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QKeyEvent,
    QPainter,
    QPalette,
    QPen,
    QPixmap,
    QRegion,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from photoclip.core.catalog import Photo
from photoclip.gui.formatting import shown
from photoclip.gui.thumbnails import ThumbnailCache

PhotoRole = Qt.ItemDataRole.UserRole + 1
ScoreRole = Qt.ItemDataRole.UserRole + 2
Index = QModelIndex | QPersistentModelIndex
#: a selection change over more photos than this repaints the viewport (see ResultsView)
LARGE_SELECTION = 100


class ResultsModel(QAbstractListModel):
    """Photos in display order, each with its score (None when browsing without a query)."""

    def __init__(self, thumbnails: ThumbnailCache, parent: Any = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self._photos: list[Photo] = []
        self._scores: list[float | None] = []
        self._rows: dict[int, int] | None = {}
        self._placeholder: QPixmap | None = None
        thumbnails.loaded.connect(self._on_loaded)

    def set_results(self, photos: list[Photo], scores: list[float | None]) -> None:
        self.beginResetModel()
        self.thumbnails.clear_waiting()
        self._photos, self._scores = list(photos), list(scores)
        self._rows = None  # made when the first thumbnail arrives, not while the grid resets
        self.endResetModel()

    def photo(self, row: int) -> Photo:
        return self._photos[row]

    @property
    def photos(self) -> list[Photo]:
        return list(self._photos)

    @property
    def scores(self) -> list[float | None]:
        return list(self._scores)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._photos)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._photos):
            return None
        photo = self._photos[index.row()]
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbnails.pixmap(photo) or self._blank()
        if role in (Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole):
            return _describe(photo, self._scores[index.row()])
        if role == PhotoRole:
            return photo.id
        if role == ScoreRole:
            return self._scores[index.row()]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (
            Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
        )

    def thumbnail_size_changed(self) -> None:
        """The grid's cells changed size: a placeholder of the new size. (No dataChanged:
        over 100k rows it stalled the GUI for 80 ms; the grid repaints as it lays out
        again, asking for the visible thumbnails.)"""
        self._placeholder = None

    def _on_loaded(self, photo_id: int) -> None:
        if self._rows is None:
            self._rows = {photo.id: row for row, photo in enumerate(self._photos)}
        row = self._rows.get(photo_id)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def _blank(self) -> QPixmap:
        """A neutral tile while the thumbnail loads (the palette's, not a fixed colour)."""
        if self._placeholder is None:
            size = self.thumbnails.size
            self._placeholder = QPixmap(size, size)
            colour = QPalette().color(QPalette.ColorRole.Midlight)
            self._placeholder.fill(QColor(colour.red(), colour.green(), colour.blue(), 90))
        return self._placeholder


def _describe(photo: Photo, score: float | None) -> str:
    when = datetime.fromtimestamp(photo.date).strftime("%Y-%m-%d %H:%M")
    text = f"{shown(photo.path.name)}\n{when}\n{shown(photo.path.parent)}"
    return text if score is None else f"{text}\nscore {score:.3f}"


class ThumbnailDelegate(QStyledItemDelegate):
    """A thumbnail centred in its square cell; a selected photo tinted and framed in the
    palette's highlight colour, the current one of several selected framed more thickly
    (no text: the tooltip has the name, date, folder and score)."""

    def __init__(self, cell: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cell = cell

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return QSize(self.cell, self.cell)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        rect = option.rect.adjusted(4, 4, -4, -4)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            size = (
                pixmap.deviceIndependentSize()
                .toSize()
                .scaled(rect.size(), Qt.AspectRatioMode.KeepAspectRatio)
            )
            x = rect.x() + (rect.width() - size.width()) // 2
            y = rect.y() + (rect.height() - size.height()) // 2
            painter.drawPixmap(x, y, size.width(), size.height(), pixmap)
        state = option.state
        if state & QStyle.StateFlag.State_Selected:
            colour = option.palette.color(QPalette.ColorRole.Highlight)
            tint = QColor(colour)
            tint.setAlpha(70)
            painter.fillRect(option.rect.adjusted(2, 2, -2, -2), tint)
            current = bool(state & QStyle.StateFlag.State_HasFocus)
            painter.setPen(QPen(colour, 4 if current else 3))
            painter.drawRect(option.rect.adjusted(2, 2, -2, -2))


class ResultsView(QListView):
    """A grid of thumbnails, several of them selectable: Shift and Ctrl click, Shift and
    Ctrl with the arrows, Ctrl+A, and a rubber band dragged from an empty spot.

    Signals: opened(int photo_id) on Enter or double-click, escaped() on Escape,
    leave_up() on Up from the first row (back to the search bar),
    selection_changed(int count) whenever the selection does (a new result set included),
    context_menu_requested(QPoint global) on a right click (or the menu key)."""

    opened = Signal(int)
    escaped = Signal()
    leave_up = Signal()
    selection_changed = Signal(int)
    context_menu_requested = Signal(QPoint)

    def __init__(self, icon: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(500)
        self.icon = icon
        self.setIconSize(QSize(icon, icon))
        self.delegate = ThumbnailDelegate(icon + 8, self)
        self.setItemDelegate(self.delegate)
        self.setGridSize(QSize(icon + 8, icon + 8))
        self.setSpacing(0)
        self.setWrapping(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionRectVisible(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(icon // 3)
        self.setDragEnabled(False)
        self.setUniformItemSizes(True)
        self.doubleClicked.connect(self._on_activated)

    def setModel(self, model: Any) -> None:
        super().setModel(model)
        self.selectionModel().selectionChanged.connect(self._on_selection)
        model.modelReset.connect(self._on_selection)

    def selected_rows(self) -> list[int]:
        """The selected rows, in order. Read from the selection's ranges, not its indexes:
        Ctrl+A over 100k results is one range, not 100k objects."""
        rows: set[int] = set()
        selection = self.selectionModel().selection()
        for part in (selection.at(i) for i in range(selection.count())):
            rows.update(range(part.top(), part.bottom() + 1))
        return sorted(rows)

    def selected_count(self) -> int:
        return len(self.selected_rows())

    def selected_ids(self) -> tuple[int | None, list[int]]:
        """The current photo's id and the selected photos' ids (to select them again in
        results read afresh)."""
        model = self._results()
        current = self.currentIndex()
        current_id = model.photo(current.row()).id if current.isValid() else None
        return current_id, [model.photo(row).id for row in self.selected_rows()]

    def select_ids(self, current_id: int | None, ids: list[int]) -> None:
        """Select the photos of `ids` still in the results (runs of rows as one range each),
        and make `current_id` current again, without scrolling. (The model's list is read
        directly: asking Qt for 100k rows' data took a tenth of a second.)"""
        model = self._results()
        wanted = set(ids)
        rows = [row for row, photo in enumerate(model.photos) if photo.id in wanted]
        selection = QItemSelection()
        for first, last in _runs(rows):
            selection.select(model.index(first, 0), model.index(last, 0))
        selecting = self.selectionModel()
        selecting.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        at = [row for row in rows if model.photo(row).id == current_id]
        if at:
            flag = QItemSelectionModel.SelectionFlag.NoUpdate
            selecting.setCurrentIndex(model.index(at[0], 0), flag)

    def _results(self) -> ResultsModel:
        model = self.model()
        assert isinstance(model, ResultsModel)
        return model

    def set_current_keeping_selection(self, index: QModelIndex) -> None:
        """Make `index` current (and in view) without changing what is selected."""
        flag = QItemSelectionModel.SelectionFlag.NoUpdate
        self.selectionModel().setCurrentIndex(index, flag)
        self.scrollTo(index)

    def keep_only_current(self) -> None:
        """From several selected to the current photo alone (Escape)."""
        current = self.currentIndex()
        if current.isValid():
            self.selectionModel().select(current, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        else:
            self.clearSelection()

    def selectAll(self) -> None:
        """Every result as one range (Qt's own asks the model for its row count once per
        row: 0.2 s over 100k results)."""
        model = self.model()
        if model is None or not model.rowCount():
            return
        every = QItemSelection(model.index(0, 0), model.index(model.rowCount() - 1, 0))
        self.selectionModel().select(every, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def visualRegionForSelection(self, selection: QItemSelection) -> QRegion:
        """The whole viewport for a large selection: Qt unites one rect per photo, which
        grows quadratically (Ctrl+A over 100k results held the GUI thread for seconds);
        repainting the visible cells costs the same few milliseconds either way."""
        ranges = (selection.at(i) for i in range(selection.count()))
        if sum(part.height() for part in ranges) > LARGE_SELECTION:
            return QRegion(self.viewport().rect())
        return super().visualRegionForSelection(selection)

    def _on_selection(self, *_: object) -> None:
        self.selection_changed.emit(self.selected_count())

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        """A right click on a photo outside the selection selects it alone first (as file
        managers do); on an empty spot, the menu is for what is selected."""
        index = self.indexAt(event.pos())
        if index.isValid() and not self.selectionModel().isSelected(index):
            self.setCurrentIndex(index)
        self.context_menu_requested.emit(event.globalPos())
        event.accept()

    def set_icon_size(self, icon: int) -> None:
        """Cells of `icon` px thumbnails (plus their frame), keeping the current photo in view."""
        self.icon = icon
        self.setIconSize(QSize(icon, icon))
        self.delegate.cell = icon + 8
        self.verticalScrollBar().setSingleStep(icon // 3)
        self._fit_cells()
        self.scheduleDelayedItemsLayout()
        if self.currentIndex().isValid():
            self.scrollTo(self.currentIndex())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.opened.emit(int(self.currentIndex().data(PhotoRole)))
            return
        if key == Qt.Key.Key_Escape:
            self.escaped.emit()
            return
        if key == Qt.Key.Key_Up and self._on_first_row():
            self.leave_up.emit()
            return
        super().keyPressEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_cells()

    def updateGeometries(self) -> None:
        """Also when the scroll bar comes or goes (the viewport's width changes)."""
        super().updateGeometries()
        self._fit_cells()

    def _fit_cells(self) -> None:
        """Cells share the width evenly, so the grid fills the view without a ragged edge."""
        width = self.viewport().width()
        if not self.verticalScrollBar().isVisible():  # the layout keeps room for it anyway
            width -= self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        columns = max(1, width // (self.icon + 8))
        cell = QSize((width - 2) // columns, self.icon + 8)  # a full row must not wrap
        if cell != self.gridSize():
            self.setGridSize(cell)

    def select_first(self) -> None:
        model = self.model()
        if model is not None and model.rowCount() and not self.currentIndex().isValid():
            self.setCurrentIndex(model.index(0, 0))

    def _on_first_row(self) -> bool:
        current = self.currentIndex()
        if not current.isValid():
            return True
        return self.visualRect(current).top() <= self.visualRect(self.model().index(0, 0)).top()

    def _on_activated(self, index: QModelIndex) -> None:
        if index.isValid():
            self.opened.emit(int(index.data(PhotoRole)))


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted rows as (first, last) runs of consecutive rows."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][1] == row - 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs


__all__ = ["PhotoRole", "ResultsModel", "ResultsView", "ScoreRole"]
