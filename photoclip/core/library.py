"""A library: the catalog plus the vector index of each model, kept in step.

SQLite is the source of truth; each model's HNSW file is derived from it. The file records
the catalog generation it was saved at, so opening it replays only what changed since (a
crash between a commit and the next save costs a short catch-up, not a rebuild). A file
that is missing, damaged or for other vectors is rebuilt from the catalog.

The library also knows its thumbnail cache (`thumbnails`), where the settings put it:
`thumbnail_store` is the one place that decides, for the indexer, duplicates and the GUI.
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from photoclip.core.catalog import Catalog, ModelRecord
from photoclip.core.embedding import Encoder
from photoclip.core.errors import KnownError
from photoclip.core.imageio import ThumbnailStore
from photoclip.core.paths import Locations
from photoclip.core.scanning import Excluded
from photoclip.core.settings import Settings
from photoclip.core.vectorindex import IndexUnusableError, VectorIndex, delete_saved

log = logging.getLogger(__name__)


def thumbnail_store(locations: Locations, settings: Settings) -> ThumbnailStore:
    """The thumbnail cache the settings choose (the data folder's by default)."""
    return ThumbnailStore(settings.thumbnail_folder(locations.thumbnails))


def recorded_profile(locations: Locations) -> str | None:
    """The profile of the library's model, None before the first index (read-only)."""
    if not locations.catalog.exists():
        return None
    with Catalog.open(locations.catalog, readonly=True) as catalog:
        key = catalog.active_model
        record = catalog.model(key) if key else None
    return record.profile if record else None


def own_folders(locations: Locations, thumbnails: ThumbnailStore | None = None) -> Excluded:
    """The data, cache and thumbnail folders, as folders to leave out of every walk."""
    store = thumbnails or thumbnail_store(locations, Settings.load(locations.settings))
    return Excluded([locations.data, locations.cache, store.folder])


def check_thumbnail_folder(store: ThumbnailStore) -> None:
    """Make the folder and write a file in it, or say plainly why thumbnails cannot go
    there (KnownError), before anything is switched to it."""
    try:
        store.folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=store.folder):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise KnownError(f"Thumbnails cannot be kept in {store.folder}: {reason}.") from error


class Library:
    """Opens the catalog in `locations` and serves a caught-up index per model.
    `thumbnails` is the cache the indexer writes and readers look in (a job may swap it)."""

    def __init__(
        self, locations: Locations, catalog: Catalog, thumbnails: ThumbnailStore | None = None
    ) -> None:
        self.locations = locations
        self.catalog = catalog
        self.thumbnails = thumbnails or ThumbnailStore(locations.thumbnails)
        self._indexes: dict[str, VectorIndex] = {}
        self._lock = threading.Lock()
        self._writing_model: str | None = None
        #: Per loaded index, the catalog generation up to which it holds all the catalog
        #: holds. Commits of this process move it on; another process's commits (a `watch`
        #: beside an `index`) leave a gap, which `save_index` fills before saving.
        self._synced: dict[str, int] = {}

    @classmethod
    def open(cls, locations: Locations, *, readonly: bool = False) -> Library:
        """The library in `locations`, with the thumbnail cache its settings file names.
        Read-only, it makes and writes nothing (a read-only or damaged data folder)."""
        if not readonly:
            locations.ensure()
        thumbnails = thumbnail_store(locations, Settings.load(locations.settings))
        return cls(locations, Catalog.open(locations.catalog, readonly=readonly), thumbnails)

    def close(self) -> None:
        self.catalog.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reader(self) -> Library:
        """A library for searching from another thread: its own read-only catalog
        connection, this library's in-memory indexes (one writer, many readers is safe)."""
        catalog = Catalog.open(self.locations.catalog, readonly=True)
        shared = Library(self.locations, catalog, self.thumbnails)
        shared._indexes, shared._lock = self._indexes, self._lock
        return shared

    @property
    def excluded(self) -> Excluded:
        """PhotoClip's own folders, which no scan or watch may take for photos (a data
        folder inside a watched root would otherwise feed on its own thumbnails)."""
        return own_folders(self.locations, self.thumbnails)

    # -- models --------------------------------------------------------------------------

    @property
    def active_model(self) -> ModelRecord | None:
        key = self.catalog.active_model
        return self.catalog.model(key) if key else None

    def use_model(self, encoder: Encoder) -> None:
        """Start writing vectors of `encoder`'s model (registered, its index ready)."""
        record = ModelRecord(
            encoder.model_key,
            encoder.profile.name,
            encoder.profile.arch,
            encoder.dim,
            encoder.open_clip_version,
            encoder.profile.random_weights,
        )
        known = self.catalog.model(record.key)
        if known is not None and known.dim != record.dim:
            raise KnownError(
                f"Stored vectors of {record.key} have {known.dim} dimensions, "
                f"the model gives {record.dim}. Re-index from scratch."
            )
        with self.catalog.transaction():
            self.catalog.register_model(record)
            if self.catalog.active_model is None:
                # The library's first model is its model from the first vector on: a first
                # run killed early must not leave later runs to guess (and load another).
                self.catalog.set_meta("active_model", record.key)
                self.catalog.drop_other_models(keep=record.key)  # leftovers of such runs
        self._writing_model = record.key
        self.index(record.key)

    def activate(self, model_key: str) -> None:
        """Make `model_key` the model searches use; other models' vectors are dropped, so
        vectors of two models are never mixed or kept stale."""
        if self.catalog.active_model == model_key:
            return
        with self.catalog.transaction():
            self.catalog.set_meta("active_model", model_key)
            self.catalog.drop_other_models(keep=model_key)
        for key in [k for k in self._indexes if k != model_key]:
            self._indexes.pop(key)
        keep = self._index_path(model_key)
        for saved in self.locations.indexes.glob("*.hnsw"):
            if saved != keep:  # also files of models this process never loaded
                delete_saved(saved)

    # -- the index ---------------------------------------------------------------------------

    def index(self, model_key: str | None = None) -> VectorIndex:
        """The index of `model_key` (default: the active model), caught up with the catalog."""
        key = model_key or self.catalog.active_model
        if key is None:
            raise KnownError("Nothing is indexed yet. Add a folder first: photoclip index FOLDER")
        with self._lock:
            if key not in self._indexes:
                self._indexes[key] = self._load_or_rebuild(key)
            return self._indexes[key]

    def refresh_vectors(self, photo_ids: Sequence[int]) -> None:
        """Copy the committed vectors of these photos into the index being written."""
        key = self._writing_model or self.catalog.active_model
        if not photo_ids or key is None:
            return
        ids, vectors = self.catalog.photo_vectors(key, photo_ids)
        if len(ids):
            self.index(key).add(ids, vectors)

    def delete_photos(self, photo_ids: Sequence[int]) -> None:
        """Drop photos from the catalog (one transaction, a new generation) and from every
        loaded index. Their files are not touched."""
        if not photo_ids:
            return
        with self.catalog.transaction():
            self.catalog.delete_photos(photo_ids)
            generation = self.catalog.next_generation()
        self.forget(photo_ids)
        self.applied(generation)

    def applied(self, generation: int) -> None:
        """The loaded indexes now hold what this process committed as `generation`. Only a
        commit right after the synced one extends it: a gap means another writer's commit."""
        for key, synced in self._synced.items():
            if generation == synced + 1:
                self._synced[key] = generation

    def forget(self, photo_ids: Sequence[int]) -> None:
        """Remove photos from every loaded index (they were deleted or failed)."""
        for index in self._indexes.values():
            index.remove(list(photo_ids))

    def rebuild_index(self) -> None:
        """Rebuild the active model's index from the catalog and save it (readers holding
        the old index finish on it; the next `index()` gets the new one)."""
        record = self.active_model
        if record is None:
            return
        rebuilt = self._rebuild(record.key, record.dim)
        with self._lock:
            self._indexes[record.key] = rebuilt
        self.save_index()

    def save_index(self) -> None:
        """Persist every loaded index at the catalog's current generation, first caught up
        with the catalog if another process committed since this one was in step: the file
        promises every change up to its generation, and a reader replays only newer ones."""
        generation = self.catalog.generation  # read first: the catch-up sees at least this
        for key, index in list(self._indexes.items()):
            synced = self._synced.get(key, -1)
            if synced != generation:
                self._catch_up(index, key, synced)
            index.save(self._index_path(key), generation=generation)
            self._synced[key] = generation

    def _index_path(self, model_key: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_key)
        return self.locations.indexes / f"{slug}.hnsw"

    def _load_or_rebuild(self, model_key: str) -> VectorIndex:
        record = self.catalog.model(model_key)
        if record is None:
            raise KnownError(f"No vectors of {model_key} are stored.")
        path = self._index_path(model_key)
        try:
            loaded = VectorIndex.load(path, model_key=model_key, dim=record.dim)
        except IndexUnusableError as error:
            log.info("rebuilding the index from the catalog: %s", error)
            return self._rebuild(model_key, record.dim)
        generation = self.catalog.generation
        self._catch_up(loaded, model_key, loaded.generation)
        self._synced[model_key] = generation
        return loaded

    def _rebuild(self, model_key: str, dim: int) -> VectorIndex:
        self._synced[model_key] = self.catalog.generation
        ids, vectors = self.catalog.photo_vectors(model_key)
        if not len(ids):
            return VectorIndex(dim, model_key)
        index = VectorIndex.build(ids, vectors, model_key=model_key)
        log.info("rebuilt the index of %s from the catalog: %d photos", model_key, len(ids))
        return index

    def _catch_up(self, index: VectorIndex, model_key: str, newer: int | None) -> None:
        """Replay what the catalog committed after generation `newer` (vectors the index
        already holds are not added again: re-adding costs a graph update)."""
        newer = -1 if newer is None else newer
        ids, vectors = self.catalog.photo_vectors(model_key, newer_than=newer)
        changed = _differing(index, ids, vectors)
        if changed.any():
            index.add(ids[changed], vectors[changed])
        live = self.catalog.photo_ids_with_vectors(model_key)
        stale = [int(i) for i in index.ids() if int(i) not in live]
        if stale:
            index.remove(stale)
        missing = sorted(live.difference(int(i) for i in index.ids()))
        if missing:
            extra_ids, extra_vectors = self.catalog.photo_vectors(model_key, missing)
            index.add(extra_ids, extra_vectors)


def _differing(index: VectorIndex, ids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Mask of the rows whose vector the index lacks or holds otherwise."""
    if not len(ids):
        return np.zeros(0, bool)
    present = np.fromiter((int(i) in index for i in ids), bool, len(ids))
    differ = ~present
    if present.any():
        held = index.vectors(ids[present])
        differ[present] = np.any(held != vectors[present], axis=1)
    return differ
