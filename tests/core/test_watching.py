"""Folder watching: change notices from real watchdog observers, the settler, fallbacks."""

from __future__ import annotations

import errno
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from watchdog.observers.polling import PollingObserver

from photoclip.core.catalog import Catalog
from photoclip.core.watching import Change, ChangeKind, FolderWatcher, Settler
from tests.core.test_worker import eventually
from tests.photos import make_photo


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_file_is_ready_only_once_it_stops_growing(tmp_path: Path) -> None:
    clock, photo = Clock(), tmp_path / "slow.jpg"
    photo.write_bytes(b"x" * 10)
    settler = Settler(interval=1.0, clock=clock)
    settler.touch(photo)
    assert settler.ready() == [] and settler.next_due() == 1.0
    clock.now = 1.0
    with photo.open("ab") as handle:
        handle.write(b"more")  # still being written: look again later
    assert settler.ready() == []
    clock.now = 2.0
    assert settler.ready() == [photo]
    assert len(settler) == 0 and settler.next_due() is None


def test_a_file_that_vanishes_while_settling_is_dropped(tmp_path: Path) -> None:
    clock, photo = Clock(), tmp_path / "gone.jpg"
    photo.write_bytes(b"x")
    settler = Settler(interval=0.5, clock=clock)
    settler.touch(photo)
    photo.unlink()
    clock.now = 1.0
    assert settler.ready() == [] and len(settler) == 0


class Notices:
    def __init__(self) -> None:
        self.seen: list[Change] = []

    def __call__(self, change: Change) -> None:
        self.seen.append(change)

    def has(self, kind: ChangeKind, path: Path, dest: Path | None = None) -> bool:
        return any(
            c.kind is kind and c.path == path and (dest is None or c.dest == dest)
            for c in list(self.seen)
        )


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[Path, Notices, FolderWatcher]]:
    root = (tmp_path / "root").resolve()
    (root / "a").mkdir(parents=True)
    notices = Notices()
    watcher = FolderWatcher(notices)
    watcher.watch(root)
    yield root, notices, watcher
    watcher.stop()


def test_created_moved_and_deleted_files_and_folders_are_noticed(watched: Any) -> None:
    root, notices, _ = watched
    photo = make_photo(root / "a" / "one.jpg")
    eventually(lambda: notices.has(ChangeKind.CHANGED, photo))
    photo.rename(root / "a" / "two.jpg")
    eventually(lambda: notices.has(ChangeKind.MOVED, photo, root / "a" / "two.jpg"))
    (root / "a").rename(root / "b")
    eventually(lambda: notices.has(ChangeKind.MOVED, root / "a", root / "b"))
    (root / "b" / "two.jpg").unlink()
    eventually(lambda: notices.has(ChangeKind.DELETED, root / "b" / "two.jpg"))
    (root / "b").rmdir()
    eventually(lambda: notices.has(ChangeKind.DELETED, root / "b"))


def test_a_root_renamed_away_and_back_is_noticed_from_its_parent(watched: Any) -> None:
    root, notices, _ = watched
    away = root.with_name("away")
    root.rename(away)
    eventually(lambda: notices.has(ChangeKind.ROOT_GONE, root))
    away.rename(root)
    eventually(lambda: notices.has(ChangeKind.ROOT_BACK, root))


class NoWatchesLeft(PollingObserver):
    """An observer like inotify's when fs.inotify.max_user_watches is exhausted."""

    def schedule(self, *args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_out_of_watches_falls_back_to_polling_and_says_so_once(tmp_path: Path) -> None:
    root = (tmp_path / "root").resolve()
    root.mkdir()
    notices, reports = Notices(), []
    watcher = FolderWatcher(
        notices,
        lambda path, reason: reports.append((path, reason)),
        make_observer=NoWatchesLeft,
        make_polling=lambda: PollingObserver(timeout=0.1),
    )
    try:
        watcher.watch(root)
        photo = make_photo(root / "p.jpg")
        eventually(lambda: notices.has(ChangeKind.CHANGED, photo))
    finally:
        watcher.stop()
    assert len(reports) == 1
    assert reports[0][0] == root and "max_user_watches" in reports[0][1]


def test_moving_a_folder_rewrites_its_prefix_only(tmp_path: Path) -> None:
    with Catalog.open(tmp_path / "catalog.sqlite3") as catalog, catalog.transaction():
        root = catalog.add_root(Path("/r"))
        for path in ("/r/a/b/x.jpg", "/r/a/b/sub/y.jpg", "/r/a/bc/z.jpg", "/r/a/b.jpg"):
            catalog.upsert_photo(Path(path), root.id, size=1, mtime_ns=1, content_hash=path)
        assert catalog.move_folder(Path("/r/a/b"), Path("/r/new"), root.id) == 2
        moved = catalog.photos(catalog.photo_ids_under(Path("/r/new")))
        assert {str(p.path) for p in moved.values()} == {"/r/new/x.jpg", "/r/new/sub/y.jpg"}
        assert catalog.photo_by_path(Path("/r/a/bc/z.jpg")) is not None
        assert catalog.photo_by_path(Path("/r/a/b.jpg")) is not None
        assert len(catalog.photo_ids_under(Path("/r/a"))) == 2


def test_the_indexer_keeps_the_photos_of_an_empty_mount_point(
    tmp_path: Path, tiny_encoder: Any
) -> None:
    from photoclip.core.indexing import Indexer
    from photoclip.core.library import Library
    from photoclip.core.paths import Locations

    album = tmp_path / "drive"
    for i in range(3):
        make_photo(album / f"p{i}.jpg", pattern=i)
    with Library.open(Locations.from_environment()) as library:
        Indexer(library, tiny_encoder).index([album])
        for photo in album.iterdir():
            photo.unlink()  # the drive is unmounted: its mount point is empty
        report = Indexer(library, tiny_encoder).index([album])
        assert report.removed == 0 and library.catalog.counts().indexed == 3


def test_settling_is_quick_enough_for_a_live_view(tmp_path: Path) -> None:
    settler, photo = Settler(interval=0.05), make_photo(tmp_path / "p.jpg")
    settler.touch(photo)
    started = time.monotonic()
    while not settler.ready():
        time.sleep(0.01)
    assert time.monotonic() - started < 1.0
