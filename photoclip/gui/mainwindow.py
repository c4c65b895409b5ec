"""The main window: folders and tags on the left, the search bar over a stack of pages
(welcome, results grid, one photo), the status bar below.

The window never does I/O itself: reads go to the task manager's pool and come back by
signal, changes go to the worker as jobs. Panels (photo view, tag panel, dialogs) are plain
widgets whose requests are wired here.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QImage,
    QKeySequence,
    QShortcut,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from photoclip.core import browsing
from photoclip.core import worker as w
from photoclip.core.actions import (
    ChooseModel,
    CorrectTag,
    ExplainTags,
    RemoveFolder,
    UndoCorrection,
    UpdateSettings,
    weights_file_profile,
)
from photoclip.core.catalog import Catalog, Photo
from photoclip.core.errors import KnownError
from photoclip.core.library import thumbnail_store
from photoclip.core.paths import Locations
from photoclip.core.scanning import is_photo_name
from photoclip.core.search import DATE, SearchOptions, SearchResult
from photoclip.core.settings import Settings
from photoclip.gui.accessibility import set_accessible
from photoclip.gui.batch import UNDO_TAGS, BatchActions
from photoclip.gui.dialogs import Dialogs
from photoclip.gui.folders import FolderList, FolderModel, FolderState, read_folders
from photoclip.gui.formatting import shown
from photoclip.gui.photoview import PhotoView
from photoclip.gui.results import ResultsModel, ResultsView
from photoclip.gui.reveal import reveal
from photoclip.gui.searchbar import SearchBar, SearchRequest
from photoclip.gui.statusbar import MAX_THUMBNAIL, MIN_THUMBNAIL, THUMBNAIL_STEP, StatusBar
from photoclip.gui.tagpanel import TagPanel
from photoclip.gui.tasks import TaskManager
from photoclip.gui.thumbnails import ThumbnailCache, read_full, read_scaled
from photoclip.gui.welcome import WelcomePage

log = logging.getLogger(__name__)

#: the thumbnail size is saved this long after the slider (or Ctrl+plus/minus) stopped
SAVE_SIZE_MS = 800
#: how many ranked results a query shows (browsing without a query shows every photo)
SEARCH_LIMIT = 1000
WELCOME, GRID, PHOTO = 0, 1, 2
#: the textness direction of the active model: not asked for, being learned, stored, failed
TEXTNESS_UNKNOWN, TEXTNESS_LEARNING, TEXTNESS_READY, TEXTNESS_FAILED = range(4)
#: while indexing, the grid and the sidebar show new photos at most this often
GRID_REFRESH_MS = 3000
#: an indexing run of at least this many new photos measures the model's speed
SPEED_SAMPLE = 50


@dataclass(frozen=True)
class Shown:
    """One screen of results, kept so that Escape can come back to it."""

    photos: list[Photo]
    scores: list[float | None]
    title: str = ""
    scroll: int = 0


@dataclass
class LibraryView:
    """What the sidebar and status bar show, read in one task."""

    folders: list[FolderState] = field(default_factory=list)
    tags: list[browsing.TagCount] = field(default_factory=list)
    failed: int = 0
    photos: int = 0
    model: str | None = None


def read_library(catalog: Catalog) -> LibraryView:
    counts = catalog.counts()
    key = catalog.active_model
    record = catalog.model(key) if key else None
    return LibraryView(
        read_folders(catalog),
        browsing.tag_counts(catalog),
        counts.failed,
        counts.indexed,
        record.profile if record else None,
    )


def settings_keys() -> list[QKeySequence]:
    """The platform's Preferences keys, and Ctrl+, always: Qt maps Preferences to nothing
    on Linux and Windows, which left Settings without a shortcut there."""
    keys = QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences)
    comma = QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_Comma)
    return keys if comma in keys else [*keys, comma]


def browse(catalog: Catalog, options: SearchOptions) -> list[Photo]:
    """Every indexed photo that passes the filters, newest first (no query, no model)."""
    folder = options.folder.expanduser().resolve() if options.folder else None
    ids = catalog.filter_ids(
        folder=folder, since=options.since, until=options.until, tag=options.tag
    )
    return sorted(catalog.photos(sorted(ids)).values(), key=lambda p: p.date, reverse=True)


class MainWindow(QMainWindow):
    """Signals: results_shown(int count) each time the grid gets new results,
    photo_shown(int photo_id) when a photo is open, library_read() after a refresh."""

    results_shown = Signal(int)
    photo_shown = Signal(int)
    library_read = Signal()

    def __init__(
        self,
        tasks: TaskManager,
        locations: Locations,
        settings: Settings,
        *,
        first_run: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.tasks, self.locations, self.settings = tasks, locations, settings
        self.setWindowTitle("PhotoClip")
        self.setAcceptDrops(True)
        self.resize(self._first_size())
        self._folder: str = ""
        self._tag: tuple[str, str] | None = None
        self._history: list[Shown] = []
        self._title = ""
        self._library = LibraryView()
        self._open_id: int | None = None
        self._textness = TEXTNESS_UNKNOWN
        self._rate = 0.0
        #: when the search on its way started (None: the results shown were not searched)
        self._search_started: float | None = None
        self._build(first_run)
        self.dialogs = Dialogs(self)
        self.batch = BatchActions(self)
        self._page_column.insertWidget(2, self.batch.bar)
        self._build_menus()
        self._build_shortcuts()
        self._order_tabs()
        self._connect()

    # -- building ----------------------------------------------------------------------------

    def _first_size(self) -> QSize:
        """1200x800, or less on a smaller screen (room left for the frame and panels)."""
        available = self.screen().availableGeometry().size()
        return QSize(min(1200, available.width() * 9 // 10), min(800, available.height() * 9 // 10))

    def _build(self, first_run: bool) -> None:
        store = thumbnail_store(self.locations, self.settings)
        icon = self.settings.thumbnail_size
        self.thumbnails = ThumbnailCache(store, icon, parent=self)
        self.results = ResultsModel(self.thumbnails, self)
        self.grid = ResultsView(icon)
        self.grid.setModel(self.results)
        set_accessible(self.grid, "Photos", "The results; Enter opens a photo")
        self.folders = FolderModel(self)
        self.folder_list = FolderList(self.folders)
        self.tag_panel = TagPanel()
        self.search = SearchBar(self.settings.textness)
        self.search.set_has_photos(False)
        self.photo_view = PhotoView()
        self.welcome = WelcomePage()
        self.welcome.chooser.setVisible(first_run)
        self.welcome.chooser.set_speeds(self.settings.speeds)
        self.banner = QLabel()
        self.banner.hide()
        self.pages = QStackedWidget()
        for page in (self.welcome, self.grid, self.photo_view):
            self.pages.addWidget(page)
        self.status = StatusBar()
        self.status.zoom.setValue(icon)
        self.setStatusBar(self.status)
        self.setCentralWidget(self._splitter())

    def _splitter(self) -> QSplitter:
        sidebar = QSplitter(Qt.Orientation.Vertical)
        sidebar.addWidget(self.folder_list)
        sidebar.addWidget(self.tag_panel)
        sidebar.setContentsMargins(6, 6, 0, 0)
        sidebar.setSizes([200, 600])  # a few folders; many tags
        main = QWidget()
        layout = QVBoxLayout(main)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.banner)
        layout.addWidget(self.pages, 1)
        self._page_column = layout  # the selection bar goes over the pages
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(sidebar)
        splitter.addWidget(main)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([260, 940])
        return splitter

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&Add Folder…", self.choose_folder, QKeySequence.StandardKey.Open)
        file.addSeparator()
        self.settings_action = self._action(file, "&Settings…", self.dialogs.settings)
        self.settings_action.setShortcuts(settings_keys())
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.batch.fill_edit_menu(bar.addMenu("&Edit"))
        tags = bar.addMenu("&Tags")
        self._action(tags, "&Edit Categories…", self.dialogs.category_editor)
        self._action(tags, "Add S&uggested Categories…", self.dialogs.suggested_categories)
        self._action(tags, "Auto-&Sort…", lambda: self.dialogs.sort())
        self.tools = bar.addMenu("&View")
        self._action(self.tools, "&Near-Duplicates…", self.dialogs.duplicates)
        self._action(self.tools, "&Failed Photos…", self.dialogs.failures)
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&About PhotoClip", self._about)

    def _action(self, menu: Any, text: str, slot: Any, keys: Any = None) -> QAction:
        action = QAction(text, self)
        if keys is not None:
            action.setShortcut(keys)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_shortcuts(self) -> None:
        for keys in (QKeySequence.StandardKey.Find, QKeySequence("/")):
            QShortcut(keys, self, self.search.focus)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.go_back)
        QShortcut(QKeySequence(Qt.Key.Key_F11), self, self.toggle_full_screen)
        bigger = (QKeySequence.StandardKey.ZoomIn, QKeySequence("Ctrl+="))
        for keys in bigger:
            QShortcut(keys, self, lambda: self.step_thumbnails(1))
        QShortcut(QKeySequence.StandardKey.ZoomOut, self, lambda: self.step_thumbnails(-1))

    def _order_tabs(self) -> None:
        """Tab goes as the eye does: sidebar, search, filters, the page, the status bar
        (hidden controls are skipped)."""
        folders, tags, bar, status = self.folder_list, self.tag_panel, self.search, self.status
        chain = [
            *(folders.view, folders.add_button, folders.remove, folders.all_button),
            *(tags.tree, tags.clear_button, tags.edit_button),
            *(bar.field, bar.sort, bar.textness, bar.cutoff, bar.dates, bar.since, bar.until),
            *(self.welcome.add_button, self.welcome.suggest_button, self.grid),
            *(self.photo_view.back_button, self.photo_view.zoom_button),
            self.photo_view.similar_button,
            *(self.photo_view.folder_button, self.photo_view),
            *(status.failures, status.pause, status.zoom),
        ]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _connect(self) -> None:
        bridge = self.tasks.bridge
        bridge.state_changed.connect(self._on_state)
        bridge.job_progress.connect(self._on_progress)
        bridge.job_finished.connect(self._on_job_finished)
        bridge.job_failed.connect(self._on_job_failed)
        bridge.root_status_changed.connect(self._on_root_status)
        bridge.watch_degraded.connect(self._on_degraded)
        bridge.model_activated.connect(self._on_model_activated)
        bridge.download_progressed.connect(self.welcome.chooser.set_progress)
        self.tasks.failed.connect(self.status.show_message)
        self.search.changed.connect(self.run_search)
        self.search.field.textChanged.connect(self._query_edited)
        self.search.field.leave_down.connect(self._focus_grid)
        self.grid.opened.connect(self.open_photo)
        self.grid.leave_up.connect(self.search.focus)
        self.grid.selection_changed.connect(self._update_batch)
        self.grid.context_menu_requested.connect(self.batch.context_menu)
        self.pages.currentChanged.connect(lambda _: self._update_batch())
        self.folder_list.add_requested.connect(self.choose_folder)
        self.folder_list.remove_requested.connect(self.remove_folder)
        self.folder_list.folder_chosen.connect(self._on_folder_chosen)
        self.welcome.add_requested.connect(self.choose_folder)
        self.welcome.suggestions_requested.connect(self.dialogs.suggested_categories)
        self.welcome.chooser.profile_chosen.connect(self.choose_model)
        self.welcome.chooser.weights_file_chosen.connect(self._on_weights_file)
        self.tag_panel.filter_requested.connect(self._on_tag_filter)
        self.tag_panel.filter_cleared.connect(lambda: self._on_tag_filter("", ""))
        self.tag_panel.edit_requested.connect(self.dialogs.category_editor)
        self.tag_panel.suggestions_requested.connect(self.dialogs.suggested_categories)
        self.photo_view.similar_requested.connect(self.show_similar)
        self.photo_view.show_in_folder_requested.connect(self.show_in_folder)
        self.photo_view.back_requested.connect(self.go_back)
        self.photo_view.step_requested.connect(self.step_photo)
        self.photo_view.full_size_requested.connect(self._load_full_image)
        self.photo_view.full_screen_requested.connect(self.toggle_full_screen)
        self.photo_view.tag_confirmed.connect(
            lambda photo, category, label: self._correct(photo, category, label, "confirmed")
        )
        self.photo_view.tag_rejected.connect(
            lambda photo, category, label: self._correct(photo, category, label, "rejected")
        )
        self.photo_view.undo_requested.connect(self._undo_correction)
        self.status.pause_toggled.connect(self._on_pause)
        self.status.zoom.valueChanged.connect(self.set_thumbnail_size)
        self.status.failures_requested.connect(self.dialogs.failures)
        self._refresh_timer = QTimer(self, singleShot=True, interval=400)
        self._refresh_timer.timeout.connect(self.refresh_library)
        self._grid_timer = QTimer(self, singleShot=True, interval=GRID_REFRESH_MS)
        self._grid_timer.timeout.connect(self._grid_refresh)
        self._size_timer = QTimer(self, singleShot=True, interval=SAVE_SIZE_MS)
        self._size_timer.timeout.connect(self._save_thumbnail_size)

    # -- the library: folders, tags, counts ----------------------------------------------------

    def refresh_library(self) -> None:
        """Read folders, tag counts and failures again (on the pool)."""
        self.tasks.read(lambda s: read_library(s.library.catalog), self._show_library, key="lib")

    def _show_library(self, view: LibraryView) -> None:
        first = not self._library.folders and view.folders
        self._library = view
        self.folders.set_folders(view.folders)
        self.tag_panel.set_counts(view.tags)
        self.status.show_failures(view.failed)
        self.search.set_has_photos(view.photos > 0)
        self.status.show_model(f"{view.photos:,} in library · model {view.model or 'none yet'}")
        self.status.set_re_embedding(view.model not in (None, self.tasks.worker.profile))
        if not view.folders:
            self.pages.setCurrentIndex(WELCOME)
        elif self.pages.currentIndex() == WELCOME or first:
            self.pages.setCurrentIndex(GRID)
            self.run_search()
        self.library_read.emit()

    def add_folders(self, paths: list[Path]) -> None:
        if not paths:
            return
        self.tasks.worker.add_roots(paths)
        resolved = {p.expanduser().resolve() for p in paths}
        self.folders.add_pending(resolved)
        self.folders.add_indexing(resolved)
        self.status.show_message(f"Adding {', '.join(p.name for p in paths)}…")
        self.pages.setCurrentIndex(GRID)
        self._refresh_timer.start()

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos")
        if folder:
            self.add_folders([Path(folder)])

    def remove_folder(self, path: str) -> None:
        def removed(count: int) -> None:
            self.status.show_message(
                f"Removed {shown(path)} from PhotoClip ({count} photos; files kept)"
            )
            self.refresh_library()
            self.run_search()

        if self._folder == path:
            self._folder = ""
        self.tasks.act(RemoveFolder, Path(path), on_done=removed)

    # -- searching ---------------------------------------------------------------------------

    def options(self, request: SearchRequest, limit: int = SEARCH_LIMIT) -> SearchOptions:
        return SearchOptions(
            limit=limit,
            relative=request.relative,
            folder=Path(self._folder) if self._folder else None,
            since=request.since,
            until=request.until,
            tag=self._tag,
            sort=request.sort,
            textness=request.textness if self._textness == TEXTNESS_READY else 0.0,
        )

    def run_search(self, background: bool = False) -> None:
        """Search (or browse, without a query) with the bar's query and every filter.
        A `background` refresh (new photos indexed) updates the grid without leaving the
        page the user is on, and gives way to similar photos shown meanwhile."""
        request = self.search.request()
        if request.textness and self._textness == TEXTNESS_UNKNOWN:
            self._prepare_textness()
        options = self.options(request)
        if not background:
            self._history.clear()
        self._show_filters()
        self._search_started = time.monotonic()
        if request.query:
            self.status.show_message("" if background else "Searching…")
            self.tasks.read(
                lambda s: s.search(request.query, options),
                lambda found: self._show_found(found, background),
                key="search", failed=self._search_failed,
            )  # fmt: skip
        else:
            browsing_options = SearchOptions(**{**options.__dict__, "sort": DATE})
            self.tasks.read(
                lambda s: browse(s.library.catalog, browsing_options),
                lambda photos: self._show_browsed(photos, background),
                key="search", failed=self._search_failed,
            )  # fmt: skip

    def _query_edited(self) -> None:
        """Results asked for before this edit answer an old request: drop them (the
        debounced search for the new text follows)."""
        self.tasks.cancel("search")

    def _show_found(self, found: list[SearchResult], background: bool = False) -> None:
        self.status.show_message("")
        title = "" if found else "No photos match: try other words, or loosen the filters."
        self._show_either(
            Shown([r.photo for r in found], [r.score for r in found], title), background
        )

    def _show_browsed(self, photos: list[Photo], background: bool = False) -> None:
        if photos:  # new photos show before the next count of the library
            self.search.set_has_photos(True)
        self._show_either(Shown(photos, [None] * len(photos)), background)

    def _show_either(self, shown: Shown, background: bool) -> None:
        if background:
            self._show_refreshed(shown)
        else:
            self._show(shown)

    def _count_results(self, count: int) -> None:
        started, self._search_started = self._search_started, None
        self.status.show_results(count, None if started is None else time.monotonic() - started)

    def _show_refreshed(self, shown: Shown) -> None:
        if self._history:
            return  # similar photos are on screen: the refresh waits for the next one
        current, selected = self.grid.selected_ids()
        self.results.set_results(shown.photos, shown.scores)
        if selected:  # new photos indexed, or photos tagged: what was selected stays so
            self.grid.select_ids(current, selected)
        self._count_results(len(shown.photos))
        self.results_shown.emit(len(shown.photos))

    def _search_failed(self, message: str) -> None:
        self.status.show_message(message)
        self._show(Shown([], []))

    def _show(self, shown: Shown, focus: bool = False) -> None:
        self.results.set_results(shown.photos, shown.scores)
        self.grid.verticalScrollBar().setValue(shown.scroll)
        self._title = shown.title
        self.banner.setText(shown.title)
        self.banner.setVisible(bool(shown.title))
        if self.pages.currentIndex() != WELCOME or shown.photos:
            self.pages.setCurrentIndex(GRID)
        if focus:
            self._focus_grid()
        self._count_results(len(shown.photos))
        self.results_shown.emit(len(shown.photos))

    def _show_filters(self) -> None:
        parts = []
        if self._folder:
            parts.append(f"in {Path(self._folder).name}")
        if self._tag:
            parts.append(f"tagged {self._tag[0]}: {self._tag[1]}")
        self.search.set_filters(" · ".join(parts))

    def _prepare_textness(self) -> None:
        """The worker learns (once per model) what writing in a photo looks like; searches
        use the slider once it is stored, and until then search without it."""
        self._textness = TEXTNESS_LEARNING
        self.search.set_textness_learning(True)
        self.status.show_message("Learning what text in photos looks like (once)…")
        self.tasks.submit(w.ComputeTextness())

    def _on_folder_chosen(self, path: str) -> None:
        self._folder = path
        self.run_search()

    def _on_tag_filter(self, category: str, label: str) -> None:
        self._tag = (category, label) if category else None
        self.run_search()

    def follow_tag_renames(self, renames: Mapping[tuple[str, str], tuple[str, str] | None]) -> None:
        """After categories are saved: a tag filter on screen follows its label's new name,
        and is cleared if the label is gone (it would show nothing)."""
        if self._tag is None or self._tag not in renames:
            return
        self._tag = renames[self._tag]
        if self._tag is None:
            self.tag_panel.clear_filter()
        else:
            self.tag_panel.set_filter(*self._tag)
        self.run_search()

    # -- similar photos, one photo, going back ---------------------------------------------------

    def show_similar(self, photo_id: int) -> None:
        options = SearchOptions(limit=SEARCH_LIMIT)
        self._search_started = time.monotonic()

        def found(answer: tuple[Photo | None, list[SearchResult]]) -> None:
            source, results = answer
            self._push_current()
            name = self._photo_name(photo_id)
            title = f"Photos like {name} (first). Escape goes back."
            pinned = [source] if source is not None else []  # gone meanwhile: not pinned
            others = [r for r in results if r.photo.id != photo_id]
            photos = [*pinned, *(r.photo for r in others)]
            scores: list[float | None] = [None] * len(pinned) + [r.score for r in others]
            self._show(Shown(photos, scores, title), True)

        def similar(s: Any) -> tuple[Photo | None, list[SearchResult]]:
            source = s.library.catalog.photos([photo_id]).get(photo_id)
            return source, s.similar(photo_id, options)

        self.tasks.read(similar, found, key="search")

    def open_photo(self, photo_id: int) -> None:
        self._open_id = photo_id

        def details(found: browsing.PhotoDetails | None) -> None:
            if found is None:
                self.status.show_message("That photo is no longer in PhotoClip.")
                return
            self.photo_view.show_photo(found)
            self.pages.setCurrentIndex(PHOTO)
            self.photo_view.setFocus(Qt.FocusReason.OtherFocusReason)
            self.tasks.act(ExplainTags, photo_id, on_done=self._show_explanation)
            self._load_image(found.path)
            self.photo_shown.emit(photo_id)

        self.tasks.read(
            lambda s: browsing.photo_details(s.library.catalog, photo_id), details, key="photo"
        )

    def step_photo(self, steps: int) -> None:
        """Left/Right in the photo view: the previous or next result (it stops at either
        end), also made the grid's current photo, so Escape comes back to it. With several
        photos selected, it goes through those only, and they stay selected."""
        rows = self.grid.selected_rows()
        within = len(rows) > 1
        if not within:
            rows = list(range(self.results.rowCount()))
        ids = [self.results.photo(r).id for r in rows]
        if self._open_id not in ids:
            return
        at = max(0, min(len(ids) - 1, ids.index(self._open_id) + steps))
        if ids[at] == self._open_id:
            return
        index = self.results.index(rows[at])
        if within:
            self.grid.set_current_keeping_selection(index)
        else:
            self.grid.setCurrentIndex(index)
        self.open_photo(ids[at])

    def _show_explanation(self, answer: tuple[int, list[Any]]) -> None:
        photo_id, explanations = answer
        if self._open_id == photo_id and self.pages.currentIndex() == PHOTO:
            self.photo_view.show_explanation(explanations)

    def _load_image(self, path: Path) -> None:
        ratio = self.devicePixelRatioF()
        box = self.pages.size() * ratio

        def decoded(image: QImage) -> None:
            if image.isNull():
                self.photo_view.show_image_error(f"{path.name} cannot be shown (unreadable)")
                return
            image.setDevicePixelRatio(ratio)
            self.photo_view.set_image(image)

        self.tasks.run(lambda: read_scaled(path, QSize(box)), decoded, key="image")

    def _load_full_image(self) -> None:
        """Zoom to 100% asked for the first time on this photo: its every pixel, decoded on
        the pool (a large photo takes a while; the view waits at its fitted size)."""
        details = self.photo_view.details
        if details is None:
            return
        photo_id, path = details.id, details.path

        def decoded(image: QImage) -> None:
            if self._open_id != photo_id:
                return
            if image.isNull():
                self.status.show_message(f"{path.name} is too large to show at 100%.")
            self.photo_view.set_full_image(image)

        self.tasks.run(lambda: read_full(path), decoded, key="full-image")

    def show_in_folder(self, path: str) -> None:
        reveal([Path(path)])

    def toggle_full_screen(self) -> None:
        """F11 anywhere, F in the photo view."""
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()

    def go_back(self) -> None:
        """Escape: out of full screen first, then from a photo to the grid, from several
        selected photos to the current one, from similar photos to the results before."""
        if self.isFullScreen():
            self.showNormal()
        elif self.pages.currentIndex() == PHOTO:
            self.pages.setCurrentIndex(GRID)
            self._focus_grid()
        elif self.pages.currentIndex() == GRID and self.grid.selected_count() > 1:
            self.grid.keep_only_current()
        elif self._history:
            self._show(self._history.pop(), True)

    def _push_current(self) -> None:
        scroll = self.grid.verticalScrollBar().value()
        self._history.append(Shown(self.results.photos, self._scores(), self._title, scroll))

    def _scores(self) -> list[float | None]:
        model = self.results
        return [
            model.data(model.index(r), Qt.ItemDataRole.UserRole + 2)
            for r in range(model.rowCount())
        ]

    def _photo_name(self, photo_id: int) -> str:
        found = next((p for p in self.results.photos if p.id == photo_id), None)
        return found.path.name if found else f"photo {photo_id}"

    # -- thumbnail size ------------------------------------------------------------------------

    def set_thumbnail_size(self, size: int) -> None:
        """The grid's thumbnails become `size` px (96-400): the slider and Ctrl+plus/minus.
        The size is saved once it stops changing, and the next launch starts with it."""
        size = max(MIN_THUMBNAIL, min(MAX_THUMBNAIL, size))
        self.status.zoom.setValue(size)  # re-enters here only when the value changes
        if size == self.grid.icon:
            return
        self.thumbnails.set_size(size)
        self.grid.set_icon_size(size)
        self.results.thumbnail_size_changed()
        self.settings.thumbnail_size = size  # the settings dialog saves what it was shown
        self._size_timer.start()

    def _save_thumbnail_size(self) -> None:
        """By the worker, which writes the settings file (never racing another change)."""
        self.tasks.act(UpdateSettings, (("thumbnail_size", self.settings.thumbnail_size),))

    def step_thumbnails(self, steps: int) -> None:
        self.set_thumbnail_size(self.grid.icon + steps * THUMBNAIL_STEP)

    def _focus_grid(self) -> None:
        if self.pages.currentIndex() == GRID:
            self.grid.setFocus(Qt.FocusReason.ShortcutFocusReason)
            self.grid.select_first()

    # -- the selection -------------------------------------------------------------------------

    def selected_photos(self) -> list[Photo]:
        """What batch actions apply to: the open photo in the photo view, else the photos
        selected in the grid (in the grid's order)."""
        if self.pages.currentIndex() == PHOTO:
            details = self.photo_view.details
            found = [p for p in self.results.photos if details and p.id == details.id]
            return found[:1]
        if self.pages.currentIndex() != GRID:
            return []
        return [self.results.photo(row) for row in self.grid.selected_rows()]

    def _update_batch(self, selected: int | None = None) -> None:
        """What batch actions apply to changed: `selected` photos in the grid (None: count
        them), or the page did."""
        page = self.pages.currentIndex()
        if page != GRID:
            self.batch.update(int(page == PHOTO))
        else:
            self.batch.update(self.grid.selected_count() if selected is None else selected)

    def refresh_results(self) -> None:
        """Read the results on screen again (photos trashed or tagged), keeping the scroll."""
        if not self._history:
            self._rerun_keeping_scroll()

    # -- tags, sorting, settings, failures -----------------------------------------------------

    def _correct(self, photo_id: int, category: str, label: str, verdict: str) -> None:
        def done(answer: tuple[int, str]) -> None:
            self.refresh_library()
            if self._open_id == photo_id and self.pages.currentIndex() == PHOTO:
                self.open_photo(photo_id)
                self.photo_view.show_correction(answer[1])
            self.batch.offer_undo(UNDO_TAGS)

        self.tasks.act(CorrectTag, photo_id, category, label, verdict, on_done=done)

    def _undo_correction(self) -> None:
        """The photo page's Undo: the same correction Edit › Undo would take back."""
        self.batch.offer_undo("")
        self.tasks.act(UndoCorrection, on_done=self.correction_undone)

    def correction_undone(self, said: str | None) -> None:
        self.photo_view.clear_correction()
        self.status.show_message(said or "There is no correction to undo.")
        self.refresh_library()
        if self._open_id is not None and self.pages.currentIndex() == PHOTO:
            self.open_photo(self._open_id)

    def choose_model(self, profile: str) -> None:
        self.welcome.chooser.set_message(f"Loading {profile}…")
        self.status.show_message(f"Loading the model {profile}…")

        def chosen(name: str) -> None:
            self.settings.model = name
            self.welcome.chooser.set_message(f"Using {name}.")
            self.status.show_message(f"Model {name} loaded.")
            self.refresh_library()

        self.tasks.act(ChooseModel, profile, on_done=chosen)

    def settings_saved(self, saved: Settings) -> None:
        """The worker saved the settings: thumbnails are now looked for where it writes
        them (a photo without one there is read from its file, so the grid stays whole)."""
        self.settings.thumbnail_cache = saved.thumbnail_cache
        self.thumbnails.store = thumbnail_store(self.locations, saved)

    def _on_weights_file(self, path: str) -> None:
        """A local checkpoint: the model process reads which architecture it holds."""
        try:
            self.choose_model(weights_file_profile(Path(path)))
        except KnownError as error:  # gone since it was picked
            self.welcome.chooser.set_message(str(error))

    def _about(self) -> None:
        from photoclip import __version__

        QMessageBox.about(
            self,
            "About PhotoClip",
            f"PhotoClip {__version__}: search your photos by what is in them. "
            "Everything stays on your computer.",
        )

    # -- worker events ---------------------------------------------------------------------

    def _on_progress(self, event: w.JobProgress) -> None:
        self.status.show_progress(event.progress, event.job)
        if event.job in ("ApplySort", "UndoSort"):
            self.dialogs.sort_progress(event.progress.done, event.progress.total)
        self._rate = event.progress.rate
        if not self._grid_timer.isActive():
            self._grid_timer.start()

    def _remember_speed(self, profile: str, rate: float) -> None:
        """Photos per second of the model on this machine: the model chooser shows it."""
        speeds = {**self.settings.speeds, profile: round(rate, 1)}
        self.settings.speeds = speeds
        self.welcome.chooser.set_speeds(speeds)
        self.tasks.act(UpdateSettings, (("speeds", speeds),))

    def _grid_refresh(self) -> None:
        """New photos appear while indexing goes on (without losing the scroll position)."""
        self.refresh_library()
        if not self._history:
            self._rerun_keeping_scroll()

    def _on_state(self, event: w.StateChanged) -> None:
        self.status.show_state(event)
        if event.state == w.IDLE:
            self.folders.mark_indexing(set())
            self.folders.settle_pending()
            self._refresh_timer.start()

    def _on_job_finished(self, event: w.JobFinished) -> None:
        self._refresh_timer.start()
        if event.job == "ComputeTextness":
            self._textness = TEXTNESS_READY
            self.search.set_textness_learning(False)
            self.status.show_message("")
            self.run_search()
        report = event.report
        if report is not None and report.embedded >= SPEED_SAMPLE and self._rate > 0:
            self._remember_speed(self.tasks.worker.profile, self._rate)
        changed = report is not None and (report.embedded or report.removed or report.reused)
        if changed and not self._history:
            self._rerun_keeping_scroll()

    def _rerun_keeping_scroll(self) -> None:
        scroll = self.grid.verticalScrollBar().value()
        self.results_shown.connect(
            self._restore_scroll(scroll), Qt.ConnectionType.SingleShotConnection
        )
        self.run_search(background=True)

    def _restore_scroll(self, value: int) -> Any:
        return lambda _: self.grid.verticalScrollBar().setValue(value)

    def _on_job_failed(self, event: w.JobFailed) -> None:
        self.status.show_message(f"{event.message}")
        if event.job in ("ChooseModel", "LoadModel") or self.welcome.chooser.isVisible():
            self.welcome.chooser.set_message(event.message)  # e.g. no weights, offline
            self.welcome.chooser.show()
        if event.job in ("PlanSort", "ApplySort", "UndoSort"):
            self.dialogs.sort_failed(event.message)
        if event.job in ("TrashPhotos", "UndoTrash"):
            self.dialogs.trash_failed(event.message)
        self.batch.failed(event.job, event.message)
        if event.job == "UpdateSettings":  # the status line is cleared once the worker idles
            self._warn("Settings not saved", event.message)
        if event.job == "ComputeTextness":
            self._textness = TEXTNESS_FAILED
            self.search.set_textness_learning(False)

    def _warn(self, title: str, text: str) -> None:
        """A warning that does not wait: the box is opened, not exec'd."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, parent=self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _on_root_status(self, event: w.RootStatusChanged) -> None:
        self.folders.set_online(event.path, event.online)
        state = "is back" if event.online else "is offline; its photos are kept"
        self.status.show_message(f"{event.path} {state}")

    def _on_degraded(self, event: w.WatchDegraded) -> None:
        self.folders.mark_polled(event.path)
        self.status.show_message(event.reason)

    def _on_model_activated(self, event: w.ModelActivated) -> None:
        self._textness = TEXTNESS_UNKNOWN  # each model has its own direction
        self.refresh_library()
        if self.search.request().query:
            self.run_search()

    def _on_pause(self, paused: bool) -> None:
        if paused:
            self.tasks.worker.pause()
        else:
            self.tasks.worker.resume()

    # -- drag and drop -----------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        photos = [p for p in paths if is_photo_name(p.name)]
        folders = [p for p in paths if p not in photos]
        event.acceptProposedAction()
        if folders:
            self.add_folders(folders)
        elif photos:
            self.search.search_photo(str(photos[0]))

    def showEvent(self, event: QShowEvent) -> None:
        """Thumbnails are decoded for the screen's pixels (sharp on high-DPI screens)."""
        super().showEvent(event)
        self.thumbnails.ratio = self.devicePixelRatioF()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.thumbnails.clear_waiting()
        super().closeEvent(event)
