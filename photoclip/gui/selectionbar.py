"""The bar over the grid while several photos are selected: how many, the batch actions
(buttons for the window's own QActions, so the bar, the menus and the shortcuts stay one
thing), and what the last batch action did, with Undo."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from photoclip.gui.accessibility import set_accessible
from photoclip.gui.formatting import counted
from photoclip.gui.statusbar import ElidedLabel


class SelectionBar(QFrame):
    """Shown while two or more photos are selected, or while it reports a batch action.

    Signals: undo_requested() (Undo next to the report), dismissed() (the report closed).
    """

    undo_requested = Signal()
    dismissed = Signal()

    def __init__(self, actions: Sequence[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.count_label = QLabel()
        self.report = ElidedLabel()
        self.undo_button = QPushButton("Undo")
        self.close_button = QToolButton()
        self.close_button.setText("×")
        self.close_button.setAutoRaise(True)
        self._count = 0
        self.buttons = [self._button(action) for action in actions]
        set_accessible(self, "Selection", "The selected photos and what to do with them")
        set_accessible(self.count_label, "Photos selected")
        set_accessible(self.report, "What the last action did")
        set_accessible(self.undo_button, "Undo the last action")
        set_accessible(self.close_button, "Close the report")
        self._lay_out()
        self.undo_button.clicked.connect(self.undo_requested)
        self.close_button.clicked.connect(self.clear_report)
        self.clear_report()
        self.set_count(0)

    def _button(self, action: QAction) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        button.setAutoRaise(True)
        name = action.text().replace("&", "").rstrip("…")
        set_accessible(button, name, f"{name} (the selected photos)")
        return button

    def _lay_out(self) -> None:
        """Two rows: the count and the actions; under them the report (its own line, so a
        long one is not squeezed between the buttons)."""
        actions = QHBoxLayout()
        actions.addWidget(self.count_label)
        actions.addStretch(1)
        for button in self.buttons:
            actions.addWidget(button)
        self.report_row = QWidget()
        report = QHBoxLayout(self.report_row)
        report.setContentsMargins(0, 0, 0, 0)
        report.addWidget(self.report, 1)
        report.addWidget(self.undo_button)
        report.addWidget(self.close_button)
        column = QVBoxLayout(self)
        column.setContentsMargins(6, 2, 6, 2)
        column.setSpacing(2)
        column.addLayout(actions)
        column.addWidget(self.report_row)

    @property
    def count(self) -> int:
        return self._count

    def set_count(self, count: int) -> None:
        """'12 photos selected'; the actions show only for a selection of two or more."""
        self._count = count
        self.count_label.setText(f"{counted(count, 'photo')} selected")
        many = count >= 2
        for widget in (self.count_label, *self.buttons):
            widget.setVisible(many)
        self._show_if_needed()

    def show_report(self, text: str, undoable: bool = False) -> None:
        """What a batch action did ("Moved 12 photos to the trash"), with Undo if it can be."""
        self.report.set_full_text(text)
        self.report_row.setVisible(True)
        self.report.setVisible(True)
        self.undo_button.setVisible(undoable)
        self.close_button.setVisible(True)
        self._show_if_needed()

    def clear_report(self) -> None:
        had = self.report.isVisibleTo(self)
        self.report.set_full_text("")
        for widget in (self.report_row, self.report, self.undo_button, self.close_button):
            widget.setVisible(False)
        self._show_if_needed()
        if had:
            self.dismissed.emit()

    @property
    def report_text(self) -> str:
        return self.report.full_text

    def _show_if_needed(self) -> None:
        self.setVisible(self._count >= 2 or bool(self.report.full_text))
