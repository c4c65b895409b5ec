"""The main window's dialogs, wired to the task manager: the category editor, auto-sort,
settings and failed photos. Each dialog gets its data from a read on the pool, and its
requests go to the worker as actions; the dialogs themselves (photoclip.gui.*) do no I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize
from PySide6.QtGui import QImage

from photoclip.core import browsing
from photoclip.core.actions import (
    AddSuggestedCategories,
    ApplySort,
    PlanSort,
    PreviewSuggestedCategories,
    SaveCategories,
    TrashPhotos,
    UndoSort,
    UndoTrash,
    UpdateSettings,
    sort_folder,
)
from photoclip.core.catalog import Catalog
from photoclip.core.categories import Category
from photoclip.core.indexing import IndexProgress, measured
from photoclip.core.settings import Settings
from photoclip.core.sorting import APPLIED, Plan, Sorter
from photoclip.core.tagging import CategoryCheck, check_categories
from photoclip.core.tagstore import TagStore
from photoclip.core.vocabulary import known_to
from photoclip.gui.thumbnails import read_scaled

if TYPE_CHECKING:
    from photoclip.gui.mainwindow import MainWindow

Thresholds = dict[tuple[str, str], float]
TagSetup = tuple[list[Category], Thresholds, list[CategoryCheck], Callable[[str], bool] | None]
#: the status bar's name for finding near-duplicates (on the read pool, not the worker)
DUPLICATES = "Finding near-duplicates"


def read_tag_setup(catalog: Catalog) -> TagSetup:
    """The categories, the threshold learned for each label by the active model, what
    each category does to the library (the figures of `photoclip tags check`), and which
    words the model knows (None: any; `vocabulary.known_to`)."""
    store = TagStore(catalog)
    categories = store.categories()
    key = catalog.active_model
    calibrated = store.calibration(key) if key else {}
    thresholds = {
        (category.name, label.name): calibrated[label.id].threshold
        for category in categories
        for label in category.labels
        if label.id in calibrated
    }
    known = known_to(key) if key else None
    return categories, thresholds, check_categories(catalog, key) if key else [], known


def read_sort_setup(catalog: Catalog, locations: Any) -> tuple[list[Category], Plan | None]:
    """The categories, and the latest sort if it can be undone."""
    latest = Sorter(catalog, sort_folder(locations)).latest()
    undoable = latest[1] if latest is not None and latest[1].state == APPLIED else None
    return TagStore(catalog).categories(), undoable


class Dialogs:
    """Opens the window's dialogs; keeps the sort dialog to route worker failures to it."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.tasks = window.tasks
        self.sort_dialog: Any = None
        self.duplicates_dialog: Any = None

    def category_editor(self) -> None:
        from photoclip.gui.categoryeditor import CategoryEditor

        def edit(setup: TagSetup) -> None:
            editor = CategoryEditor(setup[0], self.window)
            editor.set_calibrated(setup[1])
            editor.set_checks(setup[2])
            editor.set_known(setup[3])
            editor.saved.connect(lambda changed, removed: self._save(setup[0], changed, removed))
            editor.open()

        self.tasks.read(lambda s: read_tag_setup(s.library.catalog), edit)

    def suggested_categories(self) -> None:
        """Offer the suggested categories, each with how many photos it would tag."""
        from photoclip.gui.suggestions import SuggestedCategoriesDialog

        def offer(previews: list[tuple[str, int, int]]) -> None:
            dialog = SuggestedCategoriesDialog(previews, self.window)
            dialog.add_requested.connect(self._add_suggested)
            dialog.open()

        self.tasks.act(PreviewSuggestedCategories, on_done=offer)

    def _add_suggested(self, names: list[str]) -> None:
        def added(found: list[str]) -> None:
            self.window.status.show_message(f"Added: {', '.join(found) or 'nothing'}")
            self.window.refresh_library()

        self.tasks.act(AddSuggestedCategories, tuple(names), on_done=added)

    def _save(self, originals: list[Category], changed: list[Category], removed: list[str]) -> None:
        from photoclip.gui.categoryeditor import tag_renames  # loaded with the editor

        renames = tag_renames(originals, changed, removed)

        def done(_: object) -> None:
            self.window.follow_tag_renames(renames)
            self.window.refresh_library()

        self.tasks.act(SaveCategories, tuple(changed), tuple(removed), on_done=done)

    def sort(self, photo_ids: tuple[int, ...] | None = None) -> None:
        """The sort dialog, for every photo or only `photo_ids` (the grid's selection)."""
        from photoclip.gui.sortdialog import SortDialog

        dialog = SortDialog(self.window)
        self.sort_dialog = dialog
        if photo_ids is not None:
            dialog.set_selection(len(photo_ids))
        dialog.plan_requested.connect(
            lambda rules: self.tasks.act(
                PlanSort, tuple(rules), photo_ids, on_done=dialog.show_plan
            )
        )
        dialog.apply_requested.connect(
            lambda: self.tasks.act(ApplySort, on_done=lambda p: self._sorted(p, "Sorted"))
        )
        dialog.undo_requested.connect(
            lambda: self.tasks.act(UndoSort, on_done=lambda p: self._sorted(p, "Put back"))
        )
        locations = self.window.locations
        self.tasks.read(lambda s: read_sort_setup(s.library.catalog, locations), self._set_up)
        dialog.open()

    def _set_up(self, setup: tuple[list[Category], Plan | None]) -> None:
        categories, undoable = setup
        self.sort_dialog.set_categories(categories)
        if undoable is not None:
            self.sort_dialog.set_undoable(undoable)

    def _sorted(self, plan: Plan, verb: str) -> None:
        done = sum(1 for step in plan.steps if step.status in ("done", "undone"))
        self.sort_dialog.show_done(f"{verb}: {done} of {len(plan.steps)} photos.", plan)
        self.window.refresh_library()

    def sort_progress(self, done: int, total: int) -> None:
        if self.sort_dialog is not None:
            self.sort_dialog.set_progress(done, total)

    def sort_failed(self, message: str) -> None:
        if self.sort_dialog is not None:
            self.sort_dialog.show_error(message)

    def settings(self) -> None:
        from photoclip.core.profiles import BUILTIN_PROFILES
        from photoclip.gui.settingsdialog import SettingsDialog

        in_use = self.window.tasks.worker.profile  # not settings.model, which may be unset
        shown = replace(self.window.settings, model=in_use)
        dialog = SettingsDialog(shown, BUILTIN_PROFILES, self.window)
        dialog.accepted.connect(lambda: self._settings_chosen(dialog.chosen(), in_use))
        dialog.open()

    def _settings_chosen(self, chosen: Settings, in_use: str) -> None:
        """Saved by the worker (in order with any model change), then a new model chosen.
        The thumbnail folder changes once the worker has checked it (it may refuse)."""
        window = self.window
        kept = window.settings
        window.settings = replace(chosen, model=kept.model, thumbnail_cache=kept.thumbnail_cache)
        changes = tuple((f.name, getattr(chosen, f.name)) for f in fields(chosen))
        changed = tuple(c for c in changes if c[0] != "model")
        self.tasks.act(UpdateSettings, changed, on_done=window.settings_saved)
        if chosen.model and chosen.model != in_use:
            window.choose_model(chosen.model)

    def failures(self) -> None:
        from photoclip.gui.failures import FailuresDialog

        def show(found: list[browsing.Failure]) -> None:
            dialog = FailuresDialog(self.window)
            dialog.set_failures(found)
            dialog.open()

        self.tasks.read(lambda s: browsing.failures(s.library.catalog), show)

    # -- near-duplicates (photoclip.gui.duplicatesview) ------------------------------------------

    def duplicates(self) -> None:
        """Groups are found on the read pool (it only reads); trash and undo are jobs."""
        from photoclip.gui.duplicatesview import DuplicatesDialog

        dialog = DuplicatesDialog(self.window)
        self.duplicates_dialog = dialog
        dialog.thumbnails_requested.connect(self._duplicate_thumbnails)
        dialog.trash_requested.connect(self._trash)
        dialog.undo_requested.connect(self._undo_trash)
        dialog.show_message("Looking for near-duplicates…")
        dialog.open()
        self._find_duplicates()

    def _find_duplicates(self, message: str = "") -> None:
        """Find the groups (again); `message` is shown with them (setting groups clears
        the dialog's message)."""
        from photoclip.core.duplicates import DuplicateFinder

        def found(groups: list[Any]) -> None:
            self.window.status.show_task(DUPLICATES, None)
            self.duplicates_dialog.set_groups(groups)
            self.duplicates_dialog.show_message(message)

        def failed(why: str) -> None:
            self.window.status.show_task(DUPLICATES, None)
            self.duplicates_dialog.show_message(why)

        self.window.status.show_message(f"{DUPLICATES}…")
        progress = self._duplicates_progress()
        find = lambda s: DuplicateFinder(s.library, progress=progress).find()  # noqa: E731
        self.tasks.read(find, found, key="duplicates", failed=failed)

    def _duplicates_progress(self) -> Any:
        """A progress callback for the pool thread: every 25th photo reaches the dialog and
        the status bar (with the time left)."""
        show = self.tasks.bridge.reply_to(self._show_duplicates_progress)
        started = time.monotonic()

        def progress(done: int, total: int) -> None:
            if done % 25 == 0 or done == total:
                show(measured(done, total, started))

        return progress

    def _show_duplicates_progress(self, progress: IndexProgress) -> None:
        self.duplicates_dialog.set_progress(progress.done, progress.total)
        self.window.status.show_task(f"{DUPLICATES}: fingerprints", progress)

    def _duplicate_thumbnails(self, paths: list[str]) -> None:
        from photoclip.gui.duplicatesview import THUMBNAIL_SIZE

        box = QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE)  # fitted inside, never cropped

        def read_all() -> list[tuple[str, QImage]]:
            return [(path, read_scaled(Path(path), box)) for path in paths]

        def show(images: list[tuple[str, QImage]]) -> None:
            for path, image in images:
                if not image.isNull():
                    self.duplicates_dialog.set_thumbnail(path, image)

        self.tasks.run(read_all, show)

    def _trash(self, paths: list[str]) -> None:
        done = lambda report: self._trashed(report, "moved to")  # noqa: E731
        self.tasks.act(TrashPhotos, tuple(Path(p) for p in paths), on_done=done)

    def _undo_trash(self) -> None:
        self.tasks.act(UndoTrash, on_done=lambda report: self._trashed(report, "restored from"))

    def _trashed(self, report: Any, verb: str) -> None:
        text = f"{len(report.done)} photos {verb} the trash."
        if report.skipped:
            text += f" {len(report.skipped)} skipped: {report.skipped[0][1]}"
        self.duplicates_dialog.show_message(text)
        self.duplicates_dialog.set_undo_enabled(verb == "moved to" and bool(report.done))
        self.window.refresh_library()
        self.window.run_search()
        self._find_duplicates(text)

    def trash_failed(self, message: str) -> None:
        if self.duplicates_dialog is not None:
            self.duplicates_dialog.show_message(message)
