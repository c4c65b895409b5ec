"""The header helper every table and tree model of the GUI answers Qt with."""

from __future__ import annotations

from PySide6.QtCore import Qt

from photoclip.gui.models import column_title

HEADERS = ("Photo", "Reason")
HORIZONTAL, VERTICAL = Qt.Orientation.Horizontal, Qt.Orientation.Vertical
DISPLAY = Qt.ItemDataRole.DisplayRole


def test_horizontal_display_headers_are_the_titles() -> None:
    titles = [column_title(HEADERS, section, HORIZONTAL, DISPLAY) for section in range(2)]
    assert titles == ["Photo", "Reason"]


def test_other_orientations_roles_and_sections_get_nothing() -> None:
    assert column_title(HEADERS, 0, VERTICAL, DISPLAY) is None
    assert column_title(HEADERS, 0, HORIZONTAL, Qt.ItemDataRole.ToolTipRole) is None
    assert column_title(HEADERS, 2, HORIZONTAL, DISPLAY) is None
    assert column_title(HEADERS, -1, HORIZONTAL, DISPLAY) is None
