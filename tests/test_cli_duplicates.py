"""`photoclip duplicates` and `photoclip search --textness` end to end, in a subprocess."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from tests.core.test_duplicates import photo_like
from tests.test_cli import as_json, photoclip

pytestmark = pytest.mark.slow


@pytest.fixture
def library(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    original = photo_like(1)
    original.save(folder / "original.png")
    os.utime(folder / "original.png", (1_000_000, 1_000_000))
    original.rotate(90, expand=True).save(folder / "turned.jpg", quality=90)
    original.resize((120, 90), Image.Resampling.LANCZOS).save(folder / "small.jpg", quality=90)
    photo_like(2).save(folder / "other.jpg", quality=90)
    photoclip("index", str(folder))
    return folder.resolve()


def test_duplicates_json_names_the_keeper_the_others_and_each_pair_s_kind(library: Path) -> None:
    found = as_json("duplicates")
    [group] = found["groups"]
    original, turned, small = (
        str(library / n) for n in ("original.png", "turned.jpg", "small.jpg")
    )
    assert group["keep"] == original and group["others"] == [turned, small]
    kinds = {frozenset((p["a"], p["b"])): p["kind"] for p in group["pairs"]}
    assert kinds[frozenset((original, turned))] == "same photo, rotated"
    assert kinds[frozenset((original, small))] == "same photo, resized"
    assert all(0.9 <= p["similarity"] <= 1.0 for p in group["pairs"])
    # Even when the embeddings must be all but equal, the hashes find the turned copy.
    assert as_json("duplicates", "--threshold", "0.9999") == found
    text = photoclip("duplicates").stdout
    assert text.startswith(f"keep  {original}")
    assert f"trash {small}  (same photo, resized, similarity" in text


def test_search_with_textness_learns_the_direction_once_and_checks_its_range(
    library: Path,
) -> None:
    plain = as_json("search", "a circle", "-n", "4")["results"]
    steered = as_json("search", "a circle + red", "--textness", "-1.5", "-n", "4")["results"]
    assert len(plain) == len(steered) == 4
    catalog = Path(os.environ["PHOTOCLIP_DATA_DIR"]) / "catalog.sqlite3"
    with sqlite3.connect(catalog) as db:
        assert db.execute("SELECT count(*) FROM textness_directions").fetchone()[0] == 1
    refused = photoclip("search", "a circle", "--textness", "3", check=False)
    assert refused.returncode == 2 and "from -2 to 2" in refused.stderr


def test_trash_asks_moves_the_others_and_undo_brings_them_back(
    library: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"  # send2trash's trash: never the user's own
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "xdg"))
    others = [library / "turned.jpg", library / "small.jpg"]
    refused = photoclip("duplicates", "--trash", check=False)
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert all(p.exists() for p in others)

    moved = photoclip("duplicates", "--trash", "--yes")
    assert "2 photos moved to the trash" in moved.stderr
    assert not any(p.exists() for p in others)
    assert sorted(p.name for p in (home / "xdg" / "Trash" / "files").iterdir()) == [
        "small.jpg",
        "turned.jpg",
    ]
    assert as_json("duplicates") == {"groups": []}

    restored = photoclip("duplicates", "--undo")
    assert "2 photos restored" in restored.stderr
    assert all(p.exists() for p in others)
    assert len(as_json("duplicates")["groups"]) == 1
