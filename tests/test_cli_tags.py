"""`photoclip tags`, `tag`, `search --tag` and `sort` end to end, in a subprocess, with the
project's test-shapes model (a tag really has to name the colour drawn)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from photoclip.synthetic.scenes import single_object_scene
from tests.test_cli import photoclip

pytestmark = pytest.mark.slow

SCENES = [
    ("red", "circle"),
    ("red", "square"),
    ("blue", "square"),
    ("blue", "triangle"),
    ("green", "triangle"),
    ("green", "star"),
    ("yellow", "star"),
    ("purple", "circle"),
]


def as_json(*args: str) -> Any:
    return json.loads(photoclip(*args, "--json").stdout)


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def scenes(tmp_path: Path) -> Path:
    folder = tmp_path / "scenes"
    folder.mkdir()
    for colour, shape in SCENES:
        single_object_scene(colour, shape).render().save(folder / f"{colour}-{shape}.png")
    return folder


def _colour_tags(result: dict[str, Any]) -> dict[str, str]:
    return {Path(t["path"]).stem: t["label"] for t in result["tags"] if t["category"] == "Colour"}


def test_categories_tag_search_correct_and_sort(scenes: Path, tmp_path: Path) -> None:
    photoclip("index", str(scenes), "--model", "test-shapes")
    listed = as_json("tags", "add", "Colour", "red", "green", "blue", "--no-retag")
    names = [c["name"] for c in listed["categories"]]
    assert names == ["Colour"]  # nothing suggested was installed on the way
    assert [lab["name"] for lab in listed["categories"][-1]["labels"]] == ["red", "green", "blue"]
    # the colours the demo model knows and the category lacks compete as "none of these"
    others = ["black", "white", "yellow", "purple", "orange"]
    assert listed["categories"][-1]["other_words"] == {"colours": others}
    assert (
        f"other colours (as 'none of these'): {', '.join(others)}"
        in photoclip("tags", "list").stdout
    )

    tagged = as_json("tag", "--category", "Colour")
    colours = _colour_tags(tagged)
    expected = {f"{c}-{s}": c for c, s in SCENES if c in ("red", "green", "blue")}
    assert colours == expected  # yellow and purple: none of these
    assert {"path", "category", "label", "score"} <= set(tagged["tags"][0])

    found = as_json("search", "a shape", "--tag", "Colour:red", "-n", "10")["results"]
    assert sorted(Path(r["path"]).stem for r in found) == ["red-circle", "red-square"]

    why = as_json("tag", "--explain", str(scenes / "red-circle.png"))["categories"]
    colour = next(c for c in why if c["category"] == "Colour")
    assert colour["scores"][0]["label"] == "red" and colour["scores"][0]["tagged"]
    assert colour["scores"][0]["probability"] >= colour["scores"][0]["threshold"]
    assert colour["logit_scale"] == pytest.approx(10.0, abs=0.01)  # test-shapes' own
    assert colour["scores"][0]["reason"] == "tagged"
    assert all("more likely" in s["reason"] for s in colour["scores"][1:])
    said = photoclip("tag", "--explain", str(scenes / "red-circle.png")).stdout
    assert "not tagged: 'red' is more likely" in said and "none of these" in said
    purple = photoclip("tag", "--explain", str(scenes / "purple-circle.png")).stdout
    assert "it looks more like 'purple', which is not one of its labels" in purple
    assert "compared with other colours too, part of 'none of these': purple 0." in purple

    rejecting = as_json("tag", "--reject", str(scenes / "red-circle.png"), "Colour:red")
    rejected = _colour_tags(rejecting)
    assert "red-circle" not in rejected and rejected["red-square"] == "red"
    assert rejecting["changes"] and rejecting["changes"][0].startswith("rejected 'red': ")
    undone = _colour_tags(as_json("tag", "--undo"))
    assert undone["red-circle"] == "red"  # the rejection taken back
    assert "no correction to undo" in photoclip("tag", "--undo", check=False).stderr
    rejected = _colour_tags(
        as_json("tag", "--reject", str(scenes / "red-circle.png"), "Colour:red")
    )
    assert "red-circle" not in rejected
    confirmed = as_json("tag", "--confirm", str(scenes / "purple-circle.png"), "Colour:blue")
    assert _colour_tags(confirmed)["purple-circle"] == "blue"
    now = _colour_tags(as_json("tag"))
    assert "red-circle" not in now and now["purple-circle"] == "blue"  # re-tagging keeps both
    [check] = as_json("tags", "check")["categories"]
    assert check["category"] == "Colour" and check["photos"] == len(SCENES)
    assert check["tagged"] == len(now) and sum(check["counts"].values()) == len(now)
    assert check["share"] == pytest.approx(len(now) / len(SCENES), abs=1e-3)

    sources = _hashes(scenes)
    dest = tmp_path / "sorted"
    rule = f"Colour:*={dest}/{{category}}/{{label}}"
    plan = as_json("sort", "--plan", "--rule", rule, "--mode", "copy")
    assert plan["state"] == "planned" and not dest.exists()
    photoclip("sort", "--apply")
    copied = _hashes(dest)
    assert copied == {
        f"Colour/{label}/{name}.png": sources[f"{name}.png"] for name, label in now.items()
    }
    photoclip("sort", "--undo")
    assert _hashes(scenes) == sources and not dest.exists()

    [edited] = as_json("tags", "edit", "Colour", "--no-other-words")["categories"]
    assert edited["other_words"] == {}  # turned off: only the labels and "a photo" compete
    star = photoclip("tag", "--explain", str(scenes / "yellow-star.png")).stdout
    assert "compared with other colours" not in star and "looks more like" not in star


def test_tags_export_remove_import_round_trip(tmp_path: Path) -> None:
    photoclip("tags", "add", "Colour", "red", "blue", "--multi", "--no-retag")
    photoclip("tags", "edit", "Colour", "red", "--phrasing", "crimson", "--threshold", "0.3")
    exported = tmp_path / "mine.toml"
    photoclip("tags", "export", str(exported))
    photoclip("tags", "remove", "Colour")
    assert "Colour" not in [c["name"] for c in as_json("tags", "list")["categories"]]
    imported = as_json("tags", "import", str(exported))["categories"]
    colour = next(c for c in imported if c["name"] == "Colour")
    assert colour["kind"] == "multi"
    assert colour["labels"][0] == {
        "name": "red",
        "phrasings": ["crimson"],
        "counter": False,
        "threshold": 0.3,
        "threshold_source": "user",
        "tag_rate": None,
        "calibrated_on": None,
    }
    bad = photoclip("tags", "edit", "Nope", "x", check=False)
    assert bad.returncode == 1 and "no tag category" in bad.stderr


def test_tags_add_refuses_a_blank_name_and_stores_nothing() -> None:
    for args, said in ((("", "dog"), "has no name"), (("Pets", "dog", " "), "has no name")):
        refused = photoclip("tags", "add", *args, "--no-retag", check=False)
        assert refused.returncode == 1 and said in refused.stderr
    assert as_json("tags", "list")["categories"] == []


def test_albums_list_and_show_what_sort_put_in_them(scenes: Path) -> None:
    assert as_json("albums") == {"albums": []}  # no catalog yet, and none made
    photoclip("index", str(scenes), "--model", "test-shapes")
    photoclip("tags", "add", "Colour", "red", "green", "blue", "--no-retag")
    photoclip("tag", "--category", "Colour")
    rules = ["--rule", "Colour:red=album:Warm", "--rule", "Colour:*=album:Colourful"]
    photoclip("sort", "--plan", *rules)
    photoclip("sort", "--apply")

    listed = as_json("albums")["albums"]
    assert listed == [{"name": "Colourful", "photos": 6}, {"name": "Warm", "photos": 2}]
    assert photoclip("albums").stdout.splitlines() == ["Colourful: 6 photos", "Warm: 2 photos"]
    warm = as_json("albums", "show", "warm")
    assert [Path(p["path"]).name for p in warm["photos"]] == ["red-circle.png", "red-square.png"]
    shown = photoclip("albums", "show", "Warm").stdout.splitlines()
    assert shown == [str(scenes.resolve() / n) for n in ("red-circle.png", "red-square.png")]
    missing = photoclip("albums", "show", "Cold", check=False)
    assert missing.returncode == 1 and "no album 'Cold'" in missing.stderr

    photoclip("sort", "--undo")
    assert as_json("albums")["albums"] == [
        {"name": "Colourful", "photos": 0},
        {"name": "Warm", "photos": 0},
    ]


def test_suggested_categories_are_offered_with_a_preview_and_added_only_on_request(
    scenes: Path,
) -> None:
    photoclip("index", str(scenes), "--model", "test-shapes")
    assert as_json("tags", "list")["categories"] == []  # nothing installed on first use
    suggested = as_json("tags", "suggest")["suggested"]
    assert "Pets" in [s["name"] for s in suggested]
    assert all(s["photos"] == len(SCENES) and 0 <= s["would_tag"] <= s["photos"]
               for s in suggested)  # fmt: skip
    assert as_json("tags", "list")["categories"] == []  # a preview adds nothing
    assert as_json("tags", "suggest", "--add", "Pets")["added"] == ["Pets"]
    assert [c["name"] for c in as_json("tags", "list")["categories"]] == ["Pets"]
