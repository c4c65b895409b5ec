"""Screenshots of the app on any folder of photos, for the README and for looking at it.

    python -m photoclip.gui.screenshot ~/Pictures/some-folder
    python -m photoclip.gui.screenshot FOLDER --query "a dog" --flows /tmp/shots

Indexes FOLDER into a temporary data folder (the test-shapes model unless --model says
otherwise; it is not semantic on real photos, which is fine for the layout), searches, and
writes resources/screenshot.png (a small palette PNG) of the grid, newest first, or of a
search with --query. `--flows DIR` also saves the welcome page, the status bar while
indexing, the grid, one photo open, similar photos, a selection, a photo at 100%, and the
tags (Colour and Shape categories saved: the panel and a photo's "Why this tag").
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SIZE = (1280, 800)
README_WIDTH = 1100


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m photoclip.gui.screenshot")
    parser.add_argument("folder", type=Path, help="a folder of photos")
    parser.add_argument("--out", type=Path, default=Path("resources/screenshot.png"))
    parser.add_argument("--query", default="", help="a search to show (default: browse)")
    parser.add_argument("--model", default="test-shapes")
    parser.add_argument("--flows", type=Path, help="also save each main flow here")
    parser.add_argument(
        "--size", type=_size, default=SIZE, help="window size, e.g. 1920x1080 (default 1280x800)"
    )
    return parser.parse_args(argv)


def _size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    try:
        return int(width), int(height)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size like 1920x1080: {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="photoclip-shot-") as temporary:
        os.environ["PHOTOCLIP_DATA_DIR"] = str(Path(temporary) / "data")
        os.environ.setdefault("PHOTOCLIP_CACHE_DIR", str(Path(temporary) / "cache"))
        os.environ["PHOTOCLIP_MODEL"] = args.model
        _shoot(args)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")
    return 0


def _shoot(args: argparse.Namespace) -> None:
    from photoclip.core.paths import Locations
    from photoclip.core.settings import Settings
    from photoclip.gui.app import PhotoClipApp, application
    from photoclip.gui.selftest import wait_until

    application([])
    locations = Locations.from_environment()
    app = PhotoClipApp(locations, Settings.load(locations.settings))
    window = app.window
    window.resize(*args.size)
    window.show()
    save = _saver(window, args.flows)
    try:
        app.start()
        wait_until(lambda: window.folders.rowCount() == 0 and _settled(), "the welcome page", 30)
        save("welcome")
        window.add_folders([args.folder.expanduser().resolve()])
        _shoot_indexing(window, save, wait_until)
        wait_until(lambda: app.worker.wait_idle(0), "indexing to finish", 1800)
        if args.query:
            window.search.field.setText(args.query)
            wait_until(lambda: _ranked(window), "the search", 120)
        else:
            wait_until(lambda: window.results.rowCount() > 0, "the photos", 120)
        _wait_for_thumbnails(window, wait_until)
        _readme_shot(window, args.out)
        save("grid")
        window.open_photo(window.results.photo(0).id)
        wait_until(lambda: window.pages.currentIndex() == 2, "the photo view", 60)
        _settled(1.5)
        save("photo")
        window.show_similar(window.results.photo(0).id)
        wait_until(lambda: window.banner.isVisible(), "similar photos", 60)
        _wait_for_thumbnails(window, wait_until)
        save("similar")
        window.go_back()
        _selection_shots(window, save, wait_until)
        if args.flows is not None:
            _tag_shots(window, save, wait_until)
    finally:
        window.close()
        app.stop()


def _selection_shots(
    window: Any, save: Callable[..., None], wait_until: Callable[..., None]
) -> None:
    """Several photos selected with the context menu open; then the largest photo at 100%,
    panned."""
    from PySide6.QtCore import QItemSelection, QItemSelectionModel, QPoint

    rows = [r for r in (1, 2, 3, 5, 8, 9, 10, 12) if r < window.results.rowCount()]
    selection = QItemSelection()
    for row in rows:
        selection.select(window.results.index(row), window.results.index(row))
    window.grid.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    window.grid.set_current_keeping_selection(window.results.index(rows[-1]))
    _wait_for_thumbnails(window, wait_until)
    cell = window.grid.visualRect(window.results.index(rows[-1])).center()
    window.grid.context_menu_requested.emit(window.grid.viewport().mapToGlobal(cell))
    wait_until(window.batch.menu.isVisible, "the context menu", 10)
    save("selection", popup=window.batch.menu)
    window.batch.menu.close()
    largest = max(window.results.photos, key=lambda p: (p.width or 0) * (p.height or 0))
    window.open_photo(largest.id)  # at 100% it shows a part of the photo: one to pan
    wait_until(lambda: window.pages.currentIndex() == 2, "the photo view", 60)
    _settled(1.0)
    window.photo_view.zoom_to_actual()
    view = window.photo_view.image_view
    wait_until(view.has_full_image, "the full image", 60)
    view.pan_by(QPoint(-120, -60).toPointF())
    save("photo-100")


#: what the "tags" flow installs: the demo model knows colours and shapes
SHOT_CATEGORIES = {"Colour": ("red", "green", "blue", "yellow", "black", "white"),
                   "Shape": ("circle", "square", "triangle", "star")}  # fmt: skip


def _tag_shots(window: Any, save: Callable[..., None], wait_until: Callable[..., None]) -> None:
    """Two categories saved, the tag panel with its counts, and a photo with "Why this
    tag" open (a tagged one where there is one)."""
    from photoclip.core.actions import SaveCategories
    from photoclip.core.categories import Category, Label

    categories = tuple(
        Category(name, tuple(Label(label) for label in labels))
        for name, labels in SHOT_CATEGORIES.items()
    )
    done: list[object] = []
    window.tasks.act(SaveCategories, categories, (), on_done=done.append)
    wait_until(lambda: bool(done), "the categories to tag the library", 300)
    window.refresh_library()
    _settled(1.0)
    tagged = _tagged_photos()
    photo = next((p for p in window.results.photos if p.id in tagged), window.results.photo(0))
    window.open_photo(photo.id)
    wait_until(lambda: window.pages.currentIndex() == 2, "the photo view", 60)
    wait_until(lambda: "none of these" in window.photo_view._scores.text(), "the scores", 60)
    window.photo_view.why_button.setChecked(True)
    save("tags")


def _tagged_photos() -> set[int]:
    from photoclip.core.catalog import Catalog
    from photoclip.core.paths import Locations
    from photoclip.core.tagstore import TagStore

    with Catalog.open(Locations.from_environment().catalog, readonly=True) as catalog:
        return {tag.photo_id for tag in TagStore(catalog).tags()}


def _shoot_indexing(
    window: Any, save: Callable[..., None], wait_until: Callable[..., None]
) -> None:
    """The status bar while indexing. A small folder can be indexed between two looks at
    the window: its photos are then shown already, there is no progress to take, and the
    flow goes on without this shot."""
    bar = window.status.bar
    wait_until(lambda: bar.isVisible() or window.results.rowCount() > 0, "indexing to start", 120)
    wait_until(lambda: bar.value() > 0 or not bar.isVisible(), "progress", 300)
    if bar.isVisible():
        save("indexing")
    else:
        print("indexed before its progress could be shown: no indexing.png", file=sys.stderr)


def _settled(seconds: float = 0.3) -> bool:
    """Let pending loads and paints finish."""
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.02)
    return True


def _ranked(window: object) -> bool:
    from photoclip.gui.selftest import _ranked as ranked

    return ranked(window)


def _wait_for_thumbnails(window: object, wait_until: Callable[..., None]) -> None:
    from photoclip.gui.mainwindow import MainWindow

    assert isinstance(window, MainWindow)
    view = window.grid
    visible = [i for i in range(window.results.rowCount()) if view.visualRect(
        window.results.index(i)).intersects(view.viewport().rect())]  # fmt: skip
    ids = [window.results.photo(i).id for i in visible]
    wait_until(lambda: all(i in window.thumbnails._pixmaps for i in ids), "thumbnails", 120)
    _settled(0.5)


def _saver(window: object, folder: Path | None) -> Callable[..., None]:
    from PySide6.QtGui import QPainter
    from PySide6.QtWidgets import QWidget

    assert isinstance(window, QWidget)

    def save(name: str, popup: QWidget | None = None) -> None:
        """The window, with `popup` (a menu: a window of its own) painted where it is."""
        if folder is None:
            return
        folder.mkdir(parents=True, exist_ok=True)
        _settled()
        shot = window.grab()
        if popup is not None:
            painter = QPainter(shot)
            painter.drawPixmap(window.mapFromGlobal(popup.pos()), popup.grab())
            painter.end()
        shot.save(str(folder / f"{name}.png"))

    return save


def _readme_shot(window: object, out: Path) -> None:
    """A palette PNG a little narrower than the window: small enough for a README."""
    from PIL import Image
    from PySide6.QtWidgets import QWidget

    assert isinstance(window, QWidget)
    _settled()
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = out.with_suffix(".raw.png")
    window.grab().save(str(raw))
    with Image.open(raw) as image:
        rgb = image.convert("RGB")
    raw.unlink()
    height = round(rgb.height * README_WIDTH / rgb.width)
    small = rgb.resize((README_WIDTH, height), Image.Resampling.LANCZOS)
    small.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)


if __name__ == "__main__":
    sys.exit(main())
