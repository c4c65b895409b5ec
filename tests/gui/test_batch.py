"""Batch actions on the grid's selection (issue 19), with the real worker and test-shapes:
each applies to every selected photo, says what it changed, and Undo takes it back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, QPoint
from PySide6.QtWidgets import QApplication

from photoclip.core.actions import SaveCategories
from photoclip.core.catalog import Catalog
from photoclip.core.categories import Category, Label
from photoclip.core.paths import Locations
from photoclip.core.tagstore import TagStore
from photoclip.gui.batchdialogs import TagChooser, TrashPreview
from photoclip.gui.mainwindow import GRID, PHOTO
from tests.gui.test_mainwindow import WAIT, indexed

COLOURS = Category("Colours", tuple(Label(c) for c in ("red", "green", "blue", "yellow")))


def _tagged(window: Any, qtbot: Any) -> None:
    done: list[object] = []
    window.tasks.act(SaveCategories, (COLOURS,), (), on_done=done.append)
    qtbot.wait_until(lambda: bool(done), timeout=WAIT)


def _select(window: Any, rows: list[int]) -> list[Path]:
    selection = QItemSelection()
    for row in rows:
        index = window.results.index(row)
        selection.select(index, index)
    window.grid.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    return [window.results.photo(row).path for row in rows]


def _tags_of(paths: list[Path]) -> dict[str, set[str]]:
    with Catalog.open(Locations.from_environment().catalog, readonly=True) as catalog:
        tags = TagStore(catalog).tags()
    found: dict[str, set[str]] = {path.name: set() for path in paths}
    for tag in tags:
        if tag.path.name in found:
            found[tag.path.name].add(f"{tag.category}:{tag.label}:{tag.source}")
    return found


def _rows_tagged(window: Any) -> list[int]:
    rows = list(range(window.results.rowCount()))
    tags = _tags_of([window.results.photo(r).path for r in rows])
    return [r for r in rows if tags[window.results.photo(r).path.name]]


def _chooser(window: Any, qtbot: Any) -> TagChooser:
    qtbot.wait_until(lambda: isinstance(window.batch.dialog, TagChooser), timeout=WAIT)
    return window.batch.dialog  # type: ignore[no-any-return]


def _report(window: Any, qtbot: Any, start: str) -> str:
    bar = window.batch.bar
    qtbot.wait_until(lambda: bar.report_text.startswith(start), timeout=WAIT)
    return str(bar.report_text)


def test_a_selection_shows_its_count_and_enables_the_batch_actions(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    window = indexed(make_app, qtbot, scenes).window
    batch = window.batch
    assert not batch.bar.isVisible() and not batch.trash.isEnabled()
    _select(window, [0, 2, 4])
    assert batch.bar.isVisible() and batch.bar.count_label.text() == "3 photos selected"
    assert all(action.isEnabled() for action in batch.batch_actions())
    batch.select_all.trigger()
    assert batch.bar.count_label.text() == "6 photos selected"
    window.grid.set_current_keeping_selection(window.results.index(2))
    window.go_back()  # Escape: from several selected to the current one
    assert window.grid.selected_rows() == [2] and not batch.bar.isVisible()
    batch.select_none.trigger()
    assert not batch.copy_paths.isEnabled()


def test_the_context_menu_offers_every_batch_action(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    window = indexed(make_app, qtbot, scenes).window
    _select(window, [1, 3])
    window.grid.context_menu_requested.emit(window.grid.mapToGlobal(QPoint(10, 10)))
    menu = window.batch.menu
    qtbot.wait_until(menu.isVisible)
    offered = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert offered == [a.text() for a in window.batch.batch_actions()]
    assert all(a.isEnabled() for a in menu.actions())
    menu.close()


def test_a_tag_is_confirmed_on_every_selected_photo_and_undone(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    window = indexed(make_app, qtbot, scenes).window
    _tagged(window, qtbot)
    paths = _select(window, [0, 1, 2])
    window.batch.confirm_tag.trigger()
    chooser = _chooser(window, qtbot)
    chooser.choose("Colours", "yellow")
    chooser.accept()
    said = _report(window, qtbot, "Confirmed")
    assert said.startswith("Confirmed 'Colours: yellow' on 3 photos")
    tags = _tags_of(paths)
    assert all("Colours:yellow:confirmed" in found for found in tags.values()), tags
    assert window.batch.undo_action.isEnabled() and window.batch.bar.undo_button.isVisible()

    window.batch.undo_action.trigger()
    assert _report(window, qtbot, "Undid").startswith("Undid confirmed 'yellow' on 3 photos")
    assert not any(t.endswith(":confirmed") for f in _tags_of(paths).values() for t in f)
    assert not window.batch.undo_action.isEnabled()


def test_a_tag_is_removed_from_every_selected_photo_and_undone(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    window = indexed(make_app, qtbot, scenes).window
    _tagged(window, qtbot)
    rows = list(range(window.results.rowCount()))
    everything = [window.results.photo(r).path for r in rows]
    tagged = {name: found for name, found in _tags_of(everything).items() if found}
    label = sorted(next(iter(tagged.values())))[0].split(":")[1]  # one label some carry
    carrying = [
        r for r in rows
        if any(f":{label}:" in t for t in tagged.get(window.results.photo(r).path.name, ()))
    ]  # fmt: skip
    paths = _select(window, carrying)
    window.batch.remove_tag.trigger()
    chooser = _chooser(window, qtbot)
    offered = [chooser.list.item(i).text() for i in range(chooser.list.count())]
    assert all("0 of" not in text for text in offered)  # only tags the photos carry
    chooser.choose("Colours", label)
    chooser.accept()
    _report(window, qtbot, f"Removed 'Colours: {label}' on {len(carrying)} photo")
    assert not any(f"Colours:{label}:" in t for f in _tags_of(paths).values() for t in f)
    window.batch.bar.undo_button.click()
    _report(window, qtbot, "Undid rejected")
    assert all(any(f"Colours:{label}:" in t for t in f) for f in _tags_of(paths).values())


def test_paths_are_copied_and_folders_shown(
    make_app: Any, qtbot: Any, scenes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = indexed(make_app, qtbot, scenes).window
    paths = _select(window, [1, 4])
    window.batch.copy_paths.trigger()
    assert QApplication.clipboard().text().splitlines() == [str(p) for p in paths]
    assert window.batch.bar.report_text == "Copied the paths of 2 photos."
    shown: list[list[Path]] = []
    monkeypatch.setattr("photoclip.gui.batch.reveal", lambda found: shown.append(found) or 1)
    window.batch.show_in_folder.trigger()
    assert shown == [paths]


def test_the_selection_moves_to_the_trash_after_a_preview_and_comes_back_on_undo(
    make_app: Any, qtbot: Any, scenes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from photoclip.core import trash as trash_module

    trash_folder = scenes.parent / "fake-trash"
    trash_folder.mkdir()
    monkeypatch.setattr(trash_module, "_send2trash", lambda p: p.rename(trash_folder / p.name))
    monkeypatch.setattr(trash_module, "locate_in_trash", lambda p, *_: trash_folder / p.name)
    window = indexed(make_app, qtbot, scenes).window
    paths = _select(window, [0, 3])
    window.batch.trash.trigger()
    preview = window.batch.dialog
    assert isinstance(preview, TrashPreview)
    listed = [preview.list.model().index(r, 0).data() for r in range(2)]
    assert listed == [str(p) for p in paths] and all(p.exists() for p in paths)  # not yet
    preview.move_button.click()
    assert _report(window, qtbot, "Moved") == "Moved 2 photos to the trash."
    assert not any(p.exists() for p in paths)
    qtbot.wait_until(lambda: window.results.rowCount() == 4, timeout=WAIT)

    window.batch.undo_action.trigger()
    assert _report(window, qtbot, "Restored") == "Restored 2 photos from the trash."
    assert all(p.exists() for p in paths)
    qtbot.wait_until(lambda: window.results.rowCount() == 6, timeout=WAIT)


def test_a_cancelled_trash_preview_moves_nothing(make_app: Any, qtbot: Any, scenes: Path) -> None:
    window = indexed(make_app, qtbot, scenes).window
    paths = _select(window, [2])
    window.batch.trash.trigger()
    window.batch.dialog.reject()
    qtbot.wait(300)
    assert all(p.exists() for p in paths) and window.results.rowCount() == 6


def test_the_selection_is_sorted_with_a_plan_limited_to_it(
    make_app: Any, qtbot: Any, scenes: Path, tmp_path: Path
) -> None:
    from photoclip.gui.sortdialog import SortDialog

    window = indexed(make_app, qtbot, scenes).window
    _tagged(window, qtbot)
    tagged = _rows_tagged(window)
    assert len(tagged) >= 3
    paths = _select(window, tagged[:2])
    window.batch.sort.trigger()
    dialog = window.dialogs.sort_dialog
    assert isinstance(dialog, SortDialog) and "2 selected" in dialog.windowTitle()
    dialog.add_rule("Colours:*", str(tmp_path / "sorted" / "{label}"), "copy")
    dialog.preview_button.click()
    qtbot.wait_until(lambda: dialog.plan is not None, timeout=WAIT)
    assert {Path(s.source) for s in dialog.plan.steps} == set(paths)  # not the other tagged
    dialog.apply_button.click()
    qtbot.wait_until(lambda: dialog.plan.state == "applied", timeout=WAIT)
    copies = sorted(p.name for p in (tmp_path / "sorted").rglob("*.png"))
    assert copies == sorted(Path(s.source).name for s in dialog.plan.steps)
    assert dialog.progress.format() == f"{len(copies)} of {len(copies)}"


def test_in_the_photo_view_the_actions_apply_to_the_open_photo(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    window = indexed(make_app, qtbot, scenes).window
    _select(window, [0, 1, 2])
    photo = window.results.photo(4)
    with qtbot.wait_signal(window.photo_shown, timeout=WAIT):
        window.open_photo(photo.id)
    assert window.pages.currentIndex() == PHOTO
    assert window.selected_photos() == [photo] and window.batch.copy_paths.isEnabled()
    window.go_back()
    assert window.pages.currentIndex() == GRID


def test_left_and_right_in_the_photo_view_go_through_the_selection_only(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    window = indexed(make_app, qtbot, scenes).window
    _select(window, [1, 3, 5])
    ids = [window.results.photo(r).id for r in (1, 3, 5)]
    with qtbot.wait_signal(window.photo_shown, timeout=WAIT):
        window.open_photo(ids[1])
    with qtbot.wait_signal(window.photo_shown, timeout=WAIT) as shown:
        window.step_photo(1)
    assert shown.args == [ids[2]] and window.grid.selected_rows() == [1, 3, 5]
    with qtbot.wait_signal(window.photo_shown, timeout=WAIT) as shown:
        window.step_photo(-2)
    assert shown.args == [ids[0]] and window.grid.currentIndex().row() == 1


def test_the_selection_survives_the_grid_reading_its_results_again(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    """While indexing, the grid reads its results again every few seconds."""
    window = indexed(make_app, qtbot, scenes).window
    paths = _select(window, [1, 2, 4])
    with qtbot.wait_signal(window.results_shown, timeout=WAIT):
        window.refresh_results()
    assert [p.path for p in window.selected_photos()] == paths
    assert window.batch.bar.count_label.text() == "3 photos selected"
