"""Placeholder until branch `panels` lands: the FailuresDialog interface of CONTRACT.md."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog

from photoclip.core.browsing import Failure


class FailuresDialog(QDialog):
    def set_failures(self, failures: list[Failure]) -> None:
        self.failures = failures
