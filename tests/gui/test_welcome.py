"""The welcome page offers the suggested categories; it adds nothing itself."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from photoclip.gui.welcome import WelcomePage


def test_add_suggested_categories_is_asked_for_by_its_button(qtbot: QtBot) -> None:
    page = WelcomePage()
    qtbot.addWidget(page)
    page.show()
    assert page.suggest_button.text() == "Add suggested categories…"
    with qtbot.wait_signal(page.suggestions_requested):
        qtbot.mouseClick(page.suggest_button, Qt.MouseButton.LeftButton)
