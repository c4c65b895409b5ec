"""The vector index: photo ids -> L2-normalised embeddings, searched by cosine similarity.

The index is derived data. The catalog is the source of truth; when the saved index is
missing, unreadable, for another model or older than the catalog, the caller rebuilds it or
replays the catalog's newer changes (see `VectorIndex.load` and `generation`).

Small libraries are searched exactly with one matrix-vector product over a dense numpy
matrix; large ones through an HNSW graph (hnswlib, inner-product space), whose own storage
also serves the exact re-scoring of its candidates, so no second copy of the vectors is
kept. Every path returns the same scores: float64 dot products of the stored float32
vectors with the normalised query, computed the same way whichever path found them.

On disk an index is two files: a small JSON manifest under the name the caller chose, and
a data file beside it named after the save (`<name>.<generation>-<nonce>.data`). A save
writes and fsyncs the data, then replaces the manifest atomically, so a crash at any point
leaves the previous index or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import secrets
import tempfile
import threading
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import hnswlib
import numpy as np

from photoclip.core.errors import PhotoClipError

log = logging.getLogger(__name__)

# Switch-over and search parameters, from tests/benchmarks/bench_knn.py on this project's
# 2-core CPU while another process trained a model on it (OPENBLAS_NUM_THREADS=1, dim 512,
# photo-like clustered vectors, k = 50). p50 of one query (--sweep, and --sizes 100000):
#     photos       2k     5k    10k    20k    50k   100k
#     exact      0.09   0.21    2.0    8.7   29.8   33.6  ms
#     graph      0.08   0.13   0.20   0.30   0.49   0.49  ms  (ef 128, recall@50 0.98-1.0)
#     build       0.4    1.3    4.1   12.0   43.5   73.7  s
# A graph search as served costs ~2 ms more: the exact re-scoring of its k results fetches
# them with hnswlib's get_items (~50-70 us each). So exact search is as fast as the graph
# up to ~10k photos, and exact; past that it loses by 4x at 20k and 15x at 100k.
EXACT_MAX_ITEMS = 10_000
#: Build the graph only this far past the limit, so a library that hovers around it does not
#: rebuild a graph on every add and drop it on every remove (hysteresis).
HNSW_MIN_ITEMS = EXACT_MAX_ITEMS + EXACT_MAX_ITEMS // 4
#: Graph degree and build breadth: hnswlib's defaults. Building 1M photos took 28 min on the
#: 2 busy cores (100k: 74 s) and 2.2 GiB; the recall below needs no more.
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 200
#: Search breadth (hnswlib searches with max(ef, k)). recall@50 / p50 by ef, k = 50:
#:     ef            64     128    200    256    400
#:     100k       0.931  0.977  0.989  0.992      -   (p50 0.3-1.0 ms)
#:     1M         0.822  0.909  0.947  0.959  0.974   (p50 0.6, 0.9, 1.3, 1.5, 2.1 ms)
#: 256 is the smallest ef reaching 0.95 at 1M. Re-ranking k x 2 or k x 4 graph candidates
#: exactly recalls exactly what ef = 2k or 4k does (0.889 and 0.947 at 1M): hnswlib stores
#: full float32 vectors, so its distances are already exact. We re-score only the final k.
HNSW_EF_SEARCH = 256
#: A filtered search scans the allowed photos exactly when there are at most
#: FILTER_EXACT_FACTOR * sqrt(library size) of them, else it walks the graph with a filter.
#: Exact costs 25-70 us per allowed photo (hnswlib's get_items builds Python floats); the
#: graph walks past the photos that fail the filter, ~0.5-1 ms * library / allowed
#: (measured at ef 128 for 100k and ef 200 for 1M):
#:     allowed       100k library: exact / graph        1M library: exact / graph
#:     500           18 / 73 ms                         -
#:     1000          -                                  25 / 522 ms
#:     2000          96 / 23 ms                         -
#:     5000          -                                  171 / 120 ms
#: Equal costs at allowed ~ sqrt(cost ratio * library): ~1000-1300 at 100k, ~4500 at 1M.
#: Exact is also exact (the graph's filtered recall was 0.95-1.0), so ties go to exact.
FILTER_EXACT_FACTOR = 4.0
#: Queries per block of a narrowed batch `neighbours` (see there).
NARROW_BLOCK = 1024
#: Capacity grows by this factor when full (geometric: amortised O(1) per add).
GROWTH = 1.5
MIN_CAPACITY = 1024
#: Rows fetched from hnswlib per step of an exact scan, bounding its transient memory.
SCAN_CHUNK = 65_536
#: Vectors must be unit length within this, or their scores would not be cosines.
NORM_TOLERANCE = 1e-3
FORMAT_VERSION = 1

Kind = Literal["exact", "hnsw"]
IdSet = set[int] | frozenset[int]


class IndexUnusableError(PhotoClipError):
    """The saved index cannot be used (missing, corrupt, other model or size): rebuild it."""


@dataclass(frozen=True)
class IndexSettings:
    """Tuning knobs; the defaults come from the benchmark (see the constants above)."""

    #: Search is exact whenever the library has at most this many photos.
    exact_max_items: int = EXACT_MAX_ITEMS
    #: The graph is built once the library grows past this many photos.
    hnsw_min_items: int = HNSW_MIN_ITEMS
    m: int = HNSW_M
    ef_construction: int = HNSW_EF_CONSTRUCTION
    ef_search: int = HNSW_EF_SEARCH
    filter_exact_factor: float = FILTER_EXACT_FACTOR
    #: Threads for bulk adds; 0 means one per core.
    threads: int = 0

    @property
    def add_threads(self) -> int:
        return self.threads or os.cpu_count() or 1


@dataclass(frozen=True)
class IndexHeader:
    """What the manifest says about a saved index; readable without loading the vectors."""

    kind: Kind
    dim: int
    model_key: str
    count: int
    #: The catalog generation the index reflects; the caller replays newer changes.
    generation: int
    data_file: str
    data_bytes: int
    data_crc32: int
    #: HNSW labels marked deleted but still in the graph (re-adding one must unmark it).
    tombstones: list[int] = field(default_factory=list)


def prefer_exact_filter(n_allowed: int, n_live: int, settings: IndexSettings) -> bool:
    """Whether a filtered search scans the allowed photos exactly instead of the graph.

    Exact costs O(allowed) and is exact; the graph with a filter costs O(library / allowed),
    and is approximate, so the cheaper of the two wins (see FILTER_EXACT_FACTOR).
    """
    return n_allowed <= settings.filter_exact_factor * math.sqrt(n_live)


class VectorIndex:
    """Nearest photos by cosine similarity, exact when small, HNSW when large.

    Thread safety: one writer, many readers. `add`, `remove` and `save` are serialised by a
    writer mutex, so a second writer waits instead of corrupting anything. Mutations hold a
    readers-writer lock exclusively; `search`, `vectors` and `ids` share it (`len` and `in`
    are single set or dict lookups, atomic under the GIL). The lock is needed: hnswlib runs
    `knn_query` calls concurrently, but not alongside `add_items`, `mark_deleted` or
    `resize_index` (nmslib/hnswlib#29, #562, #590), and the exact matrix moves rows when
    one is removed. So a search sees the index before or after a whole batch, never in
    between. Searches wait while a batch goes into the graph (~1 ms per photo); the one-off
    graph build at the switch-over runs outside the exclusive lock, and searches meanwhile
    keep using the exact matrix.
    """

    def __init__(self, dim: int, model_key: str, settings: IndexSettings | None = None) -> None:
        self.dim = dim
        self.model_key = model_key
        self.settings = settings or IndexSettings()
        self._store: _Store = _ExactStore(dim)
        self._generation: int | None = None
        self._lock = _ReadWriteLock()
        self._writer = threading.Lock()

    @classmethod
    def build(
        cls,
        ids: Iterable[int] | np.ndarray,
        vectors: np.ndarray,
        *,
        model_key: str,
        settings: IndexSettings | None = None,
    ) -> VectorIndex:
        """Index many vectors at once: straight into the graph, on all cores, if large."""
        index = cls(np.shape(vectors)[-1], model_key, settings)
        id_array, matrix = _checked_batch(ids, vectors, index.dim)
        if len(id_array) > index.settings.hnsw_min_items:
            index._store = _HnswStore.create(index.dim, len(id_array), index.settings)
        index._store.add(id_array, matrix, index.settings.add_threads)
        return index

    @property
    def kind(self) -> Kind:
        """'exact' (numpy matrix) or 'hnsw' (graph)."""
        return self._store.kind

    @property
    def generation(self) -> int | None:
        """The catalog generation of the last save or load; None for a fresh index."""
        return self._generation

    def __len__(self) -> int:
        return len(self._store)

    def __contains__(self, photo_id: object) -> bool:
        return isinstance(photo_id, (int, np.integer)) and int(photo_id) in self._store

    def ids(self) -> np.ndarray:
        """The live photo ids, in no particular order."""
        with self._lock.reading():
            return self._store.ids()

    def vectors(self, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        """The stored vectors of these photos, one row each; KeyError if one is absent."""
        wanted = _as_ids(ids)
        with self._lock.reading():
            missing = [i for i in wanted.tolist() if i not in self._store]
            if missing:
                raise KeyError(f"photos not in the index: {missing[:10]}")
            return self._store.vectors(wanted)

    def vector(self, photo_id: int) -> np.ndarray:
        return self.vectors([photo_id])[0]

    def add(self, ids: Iterable[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace vectors (the last one wins when an id repeats in the batch)."""
        id_array, matrix = _checked_batch(ids, vectors, self.dim)
        with self._writer:
            with self._lock.writing():
                self._store.add(id_array, matrix, self.settings.add_threads)
            self._switch_if_needed()

    def remove(self, ids: Iterable[int] | np.ndarray) -> None:
        """Forget these photos; ids not in the index are ignored (replays are idempotent)."""
        id_array = _as_ids(ids)
        with self._writer:
            with self._lock.writing():
                self._store.remove(id_array)
            self._switch_if_needed()

    def search(
        self,
        query: np.ndarray,
        k: int,
        allowed: IdSet | np.ndarray | None = None,
    ) -> list[tuple[int, float]]:
        """The k photos most similar to `query`, as (id, cosine) best first.

        `allowed` restricts the answer to those photo ids (an album, a date range).
        """
        q = _unit_query(query, self.dim)
        if k <= 0 or (allowed is not None and len(allowed) == 0):
            return []
        with self._lock.reading():
            found = self._candidates(q, k, allowed)
            return _ranked(found, self._store.vectors(found), q)

    def neighbours(
        self, queries: np.ndarray, k: int, ef: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Many queries at once (one unit vector per row): (ids, cosines), each of shape
        (n, k), best first; rows are padded with id -1 and cosine -inf when fewer than k
        photos are stored. The graph answers the batch on all cores, without the
        per-query exact re-scoring of `search` (its stored vectors are exact already).

        `ef` narrows the graph search for this batch (near-duplicates need little breadth:
        64 finds 99.9% of what 256 finds, 2.8x faster; tests/benchmarks/bench_duplicates.py).
        hnswlib's breadth is one setting for the whole graph, so a narrowed batch runs in
        blocks under the exclusive lock: a search waits at most one block (~0.3 s), and
        never runs narrowed."""
        matrix = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        want = min(k, len(self._store))
        if ef is None or self._store.kind == "exact":
            with self._lock.reading():
                ids, scores = self._store.neighbours(matrix, want)
        else:
            ids, scores = self._narrow_neighbours(matrix, want, ef)
        pad = k - ids.shape[1]
        if pad > 0:
            ids = np.pad(ids, ((0, 0), (0, pad)), constant_values=-1)
            scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
        return ids, scores

    def links(self) -> np.ndarray | None:
        """(m, 2) photo ids, smaller first, each pair once: the edges of the graph's bottom
        layer between stored photos, an approximate k-NN graph that building the index
        already paid for (near-duplicate candidates for a whole library in about a second,
        where a k-NN query per photo takes 10-60 s at 100k; see photoclip/core/duplicates.py).
        None for an exact index, or a graph this hnswlib lays out unlike `_bottom_links`."""
        with self._lock.reading():
            store = self._store
            return store.links() if isinstance(store, _HnswStore) else None

    def _narrow_neighbours(
        self, matrix: np.ndarray, k: int, ef: int
    ) -> tuple[np.ndarray, np.ndarray]:
        ids, scores = [], []
        for start in range(0, len(matrix), NARROW_BLOCK):
            with self._lock.writing():
                store = self._store
                if not isinstance(store, _HnswStore):  # switched to exact meanwhile
                    found = store.neighbours(matrix[start : start + NARROW_BLOCK], k)
                else:
                    store.index.set_ef(ef)
                    try:
                        found = store.neighbours(matrix[start : start + NARROW_BLOCK], k)
                    finally:
                        store.index.set_ef(self.settings.ef_search)
            ids.append(found[0])
            scores.append(found[1])
        if not ids:
            return np.empty((0, k), np.int64), np.empty((0, k), np.float32)
        return np.concatenate(ids), np.concatenate(scores)

    def save(self, path: Path | str, generation: int) -> None:
        """Write the index atomically, recording the catalog generation it reflects."""
        path = Path(path)
        with self._writer, self._lock.reading(), _saving(path):
            _save(self._store, path, self._header_fields(generation))
        self._generation = generation

    @classmethod
    def load(
        cls,
        path: Path | str,
        *,
        dim: int,
        model_key: str,
        settings: IndexSettings | None = None,
    ) -> VectorIndex:
        """Load a saved index, or raise IndexUnusableError saying why it must be rebuilt."""
        path = Path(path)
        with _saving(path, shared=True):  # no save may remove the data file being read
            header = read_header(path)
            if (header.model_key, header.dim) != (model_key, dim):
                raise IndexUnusableError(
                    f"{path} holds {header.dim}-d vectors of {header.model_key}, "
                    f"not {dim}-d vectors of {model_key}"
                )
            index = cls(dim, model_key, settings)
            index._store = _read_store(path, header, index.settings)
        index._generation = header.generation
        return index

    def _candidates(self, q: np.ndarray, k: int, allowed: IdSet | np.ndarray | None) -> np.ndarray:
        store = self._store
        if allowed is None:
            return store.candidates(q, k)
        if store.kind == "exact" or prefer_exact_filter(len(allowed), len(store), self.settings):
            return store.candidates_among(_as_ids(allowed), q, k)
        return store.candidates_filtered(_as_id_set(allowed), q, k)

    def _switch_if_needed(self) -> None:
        """Build the graph past the switch-over, drop it below; the writer mutex is held.

        The new store is built from the old one without the exclusive lock (nothing else
        writes while we hold the writer mutex), so searches continue during a graph build.
        """
        size, kind = len(self._store), self._store.kind
        if kind == "exact" and size > self.settings.hnsw_min_items:
            ids = self._store.ids()
            new: _Store = _HnswStore.create(self.dim, size, self.settings)
            new.add(ids, self._store.vectors(ids), self.settings.add_threads)
        elif kind == "hnsw" and size <= self.settings.exact_max_items:
            new = _ExactStore(self.dim)
            ids = self._store.ids()
            new.add(ids, self._store.vectors(ids), 1)
        else:
            return
        with self._lock.writing():
            self._store = new
        log.info("vector index switched from %s to %s at %d photos", kind, new.kind, size)

    def _header_fields(self, generation: int) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "kind": self._store.kind,
            "dim": self.dim,
            "model_key": self.model_key,
            "count": len(self._store),
            "generation": int(generation),
        }


# --- Storage back ends -----------------------------------------------------------------


class _Store(Protocol):
    kind: Kind

    def __len__(self) -> int: ...
    def __contains__(self, photo_id: int) -> bool: ...
    def ids(self) -> np.ndarray: ...
    def vectors(self, ids: np.ndarray) -> np.ndarray: ...
    def add(self, ids: np.ndarray, vectors: np.ndarray, threads: int) -> None: ...
    def remove(self, ids: np.ndarray) -> None: ...
    def candidates(self, q: np.ndarray, k: int) -> np.ndarray: ...
    def candidates_among(self, allowed: np.ndarray, q: np.ndarray, k: int) -> np.ndarray: ...
    def candidates_filtered(self, allowed: IdSet, q: np.ndarray, k: int) -> np.ndarray: ...
    def neighbours(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...
    def write_data(self, path: Path) -> list[int]:
        """Write the data file; return the tombstones the manifest must list."""


class _ExactStore:
    """All vectors in one dense matrix, rows 0..n-1; a removal moves the last row into the
    hole, so a search is one matrix-vector product over exactly the live rows."""

    kind: Kind = "exact"

    def __init__(self, dim: int) -> None:
        self._matrix = np.empty((0, dim), np.float32)
        self._ids = np.empty(0, np.int64)
        self._row_of: dict[int, int] = {}

    @classmethod
    def from_arrays(cls, ids: np.ndarray, matrix: np.ndarray) -> _ExactStore:
        store = cls(matrix.shape[1])
        store._matrix, store._ids = matrix, ids
        store._row_of = dict(zip(ids.tolist(), range(len(ids)), strict=True))
        return store

    def __len__(self) -> int:
        return len(self._row_of)

    def __contains__(self, photo_id: int) -> bool:
        return photo_id in self._row_of

    def ids(self) -> np.ndarray:
        return self._ids[: len(self)].copy()

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        return self._matrix[[self._row_of[i] for i in ids.tolist()]]

    def add(self, ids: np.ndarray, vectors: np.ndarray, threads: int) -> None:
        known = np.fromiter((i in self._row_of for i in ids.tolist()), bool, len(ids))
        self._matrix[[self._row_of[i] for i in ids[known].tolist()]] = vectors[known]
        start = len(self)
        end = start + int((~known).sum())
        self._reserve(end)
        self._matrix[start:end] = vectors[~known]
        self._ids[start:end] = ids[~known]
        self._row_of.update(zip(ids[~known].tolist(), range(start, end), strict=True))

    def remove(self, ids: np.ndarray) -> None:
        for photo_id in ids.tolist():
            row = self._row_of.pop(photo_id, None)
            if row is None:
                continue
            last = len(self._row_of)
            if row != last:
                self._matrix[row] = self._matrix[last]
                moved = int(self._ids[last])
                self._ids[row] = moved
                self._row_of[moved] = row

    def candidates(self, q: np.ndarray, k: int) -> np.ndarray:
        rows = _top_k(self._matrix[: len(self)] @ q, k)
        return self._ids[rows]

    def candidates_among(self, allowed: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
        rows = np.flatnonzero(np.isin(self._ids[: len(self)], allowed))
        return self._ids[rows[_top_k(self._matrix[rows] @ q, k)]]

    def candidates_filtered(self, allowed: IdSet, q: np.ndarray, k: int) -> np.ndarray:
        return self.candidates_among(_as_ids(allowed), q, k)

    def neighbours(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Blocks of queries against the whole matrix: O(n * stored), which is what the
        exact store is for (at most EXACT_MAX_ITEMS-odd photos)."""
        live = self._matrix[: len(self)]
        ids, scores = [], []
        for start in range(0, len(queries), 1024):
            block = queries[start : start + 1024] @ live.T
            rows = np.argpartition(-block, max(k - 1, 0), axis=1)[:, :k]
            top = np.take_along_axis(block, rows, axis=1)
            order = np.argsort(-top, axis=1, kind="stable")
            ids.append(self._ids[np.take_along_axis(rows, order, axis=1)])
            scores.append(np.take_along_axis(top, order, axis=1))
        if not ids:
            return np.empty((0, k), np.int64), np.empty((0, k), np.float32)
        return np.concatenate(ids), np.concatenate(scores)

    def write_data(self, path: Path) -> list[int]:
        with path.open("wb") as handle:
            self._ids[: len(self)].tofile(handle)
            self._matrix[: len(self)].tofile(handle)
        return []

    def _reserve(self, rows: int) -> None:
        if rows <= len(self._ids):
            return
        capacity = max(rows, int(len(self._ids) * GROWTH), MIN_CAPACITY)
        used = len(self)
        matrix = np.empty((capacity, self._matrix.shape[1]), np.float32)
        matrix[:used] = self._matrix[:used]
        ids = np.empty(capacity, np.int64)
        ids[:used] = self._ids[:used]
        self._matrix, self._ids = matrix, ids


class _HnswStore:
    """An hnswlib graph in inner-product space whose labels are the photo ids.

    Removal marks a label deleted; new labels reuse deleted slots (allow_replace_deleted),
    so the graph does not grow with churn. hnswlib refuses to re-add a deleted label in
    that mode and would orphan its slot if the label were given to a vacant one, so a
    re-added id is unmarked first and then updated in place. `_tombstones` holds every
    label we deleted that may still sit in the graph (a superset: hnswlib does not say
    which deleted slot it reused).
    """

    kind: Kind = "hnsw"

    def __init__(self, index: hnswlib.Index, live: set[int], tombstones: set[int]) -> None:
        self.index = index
        self._live = live
        self._tombstones = tombstones

    @classmethod
    def create(cls, dim: int, capacity: int, settings: IndexSettings) -> _HnswStore:
        index = hnswlib.Index(space="ip", dim=dim)
        index.init_index(
            max_elements=max(capacity, MIN_CAPACITY),
            M=settings.m,
            ef_construction=settings.ef_construction,
            allow_replace_deleted=True,
        )
        index.set_ef(settings.ef_search)
        return cls(index, set(), set())

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, photo_id: int) -> bool:
        return photo_id in self._live

    def ids(self) -> np.ndarray:
        return np.fromiter(self._live, np.int64, len(self._live))

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        if not len(ids):
            return np.empty((0, self.index.dim), np.float32)
        return np.asarray(self.index.get_items(ids), np.float32)

    def add(self, ids: np.ndarray, vectors: np.ndarray, threads: int) -> None:
        fresh = self._revive(ids)
        if not fresh.all():
            known = ~fresh
            self.index.add_items(_rows(vectors, known), ids[known], num_threads=threads)
        if fresh.any():
            self._reserve(int(fresh.sum()))
            self.index.add_items(
                _rows(vectors, fresh), ids[fresh], num_threads=threads, replace_deleted=True
            )
        self._live.update(ids.tolist())

    def remove(self, ids: np.ndarray) -> None:
        for photo_id in ids.tolist():
            if photo_id in self._live:
                self.index.mark_deleted(photo_id)
                self._live.remove(photo_id)
                self._tombstones.add(photo_id)

    def candidates(self, q: np.ndarray, k: int) -> np.ndarray:
        k = min(k, len(self._live))
        if k == 0:
            return np.empty(0, np.int64)
        try:
            labels, _ = self.index.knn_query(q, k=k, num_threads=1)
        except RuntimeError:
            # Fewer than k reachable: deletions can cut a graph apart. Rare; stay correct.
            log.warning("HNSW found fewer than %d neighbours; scanning exactly", k)
            return self._scan(self.ids(), q, k)
        return labels[0].astype(np.int64)

    def candidates_among(self, allowed: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
        live = self._live
        present = np.fromiter((i for i in allowed.tolist() if i in live), np.int64)
        return self._scan(present, q, k)

    def candidates_filtered(self, allowed: IdSet, q: np.ndarray, k: int) -> np.ndarray:
        k = min(k, len(self._live))
        try:
            labels, _ = self.index.knn_query(q, k=k, num_threads=1, filter=allowed.__contains__)
        except RuntimeError:  # fewer than k allowed photos in the graph
            return self.candidates_among(_as_ids(allowed), q, k)
        return labels[0].astype(np.int64)

    def neighbours(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if k == 0 or not len(queries):
            return np.empty((len(queries), 0), np.int64), np.empty((len(queries), 0), np.float32)
        try:
            labels, distances = self.index.knn_query(queries, k=k, num_threads=-1)
        except RuntimeError:  # fewer than k reachable for some query: scan exactly (rare)
            log.warning("HNSW found fewer than %d neighbours; scanning exactly", k)
            found = np.array([self._scan(self.ids(), q, k) for q in queries])
            scores = np.einsum(
                "nkd,nd->nk", self.vectors(found.ravel()).reshape(*found.shape, -1), queries
            )
            order = np.argsort(-scores, axis=1, kind="stable")
            return np.take_along_axis(found, order, 1), np.take_along_axis(scores, order, 1)
        # Inner-product space: distance = 1 - dot.
        return labels.astype(np.int64), (1.0 - distances).astype(np.float32)

    def links(self) -> np.ndarray | None:
        try:  # hnswlib's pickling state: the graph's memory as it is
            state = self.index.__getstate__()[0]
        except (RuntimeError, TypeError, IndexError, AttributeError) as error:
            log.info("cannot read the graph's links: %s", error)
            return None
        return _bottom_links(state, self.index.dim, self._live)

    def write_data(self, path: Path) -> list[int]:
        self.index.save_index(str(path))
        in_graph = set(self.index.get_ids_list())
        return sorted(self._tombstones & in_graph)

    def _revive(self, ids: np.ndarray) -> np.ndarray:
        """Unmark re-added deleted labels; return the mask of ids new to the graph."""
        fresh = np.ones(len(ids), bool)
        for position, photo_id in enumerate(ids.tolist()):
            if photo_id in self._live:
                fresh[position] = False
            elif photo_id in self._tombstones:
                self._tombstones.discard(photo_id)
                with contextlib.suppress(RuntimeError):  # its slot went to another photo
                    self.index.unmark_deleted(photo_id)
                    self._live.add(photo_id)
                    fresh[position] = False
        return fresh

    def _reserve(self, new: int) -> None:
        """Grow geometrically so that `new` labels fit, counting reusable deleted slots."""
        used = self.index.element_count
        vacant = used - len(self._live)
        needed = used + max(0, new - vacant)
        capacity = self.index.get_max_elements()
        if needed > capacity:
            self.index.resize_index(max(needed, int(capacity * GROWTH)))

    def _scan(self, ids: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
        """Exact top k among `ids`, fetching vectors from the graph a chunk at a time."""
        best = np.empty(0, np.int64)
        best_scores = np.empty(0, np.float32)
        for start in range(0, len(ids), SCAN_CHUNK):
            chunk = ids[start : start + SCAN_CHUNK]
            scores = np.concatenate([best_scores, self.vectors(chunk) @ q])
            chunk = np.concatenate([best, chunk])
            keep = _top_k(scores, k)
            best, best_scores = chunk[keep], scores[keep]
        return best


# --- Persistence -----------------------------------------------------------------------


def read_header(path: Path | str) -> IndexHeader:
    """The manifest of a saved index; IndexUnusableError if absent or malformed."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexUnusableError(f"no saved index at {path}") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise IndexUnusableError(f"unreadable index manifest {path}: {error}") from error
    try:
        return _parse_header(raw)
    except (KeyError, TypeError, ValueError) as error:
        raise IndexUnusableError(f"malformed index manifest {path}: {error!r}") from error


def delete_saved(path: Path | str) -> None:
    """Remove a saved index: its manifest and every data file of it (no error if absent)."""
    path = Path(path)
    path.unlink(missing_ok=True)
    _remove_stale_data(path, keep=None)


def _parse_header(raw: dict[str, Any]) -> IndexHeader:
    if raw["format"] != FORMAT_VERSION:
        raise ValueError(f"format {raw['format']}, expected {FORMAT_VERSION}")
    if raw["kind"] not in ("exact", "hnsw"):
        raise ValueError(f"kind {raw['kind']!r}")
    data_file = str(raw["data_file"])
    if Path(data_file).name != data_file:
        raise ValueError(f"data file {data_file!r} is not a plain name")
    return IndexHeader(
        kind=raw["kind"],
        dim=int(raw["dim"]),
        model_key=str(raw["model_key"]),
        count=int(raw["count"]),
        generation=int(raw["generation"]),
        data_file=data_file,
        data_bytes=int(raw["data_bytes"]),
        data_crc32=int(raw["data_crc32"]),
        tombstones=[int(label) for label in raw.get("tombstones", [])],
    )


def _save(store: _Store, path: Path, fields: dict[str, Any]) -> None:
    """Data file first (temp, fsync, rename to a fresh name), then the manifest (temp,
    fsync, atomic replace). Until that replace, the old manifest names the old data."""
    data_path = path.with_name(f"{path.name}.{fields['generation']}-{secrets.token_hex(4)}.data")
    committed = False
    try:
        with _temp_beside(path) as temp:
            tombstones = store.write_data(temp)
            _fsync(temp)
            size, crc = _size_and_crc(temp)
            os.replace(temp, data_path)
        manifest = {**fields, "data_file": data_path.name, "data_bytes": size}
        manifest |= {"data_crc32": crc, "tombstones": tombstones}
        _write_atomically(path, json.dumps(manifest, indent=1).encode())
        committed = True
    finally:
        if not committed:
            data_path.unlink(missing_ok=True)
    _remove_stale_data(path, keep=data_path)


@contextlib.contextmanager
def _saving(path: Path, shared: bool = False) -> Iterator[None]:
    """Across processes, one save into `path`'s folder at a time (and no save while one
    loads): two writers (`watch` beside `index`) that interleave their saves would otherwise
    remove the data file the other's manifest names. An advisory lock on the folder itself
    (no lock file to leave behind); where none can be taken (Windows) it goes on without."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    try:
        handle = os.open(path.parent, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing releases the lock


def _write_atomically(path: Path, payload: bytes) -> None:
    with _temp_beside(path) as temp:
        temp.write_bytes(payload)
        _fsync(temp)
        os.replace(temp, path)
    _fsync_directory(path.parent)


@contextlib.contextmanager
def _temp_beside(path: Path) -> Iterator[Path]:
    """A temp file in the target's folder (so os.replace is a rename), removed on failure."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    temp = Path(name)
    try:
        yield temp
    finally:
        temp.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    with path.open("rb+") as handle:  # Windows fsyncs only files open for writing
        os.fsync(handle.fileno())


def _fsync_directory(folder: Path) -> None:
    """Make the rename itself durable; POSIX only (Windows cannot open a folder)."""
    if os.name != "posix":
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _remove_stale_data(path: Path, keep: Path | None) -> None:
    """Data files of earlier saves, and of saves a crash interrupted."""
    for stale in path.parent.glob(f"{path.name}.*.data"):
        if stale != keep:
            with contextlib.suppress(OSError):
                stale.unlink()


def _read_store(path: Path, header: IndexHeader, settings: IndexSettings) -> _Store:
    data_path = path.with_name(header.data_file)
    _verify_data(data_path, header)
    store: _Store
    if header.kind == "exact":
        store = _read_exact(data_path, header)
    else:
        store = _read_hnsw(data_path, header, settings)
    if len(store) != header.count:
        raise IndexUnusableError(f"{path} holds {len(store)} vectors, manifest says {header.count}")
    return store


def _verify_data(data_path: Path, header: IndexHeader) -> None:
    """Check size and CRC before hnswlib parses the file: it trusts its input blindly."""
    try:
        size, crc = _size_and_crc(data_path)
    except OSError as error:
        raise IndexUnusableError(f"cannot read index data {data_path}: {error}") from error
    if (size, crc) != (header.data_bytes, header.data_crc32):
        raise IndexUnusableError(f"index data {data_path} is damaged or from another save")


def _size_and_crc(path: Path) -> tuple[int, int]:
    crc = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            crc = zlib.crc32(chunk, crc)
        return handle.tell(), crc


def _read_exact(data_path: Path, header: IndexHeader) -> _ExactStore:
    n, dim = header.count, header.dim
    if header.data_bytes != n * 8 + n * dim * 4:
        raise IndexUnusableError(f"{data_path} has the wrong size for {n} x {dim} vectors")
    with data_path.open("rb") as handle:
        ids = np.fromfile(handle, np.int64, n)
        matrix = np.fromfile(handle, np.float32, n * dim).reshape(n, dim)
    return _ExactStore.from_arrays(ids, matrix)


def _read_hnsw(data_path: Path, header: IndexHeader, settings: IndexSettings) -> _HnswStore:
    index = hnswlib.Index(space="ip", dim=header.dim)
    try:
        index.load_index(str(data_path), allow_replace_deleted=True)
    except RuntimeError as error:
        raise IndexUnusableError(f"hnswlib cannot load {data_path}: {error}") from error
    index.set_ef(settings.ef_search)
    tombstones = set(header.tombstones)
    live = set(index.get_ids_list()) - tombstones
    return _HnswStore(index, live, tombstones)


# --- Small helpers ---------------------------------------------------------------------


class _ReadWriteLock:
    """Many readers or one writer. A waiting writer holds back new readers, so a stream of
    searches cannot starve the indexer. Not reentrant: never nest `reading()`."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not (self._writing or self._writers_waiting))
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                self._condition.notify_all()

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        with self._condition:
            self._writers_waiting += 1
            self._condition.wait_for(lambda: not (self._writing or self._readers))
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest scores, unordered (the caller ranks the final few)."""
    if k >= len(scores):
        return np.arange(len(scores))
    return np.argpartition(-scores, k - 1)[:k]


def _ranked(ids: np.ndarray, vectors: np.ndarray, q: np.ndarray) -> list[tuple[int, float]]:
    """(id, cosine) best first, ties by id. Scores are float64 sums row by row, so a photo's
    score does not depend on which path (or which BLAS kernel) found it."""
    scores = np.multiply(vectors, q, dtype=np.float64).sum(axis=1)
    order = np.lexsort((ids, -scores))
    return [(int(ids[i]), float(scores[i])) for i in order]


def _as_ids(ids: Iterable[int] | np.ndarray) -> np.ndarray:
    if isinstance(ids, np.ndarray):
        return ids.astype(np.int64, copy=False).ravel()
    if isinstance(ids, (set, frozenset)):
        return np.fromiter(ids, np.int64, len(ids))
    return np.asarray(list(ids), np.int64).ravel()


def _as_id_set(allowed: IdSet | np.ndarray) -> IdSet:
    if isinstance(allowed, (set, frozenset)):
        return allowed
    return set(np.asarray(allowed).ravel().tolist())


def _rows(matrix: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """matrix[mask] without copying when every row is kept (a 1M x 512 bulk add)."""
    return matrix if mask.all() else matrix[mask]


def _checked_batch(
    ids: Iterable[int] | np.ndarray, vectors: np.ndarray, dim: int
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a batch and drop all but the last vector of an id given twice."""
    id_array = _as_ids(ids)
    matrix = np.ascontiguousarray(vectors, np.float32)
    if matrix.ndim != 2 or matrix.shape != (len(id_array), dim):
        raise ValueError(f"expected {len(id_array)} vectors of size {dim}, got {matrix.shape}")
    if len(id_array) and id_array.min() < 0:
        raise ValueError("photo ids must be non-negative")  # hnswlib labels are unsigned
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))  # no n x dim temporary
    if not np.all(np.abs(norms - 1) <= NORM_TOLERANCE):
        raise ValueError("vectors must be L2-normalised (and finite)")
    reversed_ids = id_array[::-1]
    _, last = np.unique(reversed_ids, return_index=True)
    if len(last) == len(id_array):
        return id_array, matrix
    keep = np.sort(len(id_array) - 1 - last)
    return id_array[keep], matrix[keep]


def _unit_query(query: np.ndarray, dim: int) -> np.ndarray:
    q = np.asarray(query, np.float32).ravel()
    if q.shape != (dim,):
        raise ValueError(f"expected a query vector of size {dim}, got {np.shape(query)}")
    norm = float(np.linalg.norm(q))
    if not np.isfinite(norm) or norm == 0:
        raise ValueError("the query vector must be finite and non-zero")
    return q / np.float32(norm)


def _bottom_links(state: dict[str, Any], dim: int, live: set[int]) -> np.ndarray | None:
    """The bottom layer's edges between live labels, from hnswlib's pickling state.

    hnswlib (0.7, 0.8; unchanged since 2018) keeps each element's bottom layer in one
    record: a 4-byte header (link count in its low 2 bytes, a deleted mark in bit 0 of its
    third), up to maxM0 4-byte internal ids, the vector, and the 8-byte label. A state laid
    out otherwise, or whose live labels are not ours, gives None (callers fall back to
    k-NN queries). A deleted element stays in the graph as a way between its neighbours,
    so its live links are paired with each other: two copies joined only through a
    removed photo stay candidates."""
    try:
        count, size = state["cur_element_count"], state["size_data_per_element"]
        most = state["max_M0"]
        links_end = 4 + 4 * most
        if (
            state["offset_level0"] != 0
            or state["offset_data"] != links_end
            or state["label_offset"] != links_end + 4 * dim
            or size != links_end + 4 * dim + 8
        ):
            return None
        raw = np.asarray(state["data_level0"], np.uint8)[: count * size].reshape(count, size)
    except (KeyError, TypeError, ValueError):
        return None
    header = np.ascontiguousarray(raw[:, :4]).view("<u4")[:, 0]
    degree = np.minimum(header & 0xFFFF, most).astype(np.int64)
    deleted = ((header >> 16) & 1).astype(bool)
    labels = np.ascontiguousarray(raw[:, links_end + 4 * dim : size]).view("<u8")[:, 0]
    labels = labels.astype(np.int64)
    if len(live) != int((~deleted).sum()) or not live.issuperset(labels[~deleted].tolist()):
        return None
    targets = np.ascontiguousarray(raw[:, 4:links_end]).view("<u4").astype(np.int64)
    present = np.arange(most)[None, :] < degree[:, None]
    source = np.repeat(np.arange(count), degree)
    target = targets[present]
    if len(target) and target.max() >= count:
        return None
    usable = ~deleted[source] & ~deleted[target]
    pairs = [np.stack([labels[source[usable]], labels[target[usable]]], axis=1)]
    for row in np.flatnonzero(deleted).tolist():
        around = targets[row, : degree[row]]
        around = labels[around[~deleted[around]]]
        first, second = np.triu_indices(len(around), 1)
        pairs.append(np.stack([around[first], around[second]], axis=1))
    return unique_pairs(np.concatenate(pairs))


def unique_pairs(pairs: np.ndarray) -> np.ndarray:
    """(m, 2) ids: each unordered pair once, smaller id first, sorted; no id with itself."""
    pairs = np.sort(np.asarray(pairs, np.int64).reshape(-1, 2), axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    if not len(pairs) or pairs.min() < 0 or pairs.max() >= 2**31:
        return np.unique(pairs, axis=0) if len(pairs) else pairs
    span = int(pairs.max()) + 1  # one int64 key a pair, sorted: 10x faster than np.unique
    keys = np.sort(pairs[:, 0] * span + pairs[:, 1])
    keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    return np.stack([keys // span, keys % span], axis=1)
