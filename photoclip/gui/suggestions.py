"""The suggested tag categories (the shipped defaults), offered on request with how many
photos each would tag; nothing is added until the user picks them and presses Add."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget


def preview_text(name: str, tagged: int, photos: int) -> str:
    """'Pets — would tag 12 of 240 photos'."""
    if not photos:
        return f"{name} — nothing indexed yet to preview"
    return f"{name} — would tag {tagged} of {photos} photos"


class SuggestedCategoriesDialog(QDialog):
    """A check box per suggested category, with its preview.

    Signals:
        add_requested(list names): Add was pressed with these categories ticked.
    """

    add_requested = Signal(list)

    def __init__(
        self, previews: Sequence[tuple[str, int, int]], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add suggested categories")
        self.boxes = {name: QCheckBox(preview_text(name, n, of)) for name, n, of in previews}
        layout = QVBoxLayout(self)
        if not previews:
            layout.addWidget(QLabel("Every suggested category is added already."))
        for box in self.boxes.values():
            layout.addWidget(box)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.add_button = buttons.addButton("Add", QDialogButtonBox.ButtonRole.AcceptRole)
        self.add_button.setEnabled(False)
        for box in self.boxes.values():
            box.toggled.connect(self._on_toggled)
        buttons.accepted.connect(self._on_add)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def chosen(self) -> list[str]:
        return [name for name, box in self.boxes.items() if box.isChecked()]

    def _on_toggled(self) -> None:
        self.add_button.setEnabled(bool(self.chosen()))

    def _on_add(self) -> None:
        self.add_requested.emit(self.chosen())
        self.accept()
