"""Jobs the desktop app asks the worker for: each runs on the worker thread (the one writer)
and answers through `reply`, a callable the caller gives (the GUI's bridge turns it into a
signal). A failure is a `JobFailed` event named after the job, like any other job's.

Removing a folder forgets its photos in PhotoClip only; the files are never touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from photoclip.core.categories import Category
from photoclip.core.errors import KnownError
from photoclip.core.indexing import IndexReport, measured
from photoclip.core.library import check_thumbnail_folder, thumbnail_store
from photoclip.core.paths import Locations
from photoclip.core.profiles import file_profile, resolve_profile
from photoclip.core.settings import Settings
from photoclip.core.sorting import Plan, Rule, Sorter
from photoclip.core.tagging import Explanation, Tagger, install_default_categories
from photoclip.core.tagstore import TagStore
from photoclip.core.thumbnails import FillThumbnails
from photoclip.core.worker import USER, Job, Work

Reply = Callable[[Any], None]


@dataclass(frozen=True)
class Action(Job):
    """A user's request: runs before live and bulk work, and hands its result to `reply`."""

    reply: Reply | None = field(default=None, kw_only=True, compare=False)
    priority: ClassVar[int] = USER

    def run(self, work: Work) -> IndexReport | None:
        result = self.perform(work)
        if self.reply is not None:
            self.reply(result)
        return None

    def perform(self, work: Work) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class LoadModel(Action):
    """Load the indexing model now (at start-up), so the first search does not wait for it.
    Replies with the profile's name."""

    def perform(self, work: Work) -> str:
        return work.worker.encoder().profile.name


@dataclass(frozen=True)
class ChooseModel(Action):
    """Make `profile` (a name, or ARCH:/path/to/weights) the model: saved in the settings,
    loaded, and the library re-embedded with it in the background. Replies with the name."""

    profile: str

    def perform(self, work: Work) -> str:
        name = resolve_profile(self.profile).name  # a bad name fails here, changing nothing
        previous = work.worker.profile
        work.worker._switch_to(name)
        try:
            work.worker.encoder()  # missing weights fail here, and the old model stays
        except KnownError:
            work.worker._switch_to(previous)
            raise
        path = work.library.locations.settings
        settings = Settings.load(path)
        settings.model = name
        settings.save(path)
        return name


@dataclass(frozen=True)
class UpdateSettings(Action):
    """Change some settings (field name -> value) in the settings file, keeping the rest;
    on the worker thread, so that it never races ChooseModel. A new thumbnail folder is
    checked first, then written by the worker from the next photo on and filled in the
    background (core.thumbnails). Replies with the Settings."""

    changes: tuple[tuple[str, Any], ...]

    def perform(self, work: Work) -> Settings:
        path = work.library.locations.settings
        settings = replace(Settings.load(path), **dict(self.changes))
        thumbnails = thumbnail_store(work.library.locations, settings)
        moved = thumbnails != work.library.thumbnails
        if moved:
            check_thumbnail_folder(thumbnails)  # a folder it cannot use changes nothing
        settings.save(path)
        if moved:  # the old folder stays as it was: the user's to delete
            previous, work.library.thumbnails = work.library.thumbnails.folder, thumbnails
            work.worker.submit(FillThumbnails(previous))
        return settings


def weights_file_profile(path: Path) -> str:
    """The profile for a local checkpoint: the file alone (its architecture is read from
    the file when the model loads)."""
    return file_profile(Path(path)).name


@dataclass(frozen=True)
class RemoveFolder(Action):
    """Forget a folder and its photos in PhotoClip (never on disk). Replies with how many
    photos were forgotten."""

    path: Path

    def perform(self, work: Work) -> int:
        return work.worker._remove_root(Path(self.path))


@dataclass(frozen=True)
class SaveCategories(Action):
    """Remove categories (by name) and save edited ones, in one transaction, then re-tag
    the library for what changed. A category or label that carries its stored id is that
    row, renamed or not (TagStore.save_categories), so a rename keeps the corrections and
    calibration. Replies with the names of the categories now stored."""

    changed: tuple[Category, ...] = ()
    removed: tuple[str, ...] = ()

    def perform(self, work: Work) -> list[str]:
        store = TagStore(work.library.catalog)
        saved = [c.name for c in store.save_categories(self.changed, self.removed)]
        if saved and work.library.active_model is not None:
            _tagger(work).retag(saved, progress=_steps(work))
        return [c.name for c in store.categories()]


@dataclass(frozen=True)
class CorrectTag(Action):
    """Confirm or reject a label on a photo; the category is re-tagged around it (photos
    that look like it may follow). Replies with (photo id, what changed in words:
    "2 similar photos now tagged 'red'; 1 lost 'white'")."""

    photo_id: int
    category: str
    label: str
    #: "confirmed" or "rejected"
    verdict: str

    def perform(self, work: Work) -> tuple[int, str]:
        change = _tagger(work).correct(self.photo_id, self.category, self.label, self.verdict)
        return self.photo_id, change.describe()


@dataclass(frozen=True)
class CorrectTags(Action):
    """Confirm or reject one label on a selection of photos: one re-tag, one undo (by
    UndoCorrection). Replies with what was done and changed, in words: "Confirmed 'red'
    on 12 photos; 2 similar photos now tagged 'red'"."""

    photo_ids: tuple[int, ...]
    category: str
    label: str
    #: "confirmed" or "rejected"
    verdict: str

    def perform(self, work: Work) -> str:
        tagger = _tagger(work)
        change = tagger.correct_many(self.photo_ids, self.category, self.label, self.verdict)
        done = "Confirmed" if self.verdict == "confirmed" else "Removed"
        count = len(self.photo_ids)
        where = "1 photo" if count == 1 else f"{count} photos"
        return f"{done} '{self.category}: {self.label}' on {where}; {change.describe()}"


@dataclass(frozen=True)
class UndoCorrection(Action):
    """Take back the last correction. Replies with what was undone and what that changed,
    in words, or None when there was nothing to undo."""

    def perform(self, work: Work) -> str | None:
        if work.library.active_model is None:
            return None
        undone = _tagger(work).undo()
        return None if undone is None else f"Undid {undone[0]}: {undone[1].describe()}"


@dataclass(frozen=True)
class PreviewSuggestedCategories(Action):
    """The suggested categories not added yet, each with how many photos it would tag.
    Replies with [(name, would tag, of photos)]; nothing is saved."""

    def perform(self, work: Work) -> list[tuple[str, int, int]]:
        from photoclip.core.categories import default_categories

        have = {c.name.lower() for c in TagStore(work.library.catalog).categories()}
        missing = [c for c in default_categories() if c.name.lower() not in have]
        if work.library.active_model is None:
            return [(c.name, 0, 0) for c in missing]
        tagger = _tagger(work)
        previews = [tagger.preview(c) for c in missing]
        return [(c.name, p.tagged, p.photos) for c, p in zip(missing, previews, strict=True)]


@dataclass(frozen=True)
class AddSuggestedCategories(Action):
    """Add these suggested categories (by name) and tag the library with them. Replies with
    the names added."""

    names: tuple[str, ...]

    def perform(self, work: Work) -> list[str]:
        added = install_default_categories(TagStore(work.library.catalog), list(self.names))
        if added and work.library.active_model is not None:
            _tagger(work).retag(added, progress=_steps(work))
        return added


@dataclass(frozen=True)
class ExplainTags(Action):
    """Every label's score and threshold for one photo (what `tag --explain` prints), on
    the worker because label vectors may need the model and are cached in the catalog.
    Replies with (photo_id, list of core.tagging.Explanation)."""

    photo_id: int

    def perform(self, work: Work) -> tuple[int, list[Explanation]]:
        if work.library.active_model is None:
            return self.photo_id, []
        return self.photo_id, _tagger(work).explain(self.photo_id)


@dataclass(frozen=True)
class PlanSort(Action):
    """Work out (and journal) what would go where, for every photo or only `photo_ids`
    (a selection); nothing moves. Replies with the Plan."""

    rules: tuple[Rule, ...]
    photo_ids: tuple[int, ...] | None = None

    def perform(self, work: Work) -> Plan:
        return _sorter(work).plan(list(self.rules), self.photo_ids)


@dataclass(frozen=True)
class ApplySort(Action):
    """Carry out (or resume) the latest plan, reporting each step as progress. Replies
    with the Plan as applied."""

    def perform(self, work: Work) -> Plan:
        return _sorter(work).apply(_steps(work))


@dataclass(frozen=True)
class UndoSort(Action):
    """Put back what the latest apply did, reporting each step as progress. Replies with
    the Plan as reverted."""

    def perform(self, work: Work) -> Plan:
        return _sorter(work).undo(_steps(work))


@dataclass(frozen=True)
class FindDuplicates(Action):
    """Group the active model's near-duplicate photos; replies with the groups (a list of
    core.duplicates.DuplicateGroup). It only reads (the index, and the thumbnails or files
    of candidate pairs), so a caller with a read-only library may run
    core.duplicates.DuplicateFinder on a thread of its own instead, as the GUI does."""

    threshold: float | None = None

    def perform(self, work: Work) -> list[Any]:
        from photoclip.core.duplicates import DuplicateFinder

        return DuplicateFinder(work.library, self.threshold).find()


@dataclass(frozen=True)
class TrashPhotos(Action):
    """Move photos to the system trash (journaled, see core.trash) and drop them from the
    catalog. Replies with the core.trash.TrashReport."""

    paths: tuple[Path, ...]

    def perform(self, work: Work) -> Any:
        from photoclip.core.trash import trash_photos

        return trash_photos(work.library, work.worker.locations.data, self.paths, _steps(work))


@dataclass(frozen=True)
class UndoTrash(Action):
    """Take the last trashed batch back out of the trash and index it again (same bytes:
    their vectors are found by content, unless a full scan pruned them meanwhile), before
    replying with the TrashReport: a search for duplicates that follows finds them again."""

    def perform(self, work: Work) -> Any:
        from photoclip.core.trash import Trash

        report = Trash(work.worker.locations.data).undo()
        if report.done:
            work.indexer().index_files(list(report.done), work.progress, work.control)
        return report


def _steps(work: Work) -> Callable[[int, int], None]:
    """A job's steps (done, total) as the worker's progress events, with a time left."""
    started = time.monotonic()
    return lambda done, total: work.progress(measured(done, total, started))


def _tagger(work: Work) -> Tagger:
    return work.worker.tagger()  # kept between jobs: see Worker.tagger


def _sorter(work: Work) -> Sorter:
    return Sorter(work.library.catalog, sort_folder(work.library.locations))


def sort_folder(locations: Locations) -> Path:
    """Where sort journals live (the CLI's `photoclip sort` uses the same folder)."""
    return locations.data / "sort"
