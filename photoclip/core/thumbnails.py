"""Filling a thumbnail folder the user just chose, in the background.

The indexer makes a photo's thumbnail only when it decodes the photo, so a new cache folder
would stay empty for every photo indexed before (readers fall back to the photo's file:
slower, and nothing at all while its drive is unplugged). `FillThumbnails` gives each
indexed photo its thumbnail there: copied from the previous folder when that has it (no
decoding), else made from the photo. The previous folder is only read, never emptied.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from photoclip.core.catalog import Catalog
from photoclip.core.errors import ImageError
from photoclip.core.imageio import ThumbnailStore, read_photo
from photoclip.core.indexing import IndexControl, IndexProgress, IndexReport
from photoclip.core.worker import BULK, Job, Work

log = logging.getLogger(__name__)

#: progress is reported (and more urgent work may take over) after this many photos
STEP = 16


@dataclass
class Filled:
    copied: int = 0
    made: int = 0
    #: photos whose file could not be read (an unplugged drive): readers show nothing better
    unreadable: int = 0
    cancelled: bool = False


@dataclass(frozen=True)
class FillThumbnails(Job):
    """Bulk work on the worker: thumbnails in the library's cache folder for every indexed
    photo, copied from `previous` where it has them. Gives way to more urgent work and,
    queued again, skips what is already there."""

    previous: Path | None = None
    priority: ClassVar[int] = BULK
    yields: ClassVar[bool] = True

    def run(self, work: Work) -> IndexReport | None:
        store, previous = work.library.thumbnails, self.previous
        old = ThumbnailStore(previous) if previous is not None else None
        filled = fill(work.library.catalog, store, old, work.control, work.progress)
        log.info("thumbnails in %s: %s", store.folder, filled)
        return IndexReport(cancelled=filled.cancelled)


def fill(
    catalog: Catalog,
    store: ThumbnailStore,
    previous: ThumbnailStore | None = None,
    control: IndexControl | None = None,
    progress: Callable[[IndexProgress], None] | None = None,
) -> Filled:
    """Give every indexed photo lacking one a thumbnail in `store` (see the module)."""
    control = control or IndexControl()
    todo = missing(catalog, store)
    filled, started = Filled(), time.monotonic()
    for done, (digest, path) in enumerate(todo, 1):
        control.wait_if_paused()
        if control.cancelled:
            filled.cancelled = True
            break
        if not _fill_one(store, previous, digest, path, filled):
            break  # the folder took no more (full, gone): readers fall back to the files
        if progress is not None and (done % STEP == 0 or done == len(todo)):
            progress(_progress(done, len(todo), started))
    return filled


def missing(catalog: Catalog, store: ThumbnailStore) -> list[tuple[str, Path]]:
    """(content hash, path) of indexed photos without a thumbnail in `store`, one per hash."""
    photos = catalog.photos(sorted(catalog.filter_ids())).values()
    found = {p.content_hash: p.path for p in photos if p.content_hash}
    return [(digest, path) for digest, path in found.items() if not store.has(digest)]


def _fill_one(
    store: ThumbnailStore, previous: ThumbnailStore | None, digest: str, path: Path, filled: Filled
) -> bool:
    """One thumbnail; False when `store` takes no more."""
    try:
        if previous is not None and previous.has(digest):
            _copy(previous.path_for(digest), store.path_for(digest))
            filled.copied += 1
            return True
        made = read_photo(path, target=None, thumbnails=store).thumbnail_path
    except ImageError:
        filled.unreadable += 1
        return True
    except OSError as error:
        log.warning("cannot fill the thumbnails in %s: %s", store.folder, error.strerror or error)
        return False
    filled.made += made is not None
    return made is not None  # None: the store refused it (decode_photo has warned)


def _copy(source: Path, target: Path) -> None:
    """Atomically, as ThumbnailStore.save writes (a reader never sees half a file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
    os.close(handle)
    try:
        shutil.copyfile(source, temp)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _progress(done: int, total: int, started: float) -> IndexProgress:
    elapsed = max(time.monotonic() - started, 1e-6)
    rate = done / elapsed
    return IndexProgress(done, total, rate, (total - done) / rate if rate > 0 else None)
