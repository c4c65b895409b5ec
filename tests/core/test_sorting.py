"""Auto-sort: plan, apply and undo on real files, checking every byte by hash."""

from __future__ import annotations

import errno
import os
import stat
from datetime import datetime
from pathlib import Path

import pytest

from photoclip.core import sorting
from photoclip.core.catalog import Catalog
from photoclip.core.categories import Category, Label
from photoclip.core.imageio import content_hash
from photoclip.core.sorting import Rule, Sorter, SortError
from photoclip.core.tagstore import TagRow, TagStore

COLOURS = Category("Colour", (Label("red"), Label("green"), Label("blue")))


def _tree(folder: Path) -> dict[str, str]:
    """Every file below `folder` (links followed) -> its content hash."""
    return {
        str(p.relative_to(folder)): content_hash(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(".json")
    }


@pytest.fixture
def library(tmp_path: Path) -> tuple[Catalog, dict[str, list[int]], Path]:
    """Photos in two source folders, tagged red (3, two with the same name), green (2)
    and blue (2); returns the catalog, photo ids by label, and the base folder."""
    catalog = Catalog.open(tmp_path / "catalog.sqlite3")
    store = TagStore(catalog)
    category = store.save_category(COLOURS)
    label_ids = {label.name: int(label.id or 0) for label in category.labels}
    files = {
        "red": ["a/photo-0.jpg", "b/photo-0.jpg", "a/photo-1.jpg"],
        "green": ["a/green-0.jpg", "b/green-1.jpg"],
        "blue": ["a/blue-0.jpg", "b/blue-1.jpg"],
    }
    ids: dict[str, list[int]] = {}
    rows = []
    with catalog.transaction():
        root = catalog.add_root(tmp_path / "src")
        for label, names in files.items():
            for name in names:
                path = tmp_path / "src" / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(f"{label} {name} ".encode() * 100)
                photo_id = catalog.upsert_photo(
                    path,
                    root.id,
                    size=path.stat().st_size,
                    mtime_ns=path.stat().st_mtime_ns,
                    content_hash=content_hash(path),
                    taken_at=datetime(2023, 5, 1).timestamp(),
                )
                ids.setdefault(label, []).append(photo_id)
                rows.append(TagRow(photo_id, label_ids[label], 0.5, 0.3))
    store.replace_auto_tags(list(label_ids.values()), rows, None)
    return catalog, ids, tmp_path


def _read_only(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder.mkdir(parents=True)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    if os.geteuid() == 0:  # root writes anywhere: judge by the mode bits instead
        monkeypatch.setattr(sorting, "_writable", lambda f: bool(f.stat().st_mode & stat.S_IWUSR))


def _rules(base: Path) -> list[Rule]:
    return [
        Rule.parse(f"Colour:red={base}/dest/{{category}}/{{label}}/{{year}}", "copy"),
        Rule.parse(f"Colour:blue={base}/moved/{{label}}", "move"),
        Rule.parse(f"Colour:green={base}/readonly/{{label}}", "hardlink"),
        Rule.parse(f"Colour:green={base}/links", "symlink"),
        Rule.parse("Colour:*=album:Colourful"),
    ]


def test_plan_apply_undo_round_trip_with_collisions_and_a_read_only_folder(
    library: tuple[Catalog, dict[str, list[int]], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog, ids, base = library
    _read_only(base / "readonly", monkeypatch)
    squatter = base / "dest" / "Colour" / "red" / "2023" / "photo-0.jpg"
    squatter.parent.mkdir(parents=True)
    squatter.write_bytes(b"the user's own file")
    sources = _tree(base / "src")
    before = {**_tree(base / "dest"), **_tree(base / "readonly")}
    sorter = Sorter(catalog, base / "journals")

    plan = sorter.plan(_rules(base))
    assert _tree(base / "src") == sources and not (base / "moved").exists()  # a plan only
    assert not plan.problems
    copies = sorted(Path(s.destination).name for s in plan.steps if s.action == "copy")
    assert copies == ["photo-0 (1).jpg", "photo-0 (2).jpg", "photo-1.jpg"]
    assert sum("read-only" in c for c in plan.conflicts) == 2
    assert all(s.status == "blocked" for s in plan.steps if s.action == "hardlink")

    sorter.apply()
    red = base / "dest" / "Colour" / "red" / "2023"
    assert squatter.read_bytes() == b"the user's own file"  # never overwritten
    assert sorted(_tree(red).values()) == sorted(
        [content_hash(squatter)]
        + [sources[f"{d}/photo-{n}.jpg"] for d, n in (("a", 0), ("b", 0), ("a", 1))]
    )
    moved = _tree(base / "moved" / "blue")
    assert sorted(moved.values()) == sorted([sources["a/blue-0.jpg"], sources["b/blue-1.jpg"]])
    assert not (base / "src" / "a" / "blue-0.jpg").exists()
    for photo_id in ids["blue"]:  # the catalog followed, same id
        photo = catalog.photo(photo_id)
        assert photo is not None and photo.path.parent == base / "moved" / "blue"
    assert _tree(base / "readonly") == {}
    links = sorted((base / "links").iterdir())
    assert [os.readlink(p) for p in links] == [str(base / "src" / "a" / "green-0.jpg"),
                                               str(base / "src" / "b" / "green-1.jpg")]  # fmt: skip
    assert sorter.album("Colourful") == {i for group in ids.values() for i in group}

    sorter.undo()
    assert _tree(base / "src") == sources
    assert {**_tree(base / "dest"), **_tree(base / "readonly")} == before
    assert not (base / "moved").exists() and not (base / "links").exists()
    for photo_id in ids["blue"]:
        photo = catalog.photo(photo_id)
        assert photo is not None and photo.path.parent.parent == base / "src"
    assert sorter.album("Colourful") == set()
    with pytest.raises(SortError):
        sorter.undo()  # nothing left to undo


@pytest.mark.parametrize("then", ["resume", "undo"])
def test_a_crash_mid_apply_is_resumed_or_undone_from_the_journal(
    library: tuple[Catalog, dict[str, list[int]], Path],
    monkeypatch: pytest.MonkeyPatch,
    then: str,
) -> None:
    catalog, ids, base = library
    sources = _tree(base / "src")
    sorter = Sorter(catalog, base / "journals")
    sorter.plan(
        [
            Rule.parse(f"Colour:red={base}/dest/{{label}}", "copy"),
            Rule.parse(f"Colour:blue={base}/dest/{{label}}", "move"),
        ]
    )
    real_move, calls = sorting._move, []

    def crash_after_placing(source: Path, target: Path, expected: str | None) -> None:
        calls.append(source)
        real_move(source, target, expected)
        if len(calls) == 1:
            raise KeyboardInterrupt  # killed after the file moved, before the journal said so

    monkeypatch.setattr(sorting, "_move", crash_after_placing)
    with pytest.raises(KeyboardInterrupt):
        sorter.apply()
    monkeypatch.setattr(sorting, "_move", real_move)
    fresh = Sorter(catalog, base / "journals")  # a new process reads the journal
    if then == "resume":
        fresh.apply()
        dest = _tree(base / "dest")
        expected = [v for k, v in sources.items() if "photo" in k or "blue" in k]
        assert sorted(dest.values()) == sorted(expected)
        assert all("blue" not in k for k in _tree(base / "src"))
    else:
        fresh.undo()
        assert _tree(base / "src") == sources
        assert not (base / "dest").exists()
    for photo_id in ids["blue"]:
        photo = catalog.photo(photo_id)
        assert photo is not None and photo.path.exists()


def test_apply_refuses_without_a_plan_and_rules_are_checked(tmp_path: Path) -> None:
    sorter = Sorter(Catalog.open(tmp_path / "c.sqlite3"), tmp_path / "journals")
    with pytest.raises(SortError):
        sorter.apply()
    with pytest.raises(SortError):
        Rule.parse("Colour=/somewhere")
    with pytest.raises(SortError):
        Rule.parse("Colour:red=/x", "teleport")


def test_a_move_across_devices_is_copy_verify_delete_and_undoes(
    library: tuple[Catalog, dict[str, list[int]], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog, _, base = library
    sources = _tree(base / "src")

    def no_links(source: object, target: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(sorting.os, "link", no_links)
    sorter = Sorter(catalog, base / "journals")
    sorter.plan([Rule.parse(f"Colour:blue={base}/other-disk", "move")])
    sorter.apply()
    moved = _tree(base / "other-disk")
    assert sorted(moved.values()) == sorted([sources["a/blue-0.jpg"], sources["b/blue-1.jpg"]])
    assert not any(name.endswith("partial") for name in moved)
    assert "a/blue-0.jpg" not in _tree(base / "src")
    sorter.undo()
    assert _tree(base / "src") == sources and not (base / "other-disk").exists()
