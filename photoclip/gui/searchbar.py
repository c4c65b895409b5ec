"""The search bar: a query field searched as you type (debounced), sort order, a relevance
cutoff and a date range. A photo dropped on the field searches by that photo (the engine's
query syntax takes an image file as a term, so it can be combined: `photo.jpg - snow`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from PySide6.QtCore import QDate, Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from photoclip.core.scanning import is_photo_name
from photoclip.core.search import DATE, RELEVANCE
from photoclip.gui.accessibility import set_accessible

DEBOUNCE_MS = 250
TEXTNESS_LABEL = "Text in photos"


@dataclass(frozen=True)
class SearchRequest:
    """What the bar asks for; the window adds the folder and tag filters."""

    query: str
    sort: str = RELEVANCE
    #: drop results below this fraction of the best hit (None: keep all)
    relative: float | None = None
    since: float | None = None
    until: float | None = None
    #: -2 (avoid photos of text) .. 2 (seek them)
    textness: float = 0.0


class QueryField(QLineEdit):
    """A line edit that takes a dropped photo as the query. Signals: photo_dropped(str),
    leave_down() on the Down key (to the results)."""

    photo_dropped = Signal(str)
    leave_down = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _dropped_photo(event) is not None:
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        path = _dropped_photo(event)
        if path is None:
            super().dropEvent(event)
            return
        event.acceptProposedAction()
        self.photo_dropped.emit(path)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Down:
            self.leave_down.emit()
            return
        if event.key() == Qt.Key.Key_Escape and self.text():
            self.clear()
            return
        super().keyPressEvent(event)


def _dropped_photo(event: QDragEnterEvent | QDropEvent) -> str | None:
    urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
    files = [u.toLocalFile() for u in urls if u.isLocalFile()]
    return files[0] if len(files) == 1 and is_photo_name(files[0].rsplit("/", 1)[-1]) else None


class SearchBar(QWidget):
    """Signals: changed() (debounced for typing, at once for the other controls)."""

    changed = Signal()

    def __init__(self, textness: float = 0.0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = QueryField()
        self.textness = QSlider(Qt.Orientation.Horizontal)
        self.textness.setRange(-20, 20)
        self.textness.setPageStep(5)
        self.textness.setValue(round(textness * 10))
        self.textness.setMaximumWidth(120)
        self.textness.setToolTip(
            "Text in photos: left avoids photos of signs and documents, right seeks them"
        )
        self.field.setPlaceholderText(
            "Search your photos: dog on a beach · beach + sunset - people · drop a photo here"
        )
        self.field.setClearButtonEnabled(True)
        self.sort = QComboBox()
        self.sort.addItem("Most relevant", RELEVANCE)
        self.sort.addItem("Newest first", DATE)
        self.cutoff = QSlider(Qt.Orientation.Horizontal)
        self.cutoff.setRange(0, 95)
        self.cutoff.setSingleStep(5)
        self.cutoff.setMaximumWidth(120)
        self.cutoff.setToolTip("Relevance cutoff: hide photos far below the best match")
        self.dates = QCheckBox("Taken between")
        self.since, self.until = QDateEdit(), QDateEdit()
        for edit in (self.since, self.until):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.setEnabled(False)
        self.since.setDate(QDate.currentDate().addYears(-1))
        self.until.setDate(QDate.currentDate())
        self.textness_label = QLabel(TEXTNESS_LABEL)
        self.filters = QLabel()
        self.filters.setTextFormat(Qt.TextFormat.PlainText)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._name_controls()
        self._lay_out()
        self._connect()

    def _name_controls(self) -> None:
        set_accessible(self.field, "Search photos", "Words, a photo path, + and - to combine")
        set_accessible(self.sort, "Sort results", "By relevance or newest first")
        set_accessible(self.textness, "Text in photos")
        set_accessible(self.cutoff, "Relevance cutoff")
        set_accessible(self.dates, "Only photos taken between two dates")
        set_accessible(self.since, "Taken on or after")
        set_accessible(self.until, "Taken on or before")

    def _lay_out(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.field, 1)
        top.addWidget(self.sort)
        top.addSpacing(8)
        top.addWidget(self.textness_label)
        top.addWidget(self.textness)
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel("Cutoff"))
        bottom.addWidget(self.cutoff)
        bottom.addSpacing(12)
        bottom.addWidget(self.dates)
        bottom.addWidget(self.since)
        bottom.addWidget(QLabel("and"))
        bottom.addWidget(self.until)
        bottom.addSpacing(12)
        bottom.addWidget(self.filters, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(bottom)

    def _connect(self) -> None:
        # Not connected to QTimer.start directly: a signal's argument would become the
        # interval (the text slider's -20 made Qt warn of a negative interval).
        self.field.textChanged.connect(self._later)
        self.field.returnPressed.connect(self._now)
        self.field.photo_dropped.connect(self.search_photo)
        self._debounce.timeout.connect(self.changed)
        self.sort.currentIndexChanged.connect(self._now)
        self.cutoff.valueChanged.connect(self._later)
        self.textness.valueChanged.connect(self._later)
        self.dates.toggled.connect(self._dates_toggled)
        self.since.dateChanged.connect(self._now)
        self.until.dateChanged.connect(self._now)

    def search_photo(self, path: str) -> None:
        """Search by a photo: its path becomes the query (quoted when it has spaces)."""
        self.field.setText(f'"{path}"' if " " in path else path)
        self._now()

    def request(self) -> SearchRequest:
        cutoff = self.cutoff.value()
        since = until = None
        if self.dates.isChecked():
            since = _timestamp(self.since.date())
            until = _timestamp(self.until.date().addDays(1))
        return SearchRequest(
            self.field.text().strip(),
            self.sort.currentData(),
            cutoff / 100 if cutoff else None,
            since,
            until,
            self.textness.value() / 10,
        )

    def set_has_photos(self, has: bool) -> None:
        """Searching an empty library finds nothing: its controls wait for photos."""
        for control in (self.field, self.sort, self.textness, self.cutoff, self.dates):
            control.setEnabled(has)
        self.since.setEnabled(has and self.dates.isChecked())
        self.until.setEnabled(has and self.dates.isChecked())

    def set_textness_learning(self, learning: bool) -> None:
        """The slider steers searches only once the model's text direction is learned."""
        self.textness_label.setText(f"{TEXTNESS_LABEL} (learning…)" if learning else TEXTNESS_LABEL)

    def set_filters(self, text: str) -> None:
        self.filters.setText(text)

    def focus(self) -> None:
        self.field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.field.selectAll()

    def _dates_toggled(self, on: bool) -> None:
        self.since.setEnabled(on)
        self.until.setEnabled(on)
        self._now()

    def _later(self) -> None:
        self._debounce.start()

    def _now(self) -> None:
        self._debounce.stop()
        self.changed.emit()


def _timestamp(date: QDate) -> float:
    return datetime.combine(date.toPython(), time()).timestamp()  # type: ignore[arg-type]
