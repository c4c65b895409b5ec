"""Worker events (delivered on the worker's thread) re-emitted as Qt signals on the GUI
thread. The worker calls the bridge; the bridge queues each event to itself, and only then,
on the GUI thread, emits the signal that widgets listen to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from photoclip.core import worker as w


class WorkerBridge(QObject):
    """Signals (all on the GUI thread, each with the core event dataclass):
    state_changed, job_progress, job_finished, job_failed, root_status_changed,
    watch_degraded, model_activated; download_progressed(int done, int total)."""

    state_changed = Signal(object)
    job_progress = Signal(object)
    job_finished = Signal(object)
    job_failed = Signal(object)
    root_status_changed = Signal(object)
    watch_degraded = Signal(object)
    model_activated = Signal(object)
    download_progressed = Signal(int, int)

    _event_arrived = Signal(object)
    _reply_arrived = Signal(object, object)
    _download_arrived = Signal(int, int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._closed = False
        queued = Qt.ConnectionType.QueuedConnection
        self._event_arrived.connect(self._dispatch, queued)
        self._reply_arrived.connect(self._deliver, queued)
        self._download_arrived.connect(self.download_progressed, queued)
        self._signals: dict[type, Any] = {
            w.StateChanged: self.state_changed,
            w.JobProgress: self.job_progress,
            w.JobFinished: self.job_finished,
            w.JobFailed: self.job_failed,
            w.RootStatusChanged: self.root_status_changed,
            w.WatchDegraded: self.watch_degraded,
            w.ModelActivated: self.model_activated,
        }

    def __call__(self, event: w.Event) -> None:
        """The worker's listener: any thread."""
        self._event_arrived.emit(event)

    def reply_to(self, slot: Callable[[Any], None]) -> Callable[[Any], None]:
        """A reply function for a core Action: called on the worker thread, it runs `slot`
        with the result on the GUI thread."""
        return lambda result: self._reply_arrived.emit(slot, result)

    def report_download(self, done: int, total: int) -> None:
        """Model download progress, from the thread that loads the model."""
        self._download_arrived.emit(done, total)

    def close(self) -> None:
        """At shutdown: whatever is still queued is dropped (its widgets are gone)."""
        self._closed = True

    @Slot(object)
    def _dispatch(self, event: w.Event) -> None:
        if self._closed:
            return
        signal = self._signals.get(type(event))
        if signal is not None:
            signal.emit(event)

    @Slot(object, object)
    def _deliver(self, slot: Callable[[Any], None], result: Any) -> None:
        if not self._closed:
            slot(result)
