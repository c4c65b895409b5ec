"""Moving photos to the system trash, and back: never a permanent delete, never an overwrite.

send2trash moves the files; a journal in the data folder (trash-journal.log, records
appended by core.journal) remembers each batch: where every file was and where the trash
put it. Undo takes the last batch back out of the trash:

- Linux and other freedesktop systems: the trash is `files/` + `info/NAME.trashinfo` (whose
  `Path=` holds the original place) in $XDG_DATA_HOME/Trash, or in `.Trash/UID` or
  `.Trash-UID` at the top of another drive. We find the trashed file by its info's Path,
  move it back and remove its info file, as a file manager's "Restore" does.
- macOS: ~/.Trash keeps no record of origins; we find the file there by the name the trash
  gave it (looked up right after trashing: same size and modification time).
- Windows: the Recycle Bin can be emptied and restored only through the shell, which
  send2trash does not expose; undo says so and lists the files to restore from the
  Recycle Bin by hand.

A restore never replaces a file that has come back to the original place meanwhile (it is
reported as a conflict and left in the trash), and a file no longer in the trash (emptied)
is reported missing. The catalog learns of both directions through the watcher or the next
scan: moved-back files have the same bytes, so they get their old vectors without a model.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote

from photoclip.core.errors import KnownError
from photoclip.core.journal import append_record, records
from photoclip.core.library import Library

JOURNAL_NAME = "trash-journal.log"
#: The journal as earlier versions wrote it, one JSON document rewritten at every file
#: (its batches are still read, so that they can be undone; it is never written again).
OLD_JOURNAL_NAME = "trash-journal.json"


@dataclass(frozen=True)
class TrashedFile:
    original: Path
    #: where the trash put it, when we could tell (None: look for it at undo time)
    trashed: Path | None
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class TrashBatch:
    id: str
    when: float
    files: tuple[TrashedFile, ...]
    undone: bool = False


@dataclass
class TrashReport:
    """What a move or an undo did, file by file."""

    done: list[Path] = field(default_factory=list)
    #: (path, reason): not moved, or not restored (missing from the trash, a conflict)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


class Trash:
    """Moves files to the system trash with a journal, and restores the last batch.

    `send` trashes one file (send2trash by default); `locate(original, size, mtime_ns)`
    finds where the trash put it (the platform's way by default). Tests pass both."""

    def __init__(
        self,
        data_folder: Path,
        send: Callable[[Path], None] | None = None,
        locate: Callable[[Path, int, int], Path | None] | None = None,
    ) -> None:
        self.journal = data_folder / JOURNAL_NAME
        self._old_journal = data_folder / OLD_JOURNAL_NAME
        self._send = send or _send2trash
        self._locate = locate or locate_in_trash

    # -- moving --------------------------------------------------------------------------

    def move(
        self, paths: Sequence[Path], progress: Callable[[int, int], None] | None = None
    ) -> TrashReport:
        """Trash each file, calling `progress(done, total)` after each. The journal names
        a file before it moves (and where it went after), so a kill at any moment leaves
        nothing in the trash that undo cannot find."""
        batch = TrashBatch(uuid.uuid4().hex, time.time(), ())
        report = TrashReport()
        for number, path in enumerate(map(Path, paths), 1):
            try:
                self._move_one(path, batch)
            except OSError as error:
                report.skipped.append((path, _reason(error, path)))
            else:
                report.done.append(path)
            if progress is not None:
                progress(number, len(paths))
        return report

    def _move_one(self, path: Path, batch: TrashBatch) -> None:
        """Journal, move, journal where it went."""
        if not path.is_file():
            raise OSError(errno.ENOENT, "not a file any more")
        stat = path.stat()
        going = TrashedFile(path, None, stat.st_size, stat.st_mtime_ns)
        self._record(batch, file=_file_to_json(going))
        try:
            self._send(path)
        except OSError:
            self._record(batch, forget=str(path))  # it never left
            raise
        gone = replace(going, trashed=self._locate(path, stat.st_size, stat.st_mtime_ns))
        self._record(batch, file=_file_to_json(gone))

    # -- undoing ---------------------------------------------------------------------------

    def last_batch(self) -> TrashBatch | None:
        return next((b for b in reversed(self.batches()) if not b.undone), None)

    def undo(self) -> TrashReport:
        """Restore the last batch not undone yet (KnownError when there is none)."""
        batch = self.last_batch()
        if batch is None:
            raise KnownError("Nothing was moved to the trash to take back.")
        if sys.platform == "win32":
            names = ", ".join(str(f.original) for f in batch.files)
            raise KnownError(
                "Windows lets only the Recycle Bin itself restore files. Open it and "
                f"restore: {names}"
            )
        report = TrashReport()
        for trashed in batch.files:
            self._restore_one(trashed, report)
        self._record(batch, undone=True)
        return report

    def _restore_one(self, trashed: TrashedFile, report: TrashReport) -> None:
        original = trashed.original
        source = trashed.trashed
        if source is None or not source.exists():
            source = self._locate(original, trashed.size, trashed.mtime_ns)
        if source is None or not source.exists():
            if _unmoved(trashed):  # the journal named it, and the move never came
                report.done.append(original)
            else:
                report.skipped.append((original, "no longer in the trash (emptied?)"))
            return
        try:
            _move_without_overwrite(source, original)
        except FileExistsError:
            report.skipped.append((original, "a file has taken its place; left in the trash"))
            return
        except OSError as error:
            report.skipped.append((original, error.strerror or str(error)))
            return
        _forget_trash_info(source)
        report.done.append(original)

    # -- the journal -------------------------------------------------------------------------

    def batches(self) -> list[TrashBatch]:
        """Every batch, oldest first: those of an earlier version's journal, then the
        journal's records replayed."""
        found = {b.id: b for b in self._old_batches()}
        try:
            for record in records(self.journal):
                found[record["batch"]] = _replayed(found.get(record["batch"]), record)
        except (OSError, KeyError, TypeError, ValueError) as error:
            raise KnownError(f"The trash journal {self.journal} is unreadable: {error}") from error
        return sorted(found.values(), key=lambda b: b.when)

    def _old_batches(self) -> list[TrashBatch]:
        try:
            raw = json.loads(self._old_journal.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as error:
            raise KnownError(
                f"The trash journal {self._old_journal} is unreadable: {error}"
            ) from error
        return [_batch_from_json(b) for b in raw.get("batches", [])]

    def _record(self, batch: TrashBatch, **change: object) -> None:
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        append_record(self.journal, {"batch": batch.id, "when": batch.when, **change})


def _replayed(batch: TrashBatch | None, record: dict) -> TrashBatch:
    """`batch` (None: a new one) with one journal record applied: a file named before
    its move or again after it (with where it went), a file forgotten (it never left),
    or the batch undone."""
    if batch is None:
        batch = TrashBatch(record["batch"], float(record["when"]), ())
    if record.get("undone"):
        return replace(batch, undone=True)
    named = record.get("file")
    gone = Path(named["original"]) if named else Path(record["forget"])
    files = tuple(f for f in batch.files if f.original != gone)
    if named:
        files = (*files, _file_from_json(named))
    return replace(batch, files=files)


# -- finding a file in the trash -------------------------------------------------------------------


def trash_photos(
    library: Library,
    data: Path,
    paths: Sequence[Path],
    progress: Callable[[int, int], None] | None = None,
) -> TrashReport:
    """Move photos to the trash (journaled in `data`) and drop the ones that went from
    the library; the ones skipped stay, with their reasons in the report."""
    report = Trash(data).move(paths, progress)
    photos = [library.catalog.photo_by_path(path) for path in report.done]
    library.delete_photos([photo.id for photo in photos if photo is not None])
    return report


def locate_in_trash(original: Path, size: int, mtime_ns: int) -> Path | None:
    """Where the platform's trash holds the file that was at `original`."""
    if sys.platform == "darwin":
        return _locate_mac(original, size, mtime_ns)
    if sys.platform == "win32":
        return None
    return locate_freedesktop(original, freedesktop_trash_dirs(original))


def freedesktop_trash_dirs(original: Path) -> list[tuple[Path, Path]]:
    """(trash folder, the folder its info Paths are relative to), home trash first."""
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    found = [(data_home / "Trash", data_home)]
    top = _mount_point(original.parent)
    uid = os.getuid() if hasattr(os, "getuid") else 0
    for trash in (top / ".Trash" / str(uid), top / f".Trash-{uid}"):
        if trash.is_dir():
            found.append((trash, top))
    return found


def locate_freedesktop(original: Path, trash_dirs: list[tuple[Path, Path]]) -> Path | None:
    """The newest trashed file whose .trashinfo Path is `original`."""
    best: tuple[float, Path] | None = None
    for trash, top in trash_dirs:
        info_dir = trash / "info"
        if not info_dir.is_dir():
            continue
        for info in info_dir.glob(f"{_glob_escape(original.stem)}*.trashinfo"):
            if _info_path(info, top) != original:
                continue
            stored = trash / "files" / info.name[: -len(".trashinfo")]
            when = info.stat().st_mtime
            if stored.exists() and (best is None or when > best[0]):
                best = (when, stored)
    return best[1] if best else None


def _info_path(info: Path, top: Path) -> Path | None:
    with contextlib.suppress(OSError, UnicodeDecodeError):
        for line in info.read_text(encoding="utf-8").splitlines():
            if line.startswith("Path="):
                path = Path(unquote(line[len("Path=") :]))
                return path if path.is_absolute() else top / path
    return None


def _locate_mac(original: Path, size: int, mtime_ns: int) -> Path | None:
    trash = Path.home() / ".Trash"
    with contextlib.suppress(OSError):
        for candidate in trash.glob(f"{_glob_escape(original.stem)}*{original.suffix}"):
            stat = candidate.stat()
            if stat.st_size == size and stat.st_mtime_ns == mtime_ns:
                return candidate
    return None


def _forget_trash_info(restored_from: Path) -> None:
    """Remove the freedesktop info file of a file we took back out of the trash."""
    info = restored_from.parent.parent / "info" / f"{restored_from.name}.trashinfo"
    if restored_from.parent.name == "files":
        with contextlib.suppress(FileNotFoundError):
            info.unlink()


def _move_without_overwrite(source: Path, target: Path) -> None:
    """Move `source` to `target`; FileExistsError if something is there. On one file
    system a hard link makes the check and the move one step; across file systems we
    check, then copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError:  # another file system, or links not allowed: check, then move
        if target.exists():
            raise FileExistsError(errno.EEXIST, "exists", str(target)) from None
        shutil.move(source, target)
        return
    source.unlink()


def _unmoved(trashed: TrashedFile) -> bool:
    """The file is still where it was, as it was (a move cut short before it happened)."""
    try:
        stat = trashed.original.stat()
    except OSError:
        return False
    return stat.st_size == trashed.size and stat.st_mtime_ns == trashed.mtime_ns


def _reason(error: OSError, path: Path) -> str:
    """The OS's words, naming the other file when it was not this one (the trash)."""
    reason = error.strerror or str(error)
    if error.filename and Path(os.fsdecode(error.filename)) != path:
        reason += f": {os.fsdecode(error.filename)}"
    return reason


def _mount_point(path: Path) -> Path:
    path = path.resolve()
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def _send2trash(path: Path) -> None:
    from send2trash import send2trash

    send2trash(str(path))


def _file_to_json(trashed: TrashedFile) -> dict[str, object]:
    return {
        **asdict(trashed),
        "original": str(trashed.original),
        "trashed": trashed.trashed and str(trashed.trashed),
    }


def _file_from_json(data: dict) -> TrashedFile:
    return TrashedFile(
        Path(data["original"]),
        Path(data["trashed"]) if data.get("trashed") else None,
        int(data["size"]),
        int(data["mtime_ns"]),
    )


def _batch_from_json(data: dict) -> TrashBatch:
    files = tuple(_file_from_json(f) for f in data["files"])
    return TrashBatch(data["id"], float(data["when"]), files, bool(data.get("undone")))
