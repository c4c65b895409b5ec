"""Auto-sort: plan, apply and undo on real files, checking every byte by hash."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    return _library(tmp_path)


def _library(tmp_path: Path) -> tuple[Catalog, dict[str, list[int]], Path]:
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


def test_a_selection_s_sort_plans_only_the_selected_photos_and_counts_its_steps(
    library: tuple[Catalog, dict[str, list[int]], Path],
) -> None:
    """Issue 19: sort the photos selected in the grid, not every photo with the tag."""
    catalog, ids, base = library
    sources = _tree(base / "src")
    sorter = Sorter(catalog, base / "journals")
    chosen = [ids["red"][0], ids["blue"][1]]
    rule = Rule.parse(f"Colour:*={base}/dest/{{label}}", "move")

    plan = sorter.plan([rule], chosen)
    assert sorted(s.photo_id for s in plan.steps) == sorted(chosen)
    counted: list[tuple[int, int]] = []
    sorter.apply(lambda done, total: counted.append((done, total)))
    assert counted == [(1, 2), (2, 2)]
    assert len(_tree(base / "dest")) == 2
    assert len(_tree(base / "src")) == len(sources) - 2  # the others stayed

    counted.clear()
    sorter.undo(lambda done, total: counted.append((done, total)))
    assert counted == [(1, 2), (2, 2)]
    assert _tree(base / "src") == sources


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


def test_apply_appends_each_step_and_never_rewrites_the_whole_plan_per_step(
    library: tuple[Catalog, dict[str, list[int]], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step's journal cost must not grow with the plan: over 100k photos, rewriting the
    plan at every step wrote terabytes. The plan file is written a fixed number of times."""
    catalog, _, base = library
    sorter = Sorter(catalog, base / "journals")
    plan = sorter.plan([Rule.parse(f"Colour:*={base}/dest/{{label}}", "copy")])
    real_write, writes = sorting._write, []
    monkeypatch.setattr(sorting, "_write", lambda *a: writes.append(1) or real_write(*a))
    sorter.apply()
    sorter.undo()
    assert len(plan.steps) == 7 and len(writes) == 4  # applying, applied, undoing, reverted


def test_a_step_record_cut_short_by_a_kill_is_skipped_and_later_ones_still_count(
    library: tuple[Catalog, dict[str, list[int]], Path],
) -> None:
    catalog, _, base = library
    sorter = Sorter(catalog, base / "journals")
    sorter.plan([Rule.parse(f"Colour:*={base}/dest/{{label}}", "copy")])
    path, plan = sorter.latest() or pytest.fail("no journal")
    plan.state = sorting.APPLYING
    sorting._write(path, plan)
    first, second = plan.steps[0], plan.steps[1]
    first.status = sorting.STARTED
    sorting._append(path, 0, first)
    with open(path.with_name(path.name + ".steps"), "a", encoding="utf-8") as log:
        log.write('\n{"index": 0, "step": {"photo_id"')  # the kill came mid-write
    second.status = sorting.STARTED
    sorting._append(path, 1, second)  # the next process goes on appending
    _, read = sorter.latest() or pytest.fail("no journal")
    assert [s.status for s in read.steps[:3]] == [sorting.STARTED, sorting.STARTED, "pending"]
    Sorter(catalog, base / "journals").apply()  # and resumes from it
    assert len(_tree(base / "dest")) == 7


def test_apply_refuses_without_a_plan_and_rules_are_checked(tmp_path: Path) -> None:
    sorter = Sorter(Catalog.open(tmp_path / "c.sqlite3"), tmp_path / "journals")
    with pytest.raises(SortError):
        sorter.apply()
    with pytest.raises(SortError):
        Rule.parse("Colour=/somewhere")
    with pytest.raises(SortError):
        Rule.parse("Colour:red=/x", "teleport")
    for pattern in ("/x/{bad", "/x/{nope}", "/x/{0}", "/x/{label.nope}", "/x/\x00/{label}"):
        with pytest.raises(SortError):  # told at once, even when no photo has the tag
            Rule.parse(f"Colour:red={pattern}")


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


def _tag_all(catalog: Catalog, category: Category) -> dict[str, int]:
    """Tag every photo of the catalog with each label of `category`; label ids by name."""
    store = TagStore(catalog)
    saved = store.save_category(category)
    label_ids = {label.name: int(label.id or 0) for label in saved.labels}
    photo_ids = [r[0] for r in catalog.read("SELECT id FROM photos ORDER BY id")]
    rows = [TagRow(p, label_id, 0.5, 0.3) for p in photo_ids for label_id in label_ids.values()]
    store.replace_auto_tags(list(label_ids.values()), rows, None)
    return label_ids


def test_a_relative_destination_is_the_planning_folder_s_wherever_apply_runs(
    library: tuple[Catalog, dict[str, list[int]], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reported: planned in one folder, applied from another, the files went to the
    second, the catalog got relative paths (60 photos for 48 files), and undo kept them
    all as 'changed since the sort'."""
    catalog, ids, base = library
    (base / "planned-here").mkdir()
    (base / "applied-here").mkdir()
    sources = _tree(base / "src")
    roots = catalog.roots()
    monkeypatch.chdir(base / "planned-here")
    Sorter(catalog, base / "journals").plan([Rule.parse("Colour:blue=sorted/{label}", "move")])

    monkeypatch.chdir(base / "applied-here")
    Sorter(catalog, base / "journals").apply()
    landed = base / "planned-here" / "sorted" / "blue"
    assert sorted(_tree(landed).values()) == sorted(
        [sources["a/blue-0.jpg"], sources["b/blue-1.jpg"]]
    )
    assert not any((base / "applied-here").iterdir())
    paths = [Path(r[0]) for r in catalog.read("SELECT path FROM photos")]
    assert all(p.is_absolute() and p.exists() for p in paths)
    assert catalog.counts().photos == len(sources)
    assert {catalog.photo(i).path.parent for i in ids["blue"]} == {landed}  # type: ignore[union-attr]

    monkeypatch.chdir(base)
    plan = Sorter(catalog, base / "journals").undo()
    assert [s.status for s in plan.steps] == ["undone", "undone"]
    assert _tree(base / "src") == sources and not (base / "planned-here" / "sorted").exists()
    assert catalog.counts().photos == len(sources)
    assert catalog.roots() == roots  # the destination is not left behind as a library folder


def test_a_label_of_dot_dot_or_a_path_stays_inside_the_destination(
    library: tuple[Catalog, dict[str, list[int]], Path],
) -> None:
    """Reported: a label `..` sorted photos into the destination's parent."""
    catalog, _, base = library
    hostile = ["..", ".", "/", "/etc", "a/../..", "nul\x00byte", "CON", "  .. ", "...", "~"]
    _tag_all(catalog, Category("Odd", tuple(Label(n) for n in hostile), kind="multi"))
    dest = base / "dest"
    plan = Sorter(catalog, base / "journals").plan([Rule.parse(f"Odd:*={dest}/{{label}}", "copy")])
    assert len(plan.steps) == len(hostile) * catalog.counts().photos
    for step in plan.steps:
        folder = Path(step.destination).parent
        assert folder.parent == dest, step.destination
        assert folder.name not in ("", ".", "..") and "\x00" not in folder.name
        assert folder.name.upper() != "CON"
    Sorter(catalog, base / "journals").apply()
    assert {p.parent.parent for p in dest.rglob("*.jpg")} == {dest}


@pytest.mark.parametrize("year", [1, 9999])
@pytest.mark.parametrize(
    "pattern", ["{year}/{month}", "{label}", "fixed", "{category}-{year}-{month}"]
)
def test_dates_at_the_ends_of_the_calendar_never_stop_a_plan(
    library: tuple[Catalog, dict[str, list[int]], Path], year: int, pattern: str
) -> None:
    """Reported: EXIF 9999:12:31 23:59:59 with offset -12:00 crashed `sort --plan`
    (`year 10000 is out of range`), even for rules without {year}."""
    catalog, ids, base = library
    # 0001-01-01 00:00:00 and 9999-12-31 23:59:59 at -12:00, in UTC seconds
    edge = -62135596800.0 if year == 1 else 253402300799.0 + 12 * 3600
    with catalog.transaction() as db:
        db.execute("UPDATE photos SET taken_at = ? WHERE id = ?", (edge, ids["red"][0]))
        db.execute("UPDATE photos SET taken_at = ? WHERE id = ?", (float("nan"), ids["red"][1]))
        db.execute("UPDATE photos SET taken_at = ? WHERE id = ?", (1e300, ids["red"][2]))
    plan = Sorter(catalog, base / "journals").plan(
        [Rule.parse(f"Colour:red={base}/dest/{pattern}", "copy")]
    )
    assert len(plan.steps) == 3
    assert all(Path(s.destination).is_relative_to(base / "dest") for s in plan.steps)


def test_an_older_plan_with_relative_folders_is_refused_not_applied_here(
    library: tuple[Catalog, dict[str, list[int]], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog, _, base = library
    sorter = Sorter(catalog, base / "journals")
    sorter.plan([Rule.parse(f"Colour:blue={base}/dest/{{label}}", "move")])
    path, plan = sorter.latest() or pytest.fail("no journal")
    for step in plan.steps:  # as a PhotoClip before the fix wrote it
        step.destination = os.path.relpath(step.destination, base)
    sorting._write(path, plan)
    monkeypatch.chdir(base)
    sources = _tree(base / "src")
    with pytest.raises(SortError, match="Plan again"):
        sorter.apply()
    assert _tree(base / "src") == sources and not (base / "dest").exists()


_FIELDS = ["{label}", "{category}", "{year}", "{month}", "x{label}y", "fixed", "{label}-{year}"]


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.sampled_from(_FIELDS), max_size=4),
    category=st.text(),
    label=st.text(),
    date=st.floats(),
)
def test_every_formed_folder_stays_inside_the_destination(
    tmp_path_factory: pytest.TempPathFactory,
    parts: list[str],
    category: str,
    label: str,
    date: float,
) -> None:
    dest = tmp_path_factory.getbasetemp() / "dest"
    folder = sorting.formed_folder("/".join([str(dest), *parts]), category, label, date)
    assert folder.is_absolute() and folder.is_relative_to(dest)
    assert len(folder.relative_to(dest).parts) == len(parts)  # one component each
    for name in folder.relative_to(dest).parts:
        assert name not in (".", "..") and "\x00" not in name and "/" not in name
        assert len(name.encode("utf-8", "surrogatepass")) < 255


@settings(max_examples=200, deadline=None)
@given(pattern=st.text(), label=st.text(), date=st.floats())
def test_any_pattern_gives_a_folder_or_a_sort_error(pattern: str, label: str, date: float) -> None:
    try:
        folder = sorting.formed_folder(pattern, "Category", label, date)
    except SortError:
        return
    assert folder.is_absolute()


def test_a_link_in_the_destination_that_leads_out_is_a_conflict_not_a_way_out(
    library: tuple[Catalog, dict[str, list[int]], Path],
) -> None:
    catalog, _, base = library
    (base / "dest").mkdir()
    (base / "elsewhere").mkdir()
    (base / "dest" / "blue").symlink_to(base / "elsewhere")
    plan = Sorter(catalog, base / "journals").plan(
        [Rule.parse(f"Colour:*={base}/dest/{{label}}", "copy")]
    )
    assert {Path(s.destination).parent.name for s in plan.steps} == {"red", "green"}
    assert sum("outside" in c for c in plan.conflicts) == 2


class _Kill:
    """Raises KeyboardInterrupt at the `at`-th call of the wrapped steps (a kill at that
    point: `before` the call does anything, or after it did everything but return)."""

    def __init__(self, at: int, before: bool) -> None:
        self.at, self.before, self.calls = at, before, 0

    def wrap(self, real: Callable[..., object]) -> Callable[..., object]:
        def step(*args: object) -> object:
            self.calls += 1
            number = self.calls  # steps nest (a copy places its file): count on entry
            if self.before and number == self.at:
                raise KeyboardInterrupt
            result = real(*args)
            if not self.before and number == self.at:
                raise KeyboardInterrupt
            return result

        return step


#: Every function through which sorting changes the disk or its journal.
_STEPS = (
    "_write",
    "_append",
    "_move",
    "_copy_verified",
    "_place",
    "_make_folders",
    "_remove_partial",
)


def _killed_at(
    monkeypatch: pytest.MonkeyPatch, kill: _Kill | None, action: Callable[[], object]
) -> bool:
    """Run `action` with `kill` armed; True if it was killed."""
    with monkeypatch.context() as patch:
        if kill is not None:
            for name in _STEPS:
                patch.setattr(sorting, name, kill.wrap(getattr(sorting, name)))
            for name in ("link", "symlink"):
                patch.setattr(sorting.os, name, kill.wrap(getattr(os, name)))
        try:
            action()
        except KeyboardInterrupt:
            return True
    return False


def _state(catalog: Catalog, base: Path) -> tuple[dict[str, str], list[str], set[int]]:
    """The files (links as their targets), the catalog's paths, the album."""
    files = {}
    for path in sorted(base.rglob("*")):
        name = str(path.relative_to(base))
        if path.is_symlink():
            files[name] = "-> " + str(Path(os.readlink(path)).relative_to(base))
        elif path.is_file() and not name.startswith("journals") and "sqlite3" not in name:
            files[name] = content_hash(path)
    paths = sorted(
        str(Path(r[0]).relative_to(base)) for r in catalog.read("SELECT path FROM photos")
    )
    return files, paths, Sorter(catalog, base / "journals").album("Colourful")


def _journal_state(journals: Path) -> str:
    with Catalog.open(journals.parent / "catalog.sqlite3", readonly=True) as catalog:
        found = Sorter(catalog, journals).latest()
    assert found is not None
    return found[1].state


@pytest.mark.slow
@pytest.mark.parametrize("before", [True, False], ids=["before-a-step", "after-a-step"])
def test_a_kill_at_any_point_of_apply_or_undo_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, before: bool
) -> None:
    """Killed at each point where apply or undo touches the disk or the journal, then
    run again by a new process: the apply ends as an unkilled one does, and the undo
    gives back every byte, every catalog path and no extra library folder."""
    monkeypatch.setattr(sorting.os, "fsync", lambda fd: None)  # what a kill loses is not this

    def trial(
        folder: Path, kill_apply: _Kill | None, kill_undo: _Kill | None
    ) -> tuple[object, bool]:
        catalog, _, base = _library(folder)
        original = _state(catalog, base)
        Sorter(catalog, base / "journals").plan(
            [
                Rule.parse(f"Colour:red={base}/dest/{{label}}", "copy"),
                Rule.parse(f"Colour:blue={base}/dest/{{label}}", "move"),  # outside the root
                Rule.parse(f"Colour:green={base}/dest/{{label}}", "hardlink"),
                Rule.parse(f"Colour:green={base}/links", "symlink"),
                Rule.parse("Colour:*=album:Colourful"),
            ]
        )
        journals = base / "journals"
        killed = _killed_at(monkeypatch, kill_apply, Sorter(catalog, journals).apply)
        if killed and _journal_state(journals) != "applied":  # (a kill after its last write)
            Sorter(catalog, journals).apply()  # a new process resumes
        applied = _state(catalog, base)
        if _killed_at(monkeypatch, kill_undo, Sorter(catalog, journals).undo):
            killed = True
            if _journal_state(journals) != "reverted":
                Sorter(catalog, journals).undo()
        assert _state(catalog, base) == original
        assert [r.path for r in catalog.roots()] == [base / "src"]
        catalog.close()
        return applied, killed

    reference, _ = trial(tmp_path / "reference", None, None)
    applying, undoing = _Kill(0, before), _Kill(0, before)
    trial(tmp_path / "counting", applying, undoing)
    assert applying.calls > 20 and undoing.calls > 10
    for at in range(1, applying.calls + 1):
        applied, killed = trial(tmp_path / f"apply-{at}", _Kill(at, before), None)
        assert killed and applied == reference, f"killed at step {at} of the apply"
    for at in range(1, undoing.calls + 1):
        applied, killed = trial(tmp_path / f"undo-{at}", None, _Kill(at, before))
        assert killed and applied == reference, f"killed at step {at} of the undo"
