"""The selection bar: how many photos are selected, their actions, the last report."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QVBoxLayout, QWidget

from photoclip.gui.selectionbar import SelectionBar


def _bar(qtbot: Any) -> tuple[SelectionBar, QWidget]:
    actions = [QAction("Move to &Trash…"), QAction("Copy &Paths")]
    window = QWidget()  # as over the grid: the bar shows and hides itself inside it
    bar = SelectionBar(actions)
    QVBoxLayout(window).addWidget(bar)
    qtbot.addWidget(window)
    window.show()
    window.actions_kept = actions  # type: ignore[attr-defined]
    return bar, window  # the caller keeps the window (and so the bar) alive


def test_it_shows_for_two_or_more_selected_with_their_count(qtbot: Any) -> None:
    bar, _window = _bar(qtbot)
    assert not bar.isVisible()
    bar.set_count(1)
    assert not bar.isVisible()  # one photo: the menus and shortcuts are enough
    bar.set_count(1200)
    assert bar.isVisible() and bar.count_label.text() == "1,200 photos selected"
    assert [b.accessibleName() for b in bar.buttons] == ["Move to Trash", "Copy Paths"]
    bar.set_count(0)
    assert not bar.isVisible()


def test_a_report_stays_after_the_selection_is_gone_and_offers_undo(qtbot: Any) -> None:
    bar, _window = _bar(qtbot)
    bar.set_count(0)
    bar.show_report("Moved 2 photos to the trash.", undoable=True)
    assert bar.isVisible() and bar.undo_button.isVisible()
    assert not any(b.isVisible() for b in bar.buttons)  # nothing selected: no actions
    with qtbot.wait_signal(bar.undo_requested):
        bar.undo_button.click()
    bar.show_report("Copied the paths of 2 photos.")
    assert not bar.undo_button.isVisible()
    with qtbot.wait_signal(bar.dismissed):
        bar.close_button.click()
    assert not bar.isVisible() and bar.report_text == ""
