"""The desktop app's responsiveness: `python tests/benchmarks/bench_gui.py [PHOTO_FOLDER]`.

- time to window: from starting a fresh Python process to the main window shown (exposed),
  through the app's own start-up path; and whether torch was imported by then (it must not).
- GUI-thread gaps: a 5 ms QTimer heartbeat runs on the GUI thread while the app starts its
  worker and loads the model, indexes a folder (generated scenes, or PHOTO_FOLDER), answers
  typed queries (as you type, debounced), and scrolls a grid of 100,000 results whose
  thumbnails load as they come into view, then drags the thumbnail-size slider from end
  to end and back over those 100,000 results, then selects 1,000 of them (a Shift-click) and
  opens the context menu, copies their paths and opens the trash preview, the sort dialog and
  the tag chooser for them (the GUI's side of starting each batch action), and selects all
  100,000 (Ctrl+A). The longest gap between two beats is the longest the GUI thread was
  blocked (plus the timer's own slack). Target: < 50 ms.

The model runs in a child process, as in the app; `--in-process` loads it on the worker's
thread instead (importing torch in the window's process), for comparison.

Offscreen (QT_QPA_PLATFORM=offscreen unless set). Prints JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "1")

CHILD = """
import sys, time
from photoclip.gui.app import PhotoClipApp, application
from photoclip.core.paths import Locations
from photoclip.core.settings import Settings
qt = application([])
locations = Locations.from_environment()
app = PhotoClipApp(locations, Settings.load(locations.settings))
app.window.show()
while not (app.window.windowHandle() and app.window.windowHandle().isExposed()):
    qt.processEvents()
shown = time.monotonic()
qt.processEvents()
print(shown, 'torch' in sys.modules, flush=True)
app.window.close()
"""


def time_to_window(runs: int = 3) -> dict[str, object]:
    times, torch_early = [], False
    for _ in range(runs):
        started = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True, cwd=ROOT
        ).stdout.split()
        times.append(float(out[0]) - started)
        torch_early |= out[1] == "True"
    return {
        "time_to_window_s": round(min(times), 3),
        "time_to_window_runs_s": [round(t, 3) for t in times],
        "torch_imported_before_window": torch_early,
    }


class Heartbeat:
    """Beats every 5 ms on the GUI thread; remembers the longest gap per phase."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.gaps: dict[str, float] = {}
        self.over: dict[str, int] = {}
        self.phase = "start"
        self._last = time.monotonic()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._beat)
        self.timer.start()

    def _beat(self) -> None:
        now = time.monotonic()
        gap = now - self._last
        self._last = now
        self.gaps[self.phase] = max(self.gaps.get(self.phase, 0.0), gap)
        self.over[self.phase] = self.over.get(self.phase, 0) + (gap > 0.05)

    def enter(self, phase: str) -> None:
        self.phase = phase


def spin(check: Callable[[], bool], timeout: float) -> None:
    """Run the event loop until check() (the heartbeat keeps beating meanwhile)."""
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(str(check))
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.002)


def pump(seconds: float = 0.0) -> None:
    """Process events for a while (at least once)."""
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + seconds
    QApplication.processEvents()
    while time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.002)


def gui_gaps(folder: Path | None, scenes: int = 300, in_process: bool = False) -> dict[str, object]:
    from photoclip.core.paths import Locations
    from photoclip.core.settings import Settings
    from photoclip.gui.app import PhotoClipApp, application, encoder_loader
    from photoclip.synthetic.scenes import write_scene_folder

    application([])
    home = Path(tempfile.mkdtemp(prefix="bench-gui-"))
    if folder is None:
        folder = home / "scenes"
        write_scene_folder(folder, scenes)
    locations = Locations.from_environment()
    settings = Settings.load(locations.settings)
    load = encoder_loader(locations, settings, lambda *_: None, in_process=True)
    app = PhotoClipApp(locations, settings, load if in_process else None)
    window = app.window
    window.resize(1280, 800)
    beat = Heartbeat()
    beat.enter("show window")
    window.show()
    spin(lambda: window.windowHandle().isExposed(), 10)
    pump(0.2)
    beat.enter("start worker, import torch, load model")
    app.start()
    spin(lambda: app.worker.wait_idle(0) and app.worker._models.loaded != [], 300)
    beat.enter("indexing")
    started = time.monotonic()
    window.add_folders([folder])
    spin(lambda: window.status.bar.isVisible(), 60)
    spin(lambda: app.worker.wait_idle(0), 3600)
    indexing_s = time.monotonic() - started
    beat.enter("typing queries")
    _type_queries(window, ["a red circle", "blue square on white", "something green"])
    _scroll_100k(window, beat)
    _resize_thumbnails(window, beat)
    _select_and_act(window, beat)
    window.close()
    app.stop()
    return {
        "model": "in this process" if in_process else "in a child process",
        "photos": len(list(folder.iterdir())),
        "indexing_s": round(indexing_s, 1),
        "indexing_photos_per_s": round(len(list(folder.iterdir())) / indexing_s, 1),
        "worst_gap_ms": {k: round(v * 1000, 1) for k, v in beat.gaps.items()},
        "gaps_over_50ms": beat.over,
    }


def _type_queries(window: object, queries: list[str]) -> None:
    from PySide6.QtTest import QTest

    field = window.search.field  # type: ignore[attr-defined]
    for query in queries:
        field.clear()
        for char in query:
            QTest.keyClick(field, char)
            pump(0.06)  # a brisk typist
        _wait_for_results(window)


def _wait_for_results(window: object) -> None:
    """Until the debounced search of the whole query has answered."""
    shown: list[int] = []
    window.results_shown.connect(shown.append)  # type: ignore[attr-defined]
    spin(lambda: bool(shown) and _ranked(window), 60)
    window.results_shown.disconnect(shown.append)  # type: ignore[attr-defined]


def _ranked(window: object) -> bool:
    from photoclip.gui.selftest import _ranked as ranked

    return ranked(window)


def _scroll_100k(window: object, beat: Heartbeat) -> None:
    window._grid_timer.stop()  # type: ignore[attr-defined]  # no refresh replaces the 100k
    beat.enter("(the benchmark making 100k results: not the app)")
    photos = window.results.photos  # type: ignore[attr-defined]
    many = [replace(photos[i % len(photos)], id=10_000_000 + i) for i in range(100_000)]
    pump(0.2)
    beat.enter("showing 100k results")
    window.results.set_results(many, [None] * len(many))  # type: ignore[attr-defined]
    bar = window.grid.verticalScrollBar()  # type: ignore[attr-defined]
    spin(lambda: bar.maximum() > 100_000, 300)  # the batched layout has placed every item
    beat.enter("scrolling 100k results")
    step = max(1, bar.maximum() // 400)
    for value in range(0, bar.maximum(), step):
        bar.setValue(value)
        pump(0.01)


def _resize_thumbnails(window: object, beat: Heartbeat) -> None:
    """The thumbnail-size slider dragged from end to end and back over the 100k results."""
    from photoclip.gui.statusbar import MAX_THUMBNAIL, MIN_THUMBNAIL

    beat.enter("changing the thumbnail size over 100k results")
    sizes = [
        *range(MIN_THUMBNAIL, MAX_THUMBNAIL + 1, 8),
        *range(MAX_THUMBNAIL, MIN_THUMBNAIL - 1, -8),
    ]
    for size in sizes:
        window.status.zoom.setValue(size)  # type: ignore[attr-defined]
        pump(0.02)
    pump(0.5)  # the relayout and the thumbnails decoded again


def _select_and_act(window: Any, beat: Heartbeat) -> None:
    """1,000 of the 100k results selected, then each batch action started on them (none is
    carried out: the trash preview, sort dialog and tag chooser are closed again)."""
    from PySide6.QtCore import QItemSelection, QItemSelectionModel, QPoint

    grid, batch = window.grid, window.batch
    grid.setCurrentIndex(window.results.index(0))
    pump(0.2)
    beat.enter("selecting 1,000 of 100k results")
    first, last = window.results.index(0), window.results.index(999)
    flag = QItemSelectionModel.SelectionFlag.ClearAndSelect
    grid.selectionModel().select(QItemSelection(first, last), flag)
    pump(0.3)
    assert batch.bar.count == 1000, batch.bar.count
    for when in ("first time", "again"):  # the first open builds the widgets (Qt's cost)
        beat.enter(f"context menu over 1,000 selected ({when})")
        grid.context_menu_requested.emit(grid.mapToGlobal(QPoint(20, 20)))
        pump(0.3)
        batch.menu.close()
        beat.enter(f"copying 1,000 paths ({when})")
        batch.copy_paths.trigger()
        pump(0.2)
        trash, sort, confirm = batch.trash, batch.sort, batch.confirm_tag
        _open_and_close(beat, f"trash preview of 1,000 ({when})", trash.trigger, batch)
        _open_and_close(beat, f"sort dialog for 1,000 ({when})", sort.trigger, window.dialogs)
        _open_and_close(beat, f"tag chooser for 1,000 ({when})", confirm.trigger, batch)
    beat.enter("Ctrl+A over 100k results")
    batch.select_all.trigger()
    pump(0.5)
    assert batch.bar.count == 100_000, batch.bar.count


def _open_and_close(beat: Heartbeat, phase: str, start: Any, owner: Any) -> None:
    """Start a batch action whose dialog `owner` keeps (batch.dialog, or the window's
    dialogs.sort_dialog), wait until it shows, and cancel it."""
    name = "sort_dialog" if hasattr(owner, "sort_dialog") else "dialog"
    setattr(owner, name, None)
    beat.enter(phase)
    start()
    spin(lambda: getattr(owner, name) is not None and getattr(owner, name).isVisible(), 60)
    pump(0.2)
    getattr(owner, name).reject()
    pump(0.1)


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--in-process"]
    folder = Path(args[0]).resolve() if args else None
    home = Path(tempfile.mkdtemp(prefix="bench-gui-home-"))
    os.environ.update(PHOTOCLIP_DATA_DIR=str(home / "data"), PHOTOCLIP_CACHE_DIR=str(home / "c"))
    os.environ["PHOTOCLIP_MODEL"] = "test-shapes"
    result = time_to_window()
    result.update(gui_gaps(folder, in_process="--in-process" in sys.argv))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
