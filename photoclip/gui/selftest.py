"""`photoclip --self-test`: the whole app, offscreen, on generated photos.

Opens the main window, indexes a folder of generated scenes with the `test-shapes` model in
a temporary data folder, searches through the search bar (the GUI's own path: debounce,
read pool, results grid) and checks that the matching scene comes first, and that the
window's process never imported torch (the model runs in its own process). Prints one line
and exits 0, or 1 with the reason. The installer's smoke test runs it.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

#: (file name, colour, shape): one photo per colour, so the colour decides the answer
SCENES = (
    ("red-circle", "red", "circle"),
    ("blue-square", "blue", "square"),
    ("green-triangle", "green", "triangle"),
    ("yellow-star", "yellow", "star"),
    ("purple-square", "purple", "square"),
    ("orange-triangle", "orange", "triangle"),
)
QUERY, EXPECTED = "a red circle", "red-circle.png"
TIMEOUT = 180.0


class SelfTestError(Exception):
    pass


def write_scenes(folder: Path) -> None:
    from photoclip.synthetic.scenes import single_object_scene

    folder.mkdir(parents=True, exist_ok=True)
    for seed, (name, colour, shape) in enumerate(SCENES):
        single_object_scene(colour, shape, render_seed=seed).render().save(folder / f"{name}.png")


def wait_until(check: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """Run the event loop until `check()` holds (the GUI stays live meanwhile)."""
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SelfTestError(f"timed out waiting for {what}")
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)


def self_test() -> int:
    from photoclip.core.exports import EXPORT_ENV

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="photoclip-self-test-") as temporary:
        root = Path(temporary)
        os.environ["PHOTOCLIP_DATA_DIR"] = str(root / "data")
        os.environ["PHOTOCLIP_CACHE_DIR"] = str(root / "cache")
        os.environ["PHOTOCLIP_MODEL"] = "test-shapes"
        # No ONNX export: it would outlive this run, in a cache that is deleted at its end.
        os.environ[EXPORT_ENV] = "0"
        try:
            first, count = _run(root / "photos")
        except Exception as error:  # any failure is the self-test's answer, not a crash
            print(f"self-test failed: {error}")
            return 1
    seconds = time.monotonic() - started
    print(
        f"self-test ok: indexed {count} generated photos with test-shapes, "
        f"'{QUERY}' found {first} first ({seconds:.1f} s)",
        flush=True,
    )
    return 0


def _quiet_offscreen_notes() -> None:
    """The offscreen platform reports what it cannot do (size hints); the one line of
    output is the self-test's."""
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    def handler(kind: QtMsgType, context: object, message: str) -> None:
        if kind in (QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
            sys.stderr.write(message + "\n")

    qInstallMessageHandler(handler)


def _run(photos: Path) -> tuple[str, int]:
    from photoclip.core.paths import Locations
    from photoclip.core.settings import Settings
    from photoclip.gui.app import PhotoClipApp, application

    _quiet_offscreen_notes()
    application([])
    write_scenes(photos)
    locations = Locations.from_environment()
    app = PhotoClipApp(locations, Settings.load(locations.settings))
    try:
        return _index_and_search(app, photos)
    finally:
        app.window.close()
        app.stop()


def _index_and_search(app: object, photos: Path) -> tuple[str, int]:
    from photoclip.gui.app import PhotoClipApp

    assert isinstance(app, PhotoClipApp)
    window = app.window
    window.show()
    app.start()
    window.add_folders([photos])
    wait_until(lambda: window.results.rowCount() == len(SCENES), "the photos to be indexed")
    wait_until(lambda: app.worker.wait_idle(0), "the worker to finish")
    window.search.field.setText(QUERY)
    wait_until(lambda: _ranked(window), "the search")
    if window.results.rowCount() == 0:
        raise SelfTestError(f"'{QUERY}' found nothing")
    first = window.results.photo(0).path.name
    if first != EXPECTED:
        raise SelfTestError(f"'{QUERY}' found {first} first, not {EXPECTED}")
    if "torch" in sys.modules:  # its import would have frozen the window
        raise SelfTestError("the window's process imported torch")
    return first, window.results.rowCount()


def _ranked(window: object) -> bool:
    """The grid shows ranked results (browsing shows photos without scores)."""
    from photoclip.gui.results import ScoreRole

    results = window.results  # type: ignore[attr-defined]
    return results.rowCount() > 0 and results.index(0).data(ScoreRole) is not None


if __name__ == "__main__":
    sys.exit(self_test())
