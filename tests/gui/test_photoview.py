"""The photo view shows what it is given and asks for what the user presses."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QLabel, QScrollArea, QSplitter, QToolButton
from pytestqt.qtbot import QtBot

from photoclip.core.browsing import PhotoDetails
from photoclip.core.catalog import Photo
from photoclip.core.tagging import Explanation, LabelScore
from photoclip.gui.photoview import PhotoView

TAKEN = datetime(2022, 8, 14, 9, 5).timestamp()


def _details(photo_id: int = 7, taken_at: float | None = TAKEN) -> PhotoDetails:
    from photoclip.core.tagstore import PhotoTag

    path = Path("/photos/holiday/beach.jpg")
    photo = Photo(photo_id, path, 1, 2_345_678, 10**18, "h", 4032, 3024, taken_at, "indexed", None)
    tags = (
        PhotoTag(photo_id, path, "Scene", "beach", "auto", 0.3125, 0.2711, "lake", 0.2564),
        PhotoTag(photo_id, path, "Pets", "dog", "confirmed", 0.2901, 0.2655, None, None),
    )
    return PhotoDetails(photo, tags)


def _view(qtbot: QtBot) -> PhotoView:
    view = PhotoView()
    qtbot.addWidget(view)
    view.show_photo(_details())
    return view


def _texts(view: PhotoView) -> str:
    return "\n".join(label.text() for label in view.findChildren(QLabel))


def test_it_shows_the_facts_it_was_given(qtbot: QtBot) -> None:
    view = _view(qtbot)
    assert view.fact("Date taken") == "2022-08-14 09:05"
    assert view.fact("Dimensions") == "4032 × 3024 px"
    assert view.fact("File size") == "2.3 MB"
    assert view.fact("Path") == str(Path("/photos/holiday/beach.jpg"))
    assert "beach.jpg" in view.title.text()


def test_a_file_date_is_labelled_as_such(qtbot: QtBot) -> None:
    view = _view(qtbot)
    view.show_photo(_details(taken_at=None))
    assert "file date" in view.fact("Date taken")


def test_a_tag_reads_as_its_label_and_one_confidence_word(qtbot: QtBot) -> None:
    view = _view(qtbot)
    shown = [label.text() for label in view.findChildren(QLabel) if label.isVisibleTo(view)]
    assert "<b>Scene: beach</b> — <i>unsure</i>" in shown  # probability 0.31
    assert "<b>Pets: dog</b> — <i>sure, confirmed by you</i>" in shown
    assert not any("0.31" in text for text in shown)  # numbers wait in "Why this tag"


def test_why_this_tag_is_collapsed_and_shows_the_explain_numbers(qtbot: QtBot) -> None:
    view = _view(qtbot)
    why = view.findChild(QLabel, "why")
    assert why is not None and not why.isVisibleTo(view)
    assert "probability 0.312 (threshold 0.271) · runner-up: lake 0.256" in why.text()
    scores = [
        LabelScore("beach", 0.41, 0.3125, 0.2711, False, True, "auto"),
        LabelScore("not a beach", 0.2, 0.1, None, True, False, None),
    ]
    view.show_explanation([Explanation("Scene", "single", 0.0, scores, 0.05, 10.0)])
    qtbot.mouseClick(view.why_button, Qt.MouseButton.LeftButton)
    assert why.isVisibleTo(view)
    for number in (
        "0.312",
        "0.271",
        "0.410",
        "none of these: 0.050",
        "not a beach [counter]",
    ):
        assert number in why.text()


def test_an_untagged_photo_asks_why_no_tag_and_without_categories_nothing(
    qtbot: QtBot,
) -> None:
    view = PhotoView()
    qtbot.addWidget(view)
    untagged = PhotoDetails(_details().photo, ())
    view.show_photo(untagged)
    assert not view.why_button.isVisibleTo(view)  # no categories: nothing to explain
    scores = [LabelScore("beach", 0.2, 0.05, 0.27, False, False, None)]
    view.show_explanation([Explanation("Scene", "single", 0.0, scores, 0.6, 10.0)])
    assert view.why_button.isVisibleTo(view)
    assert view.why_button.text().endswith("Why no tag")
    assert "beach: not tagged: its probability is below the threshold" not in view._scores.text()
    why = "not tagged: its probability is below the threshold"
    scores = [LabelScore("beach", 0.2, 0.05, 0.27, False, False, None, reason=why)]
    view.show_explanation([Explanation("Scene", "single", 0.0, scores, 0.6, 10.0)])
    assert f"beach: {why}" in view._scores.text()  # the decision in words, not numbers alone
    view.show_photo(_details())
    assert view.why_button.text().endswith("Why this tag")


def test_why_this_tag_fits_the_side_panel_without_a_sideways_scroll(qtbot: QtBot) -> None:
    view = _view(qtbot)
    view.resize(1000, 700)
    view.show()
    scores = [
        LabelScore(name, 0.41, -0.3125, 0.2711, False, name == "yellow", "auto")
        for name in ("yellow", "orange", "purple", "white")
    ]
    view.show_explanation([Explanation("Colour", "single", 0.0, scores, 0.05, 10.0)])
    qtbot.mouseClick(view.why_button, Qt.MouseButton.LeftButton)
    panel = view.findChild(QScrollArea)
    assert panel is not None
    splitter = panel.parentWidget()
    assert isinstance(splitter, QSplitter)
    splitter.setSizes([1000 - panel.minimumWidth(), panel.minimumWidth()])
    qtbot.waitUntil(lambda: panel.width() <= panel.minimumWidth() + 10)
    qtbot.wait(50)
    assert not panel.horizontalScrollBar().isVisible()


def test_a_correction_says_what_it_changed_and_offers_undo(qtbot: QtBot) -> None:
    view = _view(qtbot)
    assert not view.undo_button.isVisibleTo(view)
    view.show_correction("2 similar photos now tagged 'red'; 1 lost 'white'")
    assert view.undo_button.isVisibleTo(view) and "1 lost 'white'" in view.correction.text()
    with qtbot.wait_signal(view.undo_requested):
        qtbot.mouseClick(view.undo_button, Qt.MouseButton.LeftButton)
    view.clear_correction()
    assert not view.undo_button.isVisibleTo(view)


def test_confirm_and_reject_ask_for_the_photos_tag(qtbot: QtBot) -> None:
    view = _view(qtbot)
    confirm = view.findChild(QToolButton, "confirm:Scene:beach")
    with qtbot.wait_signal(view.tag_confirmed) as blocker:
        qtbot.mouseClick(confirm, Qt.MouseButton.LeftButton)
    assert blocker.args == [7, "Scene", "beach"]
    with qtbot.wait_signal(view.tag_rejected) as blocker:
        qtbot.mouseClick(view.findChild(QToolButton, "reject:Pets:dog"), Qt.MouseButton.LeftButton)
    assert blocker.args == [7, "Pets", "dog"]


def test_a_confirmed_tag_offers_no_confirm_button(qtbot: QtBot) -> None:
    view = _view(qtbot)
    assert view.findChild(QToolButton, "confirm:Pets:dog") is None
    assert view.findChild(QToolButton, "reject:Pets:dog") is not None


def test_similar_folder_and_back_requests(qtbot: QtBot) -> None:
    view = _view(qtbot)
    view.show()
    with qtbot.wait_signal(view.similar_requested) as blocker:
        qtbot.mouseClick(view.similar_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [7]
    with qtbot.wait_signal(view.show_in_folder_requested) as blocker:
        qtbot.mouseClick(view.folder_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [str(Path("/photos/holiday/beach.jpg"))]
    with qtbot.wait_signal(view.back_requested):
        qtbot.keyClick(view, Qt.Key.Key_Escape)


def test_the_image_keeps_its_aspect_and_is_cleared_for_another_photo(qtbot: QtBot) -> None:
    view = _view(qtbot)
    view.resize(1000, 700)
    view.show()
    image = QImage(400, 100, QImage.Format.Format_RGB32)
    image.fill(QColor(10, 200, 30))
    view.set_image(image)
    target = view.image_view.target_rect()
    assert abs(target.width() / target.height() - 4.0) < 0.05
    assert target.width() == view.image_view.width()
    grabbed = view.image_view.grab().toImage()
    centre = grabbed.pixelColor(grabbed.width() // 2, grabbed.height() // 2)
    assert (centre.red(), centre.green(), centre.blue()) == (10, 200, 30)
    view.show_photo(_details(photo_id=7))
    assert not view.image_view.image().isNull()  # same photo: a refresh keeps the image
    view.show_photo(_details(photo_id=8))
    assert view.image_view.image().isNull()


def test_the_image_is_scaled_to_device_pixels_for_high_dpi_screens(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = _view(qtbot)
    view.resize(1000, 700)
    view.show()
    view.set_image(QImage(4000, 1000, QImage.Format.Format_RGB32))
    monkeypatch.setattr(view.image_view, "devicePixelRatioF", lambda: 2.0)
    target = view.image_view.target_rect()
    pixmap = view.image_view._pixmap_for(target.size())
    assert pixmap.width() == 2 * target.width() and pixmap.devicePixelRatio() == 2.0


def test_an_image_that_cannot_load_says_why_until_the_next_photo(qtbot: QtBot) -> None:
    view = _view(qtbot)
    view.show_image_error("beach.jpg cannot be read: truncated file")
    assert view.image_view.placeholder == "beach.jpg cannot be read: truncated file"
    view.show_photo(_details(photo_id=9))
    assert view.image_view.placeholder == "Loading…"


# -- zoom to fit and to 100%, with drag to pan (issue 19) ------------------------------------------


def _striped(width: int, height: int) -> QImage:
    """Every column a different colour, so a screen pixel tells which photo pixel it shows."""
    import numpy as np

    x = np.arange(width, dtype=np.uint32)
    row = np.uint32(0xFF000000) | (x % 256) << 16 | ((x // 256) % 256) << 8 | np.uint32(7)
    pixels = np.ascontiguousarray(np.broadcast_to(row, (height, width)))
    image = QImage(pixels.tobytes(), width, height, 4 * width, QImage.Format.Format_RGB32)
    return image.copy()  # its own pixels, not the buffer's


def _zoomable(qtbot: QtBot) -> tuple[PhotoView, QImage]:
    view = _view(qtbot)
    view.resize(1000, 700)
    view.show()
    qtbot.wait_exposed(view)
    full = _striped(3000, 2000)
    view.set_image(full.scaled(600, 400))  # what the window first loads: fitted
    return view, full


def test_100_percent_asks_for_the_full_image_and_shows_one_photo_pixel_per_screen_pixel(
    qtbot: QtBot,
) -> None:
    view, full = _zoomable(qtbot)
    image_view = view.image_view
    assert image_view.zoom_factor() < 0.5  # fitted: 3000 px wide in a smaller view
    with qtbot.wait_signal(view.full_size_requested):
        qtbot.keyClick(view, Qt.Key.Key_1)
    assert image_view.actual_size and view.zoom_button.isChecked()
    view.set_full_image(full)
    ratio = image_view.devicePixelRatioF()
    shown = image_view.displayed_rect()
    assert (round(shown.width() * ratio), round(shown.height() * ratio)) == (3000, 2000)
    assert image_view.zoom_factor() == pytest.approx(1.0)
    # the middle of the photo is in the middle of the view, pixel for pixel
    grabbed = image_view.grab().toImage()
    middle = grabbed.pixelColor(image_view.width() // 2, 0)
    column = round(image_view.width() // 2 - shown.x())
    assert (middle.red(), middle.green()) == (column % 256, (column // 256) % 256)

    qtbot.keyClick(view, Qt.Key.Key_0)
    assert not image_view.actual_size and not view.zoom_button.isChecked()
    assert image_view.displayed_rect().width() <= image_view.width()
    with qtbot.assert_not_emitted(view.full_size_requested):  # decoded once per photo
        qtbot.keyClick(view, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert image_view.zoom_factor() == pytest.approx(1.0)


def test_dragging_pans_the_photo_at_100_percent_and_stops_at_its_edges(qtbot: QtBot) -> None:
    view, full = _zoomable(qtbot)
    image_view = view.image_view
    image_view.zoom_to_actual()
    view.set_full_image(full)
    before = image_view.displayed_rect().topLeft()
    start = image_view.rect().center()
    qtbot.mousePress(image_view, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(image_view, start + QPoint(-40, -30))
    qtbot.mouseMove(image_view, start + QPoint(-120, -90))
    qtbot.mouseRelease(image_view, Qt.MouseButton.LeftButton, pos=start + QPoint(-120, -90))
    moved = image_view.displayed_rect().topLeft() - before
    assert (round(moved.x()), round(moved.y())) == (-120, -90)
    image_view.pan_by(QPointF(10_000, 10_000))  # far past the top-left corner
    assert image_view.displayed_rect().topLeft() == QPointF(0, 0)
    image_view.pan_by(QPointF(-10_000, -10_000))
    shown = image_view.displayed_rect()
    assert (shown.right(), shown.bottom()) == (image_view.width(), image_view.height())


def test_a_double_click_toggles_100_percent_at_the_point_clicked(qtbot: QtBot) -> None:
    view, full = _zoomable(qtbot)
    image_view = view.image_view
    fitted = image_view.displayed_rect()
    point = QPoint(round(fitted.left() + fitted.width() / 4), round(fitted.center().y()))
    qtbot.mouseDClick(image_view, Qt.MouseButton.LeftButton, pos=point)
    view.set_full_image(full)
    shown = image_view.displayed_rect()
    # the photo's pixel that was under the pointer (a quarter across) is still there
    assert (point.x() - shown.x()) / shown.width() == pytest.approx(0.25, abs=0.01)
    qtbot.mouseDClick(image_view, Qt.MouseButton.LeftButton, pos=point)
    assert not image_view.actual_size


def test_another_photo_starts_fitted_and_a_photo_too_large_stays_fitted(qtbot: QtBot) -> None:
    view, full = _zoomable(qtbot)
    view.zoom_to_actual()
    view.set_full_image(full)
    view.show_photo(_details(photo_id=8))
    assert not view.image_view.actual_size and not view.image_view.has_full_image()
    view.set_image(full.scaled(600, 400))
    view.zoom_to_actual()
    view.set_full_image(QImage())  # over Qt's allocation limit, say
    assert not view.image_view.actual_size and not view.zoom_button.isChecked()
