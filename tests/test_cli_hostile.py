"""Hostile input end to end (issue 16): the real `photoclip` in a subprocess, fed special
files, a hostile library and kills at random moments of two concurrent writers."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from photoclip.core.library import Library
from photoclip.core.paths import Locations
from tests import hostile
from tests.core.test_indexing import assert_index_agrees_with_catalog
from tests.photos import make_photo
from tests.test_cli_watch import environment, saved_index_is_current, watch

pytestmark = pytest.mark.slow


def photoclip(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
    """Bytes out: what a terminal gets, odd file names included."""
    return subprocess.run(
        [sys.executable, "-m", "photoclip", *args],
        capture_output=True,
        env=environment(),
        timeout=timeout,
    )


def index(*folders: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "photoclip", "index", *map(str, folders)],
        env=environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture
def indexed(tmp_path: Path) -> Path:
    folder = tmp_path / "album"
    make_photo(folder / "a.jpg", (200, 20, 20))
    assert photoclip("index", str(folder)).returncode == 0
    return folder


@pytest.mark.parametrize("kind", ["device", "fifo", "folder"])
def test_similar_refuses_a_special_file_at_once(indexed: Path, tmp_path: Path, kind: str) -> None:
    target = {"device": Path("/dev/zero"), "fifo": tmp_path / "x.jpg", "folder": tmp_path / "d.jpg"}
    if kind == "fifo":
        os.mkfifo(target[kind])  # its open() blocked `similar` forever
    elif kind == "folder":
        target[kind].mkdir()
    started = time.monotonic()
    result = photoclip("similar", str(target[kind]), timeout=60)
    assert result.returncode == 1
    assert f"Cannot use {target[kind]}: a ".encode() in result.stderr
    assert b"Traceback" not in result.stderr
    assert time.monotonic() - started < 30  # /dev/zero was read until memory ran out


def test_a_hostile_library_indexes_in_one_run_and_prints_odd_names(tmp_path: Path) -> None:
    root = tmp_path / "hostile"
    made = hostile.make_library(root, seed=7, truncations=4, flips=2)
    first = photoclip("index", str(root), "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["embedded"] + report["reused"] + report["failed"] == len(made)
    assert all(failure["reason"] for failure in report["failures"])
    status = photoclip("status")
    assert status.returncode == 0 and b"Traceback" not in status.stderr
    assert b"sparse-600mb.jpg: file too large (600 MB), the limit is 512 MB" in status.stdout
    found = photoclip("search", "a photo", "-n", "200")
    assert found.returncode == 0 and b"Traceback" not in found.stderr
    assert b"/names/not-utf8-\xff\xfe.jpg\n" in found.stdout  # the name's own bytes
    again = json.loads(photoclip("index", str(root), "--json").stdout)
    assert (again["embedded"], again["failed"], again["unchanged"]) == (0, 0, len(made))


def test_kill_9_of_index_and_watch_at_random_moments_leaves_a_consistent_library(
    tmp_path: Path,
) -> None:
    """`watch` of one folder and `index` of another run side by side and are killed at
    random moments, with photos changing between rounds; then one `index` completes and
    the saved index must agree with the catalog, vector for vector."""
    rng = random.Random(16)
    watched, indexed, log = tmp_path / "watched", tmp_path / "indexed", tmp_path / "watch.log"
    for i in range(24):
        make_photo(watched / f"w{i}.jpg", (i * 10, 80, 160), pattern=i)
        make_photo(indexed / f"i{i}.jpg", (160, i * 10, 80), pattern=i + 40)
    for round_ in range(4):
        processes = [watch(watched, log=log), index(indexed)]
        time.sleep(rng.uniform(1.0, 8.0))
        for n in rng.sample(range(24), 4):  # changes while they run: new bytes, new vectors
            make_photo(watched / f"w{n}.jpg", (n, 250, round_ * 40), pattern=n + 7 * round_)
            make_photo(indexed / f"i{n}.jpg", (250, n, round_ * 40), pattern=n + 9 * round_)
        time.sleep(rng.uniform(0.0, 3.0))
        for process in processes:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
    final = photoclip("index", str(watched), str(indexed))
    assert final.returncode == 0, final.stderr
    with Library.open(Locations.from_environment()) as library:
        counts = library.catalog.counts()
        key = str(library.catalog.active_model)
    assert (counts.photos, counts.indexed) == (48, 48)
    assert saved_index_is_current() == 48
    assert_index_agrees_with_catalog(Locations.from_environment(), key)
