"""The indexer: bring the catalog and the vector index in step with the user's folders.

Pipeline: decoding and preprocessing run in a thread pool with a bounded look-ahead; the
model's forward pass runs in batches on the calling thread; each batch is committed in one
transaction, so a kill loses at most the batch in flight. Results are consumed in
submission order, so vectors always land on the photo they came from.

Files are recognised by content hash before they are decoded: a moved or renamed file keeps
its id and vector, a copy reuses the vector, and neither is embedded again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from photoclip.core.catalog import FAILED, Catalog, KnownFile, Root
from photoclip.core.duplicates import remember_fingerprints
from photoclip.core.embedding import Encoder
from photoclip.core.errors import ImageError, KnownError, ModelError
from photoclip.core.imageio import (
    DEFAULT_MAX_PIXELS,
    decode_photo,
    hash_bytes,
    read_file,
)
from photoclip.core.library import Library
from photoclip.core.scanning import FileEntry, file_entry, scan

log = logging.getLogger(__name__)


@dataclass
class IndexReport:
    """What one indexing run did. `reused` = recognised by content hash (moved or copied)."""

    embedded: int = 0
    reused: int = 0
    unchanged: int = 0
    failed: int = 0
    removed: int = 0
    cancelled: bool = False
    failures: list[tuple[Path, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "embedded": self.embedded,
            "reused": self.reused,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "removed": self.removed,
            "cancelled": self.cancelled,
            "failures": [{"path": str(p), "reason": r} for p, r in self.failures],
        }


@dataclass(frozen=True)
class IndexProgress:
    done: int
    total: int
    #: photos per second over the run so far
    rate: float
    #: seconds left at that rate, None while unknown
    eta: float | None


def measured(done: int, total: int, started: float) -> IndexProgress:
    """`done` of `total` steps since `started` (time.monotonic()), with the rate so far and
    the time left at that rate: progress for any job that can count its steps."""
    elapsed = max(time.monotonic() - started, 1e-6)
    rate = done / elapsed
    return IndexProgress(done, total, rate, (total - done) / rate if rate > 0 else None)


class IndexControl:
    """Pause, resume and cancel a run from another thread; checked between batches."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def cancel(self) -> None:
        self._cancelled.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def wait_if_paused(self) -> None:
        self._running.wait()


# -- outcomes of the parallel stage, one per file ------------------------------------------


@dataclass
class _Outcome:
    entry: FileEntry
    root: Root
    content_hash: str | None = None
    tensor: Any = None
    width: int | None = None
    height: int | None = None
    taken_at: float | None = None
    failure: str | None = None


@dataclass
class _Plan:
    """The files of one run: what to read, and what the catalog knows that was not seen."""

    todo: list[tuple[FileEntry, Root]] = field(default_factory=list)
    vanished: dict[str, KnownFile] = field(default_factory=dict)
    #: content hash -> path of a vanished file with those bytes (a move candidate)
    moved_from: dict[str, str] = field(default_factory=dict)
    unchanged: int = 0


class Indexer:
    """Indexes roots into a `Library` with an `Encoder`. The only writer while it runs."""

    def __init__(
        self,
        library: Library,
        encoder: Encoder,
        *,
        batch_size: int = 16,
        decode_threads: int = 2,
        lookahead_batches: int = 3,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        after_commit: Callable[[list[int]], None] | None = None,
    ) -> None:
        self.library = library
        #: Called with the ids of photos whose vectors a batch committed (auto-tagging).
        self.after_commit = after_commit
        self.encoder = encoder
        self.batch_size = batch_size
        self.decode_threads = decode_threads
        self.lookahead = lookahead_batches * batch_size
        self.max_pixels = max_pixels
        self.thumbnails = library.thumbnails

    @property
    def catalog(self) -> Catalog:
        return self.library.catalog

    def index(
        self,
        roots: list[Path],
        progress: Callable[[IndexProgress], None] | None = None,
        control: IndexControl | None = None,
        *,
        activate: bool = True,
    ) -> IndexReport:
        """Scan `roots` and index what changed. `activate=False` leaves the active model
        alone (the caller switches when every root has the new model's vectors)."""
        control = control or IndexControl()
        self.library.use_model(self.encoder)
        added = self._add_roots(roots)
        plan = self._plan(added)
        report = IndexReport(unchanged=plan.unchanged)
        self._process(plan, report, progress, control)
        if not report.cancelled:
            # A root that vanished mid-run (unplugged) must never read as "files deleted".
            if all(root.path.is_dir() for root in added):
                self._forget_vanished(plan, report)
            if activate:
                self.library.activate(self.encoder.model_key)
        self.library.save_index()
        return report

    def index_files(
        self,
        paths: list[Path],
        progress: Callable[[IndexProgress], None] | None = None,
        control: IndexControl | None = None,
    ) -> IndexReport:
        """Index just these files of known roots (a watcher saw them change); nothing is
        removed, the active model stays and the index is not saved (the caller batches)."""
        control = control or IndexControl()
        self.library.use_model(self.encoder)
        plan = self._plan_files(paths)
        report = IndexReport(unchanged=plan.unchanged)
        self._process(plan, report, progress, control)
        return report

    # -- planning ------------------------------------------------------------------------

    def _add_roots(self, paths: list[Path]) -> list[Root]:
        roots = []
        for path in paths:
            path = path.expanduser().resolve()
            if not path.is_dir():
                raise KnownError(f"{path} is not a folder.")
            with self.catalog.transaction():
                roots.append(self.catalog.add_root(path))
        return roots

    def _plan(self, roots: list[Root]) -> _Plan:
        plan = _Plan()
        embedded = self.catalog.embedded_hashes(self.encoder.model_key)
        for root in roots:
            known = self.catalog.known_files(root.id)
            found = 0
            for entry in scan(root.path, self.library.excluded):
                found += 1
                before = known.pop(str(entry.path), None)
                if before and _unchanged(before, entry, embedded):
                    plan.unchanged += 1
                else:
                    plan.todo.append((entry, root))
            if known and not found:
                # A known root with no photos at all: an empty mount point, not a deletion.
                log.warning("%s looks empty; keeping its %d photos", root.path, len(known))
                continue
            plan.vanished.update(known)
        return plan

    def _plan_files(self, paths: list[Path]) -> _Plan:
        plan = _Plan()
        embedded = self.catalog.embedded_hashes(self.encoder.model_key)
        roots = self.catalog.roots()
        excluded = self.library.excluded
        for path in paths:
            root = _root_of(path, roots)
            entry = file_entry(path, excluded)
            if root is None or entry is None:
                continue
            photo = self.catalog.photo_by_path(path)
            before = photo and KnownFile(
                photo.id, photo.size, photo.mtime_ns, photo.content_hash, photo.status
            )
            if before and _unchanged(before, entry, embedded):
                plan.unchanged += 1
            else:
                plan.todo.append((entry, root))
        return plan

    # -- processing ------------------------------------------------------------------------

    def _process(
        self,
        plan: _Plan,
        report: IndexReport,
        progress: Callable[[IndexProgress], None] | None,
        control: IndexControl,
    ) -> None:
        plan.moved_from = {k.content_hash: p for p, k in plan.vanished.items() if k.content_hash}
        known_hashes = self.catalog.embedded_hashes(self.encoder.model_key)
        meter = _Meter(len(plan.todo), progress)
        batch: list[_Outcome] = []
        for outcome in self._outcomes(plan, known_hashes, control):
            batch.append(outcome)
            if len(batch) >= self.batch_size:
                self._commit(batch, plan, report)
                meter.advance(len(batch))
                batch = []
                control.wait_if_paused()
                if control.cancelled:
                    report.cancelled = True
                    return
        self._commit(batch, plan, report)
        meter.advance(len(batch))

    def _outcomes(
        self, plan: _Plan, known_hashes: set[str], control: IndexControl
    ) -> Iterator[_Outcome]:
        """Read files in parallel, yielding in order, never more than `lookahead` ahead."""
        pending: deque[Future[_Outcome]] = deque()
        with ThreadPoolExecutor(self.decode_threads, thread_name_prefix="decode") as pool:
            for entry, root in plan.todo:
                pending.append(pool.submit(self._read, entry, root, plan, known_hashes))
                if len(pending) >= self.lookahead:
                    yield pending.popleft().result()
                if control.cancelled:
                    break
            while pending:
                yield pending.popleft().result()

    def _read(self, entry: FileEntry, root: Root, plan: _Plan, known_hashes: set[str]) -> _Outcome:
        outcome = _Outcome(entry, root)
        try:
            # One read: the bytes are hashed, and decoded only if no vector has them yet.
            data = read_file(entry.path)
            outcome.content_hash = hash_bytes(data)
            if _needs_decoding(outcome.content_hash, plan, known_hashes):
                self._decode(outcome, data)
        except ModelError:
            raise  # a model built lazily, on the first photo to decode, failed: not the photo's
        except Exception as error:  # whatever one file does, it is that file's failure
            outcome.tensor = None
            outcome.failure = failure_reason(error, entry.path)
        return outcome

    def _decode(self, outcome: _Outcome, data: bytes) -> None:
        decoded = decode_photo(
            data,
            target=self.encoder.input_size,
            preprocess=self.encoder.prepare,
            thumbnails=self.thumbnails,
            max_pixels=self.max_pixels,
            digest=outcome.content_hash,
        )
        outcome.tensor = decoded.tensor
        outcome.width, outcome.height = decoded.width, decoded.height
        outcome.taken_at = decoded.taken_at

    # -- committing ------------------------------------------------------------------------

    def _commit(self, batch: list[_Outcome], plan: _Plan, report: IndexReport) -> None:
        if not batch:
            return
        to_embed = [o for o in batch if o.tensor is not None]
        vectors = self._embed(to_embed)
        model_key = self.encoder.model_key
        changed: list[int] = []
        with self.catalog.transaction():
            generation = self.catalog.next_generation()
            for outcome in batch:
                photo_id = self._record_one(outcome, plan, report, generation)
                if photo_id is not None:
                    changed.append(photo_id)
            for outcome, vector in zip(to_embed, vectors, strict=True):
                if outcome.failure is None and vector is not None:
                    self.catalog.put_embedding(model_key, str(outcome.content_hash), vector)
        self.library.refresh_vectors(changed)
        self.library.applied(generation)
        remember_fingerprints(self.library, changed)  # for near-duplicates, while in cache
        if self.after_commit is not None and changed:
            self.after_commit(changed)

    def _embed(self, outcomes: list[_Outcome]) -> list[Any]:
        """One vector per outcome. If the batch fails, each photo is embedded alone, so that
        only the photos the model refuses fail (with the reason), not their neighbours."""
        if not outcomes:
            return []
        try:
            return list(self.encoder.encode_prepared([o.tensor for o in outcomes]))
        except Exception as error:
            if not self.encoder.alive:
                raise  # the model itself is gone: the run stops, as it must
            log.warning("a batch failed (%s); embedding its photos one by one", error)
        return [self._embed_alone(outcome) for outcome in outcomes]

    def _embed_alone(self, outcome: _Outcome) -> Any:
        try:
            return self.encoder.encode_prepared([outcome.tensor])[0]
        except Exception as error:
            if not self.encoder.alive:
                raise
            outcome.failure = failure_reason(error, outcome.entry.path)
            return None

    def _record_one(
        self, outcome: _Outcome, plan: _Plan, report: IndexReport, generation: int
    ) -> int | None:
        """`_record`, but an error of this one file's rows becomes its failure; an error
        that recording the failure repeats (disk full, database locked) ends the run."""
        if outcome.failure is None:
            try:
                with self.catalog.savepoint():
                    return self._record(outcome, plan, report, generation)
            except Exception as error:
                outcome.failure = failure_reason(error, outcome.entry.path)
        self._record(outcome, plan, report, generation)
        return None

    def _record(
        self, outcome: _Outcome, plan: _Plan, report: IndexReport, generation: int
    ) -> int | None:
        """Write one file's outcome; returns its photo id if its vector changed."""
        entry = outcome.entry
        if outcome.failure:
            self._record_failure(outcome)
            report.failed += 1
            report.failures.append((entry.path, outcome.failure))
            return None
        moved = self._claim_move(outcome, plan)
        if outcome.tensor is None:
            if moved:
                report.reused += 1
                return None  # same id, same bytes, same vector: the index needs nothing
            self._copy_metadata(outcome)
        photo_id = self.catalog.upsert_photo(
            entry.path,
            outcome.root.id,
            size=entry.size,
            mtime_ns=entry.mtime_ns,
            content_hash=outcome.content_hash,
            width=outcome.width,
            height=outcome.height,
            taken_at=outcome.taken_at,
            vec_gen=generation,
        )
        if outcome.tensor is None:
            report.reused += 1
        else:
            report.embedded += 1
        return photo_id

    def _claim_move(self, outcome: _Outcome, plan: _Plan) -> bool:
        """If these bytes belonged to a file that vanished, that photo moved here."""
        old_path = plan.moved_from.get(str(outcome.content_hash))
        known = plan.vanished.pop(old_path, None) if old_path else None
        if known is None:  # no such file, or an earlier copy already claimed it
            return False
        entry = outcome.entry
        self.catalog.move_photo(known.id, entry.path, outcome.root.id, entry.mtime_ns)
        log.info("moved: %s -> %s", old_path, entry.path)
        return True

    def _record_failure(self, outcome: _Outcome) -> None:
        entry = outcome.entry
        previous = self.catalog.photo_by_path(entry.path)
        self.catalog.upsert_photo(
            entry.path,
            outcome.root.id,
            size=entry.size,
            mtime_ns=entry.mtime_ns,
            content_hash=outcome.content_hash,
            failure=outcome.failure,
        )
        if previous is not None:
            self.library.forget([previous.id])

    def _copy_metadata(self, outcome: _Outcome) -> None:
        source = self.catalog.photo_with_hash(str(outcome.content_hash))
        if source is not None:
            outcome.width, outcome.height = source.width, source.height
            outcome.taken_at = source.taken_at

    # -- vanished files ----------------------------------------------------------------------

    def _forget_vanished(self, plan: _Plan, report: IndexReport) -> None:
        ids = [known.id for known in plan.vanished.values()]
        if not ids:
            return
        with self.catalog.transaction():
            self.catalog.delete_photos(ids)
            generation = self.catalog.next_generation()
            self.catalog.prune_orphan_embeddings()
        self.library.forget(ids)
        self.library.applied(generation)
        report.removed = len(ids)


def _unchanged(before: KnownFile, entry: FileEntry, embedded: set[str]) -> bool:
    if before.size != entry.size or before.mtime_ns != entry.mtime_ns:
        return False
    # A failed photo is not retried until the file changes; an indexed one must have a
    # vector for the model in use (it has none yet after a model switch).
    return before.status == FAILED or before.content_hash in embedded


def _root_of(path: Path, roots: list[Root]) -> Root | None:
    """The innermost online root that holds `path`."""
    holding = [r for r in roots if r.online and path.is_relative_to(r.path)]
    return max(holding, key=lambda r: len(r.path.parts), default=None)


def _needs_decoding(content_hash: str, plan: _Plan, known_hashes: set[str]) -> bool:
    """Known bytes need no model; a moved file that failed before would fail again."""
    if content_hash in known_hashes:
        return False
    old_path = plan.moved_from.get(content_hash)
    return not (old_path and plan.vanished.get(old_path, _NEVER).status == FAILED)


_NEVER = KnownFile(-1, -1, -1, None, "")


def failure_reason(error: BaseException, path: Path) -> str:
    """The reason recorded for a file whose reading, decoding or embedding raised `error`.
    An ImageError says it already; anything else may be a bug: it is logged too (its
    traceback only with --verbose: no input may print one), but it stops only this file."""
    if isinstance(error, ImageError):
        return str(error)
    if isinstance(error, MemoryError):
        return "not enough memory to read this photo"
    if isinstance(error, OSError):
        return f"cannot read the file: {error.strerror or error}"
    log.warning("unexpected error on %r: %r", path, error)
    log.debug("the traceback of that error", exc_info=error)
    return f"unexpected error ({type(error).__name__}: {error})"


class _Meter:
    """Turns batch completions into progress events with a rate and an ETA."""

    def __init__(self, total: int, listener: Callable[[IndexProgress], None] | None) -> None:
        self.total, self.done = total, 0
        self.listener = listener
        self.started = time.monotonic()

    def advance(self, count: int) -> None:
        self.done += count
        if self.listener is None:
            return
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else None
        self.listener(IndexProgress(self.done, self.total, rate, eta))
