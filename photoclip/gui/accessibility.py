"""What a screen reader says for a control: its name, and what it does.

A control's tooltip is its description unless one is given, so the two cannot drift."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget


def set_accessible(widget: QWidget, text: str, description: str = "") -> None:
    widget.setAccessibleName(text)
    widget.setAccessibleDescription(description or widget.toolTip())
