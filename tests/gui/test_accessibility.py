"""Accessible names: the description falls back to the tooltip."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QPushButton

from photoclip.gui.accessibility import set_accessible


def test_the_tooltip_describes_a_control_unless_a_description_is_given(qtbot: Any) -> None:
    plain, described = QPushButton("Add…"), QPushButton("All")
    for button in (plain, described):
        qtbot.addWidget(button)
        button.setToolTip("Add a folder to PhotoClip")
    set_accessible(plain, "Add a folder")
    set_accessible(described, "Show all folders", "Photos of every folder")
    assert (plain.accessibleName(), plain.accessibleDescription()) == (
        "Add a folder",
        "Add a folder to PhotoClip",
    )
    assert described.accessibleDescription() == "Photos of every folder"
