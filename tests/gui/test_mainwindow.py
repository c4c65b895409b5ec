"""User flows through the main window, with the real worker and the test-shapes CLIP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from photoclip.core import worker as w
from photoclip.core.catalog import Catalog
from photoclip.core.paths import Locations
from photoclip.gui.mainwindow import GRID, PHOTO, WELCOME
from photoclip.gui.results import ScoreRole
from tests.gui.conftest import SCENES, file_drop, model_chosen, write_scenes

WAIT = 60_000


def indexed(make_app: Any, qtbot: Any, *folders: Path) -> Any:
    app = make_app()
    app.window.show()
    app.start()
    app.window.add_folders(list(folders))
    qtbot.wait_until(lambda: app.worker.wait_idle(0), timeout=WAIT)
    total = sum(len(list(f.iterdir())) for f in folders)
    qtbot.wait_until(lambda: app.window.results.rowCount() == total, timeout=WAIT)
    return app


def names(window: Any) -> list[str]:
    return [p.path.name for p in window.results.photos]


def search(window: Any, qtbot: Any, text: str) -> list[str]:
    with qtbot.wait_signal(window.results_shown, timeout=WAIT):
        window.search.field.setText(text)
    return names(window)


def test_a_new_library_opens_on_the_welcome_page(make_app: Any, qtbot: Any) -> None:
    app = make_app()
    app.window.show()
    with qtbot.wait_signal(app.window.library_read, timeout=WAIT):
        app.start()
    assert app.window.pages.currentIndex() == WELCOME


def test_the_loading_message_goes_once_the_model_is_loaded(make_app: Any, qtbot: Any) -> None:
    """Issue 19: "Up to date  Loading the model…" stayed on the welcome page."""
    app = make_app()
    loaded = lambda event: event.job == "LoadModel"  # noqa: E731
    with qtbot.wait_signal(app.bridge.job_finished, timeout=WAIT, check_params_cb=loaded):
        app.start()
    qtbot.wait_until(lambda: app.window.status.state.text() == "Up to date", timeout=WAIT)
    assert app.window.status.message == ""


def test_while_the_model_loads_the_status_bar_says_so_once(make_app: Any) -> None:
    """The status bar said "Loading the model  Loading the model…": the job and a message."""
    window = make_app().window
    window._on_state(w.StateChanged(w.WORKING, queue=1, job="LoadModel"))
    assert window.status.state.text() == "Loading the model"
    assert "loading the model" not in window.status.message.lower()


def test_an_added_folder_is_indexed_and_shown_newest_first(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    app = indexed(make_app, qtbot, scenes)
    assert app.window.pages.currentIndex() == GRID
    assert sorted(names(app.window)) == sorted(f"{n}.png" for n, _, _ in SCENES)
    qtbot.wait_until(lambda: "6 photos" in app.window.folders.folders[0].summary)


@pytest.mark.parametrize(("query", "first"), [("a red circle", "red-circle.png"),
                                              ("something blue", "blue-square.png")])  # fmt: skip
def test_a_typed_query_ranks_the_matching_scene_first(
    make_app: Any, qtbot: Any, scenes: Path, query: str, first: str
) -> None:
    window = indexed(make_app, qtbot, scenes).window
    found = search(window, qtbot, query)
    assert found[0] == first
    assert window.results.index(0).data(ScoreRole) > window.results.index(1).data(ScoreRole)


def test_results_asked_for_before_the_query_changed_never_show(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    """A refresh still running when the user types (new photos, say) answers the old
    request: it must not land on screen as if it were the new query's answer."""
    window = indexed(make_app, qtbot, scenes).window
    window.run_search(background=True)  # browsing, newest first: orange-triangle on top
    assert search(window, qtbot, "a red circle")[0] == "red-circle.png"


def test_query_syntax_subtracts_a_term(make_app: Any, qtbot: Any, scenes: Path) -> None:
    """Taking a term away changes what leads, whichever of the two led the sum (whole
    phrases: the demo model was trained on captions, and a bare colour word ranks an orange
    shape by a red one)."""
    window = indexed(make_app, qtbot, scenes).window
    both = search(window, qtbot, "a red circle + a blue square")[:2]
    assert sorted(both) == ["blue-square.png", "red-circle.png"]
    assert search(window, qtbot, "a red circle + a blue square - a red circle")[0] == (
        "blue-square.png"
    )
    assert search(window, qtbot, "a red circle + a blue square - a blue square")[0] == (
        "red-circle.png"
    )


def test_a_photo_dropped_on_the_search_bar_finds_itself_first(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    window = indexed(make_app, qtbot, scenes).window
    with qtbot.wait_signal(window.results_shown, timeout=WAIT):
        window.search.search_photo(str(scenes / "green-triangle.png"))
    assert names(window)[0] == "green-triangle.png"


def test_open_a_photo_find_similar_and_come_back(make_app: Any, qtbot: Any, scenes: Path) -> None:
    window = indexed(make_app, qtbot, scenes).window
    search(window, qtbot, "a red circle")
    window.grid.setFocus()
    window.grid.setCurrentIndex(window.results.index(0))
    with qtbot.wait_signal(window.photo_shown, timeout=WAIT) as opened:
        qtbot.keyClick(window.grid, Qt.Key.Key_Return)
    red = opened.args[0]
    assert window.pages.currentIndex() == PHOTO
    with qtbot.wait_signal(window.results_shown, timeout=WAIT):
        window.photo_view.similar_requested.emit(red)
    # Issue 19: the photo they started from is pinned first (it was left out)
    assert names(window)[0] == "red-circle.png" and len(names(window)) == len(SCENES)
    assert window.results.index(0).data(ScoreRole) is None
    assert window.banner.text().startswith("Photos like red-circle.png")
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert names(window)[0] == "red-circle.png" and not window.banner.isVisible()


def test_escape_leaves_the_photo_view(make_app: Any, qtbot: Any, scenes: Path) -> None:
    window = indexed(make_app, qtbot, scenes).window
    with qtbot.wait_signal(window.photo_shown, timeout=WAIT):
        window.open_photo(window.results.photo(0).id)
    window.go_back()
    assert window.pages.currentIndex() == GRID


def test_folder_and_date_filters_combine_with_the_query(
    make_app: Any, qtbot: Any, tmp_path: Path, scenes: Path
) -> None:
    other = write_scenes(tmp_path / "other", (("red-star", "red", "star"),))
    window = indexed(make_app, qtbot, scenes, other).window
    assert search(window, qtbot, "a red circle")[:2] in (
        ["red-circle.png", "red-star.png"],
        ["red-star.png", "red-circle.png"],
    )
    with qtbot.wait_signal(window.results_shown, timeout=WAIT):
        window._on_folder_chosen(str(other))
    assert names(window) == ["red-star.png"]
    assert "in other" in window.search.filters.text()
    window.search.since.setDate(window.search.since.date().addYears(-5))
    window.search.until.setDate(window.search.until.date().addYears(-4))
    with qtbot.wait_signal(window.results_shown, timeout=WAIT):
        window.search.dates.setChecked(True)
    assert names(window) == []


def test_removing_a_folder_keeps_its_files(
    make_app: Any, qtbot: Any, scenes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    window = indexed(make_app, qtbot, scenes).window
    window.folder_list.view.setCurrentIndex(window.folders.index(0))
    with qtbot.wait_signal(window.library_read, timeout=WAIT):
        window.folder_list.remove.click()
    qtbot.wait_until(lambda: window.pages.currentIndex() == WELCOME, timeout=WAIT)
    with Catalog.open(Locations.from_environment().catalog, readonly=True) as catalog:
        assert catalog.roots() == [] and catalog.counts().photos == 0
    assert len(list(scenes.iterdir())) == len(SCENES)


def test_pause_holds_the_worker_and_resume_lets_it_go(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    app = indexed(make_app, qtbot, scenes)
    paused = lambda event: event.state == w.PAUSED  # noqa: E731
    with qtbot.wait_signal(app.bridge.state_changed, timeout=WAIT, check_params_cb=paused):
        app.window.status.pause.click()
    assert app.window.status.pause.text() == "Resume" and app.worker.state == w.PAUSED
    going = lambda event: event.state != w.PAUSED  # noqa: E731
    with qtbot.wait_signal(app.bridge.state_changed, timeout=WAIT, check_params_cb=going):
        app.window.status.pause.click()
    assert app.window.status.pause.text() == "Pause"


def test_keyboard_search_focus_arrows_and_enter(make_app: Any, qtbot: Any, scenes: Path) -> None:
    window = indexed(make_app, qtbot, scenes).window
    window.activateWindow()
    window.grid.setFocus()
    qtbot.keySequence(window, QKeySequence.StandardKey.Find)
    assert QApplication.focusWidget() is window.search.field
    qtbot.keyClick(window.search.field, Qt.Key.Key_Down)
    assert QApplication.focusWidget() is window.grid
    assert window.grid.currentIndex().row() == 0
    qtbot.keyClick(window.grid, Qt.Key.Key_Right)
    assert window.grid.currentIndex().row() == 1
    with qtbot.wait_signal(window.photo_shown, timeout=WAIT) as opened:
        qtbot.keyClick(window.grid, Qt.Key.Key_Return)
    assert opened.args == [window.results.photo(1).id]


def test_a_failed_photo_is_counted_in_the_status_bar(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    (scenes / "broken.jpg").write_bytes(b"not a photo")
    app = make_app()
    app.window.show()
    app.start()
    app.window.add_folders([scenes])
    """Issue 19: the sidebar said "7 photos · 1 error", counting the failed file."""
    qtbot.wait_until(
        lambda: app.window.status.failures.text() == "1 could not be read…", timeout=WAIT
    )
    folder = app.window.folders
    expected = "6 photos, 1 could not be read · watching"
    qtbot.wait_until(lambda: folder.folders[0].summary == expected, timeout=WAIT)


def test_the_textness_slider_learns_the_direction_once_then_steers(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    from photoclip.gui.mainwindow import TEXTNESS_READY

    app = indexed(make_app, qtbot, scenes)
    window = app.window
    search(window, qtbot, "a red circle")
    said: list[bool] = []  # issue 19: the slider waited silently for the direction
    show = window.search.set_textness_learning
    window.search.set_textness_learning = lambda on: (said.append(on), show(on))
    with qtbot.wait_signal(app.bridge.job_finished, timeout=WAIT) as learned:
        window.search.textness.setValue(-20)
    assert learned.args[0].job == "ComputeTextness"
    qtbot.wait_until(lambda: said == [True, False])
    assert window.search.textness_label.text() == "Text in photos"
    qtbot.wait_until(lambda: window._textness == TEXTNESS_READY)
    assert window.options(window.search.request()).textness == -2.0
    with qtbot.wait_signal(window.results_shown, timeout=WAIT):
        window.run_search()
    assert names(window)[0] == "red-circle.png"


def test_a_first_run_offers_the_models_and_remembers_the_choice(
    make_app: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from photoclip.core.settings import Settings

    monkeypatch.delenv("PHOTOCLIP_MODEL")
    app = make_app()
    app.window.show()
    assert app.window.welcome.chooser.isVisible()
    app.start()
    with qtbot.wait_signal(app.bridge.job_finished, timeout=WAIT, check_params_cb=model_chosen):
        app.window.welcome.chooser.profile_chosen.emit("test-shapes")
    qtbot.wait_until(lambda: "test-shapes" in app.window.status.message, timeout=WAIT)
    assert Settings.load(Locations.from_environment().settings).model == "test-shapes"


def test_photos_indexed_meanwhile_do_not_close_the_open_photo(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    window = indexed(make_app, qtbot, scenes).window
    with qtbot.wait_signal(window.photo_shown, timeout=WAIT):
        window.open_photo(window.results.photo(0).id)
    write_scenes(scenes / "more", (("white-star", "white", "star"),))
    qtbot.wait_until(lambda: window.results.rowCount() == len(SCENES) + 1, timeout=WAIT)
    assert window.pages.currentIndex() == PHOTO


def test_a_folder_dropped_on_the_window_is_added(make_app: Any, qtbot: Any, scenes: Path) -> None:
    app = make_app()
    app.window.show()
    app.start()
    drop = file_drop(scenes)
    app.window.dropEvent(drop)
    qtbot.wait_until(lambda: app.window.results.rowCount() == len(SCENES), timeout=WAIT)
    assert [f.path for f in app.window.folders.folders] == [scenes]


def test_a_high_cutoff_keeps_only_the_best_matches(make_app: Any, qtbot: Any, scenes: Path) -> None:
    window = indexed(make_app, qtbot, scenes).window
    everything = search(window, qtbot, "a red circle")
    with qtbot.wait_signal(window.results_shown, timeout=WAIT):
        window.search.cutoff.setValue(95)
    assert names(window)[0] == "red-circle.png"
    assert len(names(window)) < len(everything)


def test_a_long_status_message_keeps_the_window_inside_the_screen(
    make_app: Any, qtbot: Any
) -> None:
    """Issue 19: one 500-character message widened the window past a 1280 px screen."""
    window = make_app().window
    window.show()
    qtbot.wait_exposed(window)
    width = window.frameGeometry().width()
    message = "a folder with a very long name could not be read; " * 10
    window.status.show_message(message[:500])
    qtbot.wait(50)  # layouts settle on posted events
    available = window.screen().availableGeometry()
    assert window.frameGeometry().width() <= width
    assert available.contains(window.frameGeometry())
    assert window.status.message == message[:500]
    assert window.status.detail.toolTip() == message[:500]
    assert window.status.detail.text().endswith("…")


def test_controls_that_need_photos_wait_for_them(make_app: Any, qtbot: Any, scenes: Path) -> None:
    app = make_app()
    app.window.show()
    with qtbot.wait_signal(app.window.library_read, timeout=WAIT):
        app.start()
    bar = app.window.search
    controls = (bar.field, bar.sort, bar.textness, bar.cutoff, bar.dates, bar.since)
    assert [c.isEnabled() for c in controls] == [False] * len(controls)
    qtbot.wait_until(lambda: app.window.status.state.text() == "Up to date", timeout=WAIT)
    assert not app.window.status.pause.isVisibleTo(app.window)  # the model loaded: idle
    app.window.add_folders([scenes])
    qtbot.wait_until(lambda: app.window.results.rowCount() == len(SCENES), timeout=WAIT)
    assert [c.isEnabled() for c in controls] == [True] * 5 + [False]  # dates: when ticked


def _focusable(window: Any) -> list[Any]:
    """The widgets Tab reaches, less the parts of a composite (a date edit's line edit):
    a screen reader names the composite."""
    from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QWidget

    def part_of_composite(widget: QWidget) -> bool:
        parent = widget.parentWidget()
        while parent is not None:
            if isinstance(parent, QAbstractSpinBox | QComboBox):
                return True
            parent = parent.parentWidget()
        return False

    return [
        widget
        for widget in window.findChildren(QWidget)
        if widget.focusPolicy() & Qt.FocusPolicy.TabFocus and not part_of_composite(widget)
    ]


def test_every_focusable_control_has_an_accessible_name(make_app: Any, qtbot: Any) -> None:
    window = make_app().window
    window.show()
    unnamed = [
        f"{type(w).__name__} {getattr(w, 'text', lambda: '')()!r}"
        for w in _focusable(window)
        if not w.accessibleName()
    ]
    assert unnamed == []


def test_tab_goes_sidebar_search_filters_grid_status(make_app: Any, qtbot: Any) -> None:
    """Issue 19: Tab went search -> grid -> status bar -> sidebar."""
    window = make_app().window
    bar = window.search
    expected = [window.folder_list.view, window.tag_panel.tree, bar.field, bar.sort]
    expected += [bar.cutoff, bar.dates, window.grid, window.status.pause]
    seen, widget = [], window.nextInFocusChain()  # where Tab starts in a new window
    for _ in range(len(window.findChildren(QWidget)) + 1):
        if widget in expected and widget not in seen:
            seen.append(widget)
        widget = widget.nextInFocusChain()
    assert seen == expected


def test_ctrl_comma_opens_the_settings(make_app: Any, qtbot: Any) -> None:
    """Issue 19: QKeySequence.Preferences is empty on Linux, so Settings had no shortcut."""
    from photoclip.gui.settingsdialog import SettingsDialog

    window = make_app().window
    assert QKeySequence("Ctrl+,") in window.settings_action.shortcuts()
    window.show()
    window.activateWindow()
    qtbot.wait_until(window.isActiveWindow)  # window shortcuts need the active window
    qtbot.keySequence(window, QKeySequence("Ctrl+,"))
    dialogs = window.findChildren(SettingsDialog)
    assert len(dialogs) == 1 and dialogs[0].isVisible()
    dialogs[0].reject()


def test_the_status_bar_counts_the_results_and_times_the_search(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    import re

    window = indexed(make_app, qtbot, scenes).window
    search(window, qtbot, "a red circle")
    assert re.fullmatch(rf"{len(SCENES)} photos, \d+ ms", window.status.results.text())
    qtbot.wait_until(lambda: window.status.model.text() == "6 in library · model test-shapes")


def test_the_thumbnail_size_follows_the_slider_and_ctrl_plus_minus(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    from photoclip.gui.statusbar import MAX_THUMBNAIL, MIN_THUMBNAIL

    window = indexed(make_app, qtbot, scenes).window
    window.status.zoom.setValue(320)
    cell = window.grid.visualRect(window.results.index(0))
    assert (cell.height(), window.grid.gridSize().height(), window.thumbnails.size) == (
        328,
        328,
        320,
    )
    window.activateWindow()
    qtbot.wait_until(window.isActiveWindow)
    qtbot.keySequence(window, QKeySequence("Ctrl+-"))
    assert (window.grid.icon, window.status.zoom.value()) == (288, 288)
    for _ in range(4):  # 320, 352, 384, then 400 at most
        qtbot.keySequence(window, QKeySequence("Ctrl+="))
    assert window.grid.icon == MAX_THUMBNAIL
    window.set_thumbnail_size(10)
    assert window.grid.icon == MIN_THUMBNAIL


def test_the_thumbnail_size_is_kept_for_the_next_launch(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    """Issue 19: the size chosen with the slider is the size the app starts with."""
    from photoclip.core.settings import Settings

    app = indexed(make_app, qtbot, scenes)
    for size in (192, 224, 256):  # a drag: saved once it stops
        app.window.status.zoom.setValue(size)
    path = Locations.from_environment().settings
    qtbot.wait_until(
        lambda: path.exists() and Settings.load(path).thumbnail_size == 256, timeout=WAIT
    )
    assert Settings.load(path).model is None  # nothing else was written with it
    app.window.close()
    app.stop()

    again = make_app().window
    assert (again.grid.icon, again.status.zoom.value(), again.thumbnails.size) == (256,) * 3
    assert again.grid.gridSize().height() == 256 + 8


def test_a_dropped_folder_shows_in_the_sidebar_at_once(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    """Issue 19: a dropped folder appeared only once the worker reached it (~15 s when
    busy). A paused worker stands in for a busy one."""
    app = make_app()
    app.window.show()
    with qtbot.wait_signal(app.window.library_read, timeout=WAIT):
        app.start()
    app.worker.pause()
    app.window.dropEvent(file_drop(scenes))
    folders = app.window.folders
    qtbot.wait_until(lambda: [f.summary for f in folders.folders] == ["scanning"], timeout=1000)
    assert folders.folders[0].path == scenes
    app.worker.resume()
    qtbot.wait_until(lambda: folders.folders[0].summary == "6 photos · watching", timeout=WAIT)


def test_a_folder_added_while_another_indexes_leaves_that_one_indexing(
    make_app: Any, qtbot: Any, tmp_path: Path
) -> None:
    """Issue 19: adding a folder flipped the one being indexed to "watching"."""
    from photoclip.gui.folders import FolderState

    app = make_app()
    app.window.show()
    with qtbot.wait_signal(app.window.library_read, timeout=WAIT):
        app.start()
    app.worker.pause()  # both stay queued: the worker is busy with the first
    first, second = (write_scenes(tmp_path / n, SCENES[:1]) for n in ("first", "second"))
    app.window.add_folders([first])
    app.window.add_folders([second])
    app.window.folders.set_folders([FolderState(first), FolderState(second)])
    summaries = [f.summary for f in app.window.folders.folders]
    assert summaries == ["0 photos · indexing", "0 photos · indexing"]
    app.worker.resume()


def test_left_and_right_step_through_the_results_in_the_photo_view(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    window = indexed(make_app, qtbot, scenes).window
    ids = [p.id for p in window.results.photos]
    with qtbot.wait_signal(window.photo_shown, timeout=WAIT):
        window.open_photo(ids[0])
    with qtbot.wait_signal(window.photo_shown, timeout=WAIT) as shown:
        qtbot.keyClick(window.photo_view, Qt.Key.Key_Right)
    assert shown.args == [ids[1]] and window.pages.currentIndex() == PHOTO
    with qtbot.wait_signal(window.photo_shown, timeout=WAIT) as shown:
        qtbot.keyClick(window.photo_view, Qt.Key.Key_Left)
    assert shown.args == [ids[0]]
    with qtbot.assert_not_emitted(window.photo_shown, wait=300):
        qtbot.keyClick(window.photo_view, Qt.Key.Key_Left)  # the first: it stays
    with qtbot.wait_signal(window.photo_shown, timeout=WAIT):
        qtbot.keyClick(window.photo_view, Qt.Key.Key_Right)
    qtbot.keyClick(window.photo_view, Qt.Key.Key_Escape)
    assert window.pages.currentIndex() == GRID and window.grid.currentIndex().row() == 1


def test_f_shows_the_photo_full_screen_and_escape_leaves_it(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    window = indexed(make_app, qtbot, scenes).window
    with qtbot.wait_signal(window.photo_shown, timeout=WAIT):
        window.open_photo(window.results.photo(0).id)
    qtbot.keyClick(window.photo_view, Qt.Key.Key_F)
    qtbot.wait_until(window.isFullScreen)
    window.go_back()  # Escape
    qtbot.wait_until(lambda: not window.isFullScreen())
    assert window.pages.currentIndex() == PHOTO  # the next Escape goes back to the grid
    window.toggle_full_screen()  # F11
    qtbot.wait_until(window.isFullScreen)
