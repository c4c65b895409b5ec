"""The `photoclip` command under odd input, damaged state and interruptions (issue 16,
items 8, 10, 11 and the status of runs that stopped early): every case
gives a plain message and the documented exit code (0 done, 1 a problem the message
explains, 2 bad usage), never a traceback. Most run `main()` in-process (fast); the
traceback guard is also checked in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from photoclip import cli
from photoclip.core.catalog import Catalog
from photoclip.core.errors import KnownError
from photoclip.core.library import Library
from photoclip.core.paths import Locations
from tests.photos import make_photo


@pytest.fixture
def album(tmp_path: Path) -> Path:
    folder = tmp_path / "album"
    for i in range(6):
        make_photo(folder / f"photo{i}.jpg", (40 * i, 90, 200 - 20 * i), pattern=i)
    return folder


def _loads(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Record every model the CLI loads (and still load it)."""
    asked: list[str | None] = []
    real = cli._load_encoder

    def load(profile: str | None, device: str | None, settings: Any, *towers: Any) -> Any:
        asked.append(profile)
        return real(profile, device, settings, *towers)

    monkeypatch.setattr(cli, "_load_encoder", load)
    return asked


def test_the_library_keeps_its_model_after_a_first_run_killed_early(
    album: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reported: a first `index --model test-shapes` killed early left "model null", and
    `index DIR` / `watch` without --model then loaded the default model."""

    def killed(self: Any, progress: Any) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(cli._ProgressBar, "update", killed)
        assert cli.main(["index", "--model", "test-shapes", str(album)]) == 130
    # A photo the killed run never saw: the next run must build a model (a run with
    # nothing to embed builds none at all), and it must be the library's.
    make_photo(album / "later.jpg", (10, 200, 30), pattern=7)
    asked = _loads(monkeypatch)
    assert cli.main(["index", str(album), "--json"]) == 0
    assert asked == ["test-shapes"]
    with Library.open(Locations.from_environment(), readonly=True) as library:
        assert library.catalog.counts().indexed == 7

    chosen: list[str] = []
    monkeypatch.setattr("photoclip.core.worker.serve", lambda w, roots: chosen.append(w.profile))
    assert cli.main(["watch"]) == 0
    assert chosen == ["test-shapes"]


@pytest.fixture
def indexed(album: Path) -> Path:
    """The album, indexed with test-shapes; returns the data folder."""
    assert cli.main(["index", "--model", "test-shapes", str(album), "--json"]) == 0
    return Locations.from_environment().data


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = cli.main(list(args))
    except SystemExit as exit:  # argparse's usage errors
        code = int(exit.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("n", ["-1", "0", "x"])
def test_a_result_count_below_one_is_bad_usage(n: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Reported: `-n -1` was accepted."""
    code, _, err = _run(capsys, "search", "dog", "-n", n)
    assert code == 2 and "1 or more" in err


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_score_that_is_not_a_number_is_bad_usage(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, "search", "dog", f"--min-score={value}")
    assert code == 2 and "not a number" in err


def test_filters_that_can_match_nothing_say_so(
    indexed: Path, album: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Reported: `--tag Nope:x` and `--folder /nonexistent` succeeded with no results and
    no message."""
    code, out, err = _run(capsys, "search", "circle", "--tag", "Nope:x")
    assert code == 1 and "There is no tag Nope:x" in err and not out
    code, out, err = _run(capsys, "search", "circle", "--folder", str(tmp_path / "nonexistent"))
    assert code == 1 and "not in any of PhotoClip's folders" in err and str(album) in err
    code, out, _ = _run(capsys, "search", "circle", "--folder", str(album), "--json")
    assert code == 0 and len(json.loads(out)["results"]) == 6
    code, out, _ = _run(capsys, "search", "circle", "--folder", str(tmp_path), "--json")
    assert code == 0 and len(json.loads(out)["results"]) == 6  # a folder holding a root


def test_weights_are_numbers_in_any_form_and_must_be_finite(
    indexed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reported: `1e308:dog` was searched as text, and `1000…0:dog` (inf) ended in a
    traceback."""
    _, plain, _ = _run(capsys, "search", "a red circle", "--json")
    code, huge, _ = _run(capsys, "search", "1e308:a red circle", "--json")
    assert code == 0 and json.loads(huge) == json.loads(plain)
    code, out, err = _run(capsys, "search", "1" + "0" * 400 + ":dog")
    assert code == 2 and "weight" in err and "Traceback" not in err and not out


@pytest.mark.parametrize("folder", ["thumbnails", "indexes"])
def test_a_file_where_a_data_folder_should_be_is_explained(
    indexed: Path, album: Path, folder: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reported: a file where the thumbnails or indexes folder should be broke every
    command, status included."""
    shutil.rmtree(indexed / folder)
    (indexed / folder).write_text("in the way")
    code, out, _ = _run(capsys, "status", "--json")
    assert code == 0 and json.loads(out)["indexed"] == 6
    code, out, _ = _run(capsys, "search", "a red circle", "--json")
    assert code == 0 and len(json.loads(out)["results"]) == 6
    code, _, err = _run(capsys, "index", str(album))
    assert code == 1 and f"{indexed / folder} should be a folder" in err


def test_an_unexpected_error_is_one_line_and_the_traceback_is_in_the_log(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: Any) -> int:
        raise RuntimeError("something\nno one expected")

    monkeypatch.setattr(cli, "run_status", broken)
    code, out, err = _run(capsys, "status")
    assert code == 1 and not out
    assert err.count("\n") == 1 and "Traceback" not in err
    log_file = Locations.from_environment().cache / "photoclip.log"
    assert "RuntimeError: something no one expected" in err and str(log_file) in err
    logged = log_file.read_text(encoding="utf-8")
    assert "Traceback" in logged and "no one expected" in logged and "status stopped" in logged


def test_status_tells_of_an_index_run_that_stopped_early_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An index killed (no chance to say why) is shown; a clean run clears it."""
    album = tmp_path / "big-album"
    for i in range(80):  # seconds of work: the kill lands mid-run
        make_photo(album / f"{i}.jpg", (3 * i, 90, 250 - 3 * i), pattern=i)
    command = [sys.executable, "-m", "photoclip", "index", "--model", "test-shapes"]
    killed = subprocess.Popen([*command, str(album)], env=os.environ.copy())
    catalog = Locations.from_environment().catalog
    deadline = time.monotonic() + 120
    while not _indexing_begun(catalog) and time.monotonic() < deadline:
        time.sleep(0.05)
    killed.kill()
    killed.wait()
    code, out, _ = _run(capsys, "status", "--json")
    runs = json.loads(out)["unfinished_runs"]
    assert code == 0 and [(r["command"], r["pid"], r["reason"]) for r in runs] == [
        ("index", killed.pid, None)
    ]
    _, text, _ = _run(capsys, "status")
    assert "stopped early: `index` started" in text and "no reason was recorded" in text

    assert cli.main(["index", str(album), "--json"]) == 0
    assert json.loads(_run(capsys, "status", "--json")[1])["unfinished_runs"] == []


def _indexing_begun(catalog: Path) -> bool:
    """The run is marked and its model recorded."""
    if not catalog.exists():
        return False
    try:
        with Catalog.open(catalog, readonly=True) as opened:
            marked = opened.read("SELECT 1 FROM meta WHERE key LIKE 'run:%'")
            return bool(marked) and opened.active_model is not None
    except KnownError:
        return False


def _unprivileged() -> list[str]:
    """A prefix that takes root's power to write anywhere (so a read-only folder is one)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: a read-only folder cannot be made")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


def test_a_read_only_data_folder_still_answers_status_and_search(indexed: Path) -> None:
    """Reported: a read-only data folder blocked even read-only commands."""
    for path in [indexed, *indexed.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        for args in (["status", "--json"], ["search", "a red circle", "--json"]):
            done = subprocess.run(
                [*_unprivileged(), sys.executable, "-m", "photoclip", *args],
                capture_output=True,
                text=True,
                env=os.environ.copy(),
                timeout=300,
            )
            assert done.returncode == 0, done.stderr
            assert "Traceback" not in done.stderr
            found = json.loads(done.stdout)
            assert found.get("indexed", 6) == 6 and len(found.get("results", [0] * 6)) == 6
    finally:
        for path in [indexed, *indexed.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)


def test_a_watch_that_stops_on_an_error_says_so_and_status_keeps_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from photoclip.core.worker import Worker

    def broken(self: Worker, roots: Any) -> None:
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(Worker, "_open", broken)
    code, _, err = _run(capsys, "watch")
    assert code == 1 and "Watching stopped on an error: RuntimeError: the disk went away" in err
    code, out, _ = _run(capsys, "status", "--json")
    [run] = json.loads(out)["unfinished_runs"]
    assert run["command"] == "watch" and "the disk went away" in run["reason"]
