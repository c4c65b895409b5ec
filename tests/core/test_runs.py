"""Run markers: what `photoclip status` says about a run that stopped early."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from photoclip.core import runs
from photoclip.core.catalog import Catalog


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return Catalog.open(tmp_path / "catalog.sqlite3")


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(done.stdout)


def _killed(catalog: Catalog, command: str) -> runs.Run:
    """A marker as a run killed mid-way leaves it."""
    run = runs.Run(command, _dead_pid(), 1_700_000_000.0)
    with catalog.transaction():
        catalog.set_meta(f"run:{run.pid}", json.dumps(run.__dict__))
    return run


def test_a_clean_run_leaves_no_marker(catalog: Catalog) -> None:
    with runs.recorded(catalog, "index") as run:
        assert runs.markers(catalog) == [run] and run.running
        assert runs.unfinished(catalog) == []
    assert runs.markers(catalog) == []


def test_an_error_is_kept_as_the_reason(catalog: Catalog) -> None:
    with pytest.raises(OSError), runs.recorded(catalog, "index"):
        raise OSError(28, "No space left on device")
    [run] = runs.unfinished(catalog)
    assert run.command == "index" and run.pid == os.getpid()
    assert run.reason == "OSError: [Errno 28] No space left on device"


def test_a_killed_run_is_unfinished_until_a_clean_run_of_its_command(catalog: Catalog) -> None:
    index, watch = _killed(catalog, "index"), _killed(catalog, "watch")
    assert sorted(runs.unfinished(catalog), key=lambda r: r.command) == [index, watch]
    assert index.reason is None and not index.running
    with runs.recorded(catalog, "index"):
        pass
    assert runs.unfinished(catalog) == [watch]


def test_a_marker_it_cannot_read_is_skipped(catalog: Catalog) -> None:
    odd = ['{"command": "index", "from": "a later version"}', "not json", "[]",
           '{"command": "index", "pid": 1, "started_at": 1e300}']  # fmt: skip
    with catalog.transaction():
        for n, value in enumerate(odd):
            catalog.set_meta(f"run:{n}", value)
    assert runs.markers(catalog) == []


def test_a_marker_that_cannot_be_written_never_hides_the_run_s_own_error(
    catalog: Catalog,
) -> None:
    with pytest.raises(OSError, match="No space"), runs.recorded(catalog, "index"):
        catalog.close()  # the catalog is gone too: recording the reason fails
        raise OSError(28, "No space left on device")
