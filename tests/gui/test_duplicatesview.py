"""The near-duplicates dialog: its tree model, the keeper, the checked photos, requests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QImage
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from photoclip.core.catalog import Photo
from photoclip.core.duplicates import DuplicateGroup
from photoclip.gui.duplicatesview import DuplicateModel, DuplicatesDialog

pytestmark = pytest.mark.gui


def photo(photo_id: int, name: str, width: int = 400, height: int = 300) -> Photo:
    path = Path("/photos") / name
    return Photo(
        photo_id, path, 1, 1000, 1_700_000_000 * 10**9, "h", width, height, None, "indexed", None
    )


BEACH_COPIES = (photo(2, "beach-small.jpg", 200, 150), photo(3, "beach-rot.jpg", 300, 400))
GROUPS = [
    DuplicateGroup(photo(1, "beach.jpg"), BEACH_COPIES),
    DuplicateGroup(photo(4, "cat.jpg"), (photo(5, "cat-copy.jpg"),)),
]


def dialog(qtbot: QtBot) -> DuplicatesDialog:
    shown = DuplicatesDialog()
    qtbot.addWidget(shown)
    shown.show()
    return shown


def test_the_model_passes_qtmodeltester(qtmodeltester: ModelTester) -> None:
    model = DuplicateModel()
    model.set_groups(GROUPS)
    qtmodeltester.check(model)
    model.make_keeper(model.index(2, 0, model.index(0, 0)))
    model.set_thumbnail("/photos/cat.jpg", QImage(8, 8, QImage.Format.Format_RGB32))
    qtmodeltester.check(model)
    model.set_groups([])
    qtmodeltester.check(model)


def test_groups_show_the_keeper_first_and_the_others_checked(qtbot: QtBot) -> None:
    shown = dialog(qtbot)
    with qtbot.wait_signal(shown.thumbnails_requested) as wanted:
        shown.set_groups(GROUPS)
    assert sorted(wanted.args[0]) == sorted(str(p.path) for g in GROUPS for p in g.photos)
    model = shown.model
    first = model.index(0, 0)
    assert model.rowCount(first) == 3
    assert model.index(0, 0, first).data() == "beach.jpg (keep)"
    assert model.index(0, 0, first).data(Qt.ItemDataRole.CheckStateRole) is None
    assert model.index(1, 0, first).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    assert model.index(1, 1, first).data() == "200 x 150"
    assert "move 2 to the trash" in first.data()
    assert shown.trash_button.text() == "Move 3 photos to the trash"


def test_trash_requests_only_the_checked_photos(qtbot: QtBot) -> None:
    shown = dialog(qtbot)
    shown.set_groups(GROUPS)
    model = shown.model
    beach_small = model.index(1, 0, model.index(0, 0))
    assert model.setData(beach_small, Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    with qtbot.wait_signal(shown.trash_requested) as request:
        qtbot.mouseClick(shown.trash_button, Qt.MouseButton.LeftButton)
    assert request.args == [["/photos/beach-rot.jpg", "/photos/cat-copy.jpg"]]


def test_double_click_makes_another_photo_the_keeper(qtbot: QtBot) -> None:
    shown = dialog(qtbot)
    shown.set_groups(GROUPS)
    model = shown.model
    group = model.index(1, 0)
    shown._on_double_clicked(model.index(1, 2, group))
    assert model.index(0, 0, group).data() == "cat-copy.jpg (keep)"
    assert model.checked_paths() == [
        "/photos/beach-small.jpg",
        "/photos/beach-rot.jpg",
        "/photos/cat.jpg",
    ]


def test_undo_is_requested_when_enabled_and_thumbnails_decorate(qtbot: QtBot) -> None:
    shown = dialog(qtbot)
    shown.set_groups(GROUPS)
    assert not shown.undo_button.isEnabled()
    shown.set_undo_enabled(True)
    with qtbot.wait_signal(shown.undo_requested):
        qtbot.mouseClick(shown.undo_button, Qt.MouseButton.LeftButton)
    image = QImage(8, 8, QImage.Format.Format_RGB32)
    cell = shown.model.index(0, 0, shown.model.index(1, 0))
    with qtbot.wait_signal(shown.model.dataChanged):
        shown.set_thumbnail("/photos/cat.jpg", image)
    assert cell.data(Qt.ItemDataRole.DecorationRole) == image
    assert shown.model.index(0, 0, QModelIndex()).data(Qt.ItemDataRole.DecorationRole) is None


def test_an_empty_result_says_so_and_disables_the_trash(qtbot: QtBot) -> None:
    shown = dialog(qtbot)
    shown.set_groups([])
    assert shown.summary.text() == "No near-duplicate photos found."
    assert not shown.trash_button.isEnabled()


def test_progress_shows_while_searching_and_hides_with_the_result(qtbot: QtBot) -> None:
    shown = dialog(qtbot)
    shown.set_progress(3, 10)
    assert shown.progress.isVisible() and shown.progress.value() == 3
    assert shown.summary.text() == "Looking for near-duplicates..."
    shown.set_groups(GROUPS)
    assert not shown.progress.isVisible()
    assert shown.summary.text().startswith("2 groups")
