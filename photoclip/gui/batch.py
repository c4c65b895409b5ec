"""Batch actions on the photos selected in the grid (or the photo open in the photo view):
confirm or remove a tag, sort them, copy their paths, show them in their folders, move
them to the trash. One QAction each, shared by the Edit menu, the grid's context menu and
the selection bar; every change goes to the worker as a job, with Undo after it.

Nothing here waits: reads (the tags a chooser offers) go to the pool, changes to the worker,
and the file manager starts detached.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPoint
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QMenu

from photoclip.core.actions import CorrectTags, TrashPhotos, UndoCorrection, UndoTrash
from photoclip.core.catalog import Catalog, Photo
from photoclip.core.tagstore import CONFIRMED, REJECTED, TagStore
from photoclip.gui.batchdialogs import Tag, TagChooser, TrashPreview, label_tags
from photoclip.gui.formatting import counted
from photoclip.gui.reveal import MAX_FOLDERS, reveal
from photoclip.gui.selectionbar import SelectionBar

if TYPE_CHECKING:
    from photoclip.gui.mainwindow import MainWindow

#: what Undo takes back: the last batch action that can be undone
UNDO_TAGS, UNDO_TRASH = "tags", "trash"
#: Edit › Undo names what it would take back, as desktop apps do
UNDO_TEXT = {UNDO_TAGS: "&Undo Tag Correction", UNDO_TRASH: "&Undo Move to Trash"}
#: the worker jobs whose failure the selection bar reports
JOBS = ("CorrectTags", "TrashPhotos", "UndoTrash", "UndoCorrection")


def read_tag_choices(catalog: Catalog, photo_ids: list[int]) -> tuple[list[Tag], Counter[Tag]]:
    """Every label, and how many of the photos carry each (on the pool)."""
    store = TagStore(catalog)
    carried = Counter((t.category, t.label) for t in store.tags(photo_ids))
    return label_tags(store.categories()), carried


class BatchActions:
    """The window's batch actions and their Undo (see the module's docstring)."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.tasks = window.tasks
        self.undoable = ""  # UNDO_TAGS, UNDO_TRASH or nothing
        self.dialog: Any = None  # the chooser or preview open now (tests reach it here)
        self._make_actions()
        self.bar = SelectionBar(self.batch_actions())
        self.bar.undo_requested.connect(self.undo)
        self.menu = QMenu(window)
        self._fill(self.menu)
        self.update(0)

    # -- actions ---------------------------------------------------------------------------

    def _make_actions(self) -> None:
        new = self._new
        self.select_all = new(
            "Select &All", self.window.grid.selectAll, QKeySequence.StandardKey.SelectAll
        )
        self.select_none = new("Select &None", self.window.grid.clearSelection, "Ctrl+Shift+A")
        self.confirm_tag = new("&Confirm a Tag…", self.choose_tag_to_confirm, "Ctrl+T")
        self.remove_tag = new("&Remove a Tag…", self.choose_tag_to_remove, "Ctrl+Shift+T")
        self.sort = new("S&ort Selected…", self.sort_selected)
        self.copy_paths = new("Copy &Paths", self.copy_selected_paths, "Ctrl+Shift+C")
        self.show_in_folder = new("Show in &Folder", self.show_selected, "Ctrl+Shift+R")
        self.trash = new("Move to &Trash…", self.preview_trash, QKeySequence.StandardKey.Delete)
        self.undo_action = new("&Undo", self.undo, QKeySequence.StandardKey.Undo)
        self.undo_action.setEnabled(False)

    def _new(self, text: str, slot: Callable[[], Any], keys: Any = None) -> QAction:
        action = QAction(text, self.window)
        if keys is not None:
            action.setShortcut(QKeySequence(keys))
        action.triggered.connect(lambda: slot())
        self.window.addAction(action)  # its shortcut works wherever the focus is
        return action

    def batch_actions(self) -> list[QAction]:
        """What can be done to a selection, in the bar's and the menus' order."""
        return [self.confirm_tag, self.remove_tag, self.sort, self.copy_paths,
                self.show_in_folder, self.trash]  # fmt: skip

    def fill_edit_menu(self, menu: QMenu) -> None:
        menu.addAction(self.undo_action)
        menu.addSeparator()
        menu.addAction(self.select_all)
        menu.addAction(self.select_none)
        menu.addSeparator()
        self._fill(menu)

    def _fill(self, menu: QMenu) -> None:
        for action in self.batch_actions():
            if action in (self.copy_paths, self.trash):
                menu.addSeparator()
            menu.addAction(action)

    def update(self, count: int) -> None:
        """The selection (or the page) changed: actions apply to what is selected now."""
        self.bar.set_count(count)
        for action in self.batch_actions():
            action.setEnabled(count > 0)

    def context_menu(self, at: QPoint) -> None:
        """The grid's context menu, at `at` (global); popped up, never exec'd."""
        self.menu.popup(at)

    def photos(self) -> list[Photo]:
        return self.window.selected_photos()

    # -- tags ------------------------------------------------------------------------------

    def choose_tag_to_confirm(self) -> None:
        self._choose_tag("Confirm", CONFIRMED)

    def choose_tag_to_remove(self) -> None:
        self._choose_tag("Remove", REJECTED)

    def _choose_tag(self, verb: str, verdict: str) -> None:
        ids = [p.id for p in self.photos()]
        if not ids:
            return

        def offer(choices: tuple[list[Tag], Counter[Tag]]) -> None:
            tags, carried = choices
            if verdict == REJECTED:
                tags = [t for t in tags if carried.get(t)]
            chooser = TagChooser(verb, len(ids), tags, carried, self.window)
            chooser.chosen.connect(lambda c, label: self.correct(ids, c, label, verdict))
            self._open(chooser)

        self.tasks.read(lambda s: read_tag_choices(s.library.catalog, ids), offer)

    def correct(self, ids: list[int], category: str, label: str, verdict: str) -> None:
        """Confirm (or remove) `category: label` on every photo of `ids`, on the worker."""
        doing = "Confirming" if verdict == CONFIRMED else "Removing"
        self.window.status.show_message(
            f"{doing} '{category}: {label}' on {counted(len(ids), 'photo')}…"
        )
        self.tasks.act(CorrectTags, tuple(ids), category, label, verdict, on_done=self._tagged)

    def _tagged(self, said: str) -> None:
        self._report(said, UNDO_TAGS)
        self.window.status.show_message("")
        self.window.refresh_library()
        self.window.refresh_results()  # a tag filter may show other photos now

    # -- sort, paths, folders ----------------------------------------------------------------

    def sort_selected(self) -> None:
        ids = [p.id for p in self.photos()]
        if ids:
            self.window.dialogs.sort(tuple(ids))

    def copy_selected_paths(self) -> None:
        paths = [str(p.path) for p in self.photos()]
        if paths:
            QGuiApplication.clipboard().setText("\n".join(paths))
            self._report(f"Copied the paths of {counted(len(paths), 'photo')}.")

    def show_selected(self) -> None:
        paths = [p.path for p in self.photos()]
        folders = len({p.parent for p in paths})
        opened = reveal(paths)
        if folders > MAX_FOLDERS:
            self._report(f"Opened {opened} of {folders} folders (the first {MAX_FOLDERS}).")

    # -- the trash -----------------------------------------------------------------------------

    def preview_trash(self) -> None:
        paths = [p.path for p in self.photos()]
        if not paths:
            return
        preview = TrashPreview(paths, self.window)
        preview.accepted.connect(lambda: self.move_to_trash(paths))
        self._open(preview)

    def move_to_trash(self, paths: list[Path]) -> None:
        self.window.status.show_message(f"Moving {counted(len(paths), 'photo')} to the trash…")
        self.tasks.act(TrashPhotos, tuple(paths), on_done=lambda r: self._trashed(r, True))

    def _trashed(self, report: Any, moved: bool) -> None:
        verb = "Moved {} to the trash." if moved else "Restored {} from the trash."
        text = verb.format(counted(len(report.done), "photo"))
        if report.skipped:
            path, why = report.skipped[0]
            text += f" {len(report.skipped)} not: {Path(path).name}: {why}"
        self._report(text, UNDO_TRASH if moved and report.done else "")
        self.window.status.show_message("")
        self.window.refresh_library()
        self.window.refresh_results()

    # -- undo, reports, failures -----------------------------------------------------------

    def undo(self) -> None:
        """Take back the last batch action (tags: the last correction; trash: the last
        batch trashed)."""
        if self.undoable == UNDO_TAGS:
            self.tasks.act(UndoCorrection, on_done=self._untagged)
        elif self.undoable == UNDO_TRASH:
            self.tasks.act(UndoTrash, on_done=lambda r: self._trashed(r, False))
        self.offer_undo("")

    def _untagged(self, said: str | None) -> None:
        self._report(said or "There was nothing to undo.")
        self.window.correction_undone(said)
        self.window.refresh_results()

    def failed(self, job: str, message: str) -> None:
        """A batch job failed: the bar says why (nothing was undone or is undoable)."""
        if job in JOBS:
            self._report(message)

    def _report(self, text: str, undoable: str = "") -> None:
        self.offer_undo(undoable)
        self.bar.show_report(text, bool(undoable))

    def offer_undo(self, what: str) -> None:
        """What Edit › Undo (Ctrl+Z) takes back next: UNDO_TAGS after a tag correction,
        made here or on the photo page (they share one undo stack in the worker),
        UNDO_TRASH after a batch trashed, or nothing ("")."""
        self.undoable = what
        self.undo_action.setEnabled(bool(what))
        self.undo_action.setText(UNDO_TEXT.get(what, "&Undo"))

    def _open(self, dialog: Any) -> None:
        self.dialog = dialog
        dialog.open()
