"""The window's dialogs with the real worker: categories, tag filter, corrections, sorting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from photoclip.core.categories import Category, Label
from photoclip.core.sorting import Rule
from photoclip.gui.categoryeditor import CategoryEditor
from photoclip.gui.failures import FailuresDialog
from photoclip.gui.sortdialog import SortDialog
from tests.gui.test_mainwindow import WAIT, indexed, names

COLOURS = Category(
    "Colours",
    tuple(Label(c) for c in ("red", "green", "blue", "yellow", "purple", "orange")),
    context="a colour",
)


def opened(window: Any, kind: type, qtbot: Any) -> Any:
    qtbot.wait_until(lambda: any(d.isVisible() for d in window.findChildren(kind)), timeout=WAIT)
    return next(d for d in window.findChildren(kind) if d.isVisible())


def with_colours(make_app: Any, qtbot: Any, scenes: Path) -> Any:
    window = indexed(make_app, qtbot, scenes).window
    window.dialogs.category_editor()
    editor = opened(window, CategoryEditor, qtbot)
    with qtbot.wait_signal(window.library_read, timeout=WAIT):
        editor.saved.emit([COLOURS], [])
    qtbot.wait_until(lambda: any(c.category == "Colours" and c.count for c in _counts(window)))
    editor.close()
    return window


def filtered_by_a_colour(make_app: Any, qtbot: Any, scenes: Path) -> tuple[Any, str]:
    """A window whose grid shows only the photos of one tagged colour, and that colour."""
    window = with_colours(make_app, qtbot, scenes)
    label = sorted(tagged(window))[0]
    with qtbot.wait_signal(window.results_shown, timeout=WAIT):
        window.tag_panel.filter_requested.emit("Colours", label)
    return window, label


def _counts(window: Any) -> list[Any]:
    return list(window._library.tags)


def tagged(window: Any) -> dict[str, str]:
    return {c.label: c.count for c in _counts(window) if c.category == "Colours" and c.count}


def test_saved_categories_tag_the_library_and_filter_the_grid(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    window, label = filtered_by_a_colour(make_app, qtbot, scenes)
    assert names(window) and all(name.startswith(label) for name in names(window))
    assert f"tagged Colours: {label}" in window.search.filters.text()
    with qtbot.wait_signal(window.results_shown, timeout=WAIT):
        window.tag_panel.filter_cleared.emit()
    assert len(names(window)) == 6


def test_a_rejected_tag_leaves_the_open_photo(make_app: Any, qtbot: Any, scenes: Path) -> None:
    window = with_colours(make_app, qtbot, scenes)
    label = sorted(tagged(window))[0]
    photo = next(p for p in window.results.photos if p.path.name.startswith(label))
    with qtbot.wait_signal(window.photo_shown, timeout=WAIT):
        window.open_photo(photo.id)
    assert any(t.label == label for t in window.photo_view.details.tags)
    explained = window.photo_view._scores
    qtbot.wait_until(lambda: "none of these" in explained.text(), timeout=WAIT)
    with qtbot.wait_signal(window.photo_shown, timeout=WAIT):
        window.photo_view.tag_rejected.emit(photo.id, "Colours", label)
    assert not any(t.label == label for t in window.photo_view.details.tags)
    qtbot.wait_until(window.photo_view.undo_button.isVisible, timeout=WAIT)
    assert window.photo_view.correction.text()  # what the rejection changed, in words
    with qtbot.wait_signal(window.photo_shown, timeout=WAIT):
        qtbot.mouseClick(window.photo_view.undo_button, Qt.MouseButton.LeftButton)
    assert any(t.label == label for t in window.photo_view.details.tags)  # undone


def test_a_rejection_on_the_photo_page_is_undone_by_edit_undo(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    """Ctrl+Z after a correction on the photo page takes it back, like the page's Undo;
    then there is nothing left for either to undo."""
    window = with_colours(make_app, qtbot, scenes)
    label = sorted(tagged(window))[0]
    photo = next(p for p in window.results.photos if p.path.name.startswith(label))
    with qtbot.wait_signal(window.photo_shown, timeout=WAIT):
        window.open_photo(photo.id)
    undo = window.batch.undo_action
    assert not undo.isEnabled()
    with qtbot.wait_signal(window.photo_shown, timeout=WAIT):
        window.photo_view.tag_rejected.emit(photo.id, "Colours", label)
    qtbot.wait_until(undo.isEnabled, timeout=WAIT)
    assert undo.text() == "&Undo Tag Correction"
    with qtbot.wait_signal(window.photo_shown, timeout=WAIT):
        undo.trigger()
    assert any(t.label == label for t in window.photo_view.details.tags)  # undone
    assert not undo.isEnabled() and not window.photo_view.undo_button.isVisible()


def test_the_sort_dialog_plans_and_applies_through_the_worker(
    make_app: Any, qtbot: Any, scenes: Path, tmp_path: Path
) -> None:
    window = with_colours(make_app, qtbot, scenes)
    label = sorted(tagged(window))[0]
    window.dialogs.sort()
    dialog = opened(window, SortDialog, qtbot)
    target = tmp_path / "sorted"
    dialog.plan_requested.emit([Rule.parse(f"Colours:{label}={target}/{{label}}", "copy")])
    qtbot.wait_until(lambda: dialog.plan is not None, timeout=WAIT)
    assert [Path(s.destination).parent.name for s in dialog.plan.steps] == [label]
    dialog.apply_requested.emit()
    qtbot.wait_until(lambda: (target / label).is_dir() and any((target / label).iterdir()))


def test_the_failures_dialog_lists_why(make_app: Any, qtbot: Any, scenes: Path) -> None:
    (scenes / "broken.jpg").write_bytes(b"not a photo")
    app = make_app()
    app.window.show()
    app.start()
    app.window.add_folders([scenes])
    qtbot.wait_until(lambda: app.window.status.failures.isVisible(), timeout=WAIT)
    app.window.status.failures.click()
    dialog = opened(app.window, FailuresDialog, qtbot)
    assert dialog.model.rowCount() == 1


def test_near_duplicates_are_found_and_the_extra_copy_trashed(
    make_app: Any, qtbot: Any, scenes: Path, monkeypatch: Any
) -> None:
    from photoclip.core import trash as trash_module
    from photoclip.gui.duplicatesview import DuplicatesDialog

    trash_folder = scenes.parent / "fake-trash"
    trash_folder.mkdir()
    trashed: list[Path] = []

    def send(path: Path) -> None:
        trashed.append(Path(path))
        Path(path).rename(trash_folder / Path(path).name)

    monkeypatch.setattr(trash_module, "_send2trash", send)
    monkeypatch.setattr(trash_module, "locate_in_trash", lambda p, *_: trash_folder / p.name)
    (scenes / "red-circle-copy.png").write_bytes((scenes / "red-circle.png").read_bytes())
    window = indexed(make_app, qtbot, scenes).window
    window.dialogs.duplicates()
    dialog = opened(window, DuplicatesDialog, qtbot)
    qtbot.wait_until(lambda: len(dialog.review.groups) == 1, timeout=WAIT)
    assert sorted(dialog.review.all_paths()) == sorted(
        str(scenes / n) for n in ("red-circle.png", "red-circle-copy.png")
    )
    dialog.trash_button.click()
    qtbot.wait_until(lambda: len(dialog.review.groups) == 0, timeout=WAIT)
    assert "1 photos moved to the trash" in dialog.message.text()
    assert len(trashed) == 1
    qtbot.wait_until(lambda: len(names(window)) == 6, timeout=WAIT)
    dialog.undo_button.click()  # the restored copy is indexed, and its group comes back
    qtbot.wait_until(lambda: len(dialog.review.groups) == 1, timeout=WAIT)
    assert "1 photos restored from the trash" in dialog.message.text()
    assert trashed[0].exists()


def test_settings_are_saved_and_the_model_kept(make_app: Any, qtbot: Any, scenes: Path) -> None:
    from photoclip.core.paths import Locations
    from photoclip.core.settings import Settings
    from photoclip.gui.settingsdialog import SettingsDialog

    window = indexed(make_app, qtbot, scenes).window
    window.dialogs.settings()
    dialog = opened(window, SettingsDialog, qtbot)
    dialog.threads_spin.setValue(1)
    dialog.accept()
    path = Locations.from_environment().settings
    qtbot.wait_until(lambda: path.exists() and Settings.load(path).threads == 1, timeout=WAIT)
    assert window.settings.threads == 1
    qtbot.wait(300)
    assert window.tasks.worker.profile == "test-shapes"  # OK alone never switches the model


def _choose_thumbnail_folder(window: Any, qtbot: Any, folder: Path) -> None:
    from photoclip.gui.settingsdialog import SettingsDialog

    window.dialogs.settings()
    dialog = opened(window, SettingsDialog, qtbot)
    dialog.thumbnail_edit.setText(str(folder))
    dialog.accept()


def test_a_new_thumbnail_folder_keeps_every_photo_in_the_grid(
    make_app: Any, qtbot: Any, scenes: Path, tmp_path: Path
) -> None:
    from photoclip.core.paths import Locations
    from tests.gui.conftest import write_scenes

    window = indexed(make_app, qtbot, scenes).window
    old = sorted(Locations.from_environment().thumbnails.rglob("*.jpg"))
    chosen = tmp_path / "thumbs"
    _choose_thumbnail_folder(window, qtbot, chosen)
    qtbot.wait_until(lambda: window.thumbnails.store.folder == chosen, timeout=WAIT)
    assert window.settings.thumbnail_cache == str(chosen)
    # Every photo shows, from the new folder or (until the worker has filled it) its file.
    cache, photos = window.thumbnails, list(window.results.photos)
    cache._pixmaps.clear()
    for photo in photos:
        cache.request(photo)
    qtbot.wait_until(lambda: all(p.id in cache._pixmaps for p in photos), timeout=WAIT)
    # A photo indexed now has its thumbnail in the new folder; the old one is left alone.
    write_scenes(scenes, (("late-red-square", "red", "square"),))
    qtbot.wait_until(lambda: len(names(window)) == 7, timeout=WAIT)
    qtbot.wait_until(lambda: len(list(chosen.rglob("*.jpg"))) == 7, timeout=WAIT)
    assert sorted(Locations.from_environment().thumbnails.rglob("*.jpg")) == old


def test_a_thumbnail_folder_that_cannot_be_used_is_refused_with_a_warning(
    make_app: Any, qtbot: Any, scenes: Path, tmp_path: Path
) -> None:
    window = indexed(make_app, qtbot, scenes).window
    before = window.thumbnails.store
    (tmp_path / "a-file").write_text("a file, not a folder")
    with qtbot.wait_signal(window.tasks.bridge.job_failed, timeout=WAIT) as failed:
        _choose_thumbnail_folder(window, qtbot, tmp_path / "a-file" / "thumbs")
    assert failed.args[0].job == "UpdateSettings"
    from PySide6.QtWidgets import QMessageBox

    warning = opened(window, QMessageBox, qtbot)
    assert "Thumbnails cannot be kept in" in warning.text()
    assert window.thumbnails.store == before and window.settings.thumbnail_cache == ""


def test_a_label_renamed_in_the_editor_keeps_its_confirmed_tag(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    from photoclip.core.catalog import Catalog
    from photoclip.core.paths import Locations
    from photoclip.core.tagstore import CONFIRMED, TagStore

    window = with_colours(make_app, qtbot, scenes)
    photo = next(p for p in window.results.photos if p.path.name == "red-circle.png")
    with qtbot.wait_signal(window.photo_shown, timeout=WAIT):
        window.open_photo(photo.id)
    with qtbot.wait_signal(window.photo_shown, timeout=WAIT):
        window.photo_view.tag_confirmed.emit(photo.id, "Colours", "red")
    red_id = _label_id(window, qtbot, "Colours", "red")
    _rename_label(window, qtbot, "Colours", "red", "crimson")
    with Catalog.open(Locations.from_environment().catalog, readonly=True) as catalog:
        store = TagStore(catalog)
        colours = store.category("Colours")
        assert colours is not None and colours.label("red") is None
        crimson = colours.label("crimson")
        assert crimson is not None and crimson.id == red_id
        assert store.corrections([red_id])[red_id][CONFIRMED] == [photo.id]
        mine = [(t.category, t.label, t.source) for t in store.tags([photo.id])]
        assert ("Colours", "crimson", CONFIRMED) in mine


def _label_id(window: Any, qtbot: Any, category: str, label: str) -> int | None:
    """The stored id of a label, as the category editor shows it (closed again)."""
    window.dialogs.category_editor()
    editor = opened(window, CategoryEditor, qtbot)
    row = next(i for i, d in enumerate(editor.drafts) if d.name == category)
    editor.select(row, [lab.name for lab in editor.drafts[row].labels].index(label))
    found = editor.current_label().id
    editor.close()
    return found


def _rename_label(window: Any, qtbot: Any, category: str, old: str, new: str) -> None:
    window.dialogs.category_editor()
    editor = opened(window, CategoryEditor, qtbot)
    row = next(i for i, d in enumerate(editor.drafts) if d.name == category)
    editor.select(row, [label.name for label in editor.drafts[row].labels].index(old))
    editor.label_name_edit.selectAll()
    qtbot.keyClicks(editor.label_name_edit, new)
    with qtbot.wait_signal(window.library_read, timeout=WAIT):
        editor.save_button.click()


def test_a_tag_filter_follows_its_label_when_the_label_is_renamed(
    make_app: Any, qtbot: Any, scenes: Path
) -> None:
    window, label = filtered_by_a_colour(make_app, qtbot, scenes)
    shown = names(window)
    _rename_label(window, qtbot, "Colours", label, f"deep {label}")
    qtbot.wait_until(lambda: f"tagged Colours: deep {label}" in window.search.filters.text())
    assert window.tag_panel.current_filter() == ("Colours", f"deep {label}")
    qtbot.wait_until(lambda: names(window) == shown, timeout=WAIT)
