"""Qt tests: marked `gui`, run offscreen, with the real worker and the test-shapes CLIP."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import photoclip.gui  # noqa: F401 (guards None against PySide6 6.12 on Python 3.11)
from photoclip.gui.selftest import SCENES  # one photo per colour: colour decides a search

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.gui)


@pytest.fixture(scope="session")
def shapes_encoder() -> Any:
    from photoclip.core.embedding import load_encoder
    from photoclip.core.profiles import resolve_profile

    return load_encoder(resolve_profile("test-shapes"), device="cpu", threads=1)


def write_scenes(folder: Path, scenes: tuple[tuple[str, str, str], ...] = SCENES) -> Path:
    from photoclip.synthetic.scenes import single_object_scene

    folder.mkdir(parents=True, exist_ok=True)
    for seed, (name, colour, shape) in enumerate(scenes):
        single_object_scene(colour, shape, render_seed=seed).render().save(folder / f"{name}.png")
    return folder.resolve()


@pytest.fixture
def scenes(tmp_path: Path) -> Path:
    return write_scenes(tmp_path / "scenes")


@pytest.fixture
def make_app(
    qtbot: Any, shapes_encoder: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], Any]]:
    """Build (and afterwards stop) the whole app, its worker loading test-shapes."""
    from photoclip.core.paths import Locations
    from photoclip.core.settings import Settings
    from photoclip.gui.app import PhotoClipApp

    monkeypatch.setenv("PHOTOCLIP_MODEL", "test-shapes")
    made: list[PhotoClipApp] = []

    def make() -> PhotoClipApp:
        locations = Locations.from_environment()
        app = PhotoClipApp(locations, Settings.load(locations.settings), load=_only(shapes_encoder))
        qtbot.addWidget(app.window)
        made.append(app)
        return app

    yield make
    for app in made:
        app.window.close()
        app.stop()


def _only(encoder: Any) -> Callable[[str], Any]:
    def load(name: str) -> Any:
        assert name == "test-shapes", name
        return encoder

    return load


def file_drop(path: Path) -> Any:
    """The QDropEvent of `path` dragged in from a file manager."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(path))])
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    event = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, data, buttons, keys)
    event.mime = data  # the event does not own its QMimeData: keep it alive with the event
    return event


def model_chosen(event: Any) -> bool:
    """For qtbot.wait_signal(bridge.job_finished, check_params_cb=...): the model chooser's
    job, not an indexing job that finishes meanwhile."""
    return bool(event.job == "ChooseModel")
