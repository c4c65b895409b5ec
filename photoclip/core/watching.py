"""Watching the user's folders: watchdog's events turned into plain change notices.

Each root gets a recursive observer watch, plus a non-recursive one on its parent: a root
renamed away or deleted is only visible from there (inotify reports nothing under the
root's own watch when the root itself moves). Notices are delivered from watchdog's
threads; the receiver (the worker) queues them and does all the work on its own thread.

When the OS has no inotify watches left (ENOSPC, EMFILE), that root falls back to
watchdog's PollingObserver and the fallback is reported once.

`Settler` decides when a changed file may be read: cameras and sync tools write slowly,
so a file is ready only when its size and mtime held still across two looks.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserver

log = logging.getLogger(__name__)

#: Errors that mean "the OS ran out of watches", not "this folder is broken".
OUT_OF_WATCHES = (errno.ENOSPC, errno.EMFILE)


class ChangeKind(Enum):
    CHANGED = "changed"  # created or modified (a folder: look at everything in it)
    DELETED = "deleted"
    MOVED = "moved"
    ROOT_GONE = "root_gone"
    ROOT_BACK = "root_back"


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    path: Path
    dest: Path | None = None
    is_dir: bool = False


Notify = Callable[[Change], None]
_Scheduled = tuple[BaseObserver, ObservedWatch, FileSystemEventHandler]


class FolderWatcher:
    """Watches roots with watchdog and calls `notify` with a `Change` for each event.

    `on_fallback(root, reason)` is called once per root that had to fall back to polling.
    """

    def __init__(
        self,
        notify: Notify,
        on_fallback: Callable[[Path, str], None] | None = None,
        *,
        make_observer: Callable[[], BaseObserver] = Observer,
        make_polling: Callable[[], BaseObserver] = PollingObserver,
    ) -> None:
        self._notify = notify
        self._on_fallback = on_fallback
        self._make_observer, self._make_polling = make_observer, make_polling
        self._observer: BaseObserver | None = None
        self._polling: BaseObserver | None = None
        self._watches: dict[Path, list[_Scheduled]] = {}
        #: handlers per watch: roots with one parent share its watch
        self._users: dict[tuple[int, ObservedWatch], int] = {}
        self._reported: set[Path] = set()
        self._lock = threading.Lock()

    def watch(self, root: Path) -> None:
        """Start watching `root` (again: an earlier watch of it is dropped first)."""
        self.unwatch(root)
        wanted: list[tuple[Path, FileSystemEventHandler, bool]] = [
            (root.parent, _ParentHandler(root, self._notify), False)
        ]
        if root.is_dir():  # an offline root is watched from its parent only
            wanted.append((root, _RootHandler(root, self._notify), True))
        scheduled = []
        with self._lock:
            for folder, handler, recursive in wanted:
                try:
                    observer, watch = self._schedule(root, folder, handler, recursive)
                except OSError as error:
                    log.warning("cannot watch %s: %s", folder, error.strerror or error)
                    continue
                key = (id(observer), watch)
                self._users[key] = self._users.get(key, 0) + 1
                scheduled.append((observer, watch, handler))
            self._watches[root] = scheduled

    def unwatch(self, root: Path) -> None:
        with self._lock:
            for observer, watch, handler in self._watches.pop(root, []):
                key = (id(observer), watch)
                self._users[key] -= 1
                with contextlib.suppress(KeyError, OSError):  # gone with its folder
                    if self._users[key]:
                        observer.remove_handler_for_watch(handler, watch)
                    else:
                        del self._users[key]
                        observer.unschedule(watch)

    @property
    def roots(self) -> list[Path]:
        return list(self._watches)

    def stop(self) -> None:
        for observer in (self._observer, self._polling):
            if observer is not None:
                observer.stop()
        for observer in (self._observer, self._polling):
            if observer is not None and observer.is_alive():
                observer.join()

    def _schedule(
        self, root: Path, folder: Path, handler: FileSystemEventHandler, recursive: bool
    ) -> tuple[BaseObserver, ObservedWatch]:
        try:
            observer = self._native()
            return observer, observer.schedule(handler, str(folder), recursive=recursive)
        except OSError as error:
            if error.errno not in OUT_OF_WATCHES:
                raise
            self._report_fallback(root, error)
            polling = self._fallback()
            return polling, polling.schedule(handler, str(folder), recursive=recursive)

    def _native(self) -> BaseObserver:
        if self._observer is None:
            self._observer = self._make_observer()
            self._observer.start()
        return self._observer

    def _fallback(self) -> BaseObserver:
        if self._polling is None:
            self._polling = self._make_polling()
            self._polling.start()
        return self._polling

    def _report_fallback(self, root: Path, error: OSError) -> None:
        reason = (
            f"The system allows no more folder watches ({os.strerror(error.errno or 0)}); "
            f"checking {root} for changes every few seconds instead. On Linux, raise "
            "fs.inotify.max_user_watches to watch it live."
        )
        log.warning("%s", reason)
        if self._on_fallback is not None and root not in self._reported:
            self._reported.add(root)
            self._on_fallback(root, reason)


class _RootHandler(FileSystemEventHandler):
    """Everything below a root, as change notices."""

    def __init__(self, root: Path, notify: Notify) -> None:
        self.root, self.notify = root, notify

    def on_any_event(self, event: FileSystemEvent) -> None:
        src = Path(_text(event.src_path))
        kind = event.event_type
        if event.is_synthetic:
            return  # watchdog's per-file echo of a folder move or creation: handled whole
        if kind == "moved":
            dest = Path(_text(event.dest_path))
            self.notify(Change(ChangeKind.MOVED, src, dest, event.is_directory))
        elif kind == "deleted":
            gone = ChangeKind.ROOT_GONE if src == self.root else ChangeKind.DELETED
            self.notify(Change(gone, src, is_dir=event.is_directory))
        elif kind in ("created", "closed") or (kind == "modified" and not event.is_directory):
            self.notify(Change(ChangeKind.CHANGED, src, is_dir=event.is_directory))


class _ParentHandler(FileSystemEventHandler):
    """The root's parent folder: the root itself renamed away, deleted or coming back."""

    def __init__(self, root: Path, notify: Notify) -> None:
        self.root, self.notify = root, notify

    def on_any_event(self, event: FileSystemEvent) -> None:
        src = Path(_text(event.src_path))
        dest = Path(_text(event.dest_path)) if event.dest_path else None
        if event.event_type in ("deleted", "moved") and src == self.root:
            self.notify(Change(ChangeKind.ROOT_GONE, self.root, is_dir=True))
        if (event.event_type == "created" and src == self.root) or dest == self.root:
            self.notify(Change(ChangeKind.ROOT_BACK, self.root, is_dir=True))


def _text(path: Any) -> str:
    return os.fsdecode(path)


class Settler:
    """Debounce and wait for files to stop growing: a file is ready once its size and
    mtime are the same at two looks `interval` seconds apart. Used from one thread."""

    def __init__(self, interval: float = 0.5, clock: Callable[[], float] = time.monotonic):
        self.interval, self._clock = interval, clock
        #: path -> (size, mtime_ns) at the last look, and when to look again
        self._pending: dict[Path, tuple[tuple[int, int] | None, float]] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def touch(self, path: Path) -> None:
        """The file changed (again): look at it now and once more after `interval`."""
        self._pending[path] = (_signature(path), self._clock() + self.interval)

    def forget(self, path: Path) -> None:
        self._pending.pop(path, None)

    def forget_under(self, folder: Path) -> list[Path]:
        """Drop pending files below `folder` (it moved or vanished); returns them."""
        dropped = [p for p in self._pending if p.is_relative_to(folder)]
        for path in dropped:
            del self._pending[path]
        return dropped

    def ready(self) -> list[Path]:
        """Files that held still; files that vanished are dropped, growing ones re-armed."""
        now, done = self._clock(), []
        for path, (before, due) in list(self._pending.items()):
            if due > now:
                continue
            after = _signature(path)
            if after is None:
                del self._pending[path]
            elif after == before:
                del self._pending[path]
                done.append(path)
            else:
                self._pending[path] = (after, now + self.interval)
        return sorted(done)

    def next_due(self) -> float | None:
        """Seconds until the next look (0 if one is due), or None when nothing waits."""
        if not self._pending:
            return None
        return max(0.0, min(due for _, due in self._pending.values()) - self._clock())


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns
