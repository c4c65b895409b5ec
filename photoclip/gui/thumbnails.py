"""Thumbnails for the results grid: loaded off the GUI thread, newest request first, kept
in an LRU cache of pixmaps.

The indexer already wrote a small JPEG per photo (core.imageio.ThumbnailStore, named by
content hash); a photo without one is read from its file, scaled while decoding. The GUI
thread only turns a finished QImage into a pixmap (well under a millisecond at 256 px).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage, QImageReader, QPixmap

from photoclip.core.catalog import Photo
from photoclip.core.imageio import ThumbnailStore

#: requests beyond this many waiting are dropped, oldest first (scrolled past long ago)
MAX_WAITING = 400


@dataclass(frozen=True)
class _Request:
    photo_id: int
    files: tuple[Path, ...]


def read_scaled(path: Path, size: QSize) -> QImage:
    """Decode `path` scaled to fit `size` (JPEGs decode at a reduced scale), upright by its
    EXIF orientation. A null image when it cannot be read."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    original = reader.size()
    if original.isValid() and (
        original.width() > size.width() or original.height() > size.height()
    ):
        reader.setScaledSize(original.scaled(size, Qt.AspectRatioMode.KeepAspectRatio))
    return reader.read()


def read_full(path: Path) -> QImage:
    """Decode every pixel of `path`, upright, in a format painted without conversion (for
    the photo view at 100%; on the pool, never the GUI thread). A null image when it cannot
    be read, or is larger than Qt's allocation limit allows."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    image = reader.read()
    if image.isNull() or image.format() in _PAINTABLE:
        return image
    return image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)


_PAINTABLE = (QImage.Format.Format_RGB32, QImage.Format.Format_ARGB32_Premultiplied)


class ThumbnailCache(QObject):
    """Signals: loaded(int photo_id) once its pixmap is in the cache."""

    loaded = Signal(int)
    _decoded = Signal(int, QImage)

    def __init__(
        self, store: ThumbnailStore, size: int, capacity: int = 3000, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.store, self.size, self.capacity = store, size, capacity
        self.ratio = 1.0
        self._pixmaps: OrderedDict[int, QPixmap] = OrderedDict()
        self._waiting: OrderedDict[int, _Request] = OrderedDict()
        self._lock = threading.Lock()
        self._loaders = 0
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._decoded.connect(self._store, Qt.ConnectionType.QueuedConnection)

    def pixmap(self, photo: Photo) -> QPixmap | None:
        """The cached pixmap, or None (and a load is queued)."""
        found = self._pixmaps.get(photo.id)
        if found is not None:
            self._pixmaps.move_to_end(photo.id)
            return found
        self.request(photo)
        return None

    def request(self, photo: Photo) -> None:
        files = (self.store.path_for(photo.content_hash),) if photo.content_hash else ()
        with self._lock:
            if photo.id in self._waiting:
                self._waiting.move_to_end(photo.id)
                return
            self._waiting[photo.id] = _Request(photo.id, (*files, photo.path))
            while len(self._waiting) > MAX_WAITING:
                self._waiting.popitem(last=False)
            more = self._loaders < self._pool.maxThreadCount()
            self._loaders += more
        if more:
            self._pool.start(_Loader(self))

    def set_size(self, size: int) -> None:
        """Thumbnails for a new cell size: larger ones are decoded again (sharp), smaller
        ones keep the cached pixmaps, which the grid scales down."""
        if size > self.size:
            self._pixmaps.clear()
        self.size = size

    def clear_waiting(self) -> None:
        """Forget queued loads (a new result list replaces the old one)."""
        with self._lock:
            self._waiting.clear()

    def wait(self, msecs: int = 30_000) -> bool:
        return self._pool.waitForDone(msecs)

    def _next(self) -> _Request | None:
        """The newest request; None retires the calling loader (under the same lock as
        `request`, so a request never waits with no loader to take it)."""
        with self._lock:
            if self._waiting:
                return self._waiting.popitem(last=True)[1]
            self._loaders -= 1
            return None

    def _load(self, request: _Request) -> None:
        box = round(self.size * self.ratio)
        for path in request.files:
            image = read_scaled(path, QSize(box, box))
            if not image.isNull():
                image.setDevicePixelRatio(self.ratio)
                self._decoded.emit(request.photo_id, image)
                return

    @Slot(int, QImage)
    def _store(self, photo_id: int, image: QImage) -> None:
        self._pixmaps[photo_id] = QPixmap.fromImage(image)
        while len(self._pixmaps) > self.capacity:
            self._pixmaps.popitem(last=False)
        self.loaded.emit(photo_id)


class _Loader(QRunnable):
    """Loads the newest waiting requests until none are left."""

    def __init__(self, cache: ThumbnailCache) -> None:
        super().__init__()
        self.cache = cache

    def run(self) -> None:
        while (request := self.cache._next()) is not None:
            self.cache._load(request)
