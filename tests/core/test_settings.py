"""Settings: new fields round-trip, old and damaged files still load."""

from __future__ import annotations

import json
import logging
from dataclasses import fields
from pathlib import Path

import pytest

from photoclip.core import settings as settings_module
from photoclip.core.settings import Settings


def test_every_field_round_trips_through_the_file(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    chosen = Settings(
        model="small", device="cpu", threads=2, max_megapixels=50, batch_size=8,
        thumbnail_cache=str(tmp_path / "thumbs"), textness=-1.5, speeds={"fast": 4.0},
        thumbnail_size=224,
    )  # fmt: skip
    chosen.save(path)
    assert Settings.load(path) == chosen


def test_a_file_from_before_the_new_fields_loads_with_their_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    old = {"model": "fast", "device": "cpu", "threads": 1, "max_megapixels": 200, "batch_size": 16}
    path.write_text(json.dumps(old), encoding="utf-8")
    loaded = Settings.load(path)
    assert (loaded.model, loaded.device, loaded.threads) == ("fast", "cpu", 1)
    assert (loaded.thumbnail_cache, loaded.textness, loaded.speeds) == ("", 0.0, {})
    assert loaded.thumbnail_size == 160


def test_a_bad_value_falls_back_to_its_default_and_keeps_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "settings.json"
    raw = {"model": "small", "textness": 7, "device": "gpu", "threads": "four", "future": 1}
    path.write_text(json.dumps(raw), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        loaded = Settings.load(path)
    assert loaded == Settings(model="small")
    assert "textness=7" in caplog.text and "device='gpu'" in caplog.text


@pytest.mark.parametrize("text", ["[1, 2]", "{not json", ""])
def test_an_unreadable_file_gives_the_defaults(tmp_path: Path, text: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(text, encoding="utf-8")
    assert Settings.load(path) == Settings()


def test_no_file_gives_the_defaults(tmp_path: Path) -> None:
    assert Settings.load(tmp_path / "missing.json") == Settings()


def test_textness_accepts_the_whole_range_as_a_float(tmp_path: Path) -> None:
    assert Settings.from_dict({"textness": -2}).textness == -2.0
    assert Settings.from_dict({"textness": 2.0}).textness == 2.0
    assert Settings.from_dict({"textness": True}).textness == 0.0


def test_the_thumbnail_cache_defaults_to_the_data_folder(tmp_path: Path) -> None:
    assert Settings().thumbnail_folder(tmp_path / "t") == tmp_path / "t"
    chosen = Settings(thumbnail_cache=str(tmp_path / "elsewhere"))
    assert chosen.thumbnail_folder(tmp_path / "t") == tmp_path / "elsewhere"


def test_every_field_says_what_it_expects() -> None:
    assert set(settings_module._EXPECTED) == {f.name for f in fields(Settings)}


@pytest.mark.parametrize("size", [95, 401, 200.5, True, "200"])
def test_a_thumbnail_size_outside_the_grid_s_range_is_the_default(
    tmp_path: Path, size: object
) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"thumbnail_size": size, "textness": 1.0}), encoding="utf-8")
    assert Settings.load(path) == Settings(textness=1.0)
