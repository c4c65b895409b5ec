"""The status bar: what the worker does (done/total, photos per second, time left),
pause/resume, how many photos failed (a button to see them and why), the model in use."""

from __future__ import annotations

import logging

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QStatusBar,
    QWidget,
)

from photoclip.core import worker as w
from photoclip.core.indexing import IndexProgress
from photoclip.core.settings import THUMBNAIL_RANGE
from photoclip.gui.accessibility import set_accessible
from photoclip.gui.formatting import counted

log = logging.getLogger(__name__)

#: what the status bar calls each worker job while it runs (the others: "Working")
JOB_NAMES = {
    "ScanRoots": "Indexing",
    "IndexFiles": "Indexing",
    "ApplyChange": "Indexing",
    "RebuildIndex": "Rebuilding the index",
    "SwitchModel": "Re-embedding photos",
    "ComputeTextness": "Learning what text in photos looks like",
    "FillThumbnails": "Making thumbnails",
    "LoadModel": "Loading the model",
    "ChooseModel": "Loading the model",
    "RemoveFolder": "Removing a folder",
    "SaveCategories": "Tagging",
    "CorrectTag": "Tagging",
    "CorrectTags": "Tagging the selected photos",
    "UndoCorrection": "Undoing a tag correction",
    "AddSuggestedCategories": "Tagging",
    "PreviewSuggestedCategories": "Counting what categories would tag",
    "PlanSort": "Planning the sort",
    "ApplySort": "Sorting",
    "UndoSort": "Undoing the sort",
    "FindDuplicates": "Finding near-duplicates",
    "TrashPhotos": "Moving to the trash",
    "UndoTrash": "Restoring from the trash",
}

#: what a job's progress counts, where it is not photos
JOB_UNITS = {
    "SaveCategories": "categories",
    "AddSuggestedCategories": "categories",
    "ComputeTextness": "sample images",
}

#: the grid's thumbnail sizes (px), and one step of the slider or of Ctrl+plus/minus
MIN_THUMBNAIL, MAX_THUMBNAIL = THUMBNAIL_RANGE
THUMBNAIL_STEP = 32


def eta_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.0f} s left"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min left"
    return f"{seconds / 3600:.1f} h left"


def progress_text(progress: IndexProgress, unit: str = "photos") -> str:
    parts = [f"{progress.done:,} of {progress.total:,} {unit}", f"{progress.rate:.1f}/s"]
    eta = eta_text(progress.eta)
    return " · ".join([*parts, eta] if eta else parts)


class ElidedLabel(QLabel):
    """One line that takes the width it is given and never asks for more: a long text is
    cut with an ellipsis and shown whole in the tooltip. (A plain QLabel's minimum width is
    its text's, so one long message widened the whole window past the screen.)"""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    @property
    def full_text(self) -> str:
        return self._full

    def set_full_text(self, text: str) -> None:
        self._full = text
        self._elide()

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        one_line = " ".join(self._full.split())
        shown = self.fontMetrics().elidedText(one_line, Qt.TextElideMode.ElideRight, self.width())
        self.setText(shown)
        self.setToolTip(self._full if shown != one_line else "")


class StatusBar(QStatusBar):
    """Signals: pause_toggled(bool paused), failures_requested()."""

    pause_toggled = Signal(bool)
    failures_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = QLabel("Starting…")
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(220)
        self.bar.setTextVisible(False)
        self.bar.hide()
        self.detail = ElidedLabel()
        self.pause = QPushButton("Pause")
        self.pause.setCheckable(True)
        self.pause.setFlat(True)
        self.pause.setToolTip("Pause or resume indexing")
        self.pause.hide()  # shown only while something runs
        self.failures = QPushButton()
        self.failures.setFlat(True)
        self.failures.hide()
        self.model = QLabel()
        self.results = QLabel()
        self.zoom = QSlider(Qt.Orientation.Horizontal)
        self.zoom.setRange(MIN_THUMBNAIL, MAX_THUMBNAIL)
        self.zoom.setSingleStep(THUMBNAIL_STEP)
        self.zoom.setPageStep(THUMBNAIL_STEP)
        self.zoom.setMaximumWidth(120)
        self.zoom.setToolTip("Thumbnail size (Ctrl+plus, Ctrl+minus)")
        #: Whether `detail` shows indexing progress (cleared when the worker goes idle)
        #: rather than a message, which stays until the next one replaces it.
        self._detail_is_progress = False
        #: the worker indexes with another model than searches use (see set_re_embedding)
        self._re_embedding = False
        set_accessible(self.pause, "Pause indexing")
        set_accessible(self.failures, "Photos that could not be read", "Lists them, each with why")
        set_accessible(self.bar, "Indexing progress")
        set_accessible(self.detail, "Status")
        set_accessible(self.zoom, "Thumbnail size")
        set_accessible(self.results, "Results")
        self.addWidget(self.state)
        self.addWidget(self.bar)
        self.addWidget(self.detail, 1)
        self.addPermanentWidget(self.results)
        self.addPermanentWidget(self.failures)
        self.addPermanentWidget(self.pause)
        self.addPermanentWidget(self.model)
        self.addPermanentWidget(self.zoom)
        self.pause.toggled.connect(self._on_pause)
        self.failures.clicked.connect(self.failures_requested)

    def set_re_embedding(self, re_embedding: bool) -> None:
        """The worker indexes with a model other than the one searches use: its scans are
        re-embedding the library, and say so."""
        self._re_embedding = re_embedding

    def show_state(self, event: w.StateChanged) -> None:
        job = event.job or ""
        working = JOB_NAMES.get(job, "Working")
        if self._re_embedding and job in ("ScanRoots", "IndexFiles", "SwitchModel"):
            working = JOB_NAMES["SwitchModel"]
        names = {
            w.STARTING: "Starting…",
            w.IDLE: "Up to date",
            w.WORKING: working,
            w.PAUSED: "Paused",
            w.STOPPING: "Stopping…",
        }
        self.state.setText(names.get(event.state, event.state.capitalize()))
        self.pause.setVisible(event.state in (w.WORKING, w.PAUSED))
        if event.state in (w.IDLE, w.PAUSED, w.STOPPING):
            self.bar.hide()
            if event.state == w.IDLE and self._detail_is_progress:
                self.detail.set_full_text("")  # a message (a failed job's reason) stays readable

    def show_progress(self, progress: IndexProgress, job: str = "") -> None:
        """A worker job's progress: done of total (in the job's unit), rate, time left."""
        self.bar.show()
        self.bar.setRange(0, max(progress.total, 1))
        self.bar.setValue(progress.done)
        self.detail.set_full_text(progress_text(progress, JOB_UNITS.get(job, "photos")))
        self._detail_is_progress = True

    def show_task(self, name: str, progress: IndexProgress | None) -> None:
        """Progress of work off the worker (finding near-duplicates on the read pool):
        its name and counts, or None when it is over."""
        if progress is None:
            self.bar.hide()
            self.show_message("")
            return
        self.bar.show()
        self.bar.setRange(0, max(progress.total, 1))
        self.bar.setValue(progress.done)
        self.detail.set_full_text(f"{name}: {progress_text(progress)}")
        self._detail_is_progress = True

    def show_failures(self, count: int) -> None:
        self.failures.setText(f"{count:,} could not be read…")
        set_accessible(
            self.failures, f"{count:,} photos could not be read", "Lists them, each with why"
        )
        self.failures.setVisible(count > 0)

    def show_results(self, count: int, seconds: float | None) -> None:
        """How many photos the grid shows, and how long finding them took (if searched)."""
        took = "" if seconds is None else f", {seconds * 1000:.0f} ms"
        self.results.setText(f"{counted(count, 'photo')}{took}")

    def show_model(self, text: str) -> None:
        self.model.setText(text)

    def show_message(self, text: str) -> None:
        """Shown elided when long; the whole text is in the tooltip and the log."""
        if text:
            log.info("status: %s", text)
        self.detail.set_full_text(text)
        self._detail_is_progress = False

    @property
    def message(self) -> str:
        """The whole text of the message or progress line (the label may show less)."""
        return self.detail.full_text

    def _on_pause(self, paused: bool) -> None:
        self.pause.setText("Resume" if paused else "Pause")
        set_accessible(self.pause, "Resume indexing" if paused else "Pause indexing")
        self.pause_toggled.emit(paused)
