"""The `photoclip` command under odd input, damaged state and interruptions: every case
gives a plain message and the documented exit code (0 done, 1 a problem the message
explains, 2 bad usage), never a traceback. Most run `main()` in-process (fast); the
traceback guard is also checked in a subprocess."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from photoclip import cli
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

    def load(profile: str | None, device: str | None, settings: Any) -> Any:
        asked.append(profile)
        return real(profile, device, settings)

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
    asked = _loads(monkeypatch)
    assert cli.main(["index", str(album), "--json"]) == 0
    assert asked == ["test-shapes"]
    with Library.open(Locations.from_environment(), readonly=True) as library:
        assert library.catalog.counts().indexed == 6

    chosen: list[str] = []
    monkeypatch.setattr("photoclip.core.worker.serve", lambda w, roots: chosen.append(w.profile))
    assert cli.main(["watch"]) == 0
    assert chosen == ["test-shapes"]
