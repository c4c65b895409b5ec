"""One photo, large, with its metadata and its tags (and the evidence for each)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, QSize, Qt, Signal, SignalInstance
from PySide6.QtGui import (
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from photoclip.core.browsing import PhotoDetails
from photoclip.core.tagging import Explanation, confidence
from photoclip.core.tagstore import CONFIRMED, PhotoTag
from photoclip.gui.accessibility import set_accessible
from photoclip.gui.formatting import human_size, shown


def tag_text(tag: PhotoTag) -> str:
    """'Colour: red — likely' (or '— sure, confirmed by you')."""
    word = confidence(tag.score, tag.source)
    state = ", confirmed by you" if tag.source == CONFIRMED else ""
    return f"{tag.category}: {tag.label} — {word}{state}"


def score_text(tag: PhotoTag) -> str:
    """'probability 0.731 (threshold 0.620) · runner-up: cat 0.250': the numbers of
    `photoclip tag --explain`, for the "Why this tag" section."""
    text = f"probability {tag.score:.3f} (threshold {_number(tag.threshold)})"
    if tag.runner_up is not None and tag.runner_up_score is not None:
        text += f" · runner-up: {tag.runner_up} {tag.runner_up_score:.3f}"
    return text


#: Narrow enough for the side panel at its narrowest (300 px) without a sideways scroll:
#: short headers, the tick beside the label, a small font.
_WHY_HEADER = (
    "<tr><th align='left'>label</th><th align='right'>probability</th>"
    "<th align='right'>threshold</th><th align='right'>cosine</th>"
    "<th align='right'>split</th></tr>"
)


def explanation_html(explanations: Sequence[Explanation]) -> str:
    """Every label's probability, threshold, cosine and library split (the cosine a photo
    must also reach, where the library's scores split) per category, as `tag --explain`
    prints them, with counter-labels marked and the "none of these" share."""
    parts = []
    for e in explanations:
        rows = "".join(
            f"<tr><td>{escape(s.label)}{' [counter]' if s.counter else ''}"
            f"{' ✓' if s.tagged else ''}</td>"
            f"<td align='right'>{s.probability:.3f}</td>"
            f"<td align='right'>{_number(s.threshold)}</td>"
            f"<td align='right'>{s.score:.3f}</td>"
            f"<td align='right'>{_number(s.split)}</td></tr>"
            for s in e.scores
        )
        notes = "".join(f"<br><i>{escape(n)}</i>" for n in [*_verdicts(e), *e.notes])
        parts.append(
            f"<p><b>{escape(e.category)}</b> ({e.kind}, logit scale {e.logit_scale:.1f})"
            f"<table cellspacing='0' cellpadding='2' style='font-size:small'>{_WHY_HEADER}{rows}"
            "</table>"
            f"none of these: {e.background:.3f}{notes}</p>"
        )
    return "".join(parts)


def _verdicts(explanation: Explanation) -> list[str]:
    """The decision on the most likely label, and on any other the photo carries, in
    words: "red: not tagged: its probability is below the threshold"."""
    shown = [s for s in explanation.scores if not s.counter][:1]
    shown += [s for s in explanation.scores if s.tagged and s not in shown]
    return [f"{s.label}: {s.reason}" for s in shown if s.reason]


def _number(value: float | None) -> str:
    return "–" if value is None or value != value or abs(value) == float("inf") else f"{value:.3f}"


class ImageView(QWidget):
    """Paints an image scaled to fit, aspect kept, at the screen's device pixel ratio (so it
    stays sharp on high-DPI screens); the scaled copy is cached until the size changes.

    At 100% one pixel of the photo is one pixel of the screen: the full-resolution image
    comes from `set_full_image` (asked for by `full_size_requested` the first time, and
    decoded off the GUI thread by whoever listens), and dragging pans it. Double-click
    toggles fit and 100%, at the point clicked.

    Signals: full_size_requested() when 100% is wanted and the full image is not there yet;
    zoom_changed(bool actual) when 100% or fit is asked for.
    """

    full_size_requested = Signal()
    zoom_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image = QImage()
        self._full = QImage()
        self._scaled: QPixmap | None = None
        self._actual = False
        #: the full image's top-left at 100%, in this widget's coordinates
        self._origin = QPointF()
        #: where 100% was asked for before the full image came: (share of the image, point)
        self._anchor: tuple[QPointF, QPointF] | None = None
        self._drag: QPointF | None = None
        #: the photo's own size (the fitted image is a scaled copy), for `zoom_factor`
        self.photo_size = QSize()
        self.placeholder = "Loading…"
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 150)

    def set_image(self, image: QImage) -> None:
        """The photo fitted to the view (a new photo: back to fit, the full image dropped)."""
        self._image = image
        self._scaled = None
        if image.isNull():
            self._full, self._anchor = QImage(), None
            self._set_actual(False)
        self.update()

    def image(self) -> QImage:
        return self._image

    def sizeHint(self) -> QSize:
        return QSize(800, 600)

    # -- zoom ------------------------------------------------------------------------------------

    @property
    def actual_size(self) -> bool:
        """Whether 100% is asked for (it shows once the full image is there)."""
        return self._actual

    def has_full_image(self) -> bool:
        return not self._full.isNull()

    def zoom_to_fit(self) -> None:
        self._anchor = None
        self._set_actual(False)
        self.update()

    def zoom_to_actual(self, at: QPointF | None = None) -> None:
        """100%, keeping the point `at` (default: the centre) of the photo where it is."""
        if self._image.isNull() and self._full.isNull():
            return
        point = at if at is not None else QPointF(self.rect().center())
        self._anchor = (self._share_at(point), point)
        self._set_actual(True)
        if self._full.isNull():
            self.full_size_requested.emit()
        else:
            self._place()
        self._set_cursor()
        self.update()

    def _set_actual(self, actual: bool) -> None:
        changed = actual != self._actual
        self._actual = actual
        self._set_cursor()
        if changed:
            self.zoom_changed.emit(actual)

    def toggle_zoom(self, at: QPointF | None = None) -> None:
        if self._actual:
            self.zoom_to_fit()
        else:
            self.zoom_to_actual(at)

    def set_full_image(self, image: QImage) -> None:
        """Every pixel of the photo; a null image (too large, unreadable) stays at fit."""
        if image.isNull():
            self.zoom_to_fit()
            return
        image.setDevicePixelRatio(self.devicePixelRatioF())
        self._full = image
        if self._actual:
            self._place()
        self._set_cursor()
        self.update()

    def zoom_factor(self) -> float:
        """Screen pixels per pixel of the photo shown: 1.0 at 100%."""
        rect = self.displayed_rect()
        width = self._full.width() or self.photo_size.width() or self._image.width()
        if rect.isEmpty() or width <= 0:
            return 0.0
        return rect.width() * self.devicePixelRatioF() / width

    def displayed_rect(self) -> QRectF:
        """Where the photo is drawn, in this widget's coordinates (may reach past it)."""
        if self._showing_actual():
            return QRectF(self._origin, self._full.deviceIndependentSize())
        return QRectF(self.target_rect())

    def pan_by(self, delta: QPointF) -> None:
        """Move the photo at 100% by `delta` (as a drag does), never past its edges."""
        if self._showing_actual():
            self._origin += delta
            self._clamp()
            self.update()

    def _showing_actual(self) -> bool:
        return self._actual and not self._full.isNull()

    def _share_at(self, point: QPointF) -> QPointF:
        """Which point of the photo (as shares of its width and height) is at `point`."""
        rect = self.displayed_rect()
        if rect.isEmpty():
            return QPointF(0.5, 0.5)
        x = (point.x() - rect.x()) / rect.width()
        y = (point.y() - rect.y()) / rect.height()
        return QPointF(min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0))

    def _place(self) -> None:
        share, point = self._anchor or (QPointF(0.5, 0.5), QPointF(self.rect().center()))
        size = self._full.deviceIndependentSize()
        self._origin = point - QPointF(share.x() * size.width(), share.y() * size.height())
        self._clamp()

    def _clamp(self) -> None:
        """A photo smaller than the view is centred; a larger one always covers it."""
        size = self._full.deviceIndependentSize()
        x = _axis(self._origin.x(), size.width(), self.width())
        y = _axis(self._origin.y(), size.height(), self.height())
        self._origin = QPointF(x, y)

    # -- painting and the mouse -------------------------------------------------------------

    def target_rect(self) -> QRect:
        """Where the image is drawn to fit: as large as fits, centred."""
        if self._image.isNull():
            return QRect()
        size = self._image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        rect = QRect(0, 0, size.width(), size.height())
        rect.moveCenter(self.rect().center())
        return rect

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        if self._showing_actual():
            painter.drawImage(self._origin, self._full)  # unscaled: only the visible part
            return
        if self._image.isNull():
            flags = int(Qt.AlignmentFlag.AlignCenter) | int(Qt.TextFlag.TextWordWrap)
            painter.drawText(self.rect().adjusted(12, 12, -12, -12), flags, self.placeholder)
            return
        target = self.target_rect()
        painter.drawPixmap(target.topLeft(), self._pixmap_for(target.size()))
        if self._actual:  # the full image is on its way
            painter.drawText(self.rect().adjusted(8, 8, -8, -8), int(Qt.AlignmentFlag.AlignTop),
                             "Loading full size…")  # fmt: skip

    def _pixmap_for(self, size: QSize) -> QPixmap:
        ratio = self.devicePixelRatioF()
        pixels = QSize(round(size.width() * ratio), round(size.height() * ratio))
        if self._scaled is None or self._scaled.size() != pixels:
            smooth = Qt.TransformationMode.SmoothTransformation
            scaled = self._image.scaled(pixels, Qt.AspectRatioMode.KeepAspectRatio, smooth)
            self._scaled = QPixmap.fromImage(scaled)
            self._scaled.setDevicePixelRatio(ratio)
        return self._scaled

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._showing_actual():
            self._drag = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag is not None:
            self.pan_by(event.position() - self._drag)
            self._drag = event.position()
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag = None
        self._set_cursor()
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.toggle_zoom(event.position())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._showing_actual():
            self._clamp()

    def _set_cursor(self) -> None:
        if self._showing_actual():
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.unsetCursor()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.DevicePixelRatioChange:
            self._scaled = None
            if not self._full.isNull():
                self._full.setDevicePixelRatio(self.devicePixelRatioF())
        super().changeEvent(event)


def _axis(origin: float, size: float, room: float) -> float:
    """One coordinate of the photo's corner at 100%: centred when it fits, else kept so
    that the photo covers the view."""
    if size <= room:
        return (room - size) / 2
    return min(0.0, max(room - size, origin))


class PhotoView(QWidget):
    """A large view of one photo with its date, size, path and tags.

    Methods: `show_photo(details)` (the image follows by `set_image`, or
    `show_image_error(message)`), `show_explanation` (every label's score, from
    Tagger.explain; optional). Escape anywhere inside asks to go back: give the view focus
    when it is shown.

    Signals:
        similar_requested(int photo_id): "Find similar" was pressed.
        show_in_folder_requested(str path): "Show in folder" was pressed.
        tag_confirmed(int photo_id, str category, str label): a suggested tag is right.
        tag_rejected(int photo_id, str category, str label): a tag is wrong.
        undo_requested(): Undo was pressed after a correction.
        back_requested(): Back or Escape.
        step_requested(int steps): Right (1) or Left (-1), to the next or previous result.
        full_screen_requested(): F, to show the photo full screen (or leave it).
        full_size_requested(): 100% was asked for; answer with `set_full_image` (every
            pixel, decoded off the GUI thread).

    Zoom: 1 or Ctrl+1 (or the 100% button) shows the photo at 100%, dragged to pan; 0 or
    Ctrl+0 fits it again; a double-click toggles the two.
    """

    similar_requested = Signal(int)
    show_in_folder_requested = Signal(object)  # a path: never a Qt string (formatting.shown)
    tag_confirmed = Signal(int, str, str)
    tag_rejected = Signal(int, str, str)
    undo_requested = Signal()
    back_requested = Signal()
    step_requested = Signal(int)
    full_screen_requested = Signal()
    full_size_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.details: PhotoDetails | None = None
        self.image_view = ImageView()
        self.image_view.full_size_requested.connect(self.full_size_requested)
        self.image_view.zoom_changed.connect(lambda actual: self.zoom_button.setChecked(actual))
        self.title = QLabel()
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._facts: dict[str, QLabel] = {}
        self._tags = QVBoxLayout()
        self._scores = QLabel()
        self._tag_numbers: list[str] = []
        self.why_button = _tool_button("▸ Why this tag")
        self.correction = QLabel()
        self.undo_button = QPushButton("Undo")
        self._build()
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        set_accessible(self, "Photo", "One photo with its details and tags; Escape goes back")
        set_accessible(self.why_button, "Why this tag", "Shows the scores behind each tag")
        set_accessible(self.undo_button, "Undo the last correction")

    # -- layout --------------------------------------------------------------------------------

    def _build(self) -> None:
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.image_view)
        splitter.addWidget(self._side_panel())
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([700, 340])
        layout = QVBoxLayout(self)
        layout.addLayout(self._toolbar())
        layout.addWidget(splitter, 1)

    def _toolbar(self) -> QHBoxLayout:
        self.back_button = _tool_button("← Back")
        self.back_button.setToolTip("Back to the results (Escape)")
        self.back_button.clicked.connect(self.back_requested.emit)
        self.similar_button = QPushButton("Find similar")
        self.similar_button.clicked.connect(self._on_similar)
        self.folder_button = QPushButton("Show in folder")
        self.folder_button.clicked.connect(self._on_show_in_folder)
        self.zoom_button = _tool_button("100%")
        self.zoom_button.setCheckable(True)
        self.zoom_button.setToolTip("Zoom to 100% (1) or to fit (0); double-click the photo")
        self.zoom_button.clicked.connect(self._on_zoom_button)
        set_accessible(self.zoom_button, "Zoom to 100%")
        set_accessible(self.back_button, "Back to the results")
        set_accessible(self.similar_button, "Find similar photos")
        set_accessible(
            self.folder_button, "Show in folder", "Opens the folder that holds this photo"
        )
        bar = QHBoxLayout()
        bar.addWidget(self.back_button)
        bar.addWidget(self.title, 1)
        bar.addWidget(self.zoom_button)
        bar.addWidget(self.similar_button)
        bar.addWidget(self.folder_button)
        return bar

    def _side_panel(self) -> QScrollArea:
        panel = QWidget()
        column = QVBoxLayout(panel)
        column.addLayout(self._fact_form())
        column.addWidget(_heading("Tags"))
        column.addLayout(self._tags)
        column.addLayout(self._correction_bar())
        self.why_button.setCheckable(True)
        self.why_button.toggled.connect(self._on_why_toggled)
        column.addWidget(self.why_button)
        self._scores.setWordWrap(True)
        self._scores.setTextFormat(Qt.TextFormat.RichText)
        self._scores.setObjectName("why")
        self._scores.setVisible(False)  # collapsed until asked for
        column.addWidget(self._scores)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(panel)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setMinimumWidth(300)
        set_accessible(scroll, "Photo details and tags")
        return scroll

    def _correction_bar(self) -> QHBoxLayout:
        """What the last correction changed, and a button to take it back."""
        self.correction.setWordWrap(True)
        self.undo_button.setToolTip("Take back the last confirm or reject")
        self.undo_button.clicked.connect(self.undo_requested.emit)
        bar = QHBoxLayout()
        bar.addWidget(self.correction, 1)
        bar.addWidget(self.undo_button)
        self.correction.setVisible(False)
        self.undo_button.setVisible(False)
        return bar

    def _fact_form(self) -> QFormLayout:
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        for name in ("Date taken", "Dimensions", "File size", "Path"):
            value = QLabel()
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self._facts[name] = value
            form.addRow(name + ":", value)
        return form

    # -- showing -------------------------------------------------------------------------------

    def show_photo(self, details: PhotoDetails) -> None:
        """Show this photo's facts and tags; its image is cleared until `set_image`, unless
        it is the photo already shown (a refresh after a tag was confirmed)."""
        if self.details is None or self.details.id != details.id:
            self.image_view.placeholder = "Loading…"
            self.image_view.set_image(QImage())
            self.clear_correction()  # it was about another photo
        self.details = details
        self.image_view.photo_size = QSize(details.width or 0, details.height or 0)
        self.title.setText(f"<b>{escape(shown(details.path.name))}</b>")
        for name, text in _facts(details).items():
            self._facts[name].setText(text)
        self._show_tags(details.tags)
        self._tag_numbers = [
            f"<b>{escape(t.category)}: {escape(t.label)}</b>: {escape(score_text(t))}"
            for t in details.tags
        ]
        self._scores.setText(self._why_text(""))
        self._show_why_button(bool(details.tags))

    def set_image(self, image: QImage) -> None:
        self.image_view.set_image(image)

    def set_full_image(self, image: QImage) -> None:
        """Every pixel of the photo, for 100% (a null image: it cannot be shown so, and
        the view stays at fit)."""
        self.image_view.set_full_image(image)

    def zoom_to_actual(self) -> None:
        self.image_view.zoom_to_actual()

    def zoom_to_fit(self) -> None:
        self.image_view.zoom_to_fit()

    def _on_zoom_button(self, actual: bool) -> None:
        if actual:
            self.zoom_to_actual()
        else:
            self.zoom_to_fit()
        self.zoom_button.setChecked(self.image_view.actual_size)  # no photo: stays at fit

    def show_image_error(self, message: str) -> None:
        """The image could not be loaded: say why where it would be."""
        self.image_view.placeholder = message
        self.image_view.set_image(QImage())

    def fact(self, name: str) -> str:
        """The text shown for "Date taken", "Dimensions", "File size" or "Path"."""
        return self._facts[name].text()

    def show_explanation(self, explanations: Sequence[Explanation]) -> None:
        """Every label's probability against its threshold, per category (from
        Tagger.explain): the collapsed "Why this tag" section."""
        self._scores.setText(self._why_text(explanation_html(explanations)))
        self._show_why_button(bool(self._tag_numbers or explanations))

    def _show_why_button(self, anything_to_explain: bool) -> None:
        """The button reads "Why this tag" for a tagged photo and "Why no tag" for one its
        categories left untagged; it is hidden where there is nothing to explain (no
        categories yet)."""
        self.why_button.setVisible(anything_to_explain)
        if not anything_to_explain:
            self.why_button.setChecked(False)
        self._on_why_toggled(self.why_button.isChecked())

    def show_correction(self, text: str) -> None:
        """What a correction changed ("2 similar photos now tagged 'red'"), with Undo."""
        self.correction.setText(text)
        self.correction.setVisible(True)
        self.undo_button.setVisible(True)

    def clear_correction(self) -> None:
        self.correction.clear()
        self.correction.setVisible(False)
        self.undo_button.setVisible(False)

    def _why_text(self, explained: str) -> str:
        tags = "<br>".join(self._tag_numbers)
        return (f"<p>{tags}</p>" if tags else "") + explained

    def _on_why_toggled(self, shown: bool) -> None:
        self._scores.setVisible(shown)
        title = "Why this tag" if self._tag_numbers else "Why no tag"
        self.why_button.setText(("▾" if shown else "▸") + f" {title}")

    def _show_tags(self, tags: Sequence[PhotoTag]) -> None:
        _clear(self._tags)
        if not tags:
            self._tags.addWidget(QLabel("No tags yet."))
            return
        for tag in tags:
            self._tags.addWidget(self._tag_text(tag))
            self._tags.addLayout(self._tag_buttons(tag))

    def _tag_text(self, tag: PhotoTag) -> QLabel:
        category, _, rest = tag_text(tag).partition(": ")
        name, _, word = rest.partition(" — ")
        label = QLabel(f"<b>{escape(category)}: {escape(name)}</b> — <i>{escape(word)}</i>")
        label.setWordWrap(True)
        label.setObjectName(f"tag:{tag.category}:{tag.label}")
        return label

    def _tag_buttons(self, tag: PhotoTag) -> QHBoxLayout:
        buttons = QHBoxLayout()
        if tag.source != CONFIRMED:
            confirm = _tool_button("✓ Confirm")
            confirm.setToolTip(f"Yes, this is {tag.label}")
            confirm.setObjectName(f"confirm:{tag.category}:{tag.label}")
            confirm.clicked.connect(lambda: self._on_tag(self.tag_confirmed, tag))
            set_accessible(confirm, f"Confirm {tag.category}: {tag.label}")
            buttons.addWidget(confirm)
        reject = _tool_button("✗ Reject")
        reject.setToolTip(f"No, this is not {tag.label}")
        reject.setObjectName(f"reject:{tag.category}:{tag.label}")
        reject.clicked.connect(lambda: self._on_tag(self.tag_rejected, tag))
        set_accessible(reject, f"Reject {tag.category}: {tag.label}")
        buttons.addWidget(reject)
        buttons.addStretch(1)
        buttons.setContentsMargins(0, 0, 0, 6)
        return buttons

    # -- requests ------------------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Escape goes back from anywhere inside the view (children pass it up)."""
        if event.key() == Qt.Key.Key_Escape:
            self.back_requested.emit()
            return
        if event.key() == Qt.Key.Key_F and not event.modifiers():
            self.full_screen_requested.emit()
            return
        zoom = {Qt.Key.Key_1: self.zoom_to_actual, Qt.Key.Key_0: self.zoom_to_fit}
        plain = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if event.key() in zoom and plain in (Qt.KeyboardModifier.NoModifier,
                                             Qt.KeyboardModifier.ControlModifier):  # fmt: skip
            zoom[Qt.Key(event.key())]()
            return
        steps = {Qt.Key.Key_Right: 1, Qt.Key.Key_Left: -1}.get(Qt.Key(event.key()))
        if steps is not None:
            self.step_requested.emit(steps)
            return
        super().keyPressEvent(event)

    def _on_tag(self, signal: SignalInstance, tag: PhotoTag) -> None:
        signal.emit(tag.photo_id, tag.category, tag.label)

    def _on_similar(self) -> None:
        if self.details is not None:
            self.similar_requested.emit(self.details.id)

    def _on_show_in_folder(self) -> None:
        if self.details is not None:
            self.show_in_folder_requested.emit(str(self.details.path))


def _facts(details: PhotoDetails) -> dict[str, str]:
    when = details.date.strftime("%Y-%m-%d %H:%M")
    known = details.width and details.height
    return {
        "Date taken": when if details.date_is_taken else f"{when} (file date; no date in photo)",
        "Dimensions": f"{details.width} × {details.height} px" if known else "unknown",
        "File size": human_size(details.size),
        "Path": shown(details.path),
    }


def _tool_button(text: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    return button


def _heading(text: str) -> QLabel:
    label = QLabel(f"<b>{text}</b>")
    label.setContentsMargins(0, 8, 0, 0)
    return label


def _clear(layout: QVBoxLayout | QHBoxLayout) -> None:
    while (item := layout.takeAt(0)) is not None:
        if (widget := item.widget()) is not None:
            widget.deleteLater()
        elif (child := item.layout()) is not None:
            _clear(child)  # type: ignore[arg-type]
