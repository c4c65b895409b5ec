"""Placeholder until branch `panels` lands: the PhotoView interface of CONTRACT.md."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from photoclip.core.browsing import PhotoDetails


class PhotoView(QWidget):
    """Signals: similar_requested(int), show_in_folder_requested(str),
    tag_confirmed(int, str, str), tag_rejected(int, str, str), back_requested()."""

    similar_requested = Signal(int)
    show_in_folder_requested = Signal(str)
    tag_confirmed = Signal(int, str, str)
    tag_rejected = Signal(int, str, str)
    back_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._details: PhotoDetails | None = None
        self.image = QLabel()
        self.info = QLabel()
        similar = QPushButton("Find similar")
        similar.clicked.connect(
            lambda: self._details and self.similar_requested.emit(self._details.id)
        )
        layout = QVBoxLayout(self)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.info)
        layout.addWidget(similar)

    def _similar(self) -> None:
        if self._details is not None:
            self.similar_requested.emit(self._details.id)

    def show_photo(self, details: PhotoDetails) -> None:
        self._details = details
        self.info.setText(str(details.path))

    def set_image(self, image: QImage) -> None:
        self.image.setPixmap(QPixmap.fromImage(image))
