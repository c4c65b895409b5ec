"""Auto-sort: rules map tags to destinations, always as a plan first, then an apply that a
journal makes resumable and undoable.

A rule is `CATEGORY:LABEL` (or `CATEGORY:*`) -> a virtual album (`album:NAME`, in the
catalog) or a folder pattern such as `/photos/sorted/{category}/{label}/{year}`, with a
mode: copy, move, hardlink or symlink.

Safety: nothing is ever overwritten (a taken name gets " (1)", " (2)", ... and every final
placement is a hard link or an exists-checked rename, never a replacing one); a copy is
written under a temporary name, verified by hash, then placed; a move across devices is
copy, verify, then delete the source; the journal is written before and after each step,
so a crash mid-apply is resumed or undone from it (the plan is one JSON file replaced
atomically; each step's progress is a line appended to its `.steps` file, so a step costs
the same in a plan of ten photos or of 100k, where rewriting the plan made it grow); undo
removes only what apply made and still has the bytes apply put there. The catalog follows
moved photos (same id, same vector, same tags).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
import string
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from photoclip.core.catalog import Catalog, Photo, Root
from photoclip.core.errors import KnownError
from photoclip.core.imageio import content_hash
from photoclip.core.journal import append_record, records

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
#: progress(done, total): steps carried out so far of the plan's
Progress = Callable[[int, int], None]


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
        if not _is_album(destination):
            _check_pattern(destination)
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
    #: the library folder a move outside every root added (undo forgets it when empty)
    added_root: str = ""


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
        #: the journal, step index and step being carried out (for `_checkpoint`)
        self._journal: tuple[Path, int, Step] | None = None

    # -- planning ------------------------------------------------------------------------

    def plan(self, rules: list[Rule], photo_ids: Collection[int] | None = None) -> Plan:
        """What would go where (of `photo_ids` only, when given: a selection); saved as the
        latest journal (nothing is touched yet)."""
        plan = Plan([])
        taken: set[str] = set()
        moved: set[int] = set()
        chosen = None if photo_ids is None else set(photo_ids)
        for rule in rules:
            for photo, label in self._matches(rule):
                if chosen is not None and photo.id not in chosen:
                    continue
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
            # Known now, so that an apply killed between the catalog's commit and the
            # journal's still undoes exactly what it added.
            there = photo.id in self.album(album)
            note = "already there" if there else "to add"
            return Step(photo.id, str(photo.path), album, ALBUM, 0, note=note)
        try:
            folder = formed_folder(rule.destination, rule.category, label, photo.date)
        except OutsideDestinationError as error:
            plan.conflicts.append(f"{photo.path}: {error}; it stays where it is")
            return None
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
        return journals[-1], _read(journals[-1])

    def apply(self, progress: Progress | None = None) -> Plan:
        """Carry out the latest plan, or resume it after a crash; `progress(done, total)`
        after each step."""
        path, plan = self._latest(PLANNED, APPLYING)
        if any(not Path(s.destination).is_absolute() for s in plan.steps if s.action != ALBUM):
            raise SortError("This plan names folders relative to where it was made. Plan again.")
        if plan.problems:
            raise SortError("The plan cannot be applied: " + "; ".join(plan.problems))
        plan.state = APPLYING
        _write(path, plan)
        for index, step in enumerate(plan.steps):
            if step.status in (PENDING, STARTED):
                self._run(path, index, step, self._do)
            _report(progress, index + 1, len(plan.steps))
        plan.state = APPLIED
        _write(path, plan)
        return plan

    def undo(self, progress: Progress | None = None) -> Plan:
        """Put back everything the latest apply did (or the part a crash left done);
        `progress(done, total)` after each step."""
        path, plan = self._latest(APPLYING, APPLIED, UNDOING)
        plan.state = UNDOING
        _write(path, plan)
        for done, index in enumerate(reversed(range(len(plan.steps))), 1):
            step = plan.steps[index]
            if step.status in (DONE, STARTED):
                self._run(path, index, step, self._undo)
            _report(progress, done, len(plan.steps))
        plan.state = REVERTED
        _write(path, plan)
        return plan

    def _latest(self, *states: str) -> tuple[Path, Plan]:
        found = self.latest()
        if found is None or found[1].state not in states:
            raise SortError(f"There is no sort to do that to (wanted one {'/'.join(states)}).")
        return found

    def _run(self, path: Path, index: int, step: Step, action: Callable[[Step, str], str]) -> None:
        before = step.status
        step.status = STARTED
        self._journal = (path, index, step)
        _append(path, index, step)  # the intent is on disk before the files change
        try:
            step.status = action(step, before)
        except OSError as error:
            step.status = before
            _append(path, index, step)
            raise SortError(
                f"{step.source}: {error.strerror or error}. Fix it, then run "
                "`photoclip sort --apply` to go on or `photoclip sort --undo` to go back."
            ) from error
        _append(path, index, step)

    def _checkpoint(self) -> None:
        if self._journal is not None:
            _append(*self._journal)

    def _do(self, step: Step, before: str) -> str:
        if step.action == ALBUM:
            return self._add_to_album(step)
        source, target = Path(step.source), Path(step.destination)
        if before == STARTED and step.action == MOVE and _half_moved(step, source, target):
            source.unlink()  # the crash came between placing the file and removing the source
        if before == STARTED and _finished(step, source, target):
            # The crash came after the file was placed (maybe before its temporary name
            # was removed); the catalog may not know yet.
            _remove_partial(target)
            if step.action == MOVE:
                self._follow_move(step, target)
            return DONE
        _remove_partial(target)
        if not step.created:
            step.created = _make_folders(target.parent)
            self._checkpoint()  # so that an undo after a crash removes them too
        if step.action == COPY:
            _copy_verified(source, target, step.hash)
        elif step.action == MOVE:
            _move(source, target, step.hash)
            self._follow_move(step, target)
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
            if _half_moved(step, source, target):  # a crash mid-move, either way
                target.unlink()
            elif target.exists():  # (else the crash came after it was put back)
                _move(target, source, step.hash)
            self._follow(step.photo_id, source)
            self._forget_added_root(step)
        elif target.exists() or target.is_symlink():
            target.unlink()
        _remove_partial(target)  # what a crash mid-copy may have left
        for folder in reversed(step.created):
            with contextlib.suppress(OSError):
                Path(folder).rmdir()  # only when empty
        return UNDONE

    # -- the catalog ---------------------------------------------------------------------

    def _follow_move(self, step: Step, target: Path) -> None:
        if not step.added_root and self._root_holding(target) is None:
            # Journaled before the catalog gets the root, so that an undo after a crash
            # in between still knows the root is the sort's to forget.
            step.added_root = str(target.parent)
            self._checkpoint()
        self._follow(step.photo_id, target)

    def _follow(self, photo_id: int, path: Path) -> None:
        """Point the photo's row at `path` (its folder becomes a root if none holds it)."""
        root = self._root_holding(path)
        with self.catalog.transaction():
            if root is None:
                root = self.catalog.add_root(path.parent)
            self.catalog.move_photo(photo_id, path, root.id, path.stat().st_mtime_ns)
            self.catalog.next_generation()

    def _root_holding(self, path: Path) -> Root | None:
        return max(
            (r for r in self.catalog.roots() if path.is_relative_to(r.path)),
            key=lambda r: len(r.path.parts),
            default=None,
        )

    def _forget_added_root(self, step: Step) -> None:
        """A root the apply added for moved photos goes with the last of them."""
        root = next((r for r in self.catalog.roots() if str(r.path) == step.added_root), None)
        if root is None:
            return
        held = self.catalog.read("SELECT 1 FROM photos WHERE root_id = ? LIMIT 1", (root.id,))
        if not held:
            with self.catalog.transaction():
                self.catalog.remove_root(root.id)

    def _add_to_album(self, step: Step) -> str:
        if step.note == "already there":
            return DONE
        with self.catalog.transaction() as db:
            db.execute("INSERT OR IGNORE INTO albums(name) VALUES (?)", (step.destination,))
            album = db.execute("SELECT id FROM albums WHERE name = ?", (step.destination,))
            cursor = db.execute(
                "INSERT OR IGNORE INTO album_photos VALUES (?, ?)",
                (album.fetchone()[0], step.photo_id),
            )
        step.note = "added" if cursor.rowcount or step.note == "to add" else "already there"
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


def formed_folder(pattern: str, category: str, label: str, date: float) -> Path:
    """The absolute folder `pattern` names for one photo. Relative patterns are resolved
    against the current folder now, at planning, so that an apply run from anywhere goes
    to the same place. Tag names are made single, harmless path components, and the
    folder must stay inside the pattern's fixed part (OutsideDestinationError if a link
    on the way leads out)."""
    year, month = _year_month(date)
    fields = {"category": safe_component(category), "label": safe_component(label)}
    fields |= {"year": year, "month": month}
    try:
        formed = pattern.format(**fields)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as error:
        raise SortError(
            f"'{pattern}': unknown field {error}; use {{category}} {{label}} {{year}} {{month}}"
        ) from error
    if "\x00" in formed:
        raise SortError(f"{pattern!r}: a folder name cannot hold a NUL character")
    folder, base = _absolute(formed), _absolute(_fixed_part(pattern))
    if not _inside(folder, base):
        raise OutsideDestinationError(f"{folder} would be outside {base}")
    return folder


def _check_pattern(pattern: str) -> None:
    """A pattern's mistakes are told when the rule is read, not when a photo matches."""
    with contextlib.suppress(OutsideDestinationError):  # (a link in the way: per photo)
        formed_folder(pattern, "category", "label", 0.0)


class OutsideDestinationError(SortError):
    """A formed folder resolves outside its rule's destination (a link leads out)."""


#: Names Windows keeps for devices, in any case and with any extension.
_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{n}" for p in ("COM", "LPT") for n in range(10)}
_UNSAFE = set('/\\:*?"<>|')
#: A file name may have 255 bytes; leave room for " (12)" and the photo's own name.
_MAX_COMPONENT_BYTES = 120


def safe_component(name: str) -> str:
    """`name` as one folder name that means no other folder: no separators, controls or
    lone surrogates, never "", "." or "..", no Windows device name, not too long."""
    cleaned = "".join("_" if _unsafe(c) else c for c in name).strip().rstrip(". ")
    cleaned = cleaned.encode("utf-8")[:_MAX_COMPONENT_BYTES].decode("utf-8", "ignore")
    if not cleaned.strip("."):
        return "_"
    if cleaned.split(".")[0].strip().upper() in _RESERVED:
        return "_" + cleaned
    return cleaned


def _unsafe(char: str) -> bool:
    return char in _UNSAFE or ord(char) < 32 or ord(char) == 127 or 0xD800 <= ord(char) < 0xE000


def _year_month(date: float) -> tuple[str, str]:
    """Year and month of a timestamp, local time; any float, even one no calendar holds
    (a damaged EXIF date), gives a folder name rather than an error."""
    try:
        taken = datetime.fromtimestamp(date)
    except (OverflowError, OSError, ValueError):
        if math.isnan(date):
            return "unknown", "unknown"
        taken = datetime.min if date < 0 else datetime.max
    return f"{taken.year:04d}", f"{taken.month:02d}"


def _fixed_part(pattern: str) -> str:
    """The folders of `pattern` before its first field: what every formed path is in."""
    literal = ""
    for text, field_name, _, _ in string.Formatter().parse(pattern):
        literal += text
        if field_name is not None:
            cut = max(literal.rfind("/"), literal.rfind(os.sep))
            return literal[: cut + 1]
    return literal  # no field at all: the whole pattern is the folder


def _absolute(text: str) -> Path:
    return Path(os.path.abspath(os.path.expanduser(text) or "."))


def _inside(folder: Path, base: Path) -> bool:
    """`folder` is `base` or below it, before and after links are followed."""
    resolved = Path(os.path.realpath(folder)), Path(os.path.realpath(base))
    return folder.is_relative_to(base) and resolved[0].is_relative_to(resolved[1])


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


def _half_moved(step: Step, source: Path, target: Path) -> bool:
    """Both names hold the photo's bytes: a move stopped after placing it, before the
    other name was removed."""
    if not (source.exists() and target.exists()):
        return False
    if os.path.samefile(source, target):
        return True
    return step.hash is not None and content_hash(source) == step.hash == content_hash(target)


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
    """Replace the journal atomically and durably, with every step's progress in it; the
    step log is then empty. (A kill between the two leaves log lines that say again what
    the new file already holds: replaying them changes nothing.)"""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(plan.as_json(), handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _step_log(path).unlink(missing_ok=True)


def _append(path: Path, index: int, step: Step) -> None:
    """Record one step's progress durably, in the plan's step log."""
    append_record(_step_log(path), {"index": index, "step": asdict(step)})


def _read(path: Path) -> Plan:
    """The plan as written, with its step log replayed over it."""
    plan = Plan.from_json(json.loads(path.read_text("utf-8")))
    for record in records(_step_log(path)):
        plan.steps[record["index"]] = Step(**record["step"])
    return plan


def _step_log(path: Path) -> Path:
    return path.with_name(path.name + ".steps")


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)
