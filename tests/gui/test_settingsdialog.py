"""The settings dialog edits a copy of the settings and gives it back whole."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from photoclip.core.profiles import BUILTIN_PROFILES
from photoclip.core.settings import Settings
from photoclip.gui.settingsdialog import SettingsDialog

SETTINGS = Settings(model="small", device="cpu", threads=2, batch_size=8, textness=-1.5,
                    speeds={"fast": 4.0, "small": 2.3})  # fmt: skip


def _dialog(qtbot: QtBot, settings: Settings = SETTINGS) -> SettingsDialog:
    dialog = SettingsDialog(settings, BUILTIN_PROFILES)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_unchanged_it_gives_back_the_same_settings(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot)
    assert dialog.chosen() == SETTINGS
    assert dialog.textness_value.text() == "-1.5"


def test_it_shows_the_measured_speeds(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot)
    model = dialog.chooser.model
    assert model.index(model.row_of("small"), 1).data() == "2.3 photos/s"


def test_every_field_edited_reaches_the_result(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = _dialog(qtbot)
    dialog.chooser.set_current("quality")
    dialog.device_combo.setCurrentIndex(dialog.device_combo.findData("cuda"))
    dialog.threads_spin.setValue(0)
    dialog.thumbnail_edit.setText(str(tmp_path / "thumbs"))
    dialog.textness_slider.setValue(3)
    with qtbot.wait_signal(dialog.accepted):
        qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok),
                         Qt.MouseButton.LeftButton)  # fmt: skip
    assert dialog.chosen() == replace(
        SETTINGS, model="quality", device="cuda", threads=0,
        thumbnail_cache=str(tmp_path / "thumbs"), textness=1.5,
    )  # fmt: skip
    assert dialog.threads_spin.text() == "Automatic"


def test_a_weights_file_becomes_a_file_profile(qtbot: QtBot, tmp_path: Path) -> None:
    """The file alone: its architecture is read from it, whichever row is selected."""
    weights = tmp_path / "mine.pt"
    weights.write_bytes(b"weights")
    dialog = _dialog(qtbot)
    dialog.chooser.set_current("balanced")
    assert dialog.chooser.choose_weights_file(str(weights))
    assert dialog.chosen().model == str(weights)
    dialog.chooser.set_current("fast")  # another architecture: the file no longer applies
    assert dialog.chosen().model == "fast"


def test_a_saved_weights_file_profile_shows_as_its_file(qtbot: QtBot, tmp_path: Path) -> None:
    name = f"ViT-B-16:{tmp_path / 'mine.pt'}"
    dialog = _dialog(qtbot, replace(SETTINGS, model=name))
    assert str(tmp_path / "mine.pt") in dialog.chooser.file_label.text()
    assert dialog.chosen().model == name


def test_a_saved_file_alone_shows_as_its_file(qtbot: QtBot, tmp_path: Path) -> None:
    weights = tmp_path / "mine.safetensors"
    weights.write_bytes(b"weights")
    dialog = _dialog(qtbot, replace(SETTINGS, model=str(weights)))
    assert str(weights) in dialog.chooser.file_label.text()
    assert dialog.chosen().model == str(weights)


def test_no_model_chosen_yet_selects_the_default(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot, Settings())
    assert dialog.chosen().model == "fast"


def test_the_thumbnail_folder_says_the_old_one_is_left_alone(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot)
    assert "old folder is left as it is" in dialog.thumbnail_edit.toolTip()
