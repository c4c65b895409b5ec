"""Auto-sort: rules map tags to destinations, always as a plan first, then an apply that a
journal makes resumable and undoable.

A rule is `CATEGORY:LABEL` (or `CATEGORY:*`) -> a virtual album (`album:NAME`, in the
catalog) or a folder pattern such as `/photos/sorted/{category}/{label}/{year}`, with a
mode: copy, move, hardlink or symlink.

Safety: nothing is ever overwritten (a taken name gets " (1)", " (2)", ... and every final
placement is a hard link or an exists-checked rename, never a replacing one); a copy is
written under a temporary name, verified by hash, then placed; a move across devices is
copy, verify, then delete the source; the journal (JSON, replaced atomically) is written
before and after each step, so a crash mid-apply is resumed or undone from it; undo
removes only what apply made and still has the bytes apply put there. The catalog follows
moved photos (same id, same vector, same tags).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from photoclip.core.catalog import Catalog, Photo
from photoclip.core.errors import KnownError
from photoclip.core.imageio import content_hash

COPY, MOVE, HARDLINK, SYMLINK, ALBUM = "copy", "move", "hardlink", "symlink", "album"
MODES = (COPY, MOVE, HARDLINK, SYMLINK)
PENDING, STARTED, DONE, BLOCKED, UNDONE, KEPT = (
    "pending",
    "started",
    "done",
    "blocked",
    "undone",
    "kept",
)
PLANNED, APPLYING, APPLIED, UNDOING, REVERTED = (
    "planned",
    "applying",
    "applied",
    "undoing",
    "reverted",
)
_PARTIAL = ".photoclip-partial"


class SortError(KnownError):
    """A plan cannot be made or applied; the message says why and what to do."""


@dataclass(frozen=True)
class Rule:
    category: str
    label: str  # "*": any label of the category
    destination: str  # "album:NAME" or a folder pattern
    mode: str = COPY

    @classmethod
    def parse(cls, text: str, mode: str = COPY) -> Rule:
        """`CATEGORY:LABEL=DESTINATION`."""
        tag, sep, destination = text.partition("=")
        category, colon, label = tag.partition(":")
        if not (sep and colon and category and label and destination):
            raise SortError(f"'{text}' is not CATEGORY:LABEL=DESTINATION")
        if mode not in MODES:
            raise SortError(f"mode must be one of {', '.join(MODES)}")
        return cls(category, label, destination, ALBUM if _is_album(destination) else mode)


@dataclass
class Step:
    photo_id: int
    source: str
    destination: str  # a path, or an album name
    action: str
    size: int
    hash: str | None = None
    status: str = PENDING
    note: str = ""
    #: folders this step created (removed again by undo when empty)
    created: list[str] = field(default_factory=list)


@dataclass
class Plan:
    steps: list[Step]
    #: names changed to avoid an existing file, read-only destinations (those steps are
    #: skipped), photos two move rules wanted, ...
    conflicts: list[str] = field(default_factory=list)
    #: reasons the plan cannot be applied at all (too little free space)
    problems: list[str] = field(default_factory=list)
    #: destination folder -> (bytes needed, bytes free)
    space: dict[str, tuple[int, int]] = field(default_factory=dict)
    state: str = PLANNED
    created_at: float = field(default_factory=time.time)

    def as_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Plan:
        steps = [Step(**s) for s in data["steps"]]
        space = {k: (int(v[0]), int(v[1])) for k, v in data["space"].items()}
        rest = {k: data[k] for k in ("conflicts", "problems", "state", "created_at")}
        return cls(steps, space=space, **rest)


class Sorter:
    """Plans, applies and undoes sorts of `catalog`'s photos; journals live in `folder`."""

    def __init__(self, catalog: Catalog, folder: Path) -> None:
        self.catalog = catalog
        self.folder = folder
        self._journal: tuple[Path, Plan] | None = None

    # -- planning ------------------------------------------------------------------------

    def plan(self, rules: list[Rule]) -> Plan:
        """What would go where; saved as the latest journal (nothing is touched yet)."""
        plan = Plan([])
        taken: set[str] = set()
        moved: set[int] = set()
        for rule in rules:
            for photo, label in self._matches(rule):
                step = self._step(rule, photo, label, taken, plan)
                if step is None:
                    continue
                if step.action == MOVE and photo.id in moved:
                    plan.conflicts.append(f"{photo.path}: already moved by an earlier rule")
                    continue
                moved.update([photo.id] if step.action == MOVE else [])
                plan.steps.append(step)
        _check_destinations(plan)
        self._save(plan)
        return plan

    def _matches(self, rule: Rule) -> list[tuple[Photo, str]]:
        rows = self.catalog.read(
            "SELECT t.photo_id, l.name FROM photo_tags t JOIN tag_labels l ON l.id = t.label_id"
            " JOIN tag_categories c ON c.id = l.category_id WHERE c.name = ?"
            " AND (? = '*' OR l.name = ?) ORDER BY t.photo_id",
            (rule.category, rule.label, rule.label),
        )
        photos = self.catalog.photos([r[0] for r in rows])
        return [(photos[r[0]], r[1]) for r in rows if r[0] in photos]

    def _step(
        self, rule: Rule, photo: Photo, label: str, taken: set[str], plan: Plan
    ) -> Step | None:
        size = photo.size
        if rule.mode == ALBUM:
            album = rule.destination.partition(":")[2]
            return Step(photo.id, str(photo.path), album, ALBUM, 0)
        folder = Path(_expand(rule.destination, rule.category, label, photo))
        target = folder / photo.path.name
        if target == photo.path:
            return None
        final = _unique(target, taken)
        if final != target:
            plan.conflicts.append(f"{target} exists: {photo.path.name} will be {final.name}")
        taken.add(str(final))
        return Step(photo.id, str(photo.path), str(final), rule.mode, size, photo.content_hash)

    # -- applying ------------------------------------------------------------------------

    def latest(self) -> tuple[Path, Plan] | None:
        journals = sorted(self.folder.glob("sort-*.json"))
        if not journals:
            return None
        return journals[-1], Plan.from_json(json.loads(journals[-1].read_text("utf-8")))

    def apply(self) -> Plan:
        """Carry out the latest plan, or resume it after a crash."""
        path, plan = self._latest(PLANNED, APPLYING)
        if plan.problems:
            raise SortError("The plan cannot be applied: " + "; ".join(plan.problems))
        plan.state = APPLYING
        for step in plan.steps:
            if step.status in (PENDING, STARTED):
                self._run(path, plan, step, self._do)
        plan.state = APPLIED
        _write(path, plan)
        return plan

    def undo(self) -> Plan:
        """Put back everything the latest apply did (or the part a crash left done)."""
        path, plan = self._latest(APPLYING, APPLIED, UNDOING)
        plan.state = UNDOING
        for step in reversed(plan.steps):
            if step.status in (DONE, STARTED):
                self._run(path, plan, step, self._undo)
        plan.state = REVERTED
        _write(path, plan)
        return plan

    def _latest(self, *states: str) -> tuple[Path, Plan]:
        found = self.latest()
        if found is None or found[1].state not in states:
            raise SortError(f"There is no sort to do that to (wanted one {'/'.join(states)}).")
        return found

    def _run(self, path: Path, plan: Plan, step: Step, action: Callable[[Step, str], str]) -> None:
        before = step.status
        step.status = STARTED
        self._journal = (path, plan)
        _write(path, plan)  # the intent is on disk before the files change
        try:
            step.status = action(step, before)
        except OSError as error:
            step.status = before
            _write(path, plan)
            raise SortError(
                f"{step.source}: {error.strerror or error}. Fix it, then run "
                "`photoclip sort --apply` to go on or `photoclip sort --undo` to go back."
            ) from error
        _write(path, plan)

    def _checkpoint(self) -> None:
        if self._journal is not None:
            _write(*self._journal)

    def _do(self, step: Step, before: str) -> str:
        if step.action == ALBUM:
            return self._add_to_album(step)
        source, target = Path(step.source), Path(step.destination)
        if before == STARTED and _finished(step, source, target):
            # The crash came after the file was placed; the catalog may not know yet.
            if step.action == MOVE:
                self._follow(step.photo_id, target)
            return DONE
        _remove_partial(target)
        if not step.created:
            step.created = _make_folders(target.parent)
            self._checkpoint()  # so that an undo after a crash removes them too
        if step.action == COPY:
            _copy_verified(source, target, step.hash)
        elif step.action == MOVE:
            _move(source, target, step.hash)
            self._follow(step.photo_id, target)
        elif step.action == HARDLINK:
            os.link(source, target)
        elif step.action == SYMLINK:
            os.symlink(source, target)
        return DONE

    def _undo(self, step: Step, before: str) -> str:
        if step.action == ALBUM:
            return self._remove_from_album(step)
        source, target = Path(step.source), Path(step.destination)
        if not _ours(step, source, target):
            step.note = f"{target} changed since the sort; left in place"
            return KEPT
        if step.action == MOVE:
            if not target.exists() and source.exists():
                self._follow(step.photo_id, source)  # the crash came after it was put back
                return UNDONE
            _move(target, source, step.hash)
            self._follow(step.photo_id, source)
        elif target.exists() or target.is_symlink():
            target.unlink()
        for folder in reversed(step.created):
            with contextlib.suppress(OSError):
                Path(folder).rmdir()  # only when empty
        return UNDONE

    # -- the catalog ---------------------------------------------------------------------

    def _follow(self, photo_id: int, path: Path) -> None:
        root = max(
            (r for r in self.catalog.roots() if path.is_relative_to(r.path)),
            key=lambda r: len(r.path.parts),
            default=None,
        )
        with self.catalog.transaction():
            if root is None:
                root = self.catalog.add_root(path.parent)
            self.catalog.move_photo(photo_id, path, root.id, path.stat().st_mtime_ns)
            self.catalog.next_generation()

    def _add_to_album(self, step: Step) -> str:
        with self.catalog.transaction() as db:
            db.execute("INSERT OR IGNORE INTO albums(name) VALUES (?)", (step.destination,))
            album = db.execute("SELECT id FROM albums WHERE name = ?", (step.destination,))
            cursor = db.execute(
                "INSERT OR IGNORE INTO album_photos VALUES (?, ?)",
                (album.fetchone()[0], step.photo_id),
            )
        step.note = "added" if cursor.rowcount else "already there"
        return DONE

    def _remove_from_album(self, step: Step) -> str:
        if step.note == "added":
            with self.catalog.transaction() as db:
                db.execute(
                    "DELETE FROM album_photos WHERE photo_id = ? AND album_id = "
                    "(SELECT id FROM albums WHERE name = ?)",
                    (step.photo_id, step.destination),
                )
        return UNDONE

    def album(self, name: str) -> set[int]:
        rows = self.catalog.read(
            "SELECT a.photo_id FROM album_photos a JOIN albums b ON b.id = a.album_id "
            "WHERE b.name = ?",
            (name,),
        )
        return {r[0] for r in rows}

    def _save(self, plan: Plan) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.fromtimestamp(plan.created_at).strftime("%Y%m%d-%H%M%S-%f")
        _write(self.folder / f"sort-{stamp}.json", plan)


# -- files -------------------------------------------------------------------------------------


def _is_album(destination: str) -> bool:
    return destination.startswith("album:")


def _expand(pattern: str, category: str, label: str, photo: Photo) -> str:
    taken = datetime.fromtimestamp(photo.date)
    fields = {
        "category": _safe(category),
        "label": _safe(label),
        "year": f"{taken.year:04d}",
        "month": f"{taken.month:02d}",
    }
    try:
        return os.path.expanduser(pattern.format(**fields))
    except (KeyError, IndexError, ValueError) as error:
        raise SortError(
            f"'{pattern}': unknown field {error}; use {{category}} {{label}} {{year}} {{month}}"
        ) from error


def _safe(name: str) -> str:
    return "".join("_" if c in '/\\:*?"<>|' else c for c in name).strip() or "_"


def _unique(target: Path, taken: set[str]) -> Path:
    candidate, n = target, 0
    while candidate.exists() or candidate.is_symlink() or str(candidate) in taken:
        n += 1
        candidate = target.with_name(f"{target.stem} ({n}){target.suffix}")
    return candidate


def _check_destinations(plan: Plan) -> None:
    """Read-only folders and free space, per destination device."""
    needed: dict[str, int] = {}
    for step in plan.steps:
        if step.action == ALBUM:
            continue
        existing = _existing_ancestor(Path(step.destination).parent)
        if not _writable(existing):
            step.status = BLOCKED
            step.note = f"{existing} is read-only"
            plan.conflicts.append(f"{existing} is read-only: {step.source} stays where it is")
            continue
        if step.action == COPY or (step.action == MOVE and not _same_device(step)):
            needed[str(existing)] = needed.get(str(existing), 0) + step.size
    for folder, size in needed.items():
        free = shutil.disk_usage(folder).free
        plan.space[folder] = (size, free)
        if size > free:
            plan.problems.append(f"{folder} needs {size} bytes, {free} are free")
    plan.problems = sorted(set(plan.problems))


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK)


def _existing_ancestor(folder: Path) -> Path:
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return folder


def _same_device(step: Step) -> bool:
    source = Path(step.source).stat().st_dev
    return source == _existing_ancestor(Path(step.destination).parent).stat().st_dev


def _make_folders(folder: Path) -> list[str]:
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        made.mkdir()
    return [str(m) for m in reversed(missing)]  # outermost first


def _place(temporary: Path, target: Path) -> None:
    """Give `temporary` the name `target`, never replacing a file that has it."""
    try:
        os.link(temporary, target)
    except OSError as error:
        if error.errno == errno.EEXIST:
            raise
        if target.exists():  # no hard links here (FAT, some network drives)
            raise FileExistsError(errno.EEXIST, "exists", str(target)) from error
        os.rename(temporary, target)
        return
    temporary.unlink()


def _copy_verified(source: Path, target: Path, expected: str | None) -> None:
    partial = target.with_name(target.name + _PARTIAL)
    shutil.copy2(source, partial)
    with _fsynced(partial):
        pass
    if expected is not None and content_hash(partial) != expected:
        partial.unlink()
        raise OSError(errno.EIO, f"the copy of {source} differs from it; nothing was changed")
    _place(partial, target)


def _move(source: Path, target: Path, expected: str | None) -> None:
    """Same device: link, then unlink the source. Across devices: copy, verify, delete."""
    try:
        os.link(source, target)
    except OSError as error:
        if error.errno == errno.EEXIST:
            raise
        _copy_verified(source, target, expected)
    source.unlink()


def _finished(step: Step, source: Path, target: Path) -> bool:
    if not target.exists():
        return False
    return step.action != MOVE or not source.exists()


def _ours(step: Step, source: Path, target: Path) -> bool:
    """Is what sits at `target` still what apply put there?"""
    if step.action == SYMLINK:
        return target.is_symlink() and os.readlink(target) == str(source)
    if step.action == MOVE and not target.exists():
        return source.exists()
    if not target.exists():
        return False
    if step.action == HARDLINK:
        return source.exists() and os.path.samefile(source, target)
    return step.hash is None or content_hash(target) == step.hash


def _remove_partial(target: Path) -> None:
    target.with_name(target.name + _PARTIAL).unlink(missing_ok=True)


@contextlib.contextmanager
def _fsynced(path: Path) -> Iterator[None]:
    yield
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _write(path: Path, plan: Plan) -> None:
    """Replace the journal atomically and durably."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(plan.as_json(), handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
