"""The model chooser: profiles with their speed, a local weights file, progress, messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from photoclip.core.profiles import BUILTIN_PROFILES
from photoclip.gui.modelchooser import OFFLINE_MESSAGE, ModelChooser, ProfileModel, user_profiles


def _chooser(qtbot: QtBot, confirm: bool = True) -> ModelChooser:
    chooser = ModelChooser(confirm=confirm)
    qtbot.addWidget(chooser)
    chooser.resize(700, 400)
    chooser.show()
    return chooser


def _row(chooser: ModelChooser, name: str) -> list[str]:
    row = chooser.model.row_of(name)
    return [chooser.model.index(row, c).data() for c in range(3)]


def test_the_profile_model_passes_qtmodeltester(qtmodeltester: ModelTester) -> None:
    model = ProfileModel(BUILTIN_PROFILES.values())
    qtmodeltester.check(model)
    model.set_speeds({"fast": 4.0})


def test_each_profile_shows_its_description_and_measured_speed(qtbot: QtBot) -> None:
    chooser = _chooser(qtbot)
    assert [p.name for p in chooser.model.profiles] == [p.name for p in user_profiles()]
    chooser.set_speeds({"fast": 4.03})
    assert _row(chooser, "fast") == ["fast", "4.0 photos/s", BUILTIN_PROFILES["fast"].note]
    assert _row(chooser, "quality")[1] == "not measured yet"


def test_the_demo_model_is_offered_last_with_an_honest_description(qtbot: QtBot) -> None:
    chooser = _chooser(qtbot)
    names = [p.name for p in chooser.model.profiles]
    assert names[0] == "fast" and names[-1] == "test-shapes"
    title, _, about = _row(chooser, "test-shapes")
    assert title == "Demo: shapes and colours only (works offline, 9 MB)"
    assert "not dogs or beaches" in about


def test_use_this_model_sends_the_selected_profile(qtbot: QtBot) -> None:
    chooser = _chooser(qtbot)
    chooser.set_current("small")
    with qtbot.wait_signal(chooser.profile_chosen) as blocker:
        qtbot.mouseClick(chooser.use_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["small"]


def test_without_confirm_a_click_on_a_profile_chooses_it(qtbot: QtBot) -> None:
    chooser = _chooser(qtbot, confirm=False)
    assert not chooser.use_button.isVisible()
    rect = chooser.table.visualRect(chooser.model.index(chooser.model.row_of("balanced"), 0))
    with qtbot.wait_signal(chooser.profile_chosen) as blocker:
        qtbot.mouseClick(chooser.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == ["balanced"]


def test_set_current_emits_nothing(qtbot: QtBot) -> None:
    chooser = _chooser(qtbot, confirm=False)
    with qtbot.assert_not_emitted(chooser.profile_chosen):
        chooser.set_current("quality")
    profile = chooser.selected_profile()
    assert profile is not None and profile.name == "quality"


def test_a_picked_weights_file_is_sent(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = tmp_path / "my-model.safetensors"
    weights.write_bytes(b"weights")
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", lambda *args: (str(weights), "Model weights")
    )
    chooser = _chooser(qtbot)
    with qtbot.wait_signal(chooser.weights_file_chosen) as blocker:
        qtbot.mouseClick(chooser.file_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [str(weights)]
    # The file alone: its architecture is read from it, not taken from the selected row.
    assert str(weights) in chooser.file_label.text() and "ViT-B" not in chooser.file_label.text()


def test_a_file_that_is_not_weights_is_refused_with_a_reason(qtbot: QtBot, tmp_path: Path) -> None:
    chooser = _chooser(qtbot)
    (tmp_path / "photo.jpg").write_bytes(b"jpeg")
    with qtbot.assert_not_emitted(chooser.weights_file_chosen):
        assert not chooser.choose_weights_file(str(tmp_path / "photo.jpg"))
        assert not chooser.choose_weights_file(str(tmp_path / "gone.safetensors"))
    assert "not a weights file" in chooser.message.text()


def test_progress_and_the_offline_message(qtbot: QtBot) -> None:
    chooser = _chooser(qtbot)
    assert not chooser.progress.isVisible()
    chooser.set_progress(0, 0)
    assert chooser.progress.isVisible() and chooser.progress.maximum() == 0
    chooser.set_progress(150_000_000, 600_000_000)
    assert chooser.progress.value() == 150_000_000
    assert chooser.progress.text() == "Downloading: 150.0 MB of 600.0 MB"
    chooser.set_message(OFFLINE_MESSAGE)
    assert "offline" in chooser.message.text()
