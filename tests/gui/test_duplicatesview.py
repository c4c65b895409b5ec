"""The near-duplicates dialog: whole thumbnails side by side, the pre-tick rule, the keeper
changed with one click, and the user's decisions kept across rescans and undos."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from photoclip.core.catalog import Photo
from photoclip.core.duplicates import CROPPED, RESIZED, ROTATED, SIMILAR, DuplicateGroup, Match
from photoclip.gui.duplicatesview import DuplicatesDialog

pytestmark = pytest.mark.gui


def photo(photo_id: int, name: str, width: int = 400, height: int = 300) -> Photo:
    path = Path("/photos/holiday") / name
    return Photo(
        photo_id, path, 1, 123_456, 1_700_000_000 * 10**9, "h", width, height, None, "indexed", None
    )


BEACH = photo(1, "beach.jpg")
BEACH_SMALL = photo(2, "beach-small.jpg", 200, 150)
BEACH_CROP = photo(3, "beach-crop.jpg", 360, 270)
BEACH_BURST = photo(4, "beach-burst.jpg")
CAT, CAT_TURNED = photo(5, "cat.jpg"), photo(6, "cat-turned.jpg", 300, 400)


def groups(*, with_cat: bool = True, with_small: bool = True) -> list[DuplicateGroup]:
    """What a search finds (new objects each time, as after a rescan)."""
    beach = [p for p in (BEACH_SMALL, BEACH_CROP, BEACH_BURST) if with_small or p != BEACH_SMALL]
    pairs = (
        Match(1, 2, RESIZED, 0.98),
        Match(1, 3, CROPPED, 0.9),
        Match(1, 4, SIMILAR, 0.8),
        Match(2, 3, CROPPED, 0.88),
    )
    found = [DuplicateGroup(BEACH, tuple(beach), pairs)]
    if with_cat:
        found.append(DuplicateGroup(CAT, (CAT_TURNED,), (Match(5, 6, ROTATED, 0.99),)))
    return found


def dialog(qtbot: QtBot) -> DuplicatesDialog:
    shown = DuplicatesDialog()
    qtbot.addWidget(shown)
    shown.resize(1280, 800)
    shown.show()
    return shown


def ticks(shown: DuplicatesDialog) -> dict[str, bool]:
    return {card.photo.path.name: card.tick.isChecked() for card in shown.cards}


def test_only_exact_and_near_exact_copies_start_ticked(qtbot: QtBot) -> None:
    shown = dialog(qtbot)
    with qtbot.wait_signal(shown.thumbnails_requested) as wanted:
        shown.set_groups(groups())
    assert len(wanted.args[0]) == 6
    assert ticks(shown) == {
        "beach.jpg": False,  # the keeper
        "beach-small.jpg": True,  # resized
        "beach-crop.jpg": False,  # a crop may be the one the user made on purpose
        "beach-burst.jpg": False,  # a similar shot
        "cat.jpg": False,
        "cat-turned.jpg": True,
    }
    keeper = shown.card_for("/photos/holiday/beach.jpg")
    assert not keeper.tick.isEnabled() and keeper.why.text() == "kept"
    assert shown.card_for("/photos/holiday/beach-small.jpg").why.text() == (
        "same photo, resized (98% alike)"
    )
    assert shown.boxes[0].title() == "4 photos: keep 3, move 1 to the trash"
    assert shown.trash_button.text() == "Move 2 photos to the trash"


def test_each_card_names_the_file_its_folder_resolution_size_and_date(qtbot: QtBot) -> None:
    shown = dialog(qtbot)
    shown.set_groups(groups())
    card = shown.card_for("/photos/holiday/beach-small.jpg")
    assert card.name.text() == "beach-small.jpg"
    assert card.folder.text() == "/photos/holiday"
    assert card.details.text().startswith("200 x 150 · 123.5 KB · 2023-11-1")


def test_unticks_survive_a_rescan_and_only_ticked_photos_are_requested(qtbot: QtBot) -> None:
    shown = dialog(qtbot)
    shown.set_groups(groups())
    shown.card_for("/photos/holiday/cat-turned.jpg").tick.setChecked(False)
    shown.card_for("/photos/holiday/beach-burst.jpg").tick.setChecked(True)
    shown.set_groups(groups())  # the rescan after a move to the trash
    assert ticks(shown)["cat-turned.jpg"] is False
    assert ticks(shown)["beach-burst.jpg"] is True
    with qtbot.wait_signal(shown.trash_requested) as request:
        qtbot.mouseClick(shown.trash_button, Qt.MouseButton.LeftButton)
    assert request.args == [["/photos/holiday/beach-small.jpg", "/photos/holiday/beach-burst.jpg"]]


def test_one_click_makes_another_photo_the_keeper_and_it_stays_after_a_rescan(
    qtbot: QtBot,
) -> None:
    shown = dialog(qtbot)
    shown.set_groups(groups())
    button = shown.card_for("/photos/holiday/beach-crop.jpg").keep_button
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert shown.cards[0].photo == BEACH_CROP and shown.cards[0].keep_button.text() == "Kept"
    # Ticks follow the rule against the new keeper: the old keeper is its uncropped
    # original (a crop relation), so nothing is ticked in this group.
    assert ticks(shown)["beach.jpg"] is False and ticks(shown)["beach-small.jpg"] is False
    shown.set_groups(groups())
    assert shown.cards[0].photo == BEACH_CROP


def test_photos_an_undo_restores_appear_again_with_the_user_s_choices(qtbot: QtBot) -> None:
    shown = dialog(qtbot)
    shown.set_groups(groups())
    shown.card_for("/photos/holiday/cat-turned.jpg").tick.setChecked(False)
    shown.set_groups(groups(with_small=False))  # the rescan after the move
    assert "beach-small.jpg" not in ticks(shown)  # moved to the trash
    shown.set_groups(groups())  # the rescan after the undo
    assert ticks(shown)["beach-small.jpg"] is True
    assert ticks(shown)["cat-turned.jpg"] is False


def test_thumbnails_are_whole_and_zoomable(qtbot: QtBot) -> None:
    shown = dialog(qtbot)
    shown.set_groups(groups())
    wide = QImage(400, 100, QImage.Format.Format_RGB32)
    shown.set_thumbnail("/photos/holiday/beach.jpg", wide)
    pixmap = shown.card_for("/photos/holiday/beach.jpg").image.pixmap()
    assert (pixmap.width(), pixmap.height()) == (180, 45)  # fitted, not cropped
    shown.zoom.setValue(300)
    pixmap = shown.card_for("/photos/holiday/beach.jpg").image.pixmap()
    assert (pixmap.width(), pixmap.height()) == (300, 75)


def test_the_cards_use_the_dialog_s_width(qtbot: QtBot) -> None:
    shown = dialog(qtbot)
    shown.set_groups(groups())
    qtbot.wait_until(lambda: shown.columns() >= 4)
    card = shown.card_for("/photos/holiday/beach-small.jpg")
    assert card.name.width() >= 180  # names and folders are readable, not 100-px slivers
    first, last = shown.cards[0], shown.cards[3]
    assert first.y() == last.y()  # a group of 4 side by side on one row


def test_an_empty_result_says_so_and_disables_the_trash(qtbot: QtBot) -> None:
    shown = dialog(qtbot)
    shown.set_groups([])
    assert shown.summary.text() == "No near-duplicate photos found."
    assert not shown.trash_button.isEnabled()


def test_progress_shows_while_searching_and_undo_is_requested(qtbot: QtBot) -> None:
    shown = dialog(qtbot)
    shown.set_progress(3, 10)
    assert shown.progress.isVisible() and shown.progress.value() == 3
    shown.set_groups(groups())
    assert not shown.progress.isVisible()
    assert shown.summary.text().startswith("2 groups")
    shown.set_undo_enabled(True)
    with qtbot.wait_signal(shown.undo_requested):
        qtbot.mouseClick(shown.undo_button, Qt.MouseButton.LeftButton)


def test_a_name_that_is_not_utf8_is_shown_as_its_bytes_and_trashed_as_itself(
    qtbot: QtBot,
) -> None:
    """Reported: Qt drops the odd bytes of such a name, so 'caf\\xe9.jpg' read 'caf.jpg'
    on its card and, sent through a Qt string, the trash was asked for another file."""
    odd = photo(7, os.fsdecode(b"caf\xe9.jpg"))
    shown = dialog(qtbot)
    shown.set_groups([DuplicateGroup(CAT, (odd,), (Match(5, 7, RESIZED, 0.99),))])
    card = shown.card_for(str(odd.path))
    assert card.name.text() == "caf\\xe9.jpg"
    with qtbot.wait_signal(shown.trash_requested) as request:
        qtbot.mouseClick(shown.trash_button, Qt.MouseButton.LeftButton)
    assert request.args == [[str(odd.path)]]
    assert os.fsencode(request.args[0][0]).endswith(b"/caf\xe9.jpg")
