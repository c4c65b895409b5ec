"""The first thing a new user sees: where to drop folders, which model to use, and what
happens offline."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from photoclip.gui.accessibility import set_accessible
from photoclip.gui.modelchooser import ModelChooser

OFFLINE = (
    "PhotoClip works offline: the model downloads once, then nothing leaves your computer; "
    "without a connection, pick a weights file you already have, or try the demo model."
)


class WelcomePage(QWidget):
    """Signals: add_requested(), suggestions_requested() ("Add suggested categories")."""

    add_requested = Signal()
    suggestions_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("Drop folders of photos here")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint = QLabel(
            "PhotoClip indexes them in the background and keeps watching them. "
            "Then search by what is in a photo: “kids on a beach at sunset”."
        )
        hint.setWordWrap(True)
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        add = QPushButton("Add Folder…")
        self.add_button = add
        add.clicked.connect(self.add_requested)
        self.suggest_button = QPushButton("Add suggested categories…")
        self.suggest_button.setToolTip(
            "Ready-made tag categories (pets, scenes, documents…), each with a preview of "
            "how many of your photos it would tag; nothing is added until you choose."
        )
        self.suggest_button.clicked.connect(self.suggestions_requested)
        set_accessible(add, "Add a folder of photos")
        set_accessible(self.suggest_button, "Add suggested categories")
        self.chooser = ModelChooser()
        offline = QLabel(OFFLINE)
        offline.setObjectName("offline")
        offline.setWordWrap(True)
        offline.setAlignment(Qt.AlignmentFlag.AlignCenter)
        offline.setForegroundRole(offline.foregroundRole())
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addWidget(add, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.suggest_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(24)
        layout.addWidget(self.chooser, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(offline)
        layout.addStretch(3)
        layout.setContentsMargins(48, 24, 48, 24)
