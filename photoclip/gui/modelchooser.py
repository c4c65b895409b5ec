"""Placeholder until branch `panels` lands: the ModelChooser interface of CONTRACT.md."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget


class ModelChooser(QWidget):
    """Signals: profile_chosen(str), weights_file_chosen(str)."""

    profile_chosen = Signal(str)
    weights_file_chosen = Signal(str)

    def set_progress(self, done: int, total: int) -> None:
        self.progress = (done, total)

    def set_message(self, text: str) -> None:
        self.message = text
