"""One-shot commands that need no model import neither torch nor open_clip (issue 17).

Each command runs in its own interpreter through a small wrapper that, after the command
has finished, says which heavy modules are in `sys.modules`: the import itself is what
costs seconds, so its presence is the thing to check, not a timing on a loaded machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from photoclip.synthetic.scenes import single_object_scene

pytestmark = pytest.mark.slow

HEAVY = ("torch", "open_clip")

WRAPPER = f"""
import json, runpy, sys
sys.argv = ["photoclip", *sys.argv[1:]]
try:
    runpy.run_module("photoclip", run_name="__main__", alter_sys=True)
    code = 0
except SystemExit as exit:
    code = exit.code
loaded = [name for name in {HEAVY!r} if name in sys.modules]
sys.stderr.write("\\n" + json.dumps({{"code": code, "loaded": loaded}}) + "\\n")
"""


def photoclip(*args: str) -> dict[str, Any]:
    """Run the command; returns its exit code and the heavy modules it imported."""
    result = subprocess.run(
        [sys.executable, "-c", WRAPPER, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PHOTOCLIP_MODEL": "test-shapes"},
        timeout=300,
    )
    found: dict[str, Any] = json.loads(result.stderr.strip().splitlines()[-1])
    assert found["code"] == 0, result.stderr
    return found


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library of three scenes, indexed, with the suggested tag categories added."""
    home = tmp_path_factory.mktemp("home")
    folder = home / "scenes"
    folder.mkdir()
    for colour, shape in [("red", "circle"), ("blue", "square"), ("green", "triangle")]:
        single_object_scene(colour, shape).render().save(folder / f"{colour}-{shape}.png")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PHOTOCLIP_DATA_DIR", str(home / "data"))
        patch.setenv("PHOTOCLIP_CACHE_DIR", str(home / "cache"))
        assert "torch" in photoclip("index", str(folder))["loaded"]  # the wrapper sees it
        photoclip("tags", "suggest", "--add")
    return home


@pytest.fixture
def library(indexed: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PHOTOCLIP_DATA_DIR", str(indexed / "data"))
    monkeypatch.setenv("PHOTOCLIP_CACHE_DIR", str(indexed / "cache"))
    return indexed / "scenes"


@pytest.mark.parametrize(
    "command",
    [
        ["index", "{scenes}"],
        ["status"],
        ["tags", "list"],
        ["tags", "check"],
        ["tags", "suggest"],
        ["tag"],
        ["sort", "--plan", "--rule", "Colours:red=album:reds"],
        ["albums"],
        ["duplicates"],
    ],
    ids=" ".join,
)
def test_commands_that_need_no_model_import_no_torch(library: Path, command: list[str]) -> None:
    args = [part.format(scenes=library) for part in command]
    assert photoclip(*args)["loaded"] == []


def test_a_new_photo_builds_the_model(library: Path, tmp_path: Path) -> None:
    extra = tmp_path / "more"
    extra.mkdir()
    single_object_scene("yellow", "star").render().save(extra / "yellow-star.png")
    assert "torch" in photoclip("index", str(extra))["loaded"]
