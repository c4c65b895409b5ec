"""The welcome page: a first run offers the models (the demo one works offline) and the
suggested categories, and installs nothing itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from photoclip.core.paths import Locations
from photoclip.core.settings import Settings
from photoclip.gui.welcome import WelcomePage
from tests.gui.conftest import SCENES, file_drop, model_chosen

WAIT = 60_000
DEMO = "Demo: shapes and colours only (works offline, 9 MB)"


def test_the_page_offers_the_demo_model(qtbot: Any) -> None:
    page = WelcomePage()
    qtbot.addWidget(page)
    model = page.chooser.model
    titles = [model.index(row, 0).data() for row in range(model.rowCount())]
    assert DEMO in titles
    assert "try the demo model" in page.findChild(type(page.chooser.message), "offline").text()


def test_choosing_the_demo_model_indexes_a_dropped_folder(
    make_app: Any, qtbot: Any, scenes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PHOTOCLIP_MODEL")  # a first run: nothing chosen yet
    app = make_app()
    window = app.window
    window.show()
    app.start()
    chooser = window.welcome.chooser
    assert chooser.isVisible()
    chooser.set_current("test-shapes")
    with qtbot.wait_signal(app.bridge.job_finished, timeout=WAIT, check_params_cb=model_chosen):
        qtbot.mouseClick(chooser.use_button, Qt.MouseButton.LeftButton)
    window.dropEvent(file_drop(scenes))
    qtbot.wait_until(lambda: window.results.rowCount() == len(SCENES), timeout=WAIT)
    qtbot.wait_until(lambda: app.worker.wait_idle(0), timeout=WAIT)
    with qtbot.wait_signal(window.results_shown, timeout=WAIT):
        window.search.field.setText("a red circle")
    assert window.results.photo(0).path.name == "red-circle.png"
    assert Settings.load(Locations.from_environment().settings).model == "test-shapes"


def test_offline_a_model_to_download_says_so_in_seconds(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real model process, HF_HUB_OFFLINE=1 (set for every test): "Use this model" on
    the default answers with the plain sentence, not 60 s of "Loading fast…" and then an
    exception's name."""
    import time

    from photoclip.gui.app import PhotoClipApp

    monkeypatch.delenv("PHOTOCLIP_MODEL", raising=False)
    locations = Locations.from_environment()
    app = PhotoClipApp(locations, Settings.load(locations.settings))
    qtbot.addWidget(app.window)
    try:
        app.window.show()
        app.start()
        chooser = app.window.welcome.chooser
        selected = chooser.selected_profile()
        assert selected is not None and selected.name == "fast"
        started = time.monotonic()
        with qtbot.wait_signal(app.bridge.job_failed, timeout=WAIT):
            qtbot.mouseClick(chooser.use_button, Qt.MouseButton.LeftButton)
        assert time.monotonic() - started < 10
        assert chooser.message.text() == (
            "PhotoClip cannot download the 'fast' model's weights: this computer is offline. "
            "Connect to the internet once, or choose a weights file you already have."
        )
    finally:
        app.window.close()
        app.stop()


def test_add_suggested_categories_is_asked_for_by_its_button(qtbot: QtBot) -> None:
    page = WelcomePage()
    qtbot.addWidget(page)
    page.show()
    assert page.suggest_button.text() == "Add suggested categories…"
    with qtbot.wait_signal(page.suggestions_requested):
        qtbot.mouseClick(page.suggest_button, Qt.MouseButton.LeftButton)
