"""The `photoclip` command end to end, in a subprocess, with an isolated data folder.

Uses the project's own test-shapes model, so a search really has to find the right scene.
"""

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

SCENES = [
    ("red", "circle"),
    ("blue", "square"),
    ("green", "triangle"),
    ("yellow", "star"),
    ("purple", "circle"),
    ("orange", "square"),
]


def photoclip(
    *args: str, check: bool = True, model: str = "test-shapes"
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "photoclip", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PHOTOCLIP_MODEL": model},
        timeout=300,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def as_json(*args: str) -> Any:
    return json.loads(photoclip(*args, "--json").stdout)


@pytest.fixture
def scenes(tmp_path: Path) -> Path:
    folder = tmp_path / "scenes"
    folder.mkdir()
    for colour, shape in SCENES:
        single_object_scene(colour, shape).render().save(folder / f"{colour}-{shape}.png")
    (folder / "broken.jpg").write_bytes(b"not a photo")
    return folder


def test_help_is_instant_and_lists_the_commands() -> None:
    out = photoclip("--help").stdout
    for command in ("index", "search", "similar", "status", "doctor"):
        assert command in out


def test_index_search_similar_status_round_trip(scenes: Path) -> None:
    report = as_json("index", str(scenes), "--model", "test-shapes")
    assert {k: report[k] for k in ("embedded", "reused", "unchanged", "failed")} == {
        "embedded": 6,
        "reused": 0,
        "unchanged": 0,
        "failed": 1,
    }
    assert report["failures"][0]["path"].endswith("broken.jpg")

    found = as_json("search", "a red circle", "-n", "3")["results"]
    assert Path(found[0]["path"]).name == "red-circle.png"
    assert found[0]["score"] > found[1]["score"] and {"id", "path", "score"} <= set(found[0])

    similar = as_json("similar", str(scenes / "purple-circle.png"), "-n", "5")["results"]
    assert "purple-circle.png" not in {Path(r["path"]).name for r in similar}
    assert len(similar) == 5

    status = as_json("status")
    assert (status["photos"], status["indexed"], status["failed"]) == (7, 6, 1)
    assert status["index_size"] == 6 and status["model"] == "test-shapes"
    assert status["failures"][0]["reason"]

    # No --model, and PHOTOCLIP_MODEL names another profile: the library keeps its own.
    result = photoclip("index", str(scenes), "--json", model="fast")
    again = json.loads(result.stdout)
    assert (again["embedded"], again["unchanged"]) == (0, 7)


def test_filters_and_cutoff(scenes: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    single_object_scene("red", "circle", size="small").render().save(other / "small-red.png")
    photoclip("index", str(scenes), str(other))
    inside = as_json("search", "a red circle", "--folder", str(other))["results"]
    assert [Path(r["path"]).name for r in inside] == ["small-red.png"]
    everything = as_json("search", "a red circle", "-n", "50")["results"]
    best = everything[0]["score"]
    cut = as_json("search", "a red circle", "--min-score", str(best - 1e-4))["results"]
    assert len(cut) == 1 < len(everything)
    assert as_json("search", "a red circle", "--until", "2000-01-01")["results"] == []


def test_search_before_indexing_says_what_to_do() -> None:
    result = photoclip("search", "a dog", check=False)
    assert result.returncode == 1
    assert "photoclip index" in result.stderr and "Traceback" not in result.stderr


def test_random_weights_are_refused_without_the_switch(scenes: Path) -> None:
    result = photoclip("index", str(scenes), "--model", "ViT-B-32", check=False)
    assert result.returncode == 1 and "PHOTOCLIP_ALLOW_RANDOM_WEIGHTS" in result.stderr


def test_indexing_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    result = photoclip("index", str(tmp_path / "nowhere"), check=False)
    assert result.returncode == 1 and "is not a folder" in result.stderr


def test_doctor_reports_device_and_weights() -> None:
    from photoclip.core.paths import Locations
    from photoclip.core.settings import Settings

    chosen = Path(os.environ["PHOTOCLIP_DATA_DIR"]).parent / "thumbs"
    Settings(thumbnail_cache=str(chosen)).save(Locations.from_environment().settings)
    lines = {
        name.strip(): value.strip()
        for name, _, value in (
            line.partition(": ") for line in photoclip("doctor", "--probe").stdout.splitlines()
        )
    }
    assert lines["device in use"] == "cpu" and "cpu" in lines["devices that work"]
    assert json.loads(photoclip("doctor", "--json").stdout)["device in use"] == "cpu"  # kept
    assert lines["model"].startswith("test-shapes") and lines["weights"] == "present"
    assert lines["thumbnails"] == str(chosen)
