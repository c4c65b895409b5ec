"""Settings: the model profile (with its measured speed), device, CPU threads, where
thumbnails are cached, and the search's default textness."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from photoclip.core.profiles import DEFAULT_PROFILE, ModelProfile
from photoclip.core.settings import DEVICES, Settings
from photoclip.gui.modelchooser import ModelChooser

DEVICE_TEXTS = {
    "auto": "Automatic (the best that works)",
    "cpu": "CPU",
    "cuda": "NVIDIA GPU (CUDA)",
    "mps": "Apple GPU (Metal)",
}
#: the textness slider moves in halves: -2, -1.5, ... 2
TEXTNESS_STEPS = 2
THUMBNAIL_HELP = (
    "Thumbnails are a cache: PhotoClip fills this folder in the background (copying from the "
    "old one, or reading the photos), and meanwhile shows a photo from its own file. The old "
    "folder is left as it is; delete it yourself if you no longer want it."
)


class SettingsDialog(QDialog):
    """Edit a copy of the settings; `chosen()` gives the result after the dialog is
    accepted. A local weights file becomes the profile PATH (the model process reads the
    architecture from the file); an `ARCH:PATH` saved before stays as it is. Emits no
    signals of its own (QDialog's accepted/rejected say when it closes)."""

    def __init__(
        self,
        settings: Settings,
        profiles: Iterable[ModelProfile] | Mapping[str, ModelProfile] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("PhotoClip settings")
        self.settings = settings
        listed = profiles.values() if isinstance(profiles, Mapping) else profiles
        self.chooser = ModelChooser(listed, confirm=False)
        self.chooser.set_speeds(settings.speeds)
        self._file_arch = ""
        self.chooser.weights_file_chosen.connect(lambda _: setattr(self, "_file_arch", ""))
        self._make_widgets()
        self._layout()
        self._show(settings)
        self.resize(760, 620)

    def _make_widgets(self) -> None:
        self.device_combo = QComboBox()
        for device in DEVICES:
            self.device_combo.addItem(DEVICE_TEXTS[device], device)
        self.threads_spin = QSpinBox()
        self.threads_spin.setRange(0, max(os.cpu_count() or 1, 1) * 2)
        self.threads_spin.setSpecialValueText("Automatic")
        self.thumbnail_edit = QLineEdit()
        self.thumbnail_edit.setPlaceholderText("Default: inside PhotoClip's data folder")
        self.thumbnail_button = QPushButton("Choose…")
        self.thumbnail_button.clicked.connect(self._on_choose_folder)
        self.thumbnail_edit.setToolTip(THUMBNAIL_HELP)
        self.thumbnail_button.setToolTip(THUMBNAIL_HELP)
        self.textness_slider = QSlider(Qt.Orientation.Horizontal)
        self.textness_slider.setRange(-2 * TEXTNESS_STEPS, 2 * TEXTNESS_STEPS)
        self.textness_slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.textness_slider.setTickInterval(TEXTNESS_STEPS)
        self.textness_value = QLabel()
        self.textness_slider.valueChanged.connect(self._on_textness)
        buttons = QDialogButtonBox.StandardButton
        self.buttons = QDialogButtonBox(buttons.Ok | buttons.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

    def _layout(self) -> None:
        model = QGroupBox("Model")
        QVBoxLayout(model).addWidget(self.chooser)
        folder = QHBoxLayout()
        folder.addWidget(self.thumbnail_edit, 1)
        folder.addWidget(self.thumbnail_button)
        textness = QHBoxLayout()
        textness.addWidget(QLabel("avoid text"))
        textness.addWidget(self.textness_slider, 1)
        textness.addWidget(QLabel("seek text"))
        textness.addWidget(self.textness_value)
        form = QFormLayout()
        form.addRow("Device:", self.device_combo)
        form.addRow("CPU threads:", self.threads_spin)
        form.addRow("Thumbnail cache:", folder)
        form.addRow("Search textness:", textness)
        note = QLabel("A new model, device or thread count takes effect when the model reloads.")
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(model, 1)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.buttons)

    def _show(self, settings: Settings) -> None:
        self._select_model(settings.model)
        self.device_combo.setCurrentIndex(max(self.device_combo.findData(settings.device), 0))
        self.threads_spin.setValue(settings.threads)
        self.thumbnail_edit.setText(settings.thumbnail_cache)
        self.textness_slider.setValue(round(settings.textness * TEXTNESS_STEPS))
        self._on_textness(self.textness_slider.value())

    def _select_model(self, name: str | None) -> None:
        """Select the profile `name`; a custom ARCH:FILE profile shows as its file."""
        if name is None or self.chooser.model.row_of(name) >= 0:
            self.chooser.set_current(name or DEFAULT_PROFILE)
            return
        # A file alone (its model read from it), or ARCH:FILE as older versions saved it.
        arch, _, file = ("", "", name) if Path(name).is_file() else name.partition(":")
        same_arch = next((p for p in self.chooser.model.profiles if p.arch == arch), None)
        if same_arch is not None:
            self.chooser.set_current(same_arch.name)
        self.chooser.weights_file = file
        self._file_arch = arch  # an ARCH:FILE profile stays one until another file is picked
        self.chooser.file_label.setText(f"Weights file{f' for {arch}' if arch else ''}: {file}")

    def _on_textness(self, value: int) -> None:
        self.textness_value.setText(f"{value / TEXTNESS_STEPS:+.1f}")

    def _on_choose_folder(self) -> None:
        start = self.thumbnail_edit.text()
        folder = QFileDialog.getExistingDirectory(self, "Thumbnail cache", start)
        if folder:
            self.thumbnail_edit.setText(folder)

    def chosen(self) -> Settings:
        """The settings as edited (fields this dialog does not show are kept)."""
        return replace(
            self.settings,
            model=self._model_name(),
            device=self.device_combo.currentData(),
            threads=self.threads_spin.value(),
            thumbnail_cache=self.thumbnail_edit.text().strip(),
            textness=self.textness_slider.value() / TEXTNESS_STEPS,
        )

    def _model_name(self) -> str | None:
        profile = self.chooser.selected_profile()
        if profile is None:
            return self.settings.model
        if self.chooser.weights_file:
            arch = f"{self._file_arch}:" if self._file_arch else ""
            return f"{arch}{self.chooser.weights_file}"
        return profile.name
