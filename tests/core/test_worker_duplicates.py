"""The worker's jobs for duplicates, the trash and textness, with a tiny random CLIP (exact
copies share bytes, so they group whatever the weights) and a fake trash folder."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from photoclip.core import trash
from photoclip.core.actions import FindDuplicates, TrashPhotos, UndoTrash
from photoclip.core.paths import Locations
from photoclip.core.textness import load_direction
from photoclip.core.worker import ComputeTextness, Worker, WorkerSettings
from tests.conftest import TINY_ARCH
from tests.core.test_worker import catalog, paths
from tests.photos import make_photo

FAST = WorkerSettings(batch_size=4, settle_seconds=0.15, min_slice=0.0)


@pytest.fixture
def fake_trash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """send2trash and the trash lookup pointed at a folder of the test's own."""
    folder = tmp_path / "fake-trash"
    folder.mkdir()
    monkeypatch.setattr(trash, "_send2trash", lambda path: path.rename(folder / path.name))
    monkeypatch.setattr(trash, "locate_in_trash", lambda original, *_: folder / original.name)
    return folder


@pytest.fixture
def worker(tmp_path: Path, tiny_encoder: Any) -> Iterator[Worker]:
    folder = tmp_path / "album"
    for i in range(6):
        make_photo(folder / f"photo{i}.jpg", (40 * i, 90, 200 - 20 * i), pattern=i)
    shutil.copy(folder / "photo2.jpg", folder / "copy-of-2.jpg")
    running = Worker(Locations.from_environment(), lambda _: tiny_encoder, TINY_ARCH, FAST)
    running.start([folder])
    assert running.wait_idle(30)
    yield running
    running.stop(timeout=30)


def test_find_trash_and_undo_through_the_worker(
    worker: Worker, fake_trash: Path, tmp_path: Path
) -> None:
    found: list[Any] = []
    worker.submit(FindDuplicates(reply=found.append))
    assert worker.wait_idle(30)
    [groups] = found
    copy = tmp_path / "album" / "copy-of-2.jpg"
    assert [sorted(p.path.name for p in g.photos) for g in groups] == [
        ["copy-of-2.jpg", "photo2.jpg"]
    ]

    reports: list[Any] = []
    paths_then: list[Any] = []
    worker.submit(TrashPhotos((copy,), reply=reports.append))
    assert worker.wait_idle(30)
    assert reports[0].done == [copy] and (fake_trash / copy.name).exists()
    assert not copy.exists() and copy not in paths()

    # The reply comes once the restored photo is indexed again: a search right after it
    # (as the dialog runs) finds the group again.
    worker.submit(
        UndoTrash(reply=lambda report: (reports.append(report), paths_then.append(paths())))
    )
    assert worker.wait_idle(30)
    assert reports[1].done == [copy] and not (fake_trash / copy.name).exists()
    assert copy in paths_then[0]
    worker.submit(FindDuplicates(reply=found.append))
    assert worker.wait_idle(30)
    assert [sorted(p.path.name for p in g.photos) for g in found[1]] == [
        ["copy-of-2.jpg", "photo2.jpg"]
    ]


def test_textness_is_computed_once_and_stored_for_the_active_model(worker: Worker) -> None:
    worker.submit(ComputeTextness())
    assert worker.wait_idle(60)
    with catalog() as opened:
        key = opened.active_model
        assert key is not None
        stored = load_direction(opened, key)
    assert stored is not None and stored.vector.shape == (32,)
