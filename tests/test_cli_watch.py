"""`photoclip watch` in a subprocess: live indexing, status from outside, clean stops, and
kill -9 at any moment without losing or duplicating a photo."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from photoclip.core.catalog import Catalog
from photoclip.core.errors import CatalogError
from photoclip.core.library import Library
from photoclip.core.paths import Locations
from photoclip.core.profiles import TEST_SHAPES_WEIGHTS
from photoclip.core.searchservice import socket_path
from photoclip.core.vectorindex import read_header
from photoclip.core.workerstatus import read_status
from tests.core.test_worker import eventually
from tests.photos import make_photo
from tests.test_cli_imports import photoclip as imports_of

pytestmark = pytest.mark.slow

# The trained test-shapes model when it exists; else its architecture with random weights
# (the mechanics under test do not need a model that understands anything).
MODEL_ENV = (
    {"PHOTOCLIP_MODEL": "test-shapes"}
    if TEST_SHAPES_WEIGHTS.exists()
    else {"PHOTOCLIP_MODEL": "PhotoClip-TestShapes", "PHOTOCLIP_ALLOW_RANDOM_WEIGHTS": "1"}
)


def environment() -> dict[str, str]:
    return {**os.environ, **MODEL_ENV}


def watch(*paths: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "photoclip", "watch", *map(str, paths)],
            env=environment(),
            stdout=sink,
            stderr=sink,
        )


def status() -> Any:
    result = subprocess.run(
        [sys.executable, "-m", "photoclip", "status", "--json"],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def catalog_state() -> dict[Path, int]:
    """path -> id of every indexed photo, read as another process would."""
    path = Locations.from_environment().catalog
    if not path.exists():
        return {}
    try:
        with Catalog.open(path, readonly=True) as catalog:
            return {p.path: p.id for p in catalog.photos(sorted(catalog.filter_ids())).values()}
    except (sqlite3.Error, CatalogError):  # created, but not yet migrated
        return {}


def worker_file() -> dict[str, Any]:
    try:
        raw = (Locations.from_environment().data / "worker.json").read_text()
        return dict(json.loads(raw))
    except (OSError, ValueError):
        return {}


def photos(folder: Path, count: int, start: int = 0) -> list[Path]:
    return [
        make_photo(folder / f"s{i % 3}" / f"p{i}.jpg", (i % 250, 90, 40), pattern=i).resolve()
        for i in range(start, start + count)
    ]


def test_watch_indexes_live_reports_status_and_stops_cleanly(tmp_path: Path) -> None:
    album = tmp_path / "album"
    photos(album, 4)
    process = watch(album, log=tmp_path / "watch.log")
    try:
        eventually(lambda: len(catalog_state()) == 4, timeout=60)
        new = make_photo(album / "later.jpg", (5, 200, 5)).resolve()
        eventually(lambda: new in catalog_state(), timeout=20)
        eventually(lambda: worker_file().get("worker") == "idle", timeout=20)
        seen = status()
        assert (seen["worker"], seen["queue"], seen["indexed"]) == ("idle", 0, 5)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, (tmp_path / "watch.log").read_text()
    assert read_status(Locations.from_environment())["worker"] == "stopped"
    assert saved_index_is_current() == 5


def test_kill_9_at_any_moment_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    album, log = tmp_path / "album", tmp_path / "watch.log"
    files = photos(album, 48)
    survivors: dict[Path, int] = {}
    for kill_after in (1, 16, 32):  # photos in the catalog when the process is killed
        process = watch(album, log=log)
        eventually(lambda: len(catalog_state()) >= kill_after, timeout=90)  # noqa: B023
        if kill_after == 16:
            files += photos(album, 4, start=1000)  # a live change in flight, too
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        state = catalog_state()
        assert all(state.get(path) == id_ for path, id_ in survivors.items())
        survivors = state
    process = watch(album, log=log)
    try:
        eventually(lambda: len(catalog_state()) == len(files), timeout=90)
        eventually(lambda: worker_file().get("worker") == "idle", timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()
    final = catalog_state()
    assert sorted(final) == sorted(files)  # nothing lost, nothing twice
    assert all(final[path] == id_ for path, id_ in survivors.items())  # same ids
    assert saved_index_is_current() == 52


def saved_index_is_current() -> int:
    """The index was saved at the catalog's generation with every vector: its size."""
    locations = Locations.from_environment()
    with Library.open(locations, readonly=True) as library:
        record = library.active_model
        assert record is not None
        # The library's own file name: a key's ':' and '+' (its framing) become '_'.
        header = read_header(library._index_path(record.key))
        assert header.generation == library.catalog.generation
        assert header.count == len(library.catalog.photo_ids_with_vectors(record.key))
        assert len(library.index()) == header.count
        return header.count


def test_search_asks_the_running_watch_and_survives_its_kill(tmp_path: Path) -> None:
    """With no text export, only the worker can answer a text search without torch: the
    import check proves who answered. Killed, it leaves a stale socket; search goes on."""
    album = tmp_path / "album"
    photos(album, 4)
    process = watch(album, log=tmp_path / "watch.log")
    try:
        eventually(lambda: len(catalog_state()) == 4, timeout=60)
        eventually(lambda: worker_file().get("worker") == "idle", timeout=20)
        served = imports_of("search", "a red photo", "--json")
        assert served["loaded"] == []
        assert not served["numpy"]  # nor numpy (0.1 s of the 0.3 s an answer may take)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    socket_file = socket_path(Locations.from_environment())
    assert socket_file is not None and socket_file.exists()  # stale: nobody listens
    local = imports_of("search", "a red photo", "--json")
    assert "torch" in local["loaded"]
    assert json.loads(local["stdout"]) == json.loads(served["stdout"])


def test_watch_serves_the_towers_exports_where_they_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the window's model process: no torch model once both exports are there."""
    from photoclip.cli import _watch_encoder
    from photoclip.core.embedding import ExportedTowers, LocalEncoder, load_encoder
    from photoclip.core.exports import IMAGE_EXPORT
    from photoclip.core.profiles import resolve_profile
    from photoclip.core.settings import Settings
    from tests.core.exportfiles import both_exports_on_cpu

    model = load_encoder(resolve_profile("test-shapes"), device="cpu", keep_probe=False)
    cache = both_exports_on_cpu(model, tmp_path / "cache")
    monkeypatch.setenv("PHOTOCLIP_CACHE_DIR", str(cache))
    served = _watch_encoder("test-shapes", None, Settings())
    assert isinstance(served, ExportedTowers)
    with Image.open(make_photo(tmp_path / "one.jpg", pattern=3)) as photo:
        assert np.allclose(served.encode_pil([photo]), model.encode_pil([photo]), atol=1e-4)
    IMAGE_EXPORT.paths(cache, model.model_key)[1].unlink()  # no image export: the model
    assert isinstance(_watch_encoder("test-shapes", None, Settings()), LocalEncoder)
