"""The trash with undo, on the real send2trash and a freedesktop trash of the test's own
(each run in a subprocess whose HOME and XDG_DATA_HOME point into tmp_path, as send2trash
reads them at import: the user's real trash is never touched)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from photoclip.core.errors import KnownError
from photoclip.core.trash import Trash, locate_freedesktop

pytestmark = pytest.mark.skipif(
    sys.platform in ("win32", "darwin"), reason="exercises the freedesktop trash"
)

SCRIPT = """
import json, sys
from pathlib import Path
from photoclip.core.trash import Trash
trash = Trash(Path(sys.argv[1]))
report = trash.move([Path(p) for p in sys.argv[3:]]) if sys.argv[2] == "move" else trash.undo()
skipped = [[str(p), r] for p, r in report.skipped]
print(json.dumps({"done": [str(p) for p in report.done], "skipped": skipped}))
"""


def run_trash(home: Path, action: str, *paths: Path) -> dict:
    env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / "xdg")}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(home / "data"), action, *map(str, paths)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def photos(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "photos"
    folder.mkdir()
    paths = [folder / "a.jpg", folder / "b copy.jpg", folder / "nested" / "a.jpg"]
    for number, path in enumerate(paths):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"photo %d" % number)
    return paths


def test_trashed_files_go_to_the_freedesktop_trash_and_come_back(
    tmp_path: Path, photos: list[Path]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    report = run_trash(home, "move", *photos, tmp_path / "missing.jpg")
    assert report["done"] == [str(p) for p in photos]
    assert report["skipped"][0][0] == str(tmp_path / "missing.jpg")
    assert not any(p.exists() for p in photos)
    trash = home / "xdg" / "Trash"
    assert len(list((trash / "files").iterdir())) == 3
    assert len(list((trash / "info").glob("*.trashinfo"))) == 3
    (batch,) = Trash(home / "data").batches()
    assert all(f.trashed for f in batch.files)  # each one was found

    restored = run_trash(home, "undo")
    assert sorted(restored["done"]) == sorted(str(p) for p in photos)
    assert [p.read_bytes() for p in photos] == [b"photo 0", b"photo 1", b"photo 2"]
    assert not list((trash / "files").iterdir()) and not list((trash / "info").iterdir())


def test_undo_never_overwrites_and_reports_what_is_gone(tmp_path: Path, photos: list[Path]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    run_trash(home, "move", *photos)
    photos[0].write_bytes(b"a new photo in the old place")
    trashed = locate_freedesktop(photos[1], [(home / "xdg" / "Trash", home / "xdg")])
    assert trashed is not None
    trashed.unlink()  # the user emptied part of the trash

    report = run_trash(home, "undo")
    assert report["done"] == [str(photos[2])]
    reasons = dict(report["skipped"])
    assert "taken its place" in reasons[str(photos[0])]
    assert "no longer in the trash" in reasons[str(photos[1])]
    assert photos[0].read_bytes() == b"a new photo in the old place"
    assert len(list((home / "xdg" / "Trash" / "files").iterdir())) == 1  # still there


def test_undo_takes_back_one_batch_at_a_time(tmp_path: Path) -> None:
    moved: list[Path] = []
    trash_folder = tmp_path / "fake-trash"
    trash_folder.mkdir()

    def send(path: Path) -> None:
        path.rename(trash_folder / path.name)
        moved.append(path)

    def locate(original: Path, size: int, mtime_ns: int) -> Path | None:
        return trash_folder / original.name

    trash = Trash(tmp_path / "data", send=send, locate=locate)
    with pytest.raises(KnownError, match="Nothing was moved"):
        trash.undo()
    first, second = tmp_path / "1.jpg", tmp_path / "2.jpg"
    first.write_bytes(b"1")
    second.write_bytes(b"2")
    trash.move([first])
    trash.move([second])
    assert trash.undo().done == [second] and second.exists() and not first.exists()
    assert trash.undo().done == [first] and first.exists()
    with pytest.raises(KnownError):
        trash.undo()


def _fake_trash(folder: Path) -> tuple[Callable[[Path], None], Callable[..., Path | None]]:
    folder.mkdir()

    def send(path: Path) -> None:
        path.rename(folder / path.name)

    def locate(original: Path, size: int, mtime_ns: int) -> Path | None:
        return folder / original.name

    return send, locate


def test_a_batch_in_the_journal_of_an_earlier_version_can_still_be_undone(
    tmp_path: Path,
) -> None:
    send, locate = _fake_trash(tmp_path / "fake-trash")
    photo = tmp_path / "kept.jpg"
    photo.write_bytes(b"kept")
    stat = photo.stat()
    send(photo)
    old = {"id": "a1", "when": 1.0, "undone": False, "files": [
        {"original": str(photo), "trashed": str(tmp_path / "fake-trash" / "kept.jpg"),
         "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}]}  # fmt: skip
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "trash-journal.json").write_text(json.dumps({"batches": [old]}))
    trash = Trash(tmp_path / "data", send=send, locate=locate)
    assert trash.undo().done == [photo] and photo.read_bytes() == b"kept"
    assert trash.batches()[0].undone  # and it is not undone twice
    with pytest.raises(KnownError, match="Nothing was moved"):
        trash.undo()


def test_moving_many_files_appends_to_the_journal_and_never_reads_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each file's journal cost must not grow with the batch or the history."""
    from photoclip.core import trash as module

    send, locate = _fake_trash(tmp_path / "fake-trash")
    paths = [tmp_path / f"{i}.jpg" for i in range(30)]
    for path in paths:
        path.write_bytes(path.name.encode())
    trash = Trash(tmp_path / "data", send=send, locate=locate)
    monkeypatch.setattr(module, "records", lambda path: pytest.fail("read the journal"))
    assert trash.move(paths).done == paths
    monkeypatch.undo()
    (batch,) = trash.batches()
    assert [f.original for f in batch.files] == paths and all(f.trashed for f in batch.files)


KILLED_SCRIPT = """
import sys, time
from pathlib import Path
from photoclip.core import trash as module
from photoclip.core.trash import Trash

def slow_send(path):  # a slow drive: each move takes a while, and the kill falls in one
    time.sleep(0.004)
    module._send2trash(path)
    time.sleep(0.004)

trash = Trash(Path(sys.argv[1]), send=slow_send)
print("ready", flush=True)
trash.move([Path(p) for p in sys.argv[2:]])
print("done", flush=True)
"""


def checksums(paths: list[Path]) -> dict[Path, str]:
    import hashlib

    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.exists()}


@pytest.mark.parametrize("seed", range(6))
def test_a_kill_at_any_moment_of_a_move_leaves_nothing_undo_cannot_bring_back(
    tmp_path: Path, seed: int
) -> None:
    import random
    import signal

    home, folder = tmp_path / "home", tmp_path / "photos"
    home.mkdir()
    folder.mkdir()
    paths = [folder / f"photo {i:02d}.jpg" for i in range(40)]
    for number, path in enumerate(paths):
        path.write_bytes(os.urandom(2000) + bytes([number]))
    before = checksums(paths)
    env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / "xdg")}
    with subprocess.Popen(
        [sys.executable, "-c", KILLED_SCRIPT, str(home / "data"), *map(str, paths)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as mover:
        assert mover.stdout is not None and mover.stdout.readline() == "ready\n"
        time.sleep(random.Random(seed).uniform(0.02, 0.3))  # somewhere in the moves
        mover.send_signal(signal.SIGKILL)
        mover.wait(30)

    if (home / "data" / "trash-journal.log").exists():
        run_trash(home, "undo")
    assert checksums(paths) == before  # every file back, byte for byte
    files = home / "xdg" / "Trash" / "files"
    assert not files.exists() or not list(files.iterdir())  # and nothing left behind


def test_a_move_reports_each_file_done_of_all_skipped_ones_included(tmp_path: Path) -> None:
    send, locate = _fake_trash(tmp_path / "fake-trash")
    paths = [tmp_path / "a.jpg", tmp_path / "missing.jpg", tmp_path / "b.jpg"]
    paths[0].write_bytes(b"a")
    paths[2].write_bytes(b"b")
    steps: list[tuple[int, int]] = []
    report = Trash(tmp_path / "data", send=send, locate=locate).move(
        paths, lambda done, total: steps.append((done, total))
    )
    assert report.done == [paths[0], paths[2]] and steps == [(1, 3), (2, 3), (3, 3)]
