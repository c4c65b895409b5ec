"""The background worker: the one thread that writes the catalog and the vector index.

Jobs wait in a priority queue (user actions, then live changes, then bulk work) and run one
at a time on the worker's own thread, which opens its own Library. Bulk indexing gives way
at a batch boundary when more urgent work is waiting and is queued again; the indexer skips
what is done, so it resumes where it stopped. The queue lives in memory only: the catalog
is the truth, and the scan of every root at start-up finds whatever a crash left undone.

Idle means idle: the thread blocks on the queue with no timeout unless something is due (a
file settling, an offline root to look for, the model to unload, the index to save).

Switching models: the target model's vectors are written under their own key while searches
keep using the active model's; the target is activated (and the old vectors dropped) only
when every indexed photo of the online roots has a vector of it.

Offline roots (an unplugged drive) keep their photos; searches still return them, and a
caller marks them by their root (`Catalog.roots()` has `online`). They come back with the
drive, without re-embedding. Listeners get plain event dataclasses, from the worker thread.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import ClassVar, cast

from photoclip.core.catalog import Catalog, ModelRecord, Root
from photoclip.core.embedding import Encoder, LazyEncoder
from photoclip.core.errors import KnownError
from photoclip.core.exports import start_export
from photoclip.core.imageio import DEFAULT_MAX_PIXELS
from photoclip.core.indexing import IndexControl, Indexer, IndexProgress, IndexReport
from photoclip.core.library import Library, own_folders
from photoclip.core.paths import Locations
from photoclip.core.profiles import ModelProfile, resolve_profile
from photoclip.core.scanning import is_photo_name, scan
from photoclip.core.search import Searcher
from photoclip.core.searchservice import SearchService, socket_path
from photoclip.core.tagging import LazyClipTexts, Tagger
from photoclip.core.textexport import OnnxText, open_export
from photoclip.core.watching import Change, ChangeKind, FolderWatcher, Settler
from photoclip.core.workerstatus import STOPPED, write_status

log = logging.getLogger(__name__)

#: Job priorities: lower runs first.
USER, LIVE, BULK = 0, 1, 2

STARTING, IDLE, WORKING, PAUSED, STOPPING = "starting", "idle", "working", "paused", "stopping"


# -- events ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StateChanged:
    state: str
    #: jobs waiting plus files settling
    queue: int
    job: str | None = None


@dataclass(frozen=True)
class JobProgress:
    job: str
    progress: IndexProgress


@dataclass(frozen=True)
class JobFinished:
    job: str
    report: IndexReport | None
    #: gave way to more urgent work and was queued again
    yielded: bool = False


@dataclass(frozen=True)
class JobFailed:
    job: str
    message: str


@dataclass(frozen=True)
class RootStatusChanged:
    path: Path
    online: bool


@dataclass(frozen=True)
class WatchDegraded:
    """A root is polled instead of watched live (the OS ran out of watches)."""

    path: Path
    reason: str


@dataclass(frozen=True)
class ModelActivated:
    model_key: str


Event = (
    StateChanged
    | JobProgress
    | JobFinished
    | JobFailed
    | RootStatusChanged
    | WatchDegraded
    | ModelActivated
)
Listener = Callable[[Event], None]


# -- settings and jobs -------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerSettings:
    #: photos embedded per batch; 0 takes the model profile's (profiles.py)
    batch_size: int = 0
    decode_threads: int = 2
    max_pixels: int = DEFAULT_MAX_PIXELS
    #: a file is read once its size and mtime held still this long
    settle_seconds: float = 0.5
    #: the model (and the tagger's copy of the vectors) is dropped after this long unused,
    #: and loaded again on demand
    unload_after: float = 300.0
    #: how often an offline root is looked for, and the catalog read for roots that
    #: another process (a concurrent `photoclip index`) added
    offline_recheck: float = 5.0
    #: live changes save the index at most this often (a crash replays from the catalog)
    save_every: float = 60.0
    #: bulk work runs at least this long before giving way to live changes
    min_slice: float = 2.0
    #: answer `photoclip search` over a local socket (photoclip.core.searchservice)
    serve_searches: bool = True


@dataclass
class Work:
    """What a job gets to do its work with (on the worker thread)."""

    worker: Worker
    library: Library
    control: IndexControl
    progress: Callable[[IndexProgress], None]

    def indexer(self) -> Indexer:
        settings, encoder = self.worker.settings, self.worker.encoder()
        hook = self.worker.after_commit
        return Indexer(
            self.library,
            encoder,
            batch_size=settings.batch_size or encoder.profile.batch_size,
            decode_threads=settings.decode_threads,
            max_pixels=settings.max_pixels,
            after_commit=hook(self.library, encoder) if hook else None,
        )


def _unexpected(job: str, error: Exception) -> str:
    """A bug, said without the exception's type (that goes to the log file)."""
    detail = f": {error}" if str(error) else ""
    return (
        f"{job} stopped on an unexpected problem{detail}. "
        "The log file (photoclip.log) has the details."
    )


class Job:
    """One unit of work on the worker thread. Subclass it for new kinds of work (a re-tag
    job, say): set `priority`, and `yields = True` for bulk work that can resume."""

    priority: ClassVar[int] = BULK
    yields: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return type(self).__name__

    def run(self, work: Work) -> IndexReport | None:
        raise NotImplementedError


@dataclass(frozen=True)
class ScanRoots(Job):
    """Add roots, or reconcile the given (default: every) root with the catalog."""

    paths: tuple[Path, ...] = ()
    priority: ClassVar[int] = BULK
    yields: ClassVar[bool] = True

    def run(self, work: Work) -> IndexReport | None:
        return work.worker._scan(self.paths, work)


@dataclass(frozen=True)
class IndexFiles(Job):
    paths: tuple[Path, ...]
    priority: ClassVar[int] = LIVE

    def run(self, work: Work) -> IndexReport | None:
        return work.indexer().index_files(list(self.paths), work.progress, work.control)


@dataclass(frozen=True)
class ApplyChange(Job):
    """A change the watcher saw: cheap catalog edits, or files handed to the settler."""

    change: Change
    priority: ClassVar[int] = LIVE

    def run(self, work: Work) -> IndexReport | None:
        work.worker._apply(self.change)
        return None


@dataclass(frozen=True)
class RebuildIndex(Job):
    priority: ClassVar[int] = USER

    def run(self, work: Work) -> IndexReport | None:
        work.library.rebuild_index()
        return None


@dataclass(frozen=True)
class SwitchModel(Job):
    """Re-embed the library with another profile; searches use the old one until done."""

    profile: str
    priority: ClassVar[int] = USER

    def run(self, work: Work) -> IndexReport | None:
        work.worker._switch_to(self.profile)
        return None


@dataclass(frozen=True)
class ComputeTextness(Job):
    """Learn and store the active model's textness direction when the catalog lacks it
    (seconds; searches with a textness other than 0 then find it there)."""

    priority: ClassVar[int] = USER

    def run(self, work: Work) -> IndexReport | None:
        from photoclip.core.indexing import measured
        from photoclip.core.textness import ensure_direction

        started = time.monotonic()
        progress = lambda done, total: work.progress(measured(done, total, started))  # noqa: E731
        ensure_direction(work.library.catalog, work.worker.active_encoder(), progress)
        return None


# -- the model, loaded on demand ---------------------------------------------------------------


class _Models:
    """Encoders by profile name: loaded on first use, closed after `unload_after` unused,
    loaded again when one has died (a model process that crashed or was killed).
    The lock covers loading only; inference runs on the caller's own reference."""

    def __init__(self, load: Callable[[str], Encoder], unload_after: float) -> None:
        self._load, self.unload_after = load, unload_after
        self._loaded: dict[str, Encoder] = {}
        self._used: dict[str, float] = {}
        self._lock = threading.Lock()
        self._closed = False

    def get(self, name: str) -> Encoder:
        with self._lock:
            if self._closed:  # a model loaded now would outlive the worker
                raise KnownError("PhotoClip is closing; the model is unloaded.")
            if name in self._loaded and not self._loaded[name].alive:
                log.warning("the model %s stopped; loading it again", name)
                self._drop(name)
            if name not in self._loaded:
                log.info("loading the model %s", name)
                self._loaded[name] = self._load(name)
            self._used[name] = time.monotonic()
            return self._loaded[name]

    def touch(self, name: str) -> None:
        with self._lock:
            if name in self._used:
                self._used[name] = time.monotonic()

    @property
    def loaded(self) -> list[str]:
        return list(self._loaded)

    def unload_idle(self) -> None:
        now = time.monotonic()
        with self._lock:
            for name in [n for n, used in self._used.items() if now - used >= self.unload_after]:
                log.info("unloading the idle model %s", name)
                self._drop(name)

    def close(self) -> None:
        """Unload every model (a model process ends with it)."""
        with self._lock:
            self._closed = True
            for name in list(self._loaded):
                self._drop(name)

    def _drop(self, name: str) -> None:
        encoder = self._loaded.pop(name)
        self._used.pop(name, None)
        encoder.close()

    def next_unload(self) -> float | None:
        with self._lock:
            if not self._used:
                return None
            return max(0.0, min(self._used.values()) + self.unload_after - time.monotonic())


# -- the worker --------------------------------------------------------------------------------


@dataclass(order=True)
class _Queued:
    priority: int
    seq: int
    job: Job = field(compare=False)


class Worker:
    """The single writer of a library's catalog and index. `start()`, then `stop()`.

    `load(profile_name) -> Encoder` loads a model (the composition root decides how);
    `profile` is the model to index with: when it differs from the catalog's active model
    the library is re-embedded in the background. `after_commit(library, encoder)` makes
    the Indexer's per-batch hook (e.g. auto-tagging), called with the committed photo ids.
    """

    def __init__(
        self,
        locations: Locations,
        load: Callable[[str], Encoder],
        profile: str,
        settings: WorkerSettings | None = None,
        *,
        after_commit: Callable[[Library, Encoder], Callable[[list[int]], None]] | None = None,
    ) -> None:
        self.locations, self.profile = locations, profile
        self.after_commit = after_commit
        self.settings = settings or WorkerSettings()
        self._models = _Models(partial(self._load_and_export, load), self.settings.unload_after)
        self._listeners: list[Listener] = []
        self._heap: list[_Queued] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._paused = self._stopping = False
        self._idle = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        # Worker-thread state:
        self._library: Library | None = None
        self._watcher = FolderWatcher(self.notify, self._on_fallback)
        #: PhotoClip's own folders: a change there is never a photo's (issue 16)
        self._excluded = own_folders(locations)
        self._settler = Settler(self.settings.settle_seconds)
        self._control: IndexControl | None = None
        self._current: Job | None = None
        self._yielding = False
        self._job_started = 0.0
        self._target_key: str | None = None
        #: the active model listeners were last told of (ModelActivated)
        self._announced: str | None = None
        self._tagger: Tagger | None = None
        self._tagger_used = 0.0
        self._dirty = False
        self._last_save = self._last_recheck = self._last_status = time.monotonic()
        self._state = STARTING
        self._service: SearchService | None = None
        #: each model's text export, once opened (photoclip.core.textexport)
        self._texts: dict[str, OnnxText] = {}
        #: models loaded since the worker was last idle (photoclip.core.exports)
        self._to_export: dict[str, ModelProfile] = {}
        #: why the worker's thread ended early, if it did (a bug; the log has the rest)
        self.failure: str | None = None

    # -- control, from any thread ----------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def start(self, roots: Sequence[Path] = ()) -> None:
        """Start the thread; `roots` are added (new) or reconciled (known) first."""
        paths = tuple(Path(p).expanduser().resolve() for p in roots)
        for path in paths:
            if not path.is_dir():
                raise KnownError(f"{path} is not a folder.")
        self._write_status(STARTING)
        self._thread = threading.Thread(
            target=self._main, args=(paths,), name="photoclip-worker", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Finish the batch in flight, save the index and end the thread."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        if self._control is not None:
            self._control.cancel()
        if self._thread is not None:
            self._thread.join(timeout)

    def submit(self, job: Job) -> None:
        with self._cv:
            heapq.heappush(self._heap, _Queued(job.priority, next(self._seq), job))
            self._idle.clear()
            self._cv.notify_all()

    def notify(self, change: Change) -> None:
        """A change in a watched folder (called from watchdog's threads). Changes inside
        PhotoClip's own folders are dropped here: the worker's own writes there (thumbnails,
        catalog, status) would otherwise queue work that writes there again, forever."""
        if change.path in self._excluded and (change.dest is None or change.dest in self._excluded):
            return
        self.submit(ApplyChange(change))

    def add_roots(self, paths: Sequence[Path]) -> None:
        self.submit(ScanRoots(tuple(Path(p).expanduser().resolve() for p in paths)))

    def switch_model(self, profile: str) -> None:
        self.submit(SwitchModel(profile))

    def rebuild_index(self) -> None:
        self.submit(RebuildIndex())

    def pause(self) -> None:
        with self._cv:
            self._paused = True
            self._cv.notify_all()
        if self._control is not None:
            self._control.pause()

    def resume(self) -> None:
        with self._cv:
            self._paused = False
            self._cv.notify_all()
        if self._control is not None:
            self._control.resume()

    def cancel(self) -> None:
        """Cancel the job that runs now (bulk work is picked up again by the next scan)."""
        self._yielding = False
        if self._control is not None:
            self._control.cancel()

    @property
    def state(self) -> str:
        return self._state

    @property
    def queue_length(self) -> int:
        return len(self._heap) + len(self._settler)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued, settling or running (for tests and scripts)."""
        return self._idle.wait(timeout)

    def encoder(self) -> Encoder:
        """The model the worker indexes with (loaded on demand)."""
        encoder = self._models.get(self.profile)
        self._target_key = encoder.model_key
        return encoder

    def active_encoder(self) -> Encoder:
        """The model of the vectors searches use now (loaded on demand)."""
        assert self._library is not None
        record = self._library.active_model
        if record is None:
            raise KnownError("Nothing is indexed yet. Add a folder first.")
        return self._models.get(record.profile)

    def tagger(self) -> Tagger:
        """The active model's Tagger, on the worker thread, kept from job to job: it holds
        every photo's vector while the catalog's generation stands, so a re-tag after an
        edit skips reading them all again. Categories, thresholds, label vectors and
        corrections are read from the catalog at each use, so saving them never leaves it
        stale; another active model gets a new one, and an unused one is dropped with
        the model (`unload_after`). The model itself loads only for labels not cached,
        and not even then when its text export can embed them."""
        assert self._library is not None
        record = self._library.active_model
        if record is None:
            raise KnownError("Nothing is indexed yet. Add a folder first.")
        if self._tagger is None or self._tagger.model_key != record.key:
            texts = LazyClipTexts(record.key, partial(self._text_first, record))
            self._tagger = Tagger(self._library.catalog, texts)
        self._tagger_used = time.monotonic()
        return self._tagger

    @contextmanager
    def searcher(self) -> Iterator[Searcher]:
        """A Searcher for the calling thread: its own read-only catalog connection, the
        worker's in-memory indexes, the active model's encoder (never the worker's lock)."""
        self._ready.wait()
        if self._library is None:
            raise KnownError("The worker could not open the library; see the log.")
        reader = self._library.reader()

        def encoder() -> Encoder:
            record = reader.active_model
            if record is None:
                raise KnownError("Nothing is indexed yet.")
            return self._text_first(record)

        try:
            yield Searcher(reader, encoder)
        finally:
            reader.close()

    def _text_first(self, record: ModelRecord) -> Encoder:
        """The model of `record` for a search: texts from its ONNX export when it has a
        usable one (no model to load, or to wait for), the rest from the loaded model."""
        load = partial(self._models.get, record.profile)
        try:
            profile = resolve_profile(record.profile)
        except KnownError:  # random weights (tests): no export either
            return load()
        text = self._texts.get(record.key) or open_export(self.locations.cache, record.key)
        if text is not None:
            self._texts[record.key] = text
        # (LazyEncoder's attributes are read-only properties; the Protocol's are variables)
        return cast(Encoder, LazyEncoder(profile, load, record, text=text))

    def _load_and_export(self, load: Callable[[str], Encoder], name: str) -> Encoder:
        """Load a model; once the worker is next idle, its towers are exported in the
        background (once per model), so that cold searches, and this worker's own
        (photoclip.core.searchservice), and `photoclip index` on the CPU skip torch. Not at
        once: the export loads the model a second time, which must not slow the indexing
        that has just asked for it."""
        encoder = load(name)
        self._to_export[encoder.model_key] = encoder.profile
        return encoder

    # -- the thread --------------------------------------------------------------------------

    def _main(self, roots: tuple[Path, ...]) -> None:
        try:
            self._open(roots)
            while self._step():
                pass
        except Exception as error:
            log.exception("the worker stopped on an unexpected error")
            self.failure = f"{type(error).__name__}: {error}"
        finally:
            self._close()

    def _open(self, roots: tuple[Path, ...]) -> None:
        self._library = Library.open(self.locations)
        self._announced = self._library.catalog.active_model
        self._excluded = self._library.excluded
        if self._library.active_model is not None:
            self._library.index()  # loaded here, so that readers share it
        self._ready.set()
        self._start_service()
        for root in self._catalog_roots():
            self._watcher.watch(root.path)
        self.submit(ScanRoots(roots + tuple(r.path for r in self._catalog_roots())))

    def _start_service(self) -> None:
        path = socket_path(self.locations) if self.settings.serve_searches else None
        if path is None:
            return
        service = SearchService(path, self.searcher)
        try:
            service.start()
        except (OSError, KnownError) as error:  # searches then run in their own process
            log.warning("searches are not served over %s: %s", path, error)
            return
        self._service = service

    def _close(self) -> None:
        self._set_state(STOPPING)
        if self._service is not None:
            self._service.stop()
        self._watcher.stop()
        try:
            if self._library is not None:
                try:
                    self._library.save_index()
                finally:
                    self._library.close()
        finally:
            self._models.close()
        self._ready.set()
        self._set_state(STOPPED)

    def _step(self) -> bool:
        job = self._take(self._next_wakeup())
        if self._stopping:
            return False
        self._housekeeping()
        if job is not None:
            self._run(job)
        self._refresh_state()
        return True

    def _take(self, timeout: float | None) -> Job | None:
        with self._cv:
            # Checked under the lock: a pause or resume that came after the state was last
            # published must be reported first, or its notify is lost and the worker sleeps on.
            published = (self._state == PAUSED) == self._paused
            if published and not self._stopping and (self._paused or not self._heap):
                self._cv.wait(timeout)
            if self._stopping or self._paused or not self._heap:
                return None
            return heapq.heappop(self._heap).job

    def _run(self, job: Job) -> None:
        assert self._library is not None
        self._current, self._control = job, IndexControl()
        self._yielding, self._job_started = False, time.monotonic()
        if self._paused:
            self._control.pause()
        if self._stopping:  # stop() came between taking the job and publishing its control
            self._control.cancel()
        self._set_state(WORKING)
        try:
            report = job.run(Work(self, self._library, self._control, self._on_progress))
        except KnownError as error:
            self._emit(JobFailed(job.name, str(error)))
        except Exception as error:  # a bug in one job must not stop the worker
            log.exception("job %s failed", job.name)  # the type and traceback: the log file
            self._emit(JobFailed(job.name, _unexpected(job.name, error)))
        else:
            yielded = bool(report and report.cancelled and self._yielding)
            if yielded and not self._stopping:
                self.submit(job)
            self._emit(JobFinished(job.name, report, yielded))
            self._after(job)
        finally:
            self._current, self._control = None, None
            self._models.touch(self.profile)

    def _after(self, job: Job) -> None:
        if not isinstance(job, ApplyChange):
            self._dirty = True
        self._maybe_activate()

    def _on_progress(self, progress: IndexProgress) -> None:
        job = self._current
        assert job is not None and self._control is not None
        self._emit(JobProgress(job.name, progress))
        if self._library is not None and self._announced is None:
            self._maybe_activate()  # the very first photos are searchable at once
        if time.monotonic() - self._last_status >= 1.0:
            self._write_status(self._state, done=progress.done, total=progress.total)
        if job.yields and self._urgent(job):
            self._yielding = True
            self._control.cancel()

    def _urgent(self, job: Job) -> bool:
        if time.monotonic() - self._job_started < self.settings.min_slice:
            return False
        with self._cv:
            waiting = bool(self._heap) and self._heap[0].priority < job.priority
        return waiting or self._settler.next_due() == 0

    # -- housekeeping: what is due between jobs ------------------------------------------------

    def _next_wakeup(self) -> float | None:
        now = time.monotonic()
        due = [self._settler.next_due(), self._models.next_unload()]
        if self._tagger is not None:
            due.append(self._tagger_used + self.settings.unload_after - now)
        due.append(self._last_recheck + self.settings.offline_recheck - now)
        if self._dirty:
            due.append(self._last_save + self.settings.save_every - now)
        known = [max(0.0, d) for d in due if d is not None]
        return min(known) if known else None

    def _housekeeping(self) -> None:
        ready = self._settler.ready()
        if ready:
            self.submit(IndexFiles(tuple(ready)))
        now = time.monotonic()
        if now - self._last_recheck >= self.settings.offline_recheck:
            self._last_recheck = now
            for root in self._catalog_roots():
                if not root.online and self._present(root):
                    self._root_back(root.path)
                elif root.online and root.path not in self._watcher.roots:
                    self._root_added_elsewhere(root.path)
        self._models.unload_idle()
        if self._tagger is not None and now - self._tagger_used >= self.settings.unload_after:
            self._tagger = None  # its vectors are a copy; the next tag job reads them again
        if self._dirty and (now - self._last_save >= self.settings.save_every or self._quiet()):
            self._save()

    def _quiet(self) -> bool:
        """Nothing waits: a good moment to save (cheap for small libraries)."""
        return not self._heap and not len(self._settler) and self._library_small()

    def _library_small(self) -> bool:
        assert self._library is not None
        return self._library.catalog.counts().indexed < 20_000

    def _save(self) -> None:
        assert self._library is not None
        self._library.save_index()
        self._dirty, self._last_save = False, time.monotonic()

    # -- model switching -----------------------------------------------------------------------

    def _switch_to(self, profile: str) -> None:
        if profile != self.profile:
            self.profile, self._target_key = profile, None
        self.submit(ScanRoots())

    def _maybe_activate(self) -> None:
        """Activate the target model once it covers every indexed photo of online roots
        (at once if nothing is active yet: partial results beat none)."""
        assert self._library is not None
        key, catalog = self._target_key, self._library.catalog
        active = catalog.active_model
        if key is None or catalog.model(key) is None:
            return  # (no record: the model was loaded, e.g. at start-up, but wrote nothing)
        if active == key:
            if self._announced != key:  # a new library's first model is active at once
                self._announce(key)
            return
        if active is not None and not self._complete(key):
            return
        self._library.activate(key)
        self._announce(key)

    def _announce(self, key: str) -> None:
        assert self._library is not None
        self._announced = key
        self._library.index(key)
        self._tagger = None  # the old model's vectors: free them now
        self._save()
        log.info("now searching with %s", key)
        self._emit(ModelActivated(key))

    def _complete(self, key: str) -> bool:
        assert self._library is not None
        catalog = self._library.catalog
        needed = catalog.filter_ids()
        for root in self._catalog_roots():
            if not root.online:
                needed.difference_update(catalog.photo_ids_under(root.path))
        return needed <= catalog.photo_ids_with_vectors(key)

    # -- scanning roots ------------------------------------------------------------------------

    def _scan(self, paths: tuple[Path, ...], work: Work) -> IndexReport | None:
        known = {r.path: r for r in self._catalog_roots()}
        wanted = list(dict.fromkeys(paths or tuple(known)))
        present = []
        for path in wanted:
            root = known.get(path)
            if root is not None and not self._present(root):
                self._set_online(root, False)
            elif path.is_dir():
                present.append(path)
        if not present:
            return None
        for path in present:
            if path not in known or not known[path].online or path not in self._watcher.roots:
                self._watcher.watch(path)
        report = work.indexer().index(present, work.progress, work.control, activate=False)
        for root in self._catalog_roots():
            if root.path in present and not root.online:
                self._set_online(root, True)
        return report

    def _present(self, root: Root) -> bool:
        """The root's folder is there, and not an empty mount point of a known root."""
        assert self._library is not None
        try:
            with os.scandir(root.path) as entries:
                if any(True for _ in entries):
                    return True
        except OSError:
            return False
        return not self._library.catalog.photo_ids_under(root.path)

    def _set_online(self, root: Root, online: bool) -> None:
        assert self._library is not None
        if root.online == online:
            return
        with self._library.catalog.transaction():
            self._library.catalog.set_root_online(root.id, online)
        log.warning("%s is %s", root.path, "back" if online else "offline; keeping its photos")
        self._emit(RootStatusChanged(root.path, online))

    def _catalog_roots(self) -> list[Root]:
        assert self._library is not None
        return self._library.catalog.roots()

    def _root_for(self, path: Path) -> Root | None:
        holding = [r for r in self._catalog_roots() if path.is_relative_to(r.path)]
        return max(holding, key=lambda r: len(r.path.parts), default=None)

    # -- live changes ------------------------------------------------------------------------

    def _apply(self, change: Change) -> None:
        if change.kind is ChangeKind.ROOT_GONE:
            self._root_gone(change.path)
            return
        if change.kind is ChangeKind.ROOT_BACK:
            self._root_back(change.path)
            return
        root = self._root_for(change.path)
        if root is None or not root.online:
            return  # an offline root is reconciled when it comes back
        if change.kind is ChangeKind.CHANGED:
            if not _hidden(change.path, root):
                self._changed(change.path, change.is_dir)
        elif change.kind is ChangeKind.DELETED:
            self._deleted(change.path, root)
        elif change.kind is ChangeKind.MOVED and change.dest is not None:
            if change.is_dir:
                self._folder_moved(change.path, change.dest)
            else:
                self._file_moved(change.path, change.dest)

    def _changed(self, path: Path, is_dir: bool) -> None:
        if is_dir:
            root = self._root_for(path)
            for entry in scan(path, self._excluded, within=root.path if root else None):
                self._settler.touch(entry.path)
        elif is_photo_name(path.name):
            self._settler.touch(path)

    def _deleted(self, path: Path, root: Root) -> None:
        if not self._present(root):
            self._root_gone(root.path)
            return
        if path.exists():
            return  # gone and back again before we looked: the settler has it
        self._settler.forget(path)
        self._settler.forget_under(path)
        catalog = self._library_catalog()
        photo = catalog.photo_by_path(path)
        ids = catalog.photo_ids_under(path) + ([photo.id] if photo else [])
        self._delete(ids)

    def _file_moved(self, src: Path, dest: Path) -> None:
        self._settler.forget(src)
        catalog = self._library_catalog()
        photo, dest_root = catalog.photo_by_path(src), self._online_root(dest)
        if photo is None or dest_root is None or not is_photo_name(dest.name):
            if photo is not None:
                self._delete([photo.id])
            if dest_root is not None:
                self._changed(dest, is_dir=False)
            return
        replaced = catalog.photo_by_path(dest)
        with catalog.transaction():
            if replaced is not None:
                catalog.delete_photos([replaced.id])
                catalog.next_generation()
            catalog.move_photo(photo.id, dest, dest_root.id, _mtime_ns(dest, photo.mtime_ns))
        if replaced is not None:
            self._forget([replaced.id])

    def _folder_moved(self, src: Path, dest: Path) -> None:
        pending = self._settler.forget_under(src)
        catalog, dest_root = self._library_catalog(), self._online_root(dest)
        if dest_root is None:
            self._delete(catalog.photo_ids_under(src))
            return
        with catalog.transaction():
            moved = catalog.move_folder(src, dest, dest_root.id)
        log.info("moved folder %s -> %s (%d photos)", src, dest, moved)
        for path in pending:
            self._settler.touch(dest / path.relative_to(src))

    def _remove_root(self, path: Path) -> int:
        """Forget a root and its photos (the files stay where they are); returns how many
        photos PhotoClip forgot."""
        root = next((r for r in self._catalog_roots() if r.path == path), None)
        if root is None:
            raise KnownError(f"{path} is not one of PhotoClip's folders.")
        self._watcher.unwatch(path)
        self._settler.forget_under(path)
        catalog = self._library_catalog()
        with catalog.transaction():
            ids = catalog.remove_root(root.id)
            catalog.next_generation()
            catalog.prune_orphan_embeddings()
        self._forget(ids)
        return len(ids)

    def _root_gone(self, path: Path) -> None:
        root = next((r for r in self._catalog_roots() if r.path == path), None)
        if root is None or self._present(root):
            return
        self._settler.forget_under(path)
        self._set_online(root, False)
        self._watcher.watch(path)  # from its parent only, until it returns

    def _root_added_elsewhere(self, path: Path) -> None:
        """Another process added a root (its files may be half indexed): watch it and
        reconcile it like any other."""
        log.info("%s was added by another PhotoClip; watching it", path)
        self._watcher.watch(path)
        self.submit(ScanRoots((path,)))

    def _root_back(self, path: Path) -> None:
        root = next((r for r in self._catalog_roots() if r.path == path), None)
        if root is None or not self._present(root):
            return
        self._set_online(root, True)
        self._watcher.watch(path)
        self.submit(ScanRoots((path,)))

    def _online_root(self, path: Path) -> Root | None:
        """The online root that would index `path` (the scanner skips hidden folders)."""
        root = self._root_for(path)
        return root if root is not None and root.online and not _hidden(path, root) else None

    def _delete(self, ids: list[int]) -> None:
        assert self._library is not None
        self._library.delete_photos(ids)
        self._dirty = True

    def _forget(self, ids: list[int]) -> None:
        assert self._library is not None
        self._library.forget(ids)
        self._dirty = True

    def _library_catalog(self) -> Catalog:
        assert self._library is not None
        return self._library.catalog

    # -- events and status -------------------------------------------------------------------

    def _on_fallback(self, root: Path, reason: str) -> None:
        self._emit(WatchDegraded(root, reason))

    def _refresh_state(self) -> None:
        if self._paused:
            state = PAUSED
        elif self._heap or len(self._settler):
            state = WORKING
        else:
            state = IDLE
        self._set_state(state)

    def _set_state(self, state: str) -> None:
        job = self._current.name if self._current else None
        changed = state != self._state
        self._state = state
        if changed or state == WORKING:
            self._write_status(state, job=job)
            self._emit(StateChanged(state, self.queue_length, job))
        if state == IDLE:
            self._export_loaded()
            with self._cv:
                if not self._heap:
                    self._idle.set()

    def _export_loaded(self) -> None:
        while self._to_export:
            start_export(self._to_export.popitem()[1], self.locations.cache)

    def _write_status(self, state: str, **extra: object) -> None:
        self._last_status = time.monotonic()
        try:
            write_status(self.locations, state, self.queue_length, **extra)
        except OSError as error:
            log.warning("cannot write the worker status: %s", error)

    def _emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not stop the worker
                log.exception("a worker listener failed on %s", event)


def _hidden(path: Path, root: Root) -> bool:
    """Inside a hidden folder (or hidden itself), which a scan of the root never sees."""
    return any(part.startswith(".") for part in path.relative_to(root.path).parts)


def _mtime_ns(path: Path, default: int) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return default


def serve(worker: Worker, roots: Sequence[Path] = ()) -> None:
    """Run `worker` until SIGINT or SIGTERM (call from the main thread), then stop it
    cleanly: the batch in flight is committed and the index saved."""
    done = threading.Event()
    handlers = {sig: signal.signal(sig, lambda *_: done.set()) for sig in _STOP_SIGNALS}
    worker.subscribe(lambda event: _set_when_stopped(event, done))
    try:
        worker.start(roots)
        done.wait()
    finally:
        worker.stop()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _set_when_stopped(event: Event, done: threading.Event) -> None:
    if isinstance(event, StateChanged) and event.state == STOPPED:
        done.set()
