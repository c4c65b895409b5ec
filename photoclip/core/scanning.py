"""Walking the user's folders: which files are photos, and their size and mtime.

Only `stat` information is gathered here; nothing is opened. A rescan of an unchanged
library is therefore one directory walk plus one catalog query.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from photoclip.core.imageio import SUPPORTED_EXTENSIONS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileEntry:
    path: Path
    size: int
    mtime_ns: int


def is_photo_name(name: str) -> bool:
    """Hidden files and macOS AppleDouble companions (`._IMG_1.jpg`) are not photos."""
    if name.startswith("."):
        return False
    return os.path.splitext(name)[1].lower() in SUPPORTED_EXTENSIONS


def scan(root: Path) -> Iterator[FileEntry]:
    """Every photo below `root`, following symbolic links but never around a loop."""
    yield from _walk(root, visited=set())


def _walk(folder: Path, visited: set[tuple[int, int]]) -> Iterator[FileEntry]:
    try:
        identity = _identity(folder)
        if identity in visited:
            log.info("skipping %s: symbolic link loop", folder)
            return
        visited.add(identity)
        entries = list(os.scandir(folder))
    except OSError as error:
        log.warning("skipping folder %s: %s", folder, error.strerror or error)
        return
    for entry in entries:
        yield from _visit(entry, visited)


def _visit(entry: os.DirEntry[str], visited: set[tuple[int, int]]) -> Iterator[FileEntry]:
    if entry.name.startswith("."):
        return
    try:
        if entry.is_dir():
            yield from _walk(Path(entry.path), visited)
        elif entry.is_file() and is_photo_name(entry.name):
            info = entry.stat()
            yield FileEntry(Path(entry.path), info.st_size, info.st_mtime_ns)
    except OSError as error:  # vanished or unreadable between listing and stat
        log.warning("skipping %s: %s", entry.path, error.strerror or error)


def _identity(folder: Path) -> tuple[int, int]:
    info = folder.stat()
    return info.st_dev, info.st_ino
