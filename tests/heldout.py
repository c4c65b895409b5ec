"""Held-out scenes for tagging quality, deliberately unlike the training generator
(photoclip/synthetic/scenes.py: 64-px squares, upright shapes, fixed shades): canvases of
3:2, 2:3, 4:3 and 1:1 up to 1024 px, shapes tilted at any angle and of any size (inside the
central square, or anywhere in the frame), shades jittered, plain / gradient / noise
backgrounds (or a real photo a caller passes in), saved as JPEG or PNG and read back. Purple
shapes are the colour no 7-colour category has.

Deterministic by seed; pure Pillow and numpy (no torch).
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from photoclip.core.tagstore import CONFIRMED, REJECTED

#: Shades unlike the training ones (each channel jittered by up to _SHADE_JITTER).
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (205, 25, 35),
    "green": (40, 160, 60),
    "blue": (35, 70, 205),
    "yellow": (235, 210, 45),
    "orange": (240, 130, 30),
    "black": (25, 25, 25),
    "white": (240, 240, 240),
    "purple": (130, 45, 170),
}
#: Other people's shades of the same eight names, for judging a model on colours it was
#: not shown (bench_tag_quality.py --palette): COLOURS lie near the training shades
#: (photoclip/synthetic/scenes.py), these do not. CSS's named colours; Google's Material
#: Design 500s; X11's firebrick, forestgreen, royalblue, gold, darkorange and darkviolet
#: with an off-black and whitesmoke; and the xkcd colour survey's commonest shade of each
#: name.
PALETTES: dict[str, dict[str, tuple[int, int, int]]] = {
    "heldout": COLOURS,
    "css": {
        "red": (255, 0, 0), "green": (0, 128, 0), "blue": (0, 0, 255),
        "yellow": (255, 255, 0), "orange": (255, 165, 0), "black": (0, 0, 0),
        "white": (255, 255, 255), "purple": (128, 0, 128),
    },
    "material": {
        "red": (244, 67, 54), "green": (76, 175, 80), "blue": (33, 150, 243),
        "yellow": (255, 235, 59), "orange": (255, 152, 0), "black": (33, 33, 33),
        "white": (250, 250, 250), "purple": (156, 39, 176),
    },
    "x11": {
        "red": (178, 34, 34), "green": (34, 139, 34), "blue": (65, 105, 225),
        "yellow": (255, 215, 0), "orange": (255, 140, 0), "black": (40, 40, 40),
        "white": (245, 245, 245), "purple": (148, 0, 211),
    },
    "xkcd": {
        "red": (229, 0, 0), "green": (21, 176, 26), "blue": (3, 67, 223),
        "yellow": (255, 255, 20), "orange": (249, 115, 6), "black": (0, 0, 0),
        "white": (255, 255, 255), "purple": (126, 30, 156),
    },
}  # fmt: skip
#: The 7-colour category of the acceptance table: every colour but purple.
CATEGORY_COLOURS = tuple(c for c in COLOURS if c != "purple")
SHAPES = ("circle", "square", "triangle", "star")
ASPECTS = ((3, 2), (2, 3), (4, 3), (1, 1))
BACKGROUNDS = ("plain", "gradient", "noise")
#: Where a shape may lie: inside the canvas's central square (CENTRE, what a centre crop
#: keeps) or anywhere wholly inside the canvas (ANYWHERE: the app frames the whole photo,
#: profiles.NATIVE, so a shape near a long canvas's end is in the photo the model sees).
CENTRE, ANYWHERE = "centre", "anywhere"
_SHADE_JITTER = 15
#: Shapes whose colour would vanish into a plain background of a near shade are redrawn on
#: one this far away (sum of absolute channel differences).
_MIN_CONTRAST = 200


@dataclass(frozen=True)
class HeldOutScene:
    image: Image.Image
    colour: str | None
    shape: str | None
    background: str
    #: "JPEG" or "PNG": the image went through that encoder and back.
    format: str
    #: The shape's radius as a share of half the canvas's short side (0.2-0.7); None for
    #: a photo without a shape.
    size: float | None = None


def shape_scene(
    rng: random.Random,
    colour: str,
    shape: str,
    max_side: int = 1024,
    background: str | None = None,
    photo: Image.Image | None = None,
    placement: str = CENTRE,
    palette: dict[str, tuple[int, int, int]] = COLOURS,
) -> HeldOutScene:
    """One tilted `shape` in `colour` on a random canvas; on `photo` (resized) when given;
    `placement`: CENTRE or ANYWHERE; `palette`: the shades of the colours' names."""
    width, height = _canvas(rng, max_side)
    kind = "photo" if photo is not None else background or rng.choice(BACKGROUNDS)
    if photo is not None:
        canvas = photo.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
    else:
        canvas = _background(rng, kind, (width, height), palette[colour])
    size = _draw_shape(canvas, rng, shape, _shade(rng, palette[colour]), placement)
    return replace(_encoded(rng, canvas, colour, shape, kind), size=size)


def photo_scene(rng: random.Random, photo: Image.Image, max_side: int = 1024) -> HeldOutScene:
    """A real photo with no shape drawn on it, re-encoded like the others."""
    photo = photo.convert("RGB")
    scale = min(1.0, max_side / max(photo.size))
    size = (max(1, round(photo.width * scale)), max(1, round(photo.height * scale)))
    return _encoded(rng, photo.resize(size), None, None, "photo")


def scene_set(
    seed: int,
    per_pair: int = 1,
    max_side: int = 1024,
    colours: tuple[str, ...] = tuple(COLOURS),
    placement: str = CENTRE,
    palette: dict[str, tuple[int, int, int]] = COLOURS,
) -> list[HeldOutScene]:
    """`per_pair` scenes of every colour x shape, backgrounds taking turns."""
    rng = random.Random(seed)
    scenes = []
    for i, (colour, shape, _) in enumerate(
        (c, s, k) for c in colours for s in SHAPES for k in range(per_pair)
    ):
        background = BACKGROUNDS[i % 3]
        scene = shape_scene(
            rng, colour, shape, max_side, background, placement=placement, palette=palette
        )
        scenes.append(scene)
    return scenes


def truthful_verdict(label: str | None, colour: str | None) -> tuple[str | None, str]:
    """What a truthful user says about a scene's colour tag `label` when the scene's colour
    is `colour`: confirm it or reject it, or confirm the right colour of an untagged shape
    (None: nothing to say, e.g. an untagged purple shape)."""
    if label is not None:
        return (CONFIRMED if label == colour else REJECTED), label
    if colour in CATEGORY_COLOURS:
        return CONFIRMED, str(colour)
    return None, ""


def made_up_photo(rng: random.Random, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A stand-in for a real photo in tests (which may not read ../shared): a sky over
    ground, textured with smooth noise, and a few thin lines (branches, wires) - nothing
    a shape category names."""
    width, height = size
    horizon = rng.randint(height // 3, 2 * height // 3)
    pixels = np.empty((height, width, 3), np.float32)
    pixels[:horizon] = [rng.randint(90, 220) for _ in range(3)]
    pixels[horizon:] = [rng.randint(30, 150) for _ in range(3)]
    noise_rng = np.random.default_rng(rng.randrange(2**32))
    coarse = noise_rng.normal(0, 40, (height // 16 + 1, width // 16 + 1, 3))
    texture = np.kron(coarse, np.ones((16, 16, 1)))[:height, :width]
    image = Image.fromarray(np.clip(pixels + texture, 0, 255).astype(np.uint8))
    image = image.filter(ImageFilter.GaussianBlur(4))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(3, 8)):
        points = [(rng.randrange(width), rng.randrange(height)) for _ in range(3)]
        draw.line(points, fill=tuple(rng.randint(0, 255) for _ in range(3)), width=2)
    grain = noise_rng.normal(0, 8, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(image, np.float32) + grain, 0, 255).astype(np.uint8))


# -- drawing ---------------------------------------------------------------------------------


def _canvas(rng: random.Random, max_side: int) -> tuple[int, int]:
    aspect = rng.choice(ASPECTS)
    long = rng.randint(max(64, max_side // 3), max_side)
    scale = long / max(aspect)
    return max(8, round(aspect[0] * scale)), max(8, round(aspect[1] * scale))


def _shade(rng: random.Random, base: tuple[int, int, int]) -> tuple[int, int, int]:
    return tuple(min(255, max(0, c + rng.randint(-_SHADE_JITTER, _SHADE_JITTER))) for c in base)  # type: ignore[return-value]


def _background(
    rng: random.Random,
    kind: str,
    size: tuple[int, int],
    avoid: tuple[int, int, int] | list[tuple[int, int, int]],
) -> Image.Image:
    first, second = _far_colour(rng, avoid), _far_colour(rng, avoid)
    width, height = size
    if kind == "plain":
        return Image.new("RGB", size, first)
    if kind == "gradient":
        angle = rng.uniform(0, 2 * math.pi)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        t = xs / width * math.cos(angle) + ys / height * math.sin(angle)
        t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
        pixels = np.array(first) * (1 - t[..., None]) + np.array(second) * t[..., None]
        return Image.fromarray(pixels.astype(np.uint8))
    noise = np.random.default_rng(rng.randrange(2**32)).normal(0, 35, (height, width, 3))
    return Image.fromarray(np.clip(np.array(first) + noise, 0, 255).astype(np.uint8))


def _far_colour(
    rng: random.Random, avoid: tuple[int, int, int] | list[tuple[int, int, int]]
) -> tuple[int, int, int]:
    """A random colour far from `avoid` (one colour, or each of a list)."""
    avoided = avoid if isinstance(avoid, list) else [avoid]
    while True:
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        if all(
            sum(abs(a - b) for a, b in zip(colour, other, strict=True)) >= _MIN_CONTRAST
            for other in avoided
        ):
            return colour  # type: ignore[return-value]


def _draw_shape(
    canvas: Image.Image,
    rng: random.Random,
    shape: str,
    fill: tuple[int, int, int],
    placement: str = CENTRE,
) -> float:
    """Draws the shape and returns its radius as a share of half the short side."""
    half = min(canvas.size) / 2
    share = rng.uniform(0.2, 0.7)
    radius = share * half
    if placement == ANYWHERE:
        cx = rng.uniform(radius, canvas.width - radius)
        cy = rng.uniform(radius, canvas.height - radius)
    elif placement == CENTRE:  # inside the central square, what a centre crop keeps
        cx = canvas.width / 2 + rng.uniform(radius - half, half - radius)
        cy = canvas.height / 2 + rng.uniform(radius - half, half - radius)
    else:
        raise ValueError(f"placement is {CENTRE!r} or {ANYWHERE!r}, not {placement!r}")
    angle = rng.uniform(0, 2 * math.pi)
    draw = ImageDraw.Draw(canvas)
    if shape == "circle":
        squash = rng.uniform(0.9, 1.0)  # a circle seen slightly off-axis
        draw.ellipse((cx - radius, cy - radius * squash, cx + radius, cy + radius * squash), fill)
        return share
    draw.polygon(_outline(shape, cx, cy, radius, angle), fill=fill)
    return share


def _outline(
    shape: str, cx: float, cy: float, radius: float, angle: float
) -> list[tuple[float, float]]:
    if shape == "square":
        corners = [(angle + math.pi / 4 + k * math.pi / 2, radius) for k in range(4)]
    elif shape == "triangle":
        corners = [(angle + k * 2 * math.pi / 3, radius) for k in range(3)]
    else:  # star: five points, inner radius 0.42
        corners = [(angle + k * math.pi / 5, radius if k % 2 == 0 else radius * 0.42)
                   for k in range(10)]  # fmt: skip
    return [(cx + r * math.cos(a), cy + r * math.sin(a)) for a, r in corners]


def _encoded(
    rng: random.Random, image: Image.Image, colour: str | None, shape: str | None, kind: str
) -> HeldOutScene:
    """Through a JPEG (of a random quality) or PNG file and back, as a photo on disk is."""
    fmt = rng.choice(("JPEG", "PNG"))
    buffer = io.BytesIO()
    options = {"quality": rng.randint(70, 95)} if fmt == "JPEG" else {}
    image.save(buffer, fmt, **options)
    buffer.seek(0)
    decoded = Image.open(buffer)
    decoded.load()
    return HeldOutScene(decoded.convert("RGB"), colour, shape, kind, fmt)


# -- whole-frame scenes (issue 20) -----------------------------------------------------------

#: Canvas shapes of whole-frame scenes: the tagging ones plus 16:9, where a centre crop
#: drops 44% of the frame.
FRAME_ASPECTS = (*ASPECTS, (16, 9))
FRAME_BACKGROUNDS = (*BACKGROUNDS, "photo")


@dataclass(frozen=True)
class PlacedShape:
    colour: str
    shape: str
    #: centre in pixels of the scene's canvas, and radius
    x: float
    y: float
    radius: float


@dataclass(frozen=True)
class FrameScene:
    """One or two tilted shapes placed anywhere on a canvas, edges included."""

    image: Image.Image
    shapes: tuple[PlacedShape, ...]
    background: str
    format: str

    def outside_centre(self, placed: PlacedShape) -> bool:
        """Whether the shape's centre lies outside the centre square (which a centre crop
        keeps)."""
        return not in_centre_square(self.image.size, placed.x, placed.y)


def in_centre_square(size: tuple[int, int], x: float, y: float) -> bool:
    width, height = size
    half = min(size) / 2
    return abs(x - width / 2) <= half and abs(y - height / 2) <= half


def frame_scene(
    rng: random.Random,
    pairs: list[tuple[str, str]],
    max_side: int = 1024,
    background: str = "plain",
    photo: Image.Image | None = None,
    aspect: tuple[int, int] | None = None,
) -> FrameScene:
    """`pairs` of (colour, shape), each drawn once, tilted, at a random place of a canvas
    of `aspect` (random when None): on a non-square canvas each shape lies outside the
    centre square half the time. `photo` is the background when given."""
    width, height = _frame_canvas(rng, max_side, aspect)
    if photo is not None:
        canvas = photo.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
        background = "photo"
    else:
        avoid = [COLOURS[colour] for colour, _ in pairs]
        canvas = _background(rng, background, (width, height), avoid)
    placed: list[PlacedShape] = []
    for colour, shape in pairs:
        where = _free_place(rng, canvas.size, placed)
        placed.append(PlacedShape(colour, shape, *where))
        _draw_at(canvas, rng, shape, _shade(rng, COLOURS[colour]), *where)
    scene = _encoded(rng, canvas, None, None, background)
    return FrameScene(scene.image, tuple(placed), background, scene.format)


def _frame_canvas(
    rng: random.Random, max_side: int, aspect: tuple[int, int] | None
) -> tuple[int, int]:
    aspect = aspect or rng.choice(FRAME_ASPECTS)
    long = rng.randint(max(64, max_side // 2), max_side)
    scale = long / max(aspect)
    return max(8, round(aspect[0] * scale)), max(8, round(aspect[1] * scale))


def _free_place(
    rng: random.Random, size: tuple[int, int], taken: list[PlacedShape]
) -> tuple[float, float, float]:
    """A centre and radius wholly inside the canvas, apart from shapes already placed."""
    for _ in range(200):
        x, y, radius = _place(rng, size)
        if all(math.dist((x, y), (t.x, t.y)) > radius + t.radius for t in taken):
            return x, y, radius
    return x, y, radius  # a crowded canvas: overlap rather than loop forever


def _place(rng: random.Random, size: tuple[int, int]) -> tuple[float, float, float]:
    width, height = size
    short, long = min(size), max(size)
    radius = rng.uniform(0.12, 0.3) * short
    along = rng.uniform(radius, long - radius)  # along the long side
    strip = (long - short) / 2
    if strip > radius and rng.random() < 0.5:  # outside the centre square, on either side
        offset = rng.uniform(max(radius, 0.0), strip)
        along = offset if rng.random() < 0.5 else long - offset
    across = rng.uniform(radius, short - radius)
    return (along, across, radius) if width >= height else (across, along, radius)


def _draw_at(
    canvas: Image.Image,
    rng: random.Random,
    shape: str,
    fill: tuple[int, int, int],
    cx: float,
    cy: float,
    radius: float,
) -> None:
    draw = ImageDraw.Draw(canvas)
    if shape == "circle":
        squash = rng.uniform(0.9, 1.0)
        draw.ellipse((cx - radius, cy - radius * squash, cx + radius, cy + radius * squash), fill)
        return
    draw.polygon(_outline(shape, cx, cy, radius, rng.uniform(0, 2 * math.pi)), fill=fill)
