"""Walking the user's folders: which files are photos, and their size and mtime.

Only `stat` information is gathered here; nothing is opened. A rescan of an unchanged
library is therefore one directory walk plus one catalog query.

Every entry with a photo's name is offered, special files (a FIFO or a broken link named
x.jpg) too: the indexer's gate (`imageio.open_regular`) refuses them from their `stat`
without opening them, and records why, so that `status` shows them. The walk never enters
PhotoClip's own folders (`Excluded`: its thumbnails would be indexed as photos, and each
run would add thumbnails of those), and follows a link to a folder only when that folder
is neither inside the root nor above it (it would be walked twice, or take the whole
parent folder in).
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from photoclip.core.imageio import SUPPORTED_EXTENSIONS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileEntry:
    path: Path
    size: int
    mtime_ns: int


class Excluded:
    """Folders that are never photos: PhotoClip's data, cache and thumbnail folders.

    Known by path (for watch events, which name paths) and by device and inode (for the
    walk, which may reach one through a link or another spelling of its path)."""

    def __init__(self, folders: Iterable[Path] = ()) -> None:
        spelled = {Path(os.path.abspath(folder)) for folder in folders}
        self.folders = tuple(sorted(spelled | {_resolved(folder) for folder in spelled}))
        self._identities = {i for i in map(_identity_or_none, self.folders) if i is not None}

    def __contains__(self, path: object) -> bool:
        """Whether `path` is one of the folders or lies inside one."""
        if not isinstance(path, Path):
            return False
        return any(path.is_relative_to(folder) for folder in self.folders)

    def holds(self, info: os.stat_result) -> bool:
        return (info.st_dev, info.st_ino) in self._identities


def is_photo_name(name: str) -> bool:
    """Hidden files and macOS AppleDouble companions (`._IMG_1.jpg`) are not photos."""
    if name.startswith("."):
        return False
    return os.path.splitext(name)[1].lower() in SUPPORTED_EXTENSIONS


def scan(
    root: Path, excluded: Excluded | None = None, within: Path | None = None
) -> Iterator[FileEntry]:
    """Every photo below `root`, following links to folders outside it, never in a loop.
    `within` is the library root that `root` lies in (a watcher rescans one new folder):
    a link to a folder anywhere in it is not followed either."""
    walk = _Walk(_resolved(within or root), excluded or Excluded())
    yield from walk.folder(root)


def file_entry(path: Path, excluded: Excluded | None = None) -> FileEntry | None:
    """`path` as the scanner would offer it, or None (gone, a folder, not a photo's name)."""
    if not is_photo_name(path.name) or (excluded is not None and path in excluded):
        return None
    info = _entry_stat(path)
    if info is None or stat.S_ISDIR(info.st_mode):
        return None
    return FileEntry(path, info.st_size, info.st_mtime_ns)


class _Walk:
    def __init__(self, root: Path, excluded: Excluded) -> None:
        self.root, self.excluded = root, excluded
        self.visited: set[tuple[int, int]] = set()

    def folder(self, folder: Path) -> Iterator[FileEntry]:
        try:
            info = folder.stat()
            identity = (info.st_dev, info.st_ino)
            if identity in self.visited or self.excluded.holds(info):
                log.info("skipping %s: already walked, or PhotoClip's own folder", folder)
                return
            self.visited.add(identity)
            entries = list(os.scandir(folder))
        except OSError as error:
            log.warning("skipping folder %s: %s", folder, error.strerror or error)
            return
        for entry in entries:
            yield from self._visit(entry)

    def _visit(self, entry: os.DirEntry[str]) -> Iterator[FileEntry]:
        if entry.name.startswith("."):
            return
        path = Path(entry.path)
        try:
            if _is_folder(entry):
                if path not in self.excluded and self._may_enter(entry, path):
                    yield from self.folder(path)
            elif is_photo_name(entry.name):
                found = file_entry(path, self.excluded)
                if found is not None:
                    yield found
        except OSError as error:  # vanished or unreadable between listing and stat
            log.warning("skipping %s: %s", entry.path, error.strerror or error)

    def _may_enter(self, entry: os.DirEntry[str], path: Path) -> bool:
        """A link to a folder inside the root is walked there already; a link to a folder
        above the root would walk the root again and everything beside it."""
        if not entry.is_symlink():
            return True
        target = _resolved(path)
        if target.is_relative_to(self.root) or self.root.is_relative_to(target):
            log.info("not following %s: it links to %s, inside or above the root", path, target)
            return False
        return True


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a link loop: not a folder to walk, but a file to record
        return False


def _entry_stat(path: Path) -> os.stat_result | None:
    """The file's stat, or the link's own for a broken link or a loop (the indexer's gate
    records those with their reason); None when the path is gone."""
    try:
        return path.stat()
    except OSError:
        try:
            return path.lstat()
        except OSError:
            return None


def _resolved(folder: Path) -> Path:
    try:
        return folder.resolve()
    except (OSError, RuntimeError):  # a link loop: keep the spelled path
        return Path(os.path.abspath(folder))


def _identity_or_none(folder: Path) -> tuple[int, int] | None:
    try:
        info = folder.stat()
    except OSError:
        return None
    return info.st_dev, info.st_ino
