"""The desktop app's composition root: the window first, then the worker and the model.

`main()` shows the window at once; a start-up thread decides the model (environment, then
settings, then the library's own), starts the worker and asks it to load the model. The
model runs in a child process (core.encoderprocess): importing torch holds the GIL for most
of a second, which no thread of this process could do without freezing the window.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QLoggingCategory, QTimer
from PySide6.QtWidgets import QApplication

from photoclip import __version__
from photoclip.core.actions import LoadModel
from photoclip.core.embedding import Encoder
from photoclip.core.errors import KnownError
from photoclip.core.library import Library, recorded_profile
from photoclip.core.logfile import start_log_file
from photoclip.core.paths import Locations
from photoclip.core.profiles import MODEL_ENV, default_profile_name, resolve_profile
from photoclip.core.settings import Settings
from photoclip.core.thumbnails import FillThumbnails
from photoclip.core.worker import Worker, WorkerSettings
from photoclip.gui.bridge import WorkerBridge
from photoclip.gui.mainwindow import MainWindow
from photoclip.gui.tasks import TaskManager

log = logging.getLogger(__name__)


class PhotoClipApp:
    """The objects of one running app, wired together; `start()` then `stop()`."""

    def __init__(
        self,
        locations: Locations,
        settings: Settings,
        load: Callable[[str], Encoder] | None = None,
    ) -> None:
        self.locations, self.settings = locations, settings
        self.bridge = WorkerBridge()
        self.worker = Worker(
            locations,
            load or encoder_loader(locations, settings, self.bridge.report_download),
            default_profile_name(),  # the start-up thread decides (choose_profile)
            WorkerSettings(
                batch_size=settings.batch_size, max_pixels=settings.max_megapixels * 1_000_000
            ),
            after_commit=auto_tagging,
        )
        self.worker.subscribe(self.bridge)
        self.tasks = TaskManager(self.worker, self.bridge)
        self.first_run = is_first_run(locations, settings)
        self.window = MainWindow(self.tasks, locations, settings, first_run=self.first_run)
        self._starter: threading.Thread | None = None

    def start(self) -> None:
        """Start the worker from a start-up thread (it reads the catalog for the model)."""
        self._starter = threading.Thread(target=self._start, name="photoclip-start", daemon=True)
        self._starter.start()
        self.window.refresh_library()  # waits, on the pool, for the worker's library

    def _start(self) -> None:
        try:
            self.worker.profile = choose_profile(self.locations, self.settings)
        except KnownError as error:
            log.warning("%s; using the default model", error)
        self.worker.start()
        if not self.first_run:  # on a first run the user chooses (and the download waits)
            self.worker.submit(LoadModel())
        if self.settings.thumbnail_cache:  # a fill the last session did not finish
            self.worker.submit(FillThumbnails(self.locations.thumbnails))

    def stop(self) -> None:
        """Finish the batch in flight, save the index, end every thread (after the window
        has closed: the only wait on the GUI thread, once nothing is left to paint)."""
        if self._starter is not None:
            self._starter.join()
        self.bridge.close()
        self.tasks.close(10_000)
        self.worker.stop(timeout=60)
        self.window.thumbnails.wait(10_000)


def choose_profile(locations: Locations, settings: Settings) -> str:
    """PHOTOCLIP_MODEL, else the settings' model, else the library's, else the default."""
    name = os.environ.get(MODEL_ENV) or settings.model or recorded_profile(locations)
    return resolve_profile(name or default_profile_name()).name


def is_first_run(locations: Locations, settings: Settings) -> bool:
    """No model chosen anywhere and no library yet: the welcome page offers the models."""
    return not (os.environ.get(MODEL_ENV) or settings.model or locations.catalog.exists())


def encoder_loader(
    locations: Locations,
    settings: Settings,
    progress: Callable[[int, int], None],
    *,
    in_process: bool = False,
) -> Callable[[str], Encoder]:
    """Loads a profile's model in a child process (or, `in_process`, on the calling thread,
    which then imports torch here: for comparisons and debugging)."""
    from photoclip.core.embedding import load_encoder
    from photoclip.core.encoderprocess import start_encoder

    start = load_encoder if in_process else start_encoder

    def load(name: str) -> Encoder:
        return start(
            resolve_profile(name),
            device=settings.device,
            cache=locations.ensure().weights,
            progress=progress,
            threads=settings.threads or None,
        )

    return load


def auto_tagging(library: Library, encoder: Encoder) -> Callable[[list[int]], None]:
    """New photos are tagged as each batch commits (suggested categories are added only
    when the user asks: `photoclip tags suggest`)."""
    from photoclip.core.tagging import ClipTexts, tag_photos

    texts = ClipTexts(encoder)
    return lambda ids: tag_photos(library.catalog, texts, ids)


def application(argv: Sequence[str]) -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    # Many cameras write ICC profiles Qt finds misaligned; it reads them anyway.
    QLoggingCategory.setFilterRules("qt.gui.icc.warning=false")
    app = QApplication([sys.argv[0] if sys.argv else "photoclip", *argv])
    app.setApplicationName("PhotoClip")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("photoclip")
    return app


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="photoclip-gui", description="PhotoClip's window.")
    parser.add_argument("--version", action="version", version=f"photoclip {__version__}")
    parser.add_argument(
        "--self-test", action="store_true", help="index generated photos, search, report, exit"
    )
    parser.add_argument("folders", nargs="*", type=Path, help="folders to add")
    args, _ = parser.parse_known_args(argv)  # Qt's own options (-platform, ...) pass through
    return args


def _quit_on_signals(qt: QApplication) -> None:
    """Ctrl-C or a TERM closes the app cleanly (the index is saved). Python runs signal
    handlers only between bytecodes, so a timer gives it a moment now and then."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: qt.quit())
    ticker = QTimer(qt)
    ticker.timeout.connect(lambda: None)
    ticker.start(250)


def _system_libraries_present() -> bool:
    """On Linux, name the missing libraries Qt's xcb plugin needs (Qt itself would abort
    naming another); a Wayland session may still start without them."""
    from photoclip.gui import systemlibs

    if not systemlibs.uses_xcb():
        return True
    problem = systemlibs.check_platform_libraries()
    if problem is None:
        return True
    print(problem, file=sys.stderr)
    return bool(os.environ.get("WAYLAND_DISPLAY"))


def main(argv: Sequence[str] | None = None) -> int:
    # A frozen app's model process starts as this executable; this runs it and exits.
    multiprocessing.freeze_support()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    if args.self_test:
        from photoclip.gui.selftest import self_test

        return self_test()
    if not _system_libraries_present():
        return 1
    qt = application(argv)
    locations = Locations.from_environment()
    start_log_file(locations.cache)
    photoclip = PhotoClipApp(locations, Settings.load(locations.settings))
    photoclip.window.show()
    QTimer.singleShot(0, photoclip.start)
    _quit_on_signals(qt)
    if args.folders:
        QTimer.singleShot(0, lambda: photoclip.window.add_folders(list(args.folders)))
    try:
        return qt.exec()
    finally:
        photoclip.stop()


__all__ = ["PhotoClipApp", "main"]


if __name__ == "__main__":
    sys.exit(main())
