"""The results grid's model and view, and the thumbnail cache behind them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PySide6.QtCore import QItemSelectionModel, QPoint, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QApplication

from photoclip.core.catalog import Photo
from photoclip.core.imageio import ThumbnailStore
from photoclip.gui.results import PhotoRole, ResultsModel, ResultsView, ScoreRole
from photoclip.gui.thumbnails import ThumbnailCache


def photo(photo_id: int, path: Path, content_hash: str | None = None) -> Photo:
    return Photo(photo_id, path, 1, 100, 10**18, content_hash, 64, 48, None, "indexed", None)


@pytest.fixture
def cache(qapp: Any, tmp_path: Path) -> ThumbnailCache:
    return ThumbnailCache(ThumbnailStore(tmp_path / "thumbs"), 64, capacity=3)


def test_the_model_passes_qt_model_checks(qtmodeltester: Any, tmp_path: Path, cache: Any) -> None:
    model = ResultsModel(cache)
    model.set_results([photo(i, tmp_path / f"{i}.jpg") for i in range(5)], [0.3] * 5)
    qtmodeltester.check(model)
    assert model.index(2).data(PhotoRole) == 2
    assert model.index(2).data(ScoreRole) == pytest.approx(0.3)
    assert "2.jpg" in model.index(2).data(Qt.ItemDataRole.ToolTipRole)
    assert cache.wait(5000)


def test_a_thumbnail_loads_off_thread_and_updates_its_row(
    qtbot: Any, tmp_path: Path, cache: ThumbnailCache
) -> None:
    store = cache.store
    digest = "ab" * 32
    store.save(digest, Image.new("RGB", (300, 200), (200, 20, 20)))
    model = ResultsModel(cache)
    model.set_results([photo(1, tmp_path / "missing.jpg", digest)], [None])
    index = model.index(0)
    assert cache.pixmap(model.photo(0)) is None  # not yet: queued
    with qtbot.wait_signal(model.dataChanged) as blocker:
        pass
    assert blocker.args[0] == index
    pixmap = index.data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(pixmap, QPixmap) and max(pixmap.width(), pixmap.height()) == 64


def test_without_a_stored_thumbnail_the_photo_itself_is_read(
    qtbot: Any, tmp_path: Path, cache: ThumbnailCache
) -> None:
    original = tmp_path / "photo.jpg"
    Image.new("RGB", (640, 480), (20, 20, 200)).save(original)
    with qtbot.wait_signal(cache.loaded) as blocker:
        cache.request(photo(9, original, "cd" * 32))
    assert blocker.args == [9]
    found = cache.pixmap(photo(9, original))
    assert found is not None and found.width() == 64 and found.height() == 48


def test_the_cache_keeps_only_the_most_recent(qtbot: Any, tmp_path: Path, cache: Any) -> None:
    for i in range(5):
        path = tmp_path / f"{i}.png"
        Image.new("RGB", (32, 32), (i * 40, 0, 0)).save(path)
        with qtbot.wait_signal(cache.loaded):
            cache.request(photo(i, path))
    kept = [i for i in range(5) if cache._pixmaps.get(i) is not None]
    assert kept == [2, 3, 4]


def test_enter_and_double_click_open_the_photo(qtbot: Any, tmp_path: Path, cache: Any) -> None:
    model = ResultsModel(cache)
    model.set_results([photo(i, tmp_path / f"{i}.jpg") for i in range(3)], [None] * 3)
    view = ResultsView(64)
    view.setModel(model)
    qtbot.addWidget(view)
    view.show()
    view.setCurrentIndex(model.index(1))
    with qtbot.wait_signal(view.opened) as blocker:
        qtbot.keyClick(view, Qt.Key.Key_Return)
    assert blocker.args == [1]
    with qtbot.wait_signal(view.opened) as blocker:
        view.doubleClicked.emit(model.index(2))
    assert blocker.args == [2]
    assert cache.wait(5000)


def test_a_hundred_thousand_results_load_only_visible_thumbnails(
    qtbot: Any, tmp_path: Path
) -> None:
    cache = ThumbnailCache(ThumbnailStore(tmp_path / "thumbs"), 64)
    requested: list[int] = []
    cache.request = lambda p: requested.append(p.id)  # type: ignore[method-assign]
    _held = _grid(qtbot, tmp_path, cache, 100_000)  # Qt does not own the model: keep it
    qtbot.wait_until(lambda: len(requested) > 0)
    qtbot.wait(200)  # more paints, as the batched layout goes on
    assert 0 < len(set(requested)) < 500


# -- selecting several photos (issue 19) -----------------------------------------------------------


def _grid(
    qtbot: Any, tmp_path: Path, cache: Any, count: int = 12, kind: type = ResultsModel
) -> tuple[ResultsView, Any]:
    """A shown 800x600 grid of `count` results in a `kind` of results model."""
    model = kind(cache)
    model.set_results([photo(i, tmp_path / f"{i}.jpg") for i in range(count)], [None] * count)
    view = ResultsView(64)
    view.setModel(model)
    view.resize(800, 600)
    qtbot.addWidget(view)
    view.show()
    qtbot.wait_exposed(view)
    return view, model


def _click(qtbot: Any, view: ResultsView, row: int, keys: Any = Qt.KeyboardModifier.NoModifier):
    centre = view.visualRect(view.model().index(row, 0)).center()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, keys, centre)


def test_ctrl_and_shift_clicks_and_ctrl_a_select_several(
    qtbot: Any, tmp_path: Path, cache: Any
) -> None:
    view, _ = _grid(qtbot, tmp_path, cache)
    counts: list[int] = []
    view.selection_changed.connect(counts.append)
    _click(qtbot, view, 2)
    _click(qtbot, view, 5, Qt.KeyboardModifier.ControlModifier)
    assert view.selected_rows() == [2, 5]
    _click(qtbot, view, 8, Qt.KeyboardModifier.ShiftModifier)
    assert view.selected_rows() == [2, 5, 6, 7, 8]
    _click(qtbot, view, 6, Qt.KeyboardModifier.ControlModifier)  # Ctrl-click takes one out
    assert view.selected_rows() == [2, 5, 7, 8]
    qtbot.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert view.selected_count() == 12
    assert counts[0] == 1 and counts[-1] == 12
    view.keep_only_current()
    assert view.selected_rows() == [6]
    view.model().set_results([], [])
    assert counts[-1] == 0  # a new result set selects nothing, and says so


def test_a_rubber_band_from_an_empty_spot_selects_the_photos_it_covers(
    qtbot: Any, tmp_path: Path, cache: Any
) -> None:
    view, model = _grid(qtbot, tmp_path, cache)
    last = view.visualRect(model.index(11, 0))
    empty = QPoint(view.viewport().width() - 5, last.bottom() + 40)
    assert not view.indexAt(empty).isValid()
    target = view.visualRect(model.index(0, 0)).center()
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=empty)
    for step in range(1, 6):
        qtbot.mouseMove(view.viewport(), empty + (target - empty) * step / 5)
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=target)
    assert view.selected_count() == 12


def test_stepping_through_a_selection_keeps_it(qtbot: Any, tmp_path: Path, cache: Any) -> None:
    view, model = _grid(qtbot, tmp_path, cache)
    view.selectAll()
    view.set_current_keeping_selection(model.index(4, 0))
    assert view.currentIndex().row() == 4 and view.selected_count() == 12


def test_a_right_click_outside_the_selection_selects_that_photo_alone(
    qtbot: Any, tmp_path: Path, cache: Any
) -> None:
    from PySide6.QtGui import QContextMenuEvent

    view, model = _grid(qtbot, tmp_path, cache)
    _click(qtbot, view, 1)
    _click(qtbot, view, 3, Qt.KeyboardModifier.ShiftModifier)
    asked: list[QPoint] = []
    view.context_menu_requested.connect(asked.append)

    def right_click(row: int) -> None:
        centre = view.visualRect(model.index(row, 0)).center()
        event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, centre, view.mapToGlobal(centre))
        QApplication.sendEvent(view.viewport(), event)

    right_click(2)  # inside: the menu is for all three
    assert view.selected_rows() == [1, 2, 3] and len(asked) == 1
    right_click(7)
    assert view.selected_rows() == [7] and len(asked) == 2


def test_a_selection_is_selected_again_in_results_read_afresh(
    qtbot: Any, tmp_path: Path, cache: Any
) -> None:
    """New photos indexed (the grid refreshes every few seconds) must not drop it."""
    view, model = _grid(qtbot, tmp_path, cache)
    for row in (2, 3, 4, 9):
        view.selectionModel().select(model.index(row), QItemSelectionModel.SelectionFlag.Select)
    view.set_current_keeping_selection(model.index(9))
    current, ids = view.selected_ids()
    assert (current, ids) == (9, [2, 3, 4, 9])
    fresh = [photo(i, tmp_path / f"{i}.jpg") for i in (100, 0, 1, 2, 3, 5, 9, 10)]  # 4 gone
    model.set_results(fresh, [None] * len(fresh))
    assert view.selected_count() == 0
    view.select_ids(current, ids)
    assert view.selected_ids() == (9, [2, 3, 9])
    assert view.selected_rows() == [3, 4, 6]


class _CountingModel(ResultsModel):
    """Counts how often Qt asks for the row count."""

    asked = 0

    def rowCount(self, parent: Any = None) -> int:
        _CountingModel.asked += 1
        return super().rowCount() if parent is None else super().rowCount(parent)


def test_ctrl_a_over_100k_results_neither_asks_per_row_nor_unites_100k_rects(
    qtbot: Any, tmp_path: Path, cache: Any
) -> None:
    """Ctrl+A over 100k results held the GUI thread 0.9 s (5.5 s in bench_gui): Qt's
    selectAll asked the model's row count once per row, and the repaint region united one
    rect per selected photo."""
    view, _model = _grid(qtbot, tmp_path, cache, 100_000, _CountingModel)
    _CountingModel.asked = 0
    qtbot.keyClick(view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert view.selected_count() == 100_000
    assert _CountingModel.asked < 100
    region = view.visualRegionForSelection(view.selectionModel().selection())
    assert region.rectCount() == 1 and region.boundingRect() == view.viewport().rect()
