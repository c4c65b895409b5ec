"""The near-duplicates dialog: each group's photos side by side, whole (fitted, never
cropped) at a size the user zooms, with what a person needs to judge them: name, folder,
resolution, file size, date and why they match, in words. It is the preview: nothing moves
until the user presses the button, and then only the ticked photos, to the system trash
(with undo).

Only exact and near-exact copies of the keeper start ticked (core.duplicates.PRE_TICKED);
crops, edits and similar shots start unticked. What the user decides (unticks, ticks, a
keeper chosen with one click) is kept in a `Review` by path, so it survives the rescan that
follows a move to the trash or an undo; photos an undo restores come back with that rescan.

A plain panel: it takes core.duplicates.DuplicateGroup data and thumbnails as QImages and
emits requests; the main window runs them as worker jobs and reports back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QFont, QImage, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from photoclip.core.catalog import Photo
from photoclip.core.duplicates import DuplicateGroup
from photoclip.gui.formatting import human_size, shown

#: Thumbnails are asked for at this size (a box; they are fitted inside it, never cropped)
#: and shown at the zoom's size.
THUMBNAIL_SIZE = 320
MIN_ZOOM, DEFAULT_ZOOM, MAX_ZOOM = 96, 180, THUMBNAIL_SIZE


@dataclass
class Review:
    """The groups, and what the user decided about them, by path: kept across rescans."""

    groups: list[DuplicateGroup] = field(default_factory=list)
    unticked: set[str] = field(default_factory=set)
    ticked: set[str] = field(default_factory=set)
    chosen_keepers: set[str] = field(default_factory=set)

    def keeper(self, group: DuplicateGroup) -> Photo:
        chosen = [p for p in group.photos if str(p.path) in self.chosen_keepers]
        return chosen[0] if chosen else group.keep

    def photos(self, group: DuplicateGroup) -> list[Photo]:
        """The keeper first, then the others in the group's order."""
        keeper = self.keeper(group)
        return [keeper, *(p for p in group.photos if p.id != keeper.id)]

    def is_ticked(self, group: DuplicateGroup, photo: Photo) -> bool:
        path = str(photo.path)
        if photo.id == self.keeper(group).id or path in self.unticked:
            return False
        return path in self.ticked or group.pre_ticked(photo, self.keeper(group))

    def set_ticked(self, photo: Photo, ticked: bool) -> None:
        path = str(photo.path)
        (self.ticked if ticked else self.unticked).add(path)
        (self.unticked if ticked else self.ticked).discard(path)

    def make_keeper(self, group: DuplicateGroup, photo: Photo) -> None:
        self.chosen_keepers -= {str(p.path) for p in group.photos}
        self.chosen_keepers.add(str(photo.path))

    def ticked_paths(self) -> list[str]:
        return [str(p.path) for g in self.groups for p in self.photos(g) if self.is_ticked(g, p)]

    def all_paths(self) -> list[str]:
        return [str(p.path) for g in self.groups for p in g.photos]


def why_text(group: DuplicateGroup, photo: Photo, keeper: Photo) -> str:
    if photo.id == keeper.id:
        return "kept"
    match = group.why(photo, keeper)
    if match is None:
        return "similar to the others"
    return f"{match.kind} ({match.similarity:.0%} alike)"


def details_text(photo: Photo) -> str:
    resolution = f"{photo.width} x {photo.height}" if photo.width and photo.height else "?"
    date = datetime.fromtimestamp(photo.date).strftime("%Y-%m-%d %H:%M")
    return f"{resolution} · {human_size(photo.size)} · {date}"


class PhotoCard(QFrame):
    """One photo of a group: the whole picture, its facts, its tick and a keep button.

    Signals:
        ticked(bool): the user ticked or unticked it for the trash
        keep_clicked(): the user made it the group's keeper
    """

    ticked = Signal(bool)
    keep_clicked = Signal()

    def __init__(
        self, photo: Photo, keeper: bool, why: str, ticked: bool, zoom: int, parent: QWidget | None
    ) -> None:
        super().__init__(parent)
        self.photo, self.zoom = photo, zoom
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setFixedSize(zoom, zoom)
        self.name = _label(shown(photo.path.name), bold=keeper)
        self.folder = _label(shown(photo.path.parent), small=True)
        self.details = _label(details_text(photo), small=True)
        self.why = _label(why, bold=keeper)
        self.tick = QCheckBox("Move to the trash")
        self.tick.setChecked(ticked)
        self.tick.setEnabled(not keeper)
        self.tick.toggled.connect(self.ticked)
        self.keep_button = QPushButton("Kept" if keeper else "Keep this one")
        self.keep_button.setEnabled(not keeper)
        self.keep_button.clicked.connect(self.keep_clicked)
        self.setToolTip(shown(photo.path))
        self._layout()

    def _layout(self) -> None:
        layout = QVBoxLayout(self)
        layout.addWidget(self.image, 0, Qt.AlignmentFlag.AlignHCenter)
        for widget in (self.name, self.folder, self.details, self.why, self.tick):
            layout.addWidget(widget)
        layout.addWidget(self.keep_button)
        self.setFixedWidth(max(self.zoom, 180) + 16)

    def set_image(self, image: QImage) -> None:
        """Fitted inside the zoom's square: the whole picture, never cropped."""
        box = QSize(self.zoom, self.zoom)
        fitted = image.scaled(
            box, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
        self.image.setPixmap(QPixmap.fromImage(fitted))


def _label(text: str, *, bold: bool = False, small: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    font = QFont(label.font())
    font.setBold(bold)
    if small:
        font.setPointSizeF(font.pointSizeF() * 0.9)
    label.setFont(font)
    return label


class DuplicatesDialog(QDialog):
    """Near-duplicate groups to review.

    Signals:
        trash_requested(list): the ticked photos' paths (str), to move to the trash
        undo_requested(): take the last batch back out of the trash
        thumbnails_requested(list): paths (str) whose thumbnails `set_thumbnail` may give
    """

    # Paths go as Python objects: a Qt string would drop the odd bytes of a name that is
    # not UTF-8, and the trash would be asked for another file (see formatting.shown).
    trash_requested = Signal(object)
    undo_requested = Signal()
    thumbnails_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Near-duplicate photos")
        self.review = Review()
        self.thumbnails: dict[str, QImage] = {}
        self.cards: list[PhotoCard] = []
        self.boxes: list[QGroupBox] = []
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.zoom = QSlider(Qt.Orientation.Horizontal)
        self.zoom.setRange(MIN_ZOOM, MAX_ZOOM)
        self.zoom.setValue(DEFAULT_ZOOM)
        self.zoom.setToolTip("Thumbnail size")
        self.zoom.valueChanged.connect(self._rebuild)
        self.groups_widget = QWidget()
        self.groups_layout = QVBoxLayout(self.groups_widget)
        self.scroller = QScrollArea()
        self.scroller.setWidgetResizable(True)
        self.scroller.setWidget(self.groups_widget)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.hide()
        self.trash_button = QPushButton()
        self.trash_button.clicked.connect(self._on_trash_clicked)
        self.undo_button = QPushButton("Undo last move to the trash")
        self.undo_button.setEnabled(False)
        self.undo_button.clicked.connect(self.undo_requested)
        self._columns = 0
        self._layout()
        self._rebuild()

    def _layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(QLabel("Size"))
        top.addWidget(self.zoom)
        buttons = QHBoxLayout()
        buttons.addWidget(self.undo_button)
        buttons.addStretch()
        buttons.addWidget(self.trash_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.scroller, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.resize(1180, 740)

    # -- fed by the window -------------------------------------------------------------------

    def set_progress(self, done: int, total: int) -> None:
        """While the search runs: photos read so far (DuplicateFinder's progress)."""
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.show()
        self.summary.setText("Looking for near-duplicates...")

    def set_groups(self, groups: Sequence[DuplicateGroup]) -> None:
        """Show these groups; the user's earlier decisions apply to the photos still there."""
        self.progress.hide()
        self.review.groups = list(groups)
        self.message.clear()
        self._rebuild()
        missing = [p for p in self.review.all_paths() if p not in self.thumbnails]
        if missing:
            self.thumbnails_requested.emit(missing)

    def set_thumbnail(self, path: str, image: QImage) -> None:
        self.thumbnails[path] = image
        for card in self.cards:
            if str(card.photo.path) == path:
                card.set_image(image)

    def set_undo_enabled(self, enabled: bool) -> None:
        self.undo_button.setEnabled(enabled)

    def show_message(self, text: str) -> None:
        self.message.setText(text)

    # -- the groups ---------------------------------------------------------------------------

    def columns(self) -> int:
        """Cards per row: as many as the dialog's width holds."""
        card = max(self.zoom.value(), 180) + 28
        width = self.scroller.viewport().width() - 40
        return max(1, width // card)

    def _rebuild(self, *_: object) -> None:
        while self.groups_layout.count():
            item = self.groups_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.cards = []
        self._columns = self.columns()
        self.boxes = [self._group_box(group) for group in self.review.groups]
        for box in self.boxes:
            self.groups_layout.addWidget(box)
        self.groups_layout.addStretch()
        self._update_summary()

    def _group_box(self, group: DuplicateGroup) -> QGroupBox:
        box = QGroupBox(self._group_title(group))
        grid = QGridLayout(box)
        keeper = self.review.keeper(group)
        for number, photo in enumerate(self.review.photos(group)):
            card = self._card(group, photo, keeper)
            grid.addWidget(card, number // self._columns, number % self._columns)
        grid.setColumnStretch(self._columns, 1)
        return box

    def _card(self, group: DuplicateGroup, photo: Photo, keeper: Photo) -> PhotoCard:
        ticked = self.review.is_ticked(group, photo)
        why = why_text(group, photo, keeper)
        card = PhotoCard(photo, photo.id == keeper.id, why, ticked, self.zoom.value(), None)
        card.ticked.connect(lambda on, p=photo: self._on_ticked(p, on))
        card.keep_clicked.connect(lambda g=group, p=photo: self.make_keeper(g, p))
        if str(photo.path) in self.thumbnails:
            card.set_image(self.thumbnails[str(photo.path)])
        self.cards.append(card)
        return card

    def _group_title(self, group: DuplicateGroup) -> str:
        count = len(group.photos)
        going = sum(self.review.is_ticked(group, p) for p in group.photos)
        return f"{count} photos: keep {count - going}, move {going} to the trash"

    def make_keeper(self, group: DuplicateGroup, photo: Photo) -> None:
        """One click: this photo stays; ticks follow the rule against the new keeper."""
        self.review.make_keeper(group, photo)
        self._rebuild()

    def card_for(self, path: str) -> PhotoCard:
        return next(card for card in self.cards if str(card.photo.path) == path)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.columns() != self._columns:
            self._rebuild()

    # -- requests ----------------------------------------------------------------------------

    def _on_ticked(self, photo: Photo, ticked: bool) -> None:
        self.review.set_ticked(photo, ticked)
        for box, group in zip(self.boxes, self.review.groups, strict=True):
            if photo in group.photos:
                box.setTitle(self._group_title(group))
        self._update_summary()

    def _on_trash_clicked(self) -> None:
        paths = self.review.ticked_paths()
        if paths:
            self.trash_requested.emit(paths)

    def _update_summary(self, *_: object) -> None:
        groups, going = len(self.review.groups), len(self.review.ticked_paths())
        if not groups:
            self.summary.setText("No near-duplicate photos found.")
        else:
            self.summary.setText(
                f"{groups} groups of near-duplicates. Exact and near-exact copies start ticked; "
                "crops, edits and similar shots are yours to judge. Ticked photos go to the "
                "system trash (you can undo); the photo marked kept stays."
            )
        self.trash_button.setText(f"Move {going} photos to the trash")
        self.trash_button.setEnabled(going > 0)
