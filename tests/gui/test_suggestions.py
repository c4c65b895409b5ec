"""The suggested-categories dialog: a preview per category, and only what is ticked is
asked for."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from photoclip.gui.suggestions import SuggestedCategoriesDialog, preview_text


def test_each_suggestion_shows_how_many_photos_it_would_tag(qtbot: QtBot) -> None:
    dialog = SuggestedCategoriesDialog([("Pets", 12, 240), ("Food", 0, 240)])
    qtbot.addWidget(dialog)
    assert dialog.boxes["Pets"].text() == "Pets — would tag 12 of 240 photos"
    assert preview_text("Pets", 0, 0) == "Pets — nothing indexed yet to preview"


def test_only_the_ticked_categories_are_asked_for(qtbot: QtBot) -> None:
    dialog = SuggestedCategoriesDialog([("Pets", 12, 240), ("Food", 3, 240)])
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.add_button.isEnabled()  # nothing ticked: nothing to add
    dialog.boxes["Food"].setChecked(True)
    with qtbot.wait_signal(dialog.add_requested) as blocker:
        qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [["Food"]]
