"""Choosing the model: the profiles with what each is good for and how fast it ran here,
or a local weights file; download progress and a one-line message (offline, errors)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from photoclip.core.profiles import BUILTIN_PROFILES, ModelProfile
from photoclip.gui.accessibility import set_accessible
from photoclip.gui.formatting import human_size
from photoclip.gui.models import column_title

Index = QModelIndex | QPersistentModelIndex
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")
WEIGHTS_FILTER = "Model weights (*.safetensors *.pt *.pth *.bin);;All files (*)"
OFFLINE_MESSAGE = (
    "PhotoClip is offline and has no weights for this model: pick a weights file or "
    "connect once to download them."
)


def user_profiles() -> list[ModelProfile]:
    """The built-in profiles, the demo model (test-shapes, installed with PhotoClip) last."""
    return sorted(BUILTIN_PROFILES.values(), key=lambda p: p.weights_file is not None)


def speed_text(speed: float | None) -> str:
    return "not measured yet" if speed is None else f"{speed:.1f} photos/s"


class ProfileModel(QAbstractTableModel):
    """Profiles as rows: name, measured speed, what it is good for."""

    HEADERS = ("Model", "Speed here", "About")

    def __init__(self, profiles: Iterable[ModelProfile], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.profiles = list(profiles)
        self.speeds: dict[str, float] = {}

    def set_speeds(self, speeds: Mapping[str, float]) -> None:
        self.speeds = dict(speeds)
        if self.profiles:
            last = self.index(len(self.profiles) - 1, 1)
            self.dataChanged.emit(self.index(0, 1), last, [Qt.ItemDataRole.DisplayRole])

    def row_of(self, name: str) -> int:
        return next((i for i, p in enumerate(self.profiles) if p.name == name), -1)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.profiles)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        profile = self.profiles[index.row()]
        if role == Qt.ItemDataRole.UserRole:
            return profile.name
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{profile.arch} ({profile.pretrained or profile.weights_file or 'random'})"
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        speed = speed_text(self.speeds.get(profile.name))
        return (profile.title or profile.name, speed, profile.note)[index.column()]

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        return column_title(self.HEADERS, section, orientation, role)


class ModelChooser(QWidget):
    """The model profiles to choose from, or a local weights file.

    With `confirm` (first run), "Use this model" sends the choice; without it (in
    Settings), every change of selection does. Methods: `set_speeds`, `set_current`,
    `selected_profile`, `set_progress(done, total)` (bytes; total 0: unknown),
    `set_message`, `weights_file`.

    Signals:
        profile_chosen(str name): use this profile (download its weights if need be).
        weights_file_chosen(str path): use this local weights file (its architecture is
            read from the file).
    """

    profile_chosen = Signal(str)
    weights_file_chosen = Signal(str)

    def __init__(
        self,
        profiles: Iterable[ModelProfile] | None = None,
        parent: QWidget | None = None,
        *,
        confirm: bool = True,
    ) -> None:
        super().__init__(parent)
        self.model = ProfileModel(user_profiles() if profiles is None else profiles, self)
        self.confirm = confirm
        self.weights_file: str | None = None
        self._make_widgets()
        self._layout()
        self.table.selectionModel().currentRowChanged.connect(self._on_selected)
        self.use_button.clicked.connect(self._on_use)
        self.file_button.clicked.connect(self._on_pick_file)
        self.set_current(self.model.profiles[0].name if self.model.profiles else "")

    def _make_widgets(self) -> None:
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        # Names are short; the demo's title wraps onto a second line instead of widening
        # the column (and squeezing every description).
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(0, self.fontMetrics().horizontalAdvance("M" * 16))
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # Room for every profile's three-line description without scrolling, also where a
        # layout gives the chooser only its size hint (the welcome page centres it).
        lines = 3 * len(self.model.profiles) + 2
        self.table.setMinimumHeight(self.fontMetrics().lineSpacing() * lines)
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 90)
        self.use_button = QPushButton("Use this model")
        self.use_button.setVisible(self.confirm)
        self.file_button = QPushButton("Use a local weights file…")
        self.file_label = QLabel()
        self.file_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.message = QLabel()
        self.message.setWordWrap(True)
        set_accessible(
            self.table, "Models", "The CLIP models PhotoClip can use, with speed and size"
        )
        set_accessible(self.use_button, "Use this model")
        set_accessible(self.file_button, "Use a local weights file")
        set_accessible(self.progress, "Download progress")

    def _layout(self) -> None:
        buttons = QHBoxLayout()
        buttons.addWidget(self.file_button)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.table, 1)
        column.addLayout(buttons)
        column.addWidget(self.file_label)
        column.addWidget(self.progress)
        column.addWidget(self.message)

    # -- state -----------------------------------------------------------------------------

    def set_speeds(self, speeds: Mapping[str, float]) -> None:
        """Photos per second measured with each profile on this machine."""
        self.model.set_speeds(speeds)

    def set_current(self, name: str) -> None:
        """Select a profile by name (emits nothing)."""
        row = self.model.row_of(name)
        if row < 0:
            return
        self.blockSignals(True)
        flags = QItemSelectionModel.SelectionFlag
        self.table.selectionModel().setCurrentIndex(
            self.model.index(row, 0), flags.ClearAndSelect | flags.Rows
        )
        self.blockSignals(False)

    def selected_profile(self) -> ModelProfile | None:
        row = self.table.selectionModel().currentIndex().row()
        return self.model.profiles[row] if 0 <= row < len(self.model.profiles) else None

    def set_progress(self, done: int, total: int) -> None:
        """Download progress in bytes; total 0 means not known yet."""
        self.progress.setVisible(True)
        self.progress.setRange(0, total if total > 0 else 0)
        self.progress.setValue(min(done, total) if total > 0 else 0)
        known = f" of {human_size(total)}" if total > 0 else ""
        self.progress.setFormat(f"Downloading: {human_size(done)}{known}")
        if total > 0 and done >= total:
            self.progress.setFormat("Downloaded")

    def set_message(self, text: str) -> None:
        self.message.setText(text)

    # -- choices -----------------------------------------------------------------------------

    def _on_selected(self, current: QModelIndex) -> None:
        # A weights file belongs to the architecture it was picked for.
        self.weights_file = None
        self.file_label.clear()
        if not self.confirm and current.isValid():
            self.profile_chosen.emit(current.data(Qt.ItemDataRole.UserRole))

    def _on_use(self) -> None:
        profile = self.selected_profile()
        if profile is not None:
            self.profile_chosen.emit(profile.name)

    def _on_pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model weights", "", WEIGHTS_FILTER)
        if path:
            self.choose_weights_file(path)

    def choose_weights_file(self, path: str) -> bool:
        """Take a weights file as if picked in the file dialog; False (and a message)
        when it cannot be one."""
        file = Path(path)
        if file.suffix.lower() not in WEIGHT_SUFFIXES or not file.is_file():
            self.set_message(
                f"{file.name} is not a weights file: pick a "
                f"{', '.join(WEIGHT_SUFFIXES)} file that exists."
            )
            return False
        self.weights_file = str(file)
        self.file_label.setText(f"Weights file: {file} (PhotoClip reads its model from it)")
        self.set_message("")
        self.weights_file_chosen.emit(str(file))
        return True
