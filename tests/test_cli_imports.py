"""One-shot commands that need no model import neither torch nor open_clip (issue 17).

Each command runs in its own interpreter through a small wrapper that, after the command
has finished, says which heavy modules are in `sys.modules`: the import itself is what
costs seconds, so its presence is the thing to check, not a timing on a loaded machine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from photoclip.synthetic.scenes import single_object_scene
from tests.core.test_worker import eventually

pytestmark = pytest.mark.slow

HEAVY = ("torch", "open_clip")
#: Libraries a command that loads test-shapes leaves out (photoclip.core.footprint)
OPTIONAL = ("timm", "transformers")

WRAPPER = f"""
import json, runpy, sys
sys.argv = ["photoclip", *sys.argv[1:]]
try:
    runpy.run_module("photoclip", run_name="__main__", alter_sys=True)
    code = 0
except SystemExit as exit:
    code = exit.code
loaded = [name for name in {HEAVY!r} if name in sys.modules]
optional = [name for name in {OPTIONAL!r} if sys.modules.get(name) is not None]
numpy = "numpy" in sys.modules
found = {{"code": code, "loaded": loaded, "optional": optional, "numpy": numpy}}
sys.stderr.write("\\n" + json.dumps(found) + "\\n")
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
    return {**found, "stdout": result.stdout, "stderr": result.stderr}


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
        patch.setenv("PHOTOCLIP_TEXT_EXPORT", "0")  # exported by `exported`, when asked
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


def test_doctor_reports_the_device_the_index_probed_without_torch(library: Path) -> None:
    run = photoclip("doctor", "--json")
    assert run["loaded"] == []
    report = json.loads(run["stdout"])
    assert report["device in use"] == "cpu" and "asked for auto" in report["device probe"]


def test_doctor_probe_imports_torch_to_probe_now(library: Path) -> None:
    run = photoclip("doctor", "--probe")
    assert "torch" in run["loaded"] and "devices that work: cpu" in run["stdout"]


def test_a_new_photo_builds_the_model(library: Path, tmp_path: Path) -> None:
    extra = tmp_path / "more"
    extra.mkdir()
    single_object_scene("yellow", "star").render().save(extra / "yellow-star.png")
    run = photoclip("index", str(extra))
    assert "torch" in run["loaded"]
    assert run["optional"] == []  # test-shapes uses neither


# -- cold search from the ONNX text export ---------------------------------------------------


SEARCH = ("search", "a red circle", "--json", "-n", "3")


@pytest.fixture(scope="module")
def exported(indexed: Path) -> dict[str, Any]:
    """The library's text tower exported by the background exporter's own entry point;
    returns the torch path's answer to SEARCH, taken before the export existed."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PHOTOCLIP_DATA_DIR", str(indexed / "data"))
        patch.setenv("PHOTOCLIP_CACHE_DIR", str(indexed / "cache"))
        patch.setenv("PHOTOCLIP_TEXT_EXPORT", "0")
        by_torch = photoclip(*SEARCH)
        assert "torch" in by_torch["loaded"]
        command = [sys.executable, "-m", "photoclip.core.exports", "test-shapes"]
        subprocess.run([*command, str(indexed / "cache")], check=True, timeout=300)
    return by_torch


def results(run: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(run["stdout"])["results"]
    return found


def test_a_cold_text_search_with_the_export_imports_no_torch(
    library: Path, exported: dict[str, Any]
) -> None:
    by_onnx = photoclip(*SEARCH)
    assert by_onnx["loaded"] == []
    assert [r["path"] for r in results(by_onnx)] == [r["path"] for r in results(exported)]
    for ours, theirs in zip(results(by_onnx), results(exported), strict=True):
        assert ours["score"] == pytest.approx(theirs["score"], abs=1e-4)


def test_a_phrasing_edit_embeds_with_the_export_not_torch(
    library: Path, exported: dict[str, Any]
) -> None:
    edited = photoclip("tags", "edit", "Pets", "dog", "--phrasing", "hound", "--json")
    assert edited["loaded"] == []
    categories = json.loads(edited["stdout"])["categories"]
    dog = next(label for c in categories for label in c["labels"] if label["name"] == "dog")
    assert "hound" in dog["phrasings"]


def test_a_damaged_export_falls_back_to_torch_with_a_log_line(
    library: Path, exported: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(library.parent / "cache", cache)
    for onnx in (cache / "text-onnx").glob("*.onnx"):
        onnx.write_bytes(b"\0" * onnx.stat().st_size)
    monkeypatch.setenv("PHOTOCLIP_CACHE_DIR", str(cache))
    monkeypatch.setenv("PHOTOCLIP_TEXT_EXPORT", "0")
    fallback = photoclip(*SEARCH)
    assert "torch" in fallback["loaded"]
    assert "text export" in fallback["stderr"] and "torch answers instead" in fallback["stderr"]
    assert results(fallback) == results(exported)


def test_the_first_torch_search_exports_for_the_next_in_the_background(
    library: Path, exported: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHOTOCLIP_CACHE_DIR", str(tmp_path / "fresh-cache"))
    monkeypatch.setenv("PHOTOCLIP_TEXT_EXPORT", "1")
    assert "torch" in photoclip(*SEARCH)["loaded"]  # no export yet: torch answers
    descriptions = tmp_path / "fresh-cache" / "text-onnx"
    eventually(lambda: list(descriptions.glob("*.json")), timeout=600)
    assert photoclip(*SEARCH)["loaded"] == []


# -- indexing from the ONNX image export -----------------------------------------------------


def test_index_with_the_image_export_imports_no_torch_and_embeds_as_torch(
    library: Path, exported: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`exported` ran the exporter, which made the image export too; a copy of the cache
    without it gives torch's vectors of the same photos, to compare."""
    photos = tmp_path / "photos"
    photos.mkdir()
    single_object_scene("yellow", "star").render().save(photos / "star.png")
    single_object_scene("red", "circle").render().resize((500, 300)).save(photos / "circle.jpg")
    torch_cache = tmp_path / "torch-cache"
    shutil.copytree(library.parent / "cache", torch_cache)
    shutil.rmtree(torch_cache / "image-onnx")
    answers = {}
    for name, cache in (("onnx", library.parent / "cache"), ("torch", torch_cache)):
        monkeypatch.setenv("PHOTOCLIP_DATA_DIR", str(tmp_path / f"data-{name}"))
        monkeypatch.setenv("PHOTOCLIP_CACHE_DIR", str(cache))
        run = photoclip("index", str(photos), "--json")
        assert json.loads(run["stdout"])["embedded"] == 2
        assert ("torch" in run["loaded"]) == (name == "torch")
        answers[name] = results(photoclip("search", "a yellow star", "--json"))
    assert [r["path"] for r in answers["onnx"]] == [r["path"] for r in answers["torch"]]
    for ours, theirs in zip(answers["onnx"], answers["torch"], strict=True):
        assert ours["score"] == pytest.approx(theirs["score"], abs=1e-4)


def test_an_image_term_with_the_image_export_imports_no_torch(
    library: Path, exported: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = tmp_path / "query.jpg"
    single_object_scene("red", "circle").render().resize((400, 300)).save(query)
    torch_cache = tmp_path / "torch-cache"
    shutil.copytree(library.parent / "cache", torch_cache)
    shutil.rmtree(torch_cache / "image-onnx")
    by_onnx = photoclip("search", str(query), "--json")
    monkeypatch.setenv("PHOTOCLIP_CACHE_DIR", str(torch_cache))
    by_torch = photoclip("search", str(query), "--json")
    assert by_onnx["loaded"] == [] and "torch" in by_torch["loaded"]
    assert [r["path"] for r in results(by_onnx)] == [r["path"] for r in results(by_torch)]
    for ours, theirs in zip(results(by_onnx), results(by_torch), strict=True):
        assert ours["score"] == pytest.approx(theirs["score"], abs=1e-4)
