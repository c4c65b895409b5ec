"""Each one-shot command builds only the tower of the model it needs (issue 17): `index`
the image tower, a label edit or a text search with no text export the text tower. The
other tower's parameters are never given memory (they stay on torch's meta device)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from photoclip import cli
from photoclip.core.towers import tower_of
from photoclip.synthetic.scenes import single_object_scene

pytestmark = pytest.mark.slow


@pytest.fixture
def scenes(tmp_path: Path) -> Path:
    folder = tmp_path / "scenes"
    folder.mkdir()
    for colour, shape in [("red", "circle"), ("blue", "square"), ("green", "star")]:
        single_object_scene(colour, shape).render().save(folder / f"{colour}-{shape}.png")
    return folder


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, set[Any]]]:
    """Every model the CLI builds: the towers asked for, and those left without memory."""
    monkeypatch.setenv("PHOTOCLIP_TEXT_EXPORT", "0")  # torch answers every text
    models: list[dict[str, set[Any]]] = []
    real = cli._load_encoder

    def load(profile: str | None, device: str | None, settings: Any, towers: Any = None) -> Any:
        encoder = real(profile, device, settings, towers)
        meta = {tower_of(n) for n, p in encoder.model.named_parameters() if p.is_meta}
        models.append({"towers": set(encoder.towers), "on_meta": meta})
        return encoder

    monkeypatch.setattr(cli, "_load_encoder", load)
    return models


def test_index_builds_the_image_tower_alone(scenes: Path, built: list[dict[str, set[Any]]]) -> None:
    assert cli.main(["index", "--model", "test-shapes", str(scenes), "--json"]) == 0
    assert built == [{"towers": {"image"}, "on_meta": {"text"}}]


def test_a_label_edit_and_a_text_search_build_the_text_tower_alone(
    scenes: Path, built: list[dict[str, set[Any]]]
) -> None:
    assert cli.main(["index", "--model", "test-shapes", str(scenes), "--json"]) == 0
    built.clear()
    assert cli.main(["tags", "add", "Colour", "red", "blue", "--json"]) == 0  # re-tags
    assert cli.main(["tags", "edit", "Colour", "red", "--phrasing", "crimson", "--json"]) == 0
    assert cli.main(["search", "a green star", "--json"]) == 0
    assert built == [{"towers": {"text"}, "on_meta": {"image"}}] * 3


def test_index_tags_new_photos_with_a_text_tower_built_for_the_labels(
    scenes: Path, built: list[dict[str, set[Any]]], capsys: pytest.CaptureFixture[str]
) -> None:
    """Labels whose vectors are not cached when an index run tags its new photos: a text
    tower is built for them (and dropped); the image tower still comes alone."""
    assert cli.main(["tags", "add", "Colour", "red", "green", "blue", "--no-retag"]) == 0
    capsys.readouterr()
    assert cli.main(["index", "--model", "test-shapes", str(scenes), "--json"]) == 0
    assert built == [
        {"towers": {"image"}, "on_meta": {"text"}},
        {"towers": {"text"}, "on_meta": {"image"}},
    ]
    capsys.readouterr()
    built.clear()
    assert cli.main(["tag", "--json"]) == 0
    assert built == []  # the index run kept the label vectors it made
    tags = json.loads(capsys.readouterr().out)["tags"]
    assert {t["category"] for t in tags} == {"Colour"}
