"""The task manager (after Anki's taskman): every write goes to the core Worker, the one
writer; read-only work (searches, photo details, counts) runs on a small thread pool with
its own read-only catalog connection, and its result comes back to the GUI thread by a
signal. A result for a superseded request (an older query) is dropped, never shown.

Nothing here blocks the GUI thread: `act` only queues a job, `read` only queues a task.
"""

from __future__ import annotations

import itertools
import logging
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from photoclip.core.actions import Action
from photoclip.core.errors import KnownError
from photoclip.core.search import Searcher
from photoclip.core.worker import Job, Worker
from photoclip.gui.bridge import WorkerBridge

log = logging.getLogger(__name__)

T = TypeVar("T")
Done = Callable[[Any], None]
Failed = Callable[[str], None]


class _Ticket:
    """One read task: what to call back, and which request it answers."""

    __slots__ = ("failed", "generation", "key", "on_done")

    def __init__(self, key: str | None, generation: int, on_done: Done, failed: Failed | None):
        self.key, self.generation, self.on_done, self.failed = key, generation, on_done, failed


class _Read(QRunnable):
    def __init__(
        self,
        manager: TaskManager,
        ticket: _Ticket,
        work: Callable[[Searcher], Any] | Callable[[], Any],
        needs_library: bool,
    ):
        super().__init__()
        self.manager, self.ticket, self.work = manager, ticket, work
        self.needs_library = needs_library

    def _result(self) -> Any:
        if not self.needs_library:
            return self.work()  # type: ignore[call-arg]
        with self.manager.worker.searcher() as searcher:
            return self.work(searcher)  # type: ignore[call-arg]

    def run(self) -> None:
        try:
            result = self._result()
        except KnownError as error:
            self.manager._finished.emit(self.ticket, None, str(error))
        except Exception as error:  # a bug in a read must reach the log, not kill the pool
            log.error("read task failed:\n%s", traceback.format_exc())
            self.manager._finished.emit(self.ticket, None, f"Unexpected error: {error!r}")
        else:
            self.manager._finished.emit(self.ticket, result, None)


class TaskManager(QObject):
    """Signals: failed(str message) for a read task without its own error handler."""

    failed = Signal(str)
    _finished = Signal(object, object, object)

    def __init__(self, worker: Worker, bridge: WorkerBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker, self.bridge = worker, bridge
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self._generations: dict[str, int] = {}
        self._closed = False
        self._counter = itertools.count(1)
        self._finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def submit(self, job: Job) -> None:
        """Queue a job on the worker (returns at once)."""
        self.worker.submit(job)

    def act(self, make: Callable[..., Action], *args: Any, on_done: Done | None = None) -> None:
        """Queue an Action; `on_done(result)` runs on the GUI thread when it succeeds."""
        reply = self.bridge.reply_to(on_done) if on_done is not None else None
        self.worker.submit(make(*args, reply=reply))

    def read(
        self,
        work: Callable[[Searcher], T],
        on_done: Callable[[T], None],
        *,
        key: str | None = None,
        failed: Failed | None = None,
    ) -> None:
        """Run `work(searcher)` on the pool; `on_done(result)` on the GUI thread, unless a
        later read with the same `key` was asked for meanwhile."""
        self.pool.start(_Read(self, self._ticket(key, on_done, failed), work, True))

    def run(
        self,
        work: Callable[[], T],
        on_done: Callable[[T], None],
        *,
        key: str | None = None,
        failed: Failed | None = None,
    ) -> None:
        """Like `read`, for work that needs no library (decoding a photo, a settings file)."""
        self.pool.start(_Read(self, self._ticket(key, on_done, failed), work, False))

    def _ticket(self, key: str | None, on_done: Done, failed: Failed | None) -> _Ticket:
        generation = next(self._counter)
        if key is not None:
            self._generations[key] = generation
        return _Ticket(key, generation, on_done, failed)

    def cancel(self, key: str) -> None:
        """Drop whatever the pending read of `key` answers."""
        self._generations[key] = next(self._counter)

    def wait(self, msecs: int = 30_000) -> bool:
        """Wait for the pool to drain (shutdown and tests only, never in a slot)."""
        return self.pool.waitForDone(msecs)

    def close(self, msecs: int = 30_000) -> bool:
        """At shutdown: answers still on their way are dropped (their widgets are gone)."""
        self._closed = True
        self.pool.clear()
        return self.wait(msecs)

    @Slot(object, object, object)
    def _deliver(self, ticket: _Ticket, result: Any, error: str | None) -> None:
        if self._closed:
            return
        if ticket.key is not None and self._generations.get(ticket.key) != ticket.generation:
            return  # stale: a newer request of the same kind is on its way
        if error is None:
            ticket.on_done(result)
        elif ticket.failed is not None:
            ticket.failed(error)
        else:
            self.failed.emit(error)
