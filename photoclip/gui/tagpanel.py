"""Placeholder until branch `panels` lands: the TagPanel interface of CONTRACT.md."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from photoclip.core.browsing import TagCount


class TagPanel(QWidget):
    """Signals: filter_requested(str, str), filter_cleared(), edit_requested()."""

    filter_requested = Signal(str, str)
    filter_cleared = Signal()
    edit_requested = Signal()

    def set_counts(self, counts: list[TagCount]) -> None:
        self.counts = counts
