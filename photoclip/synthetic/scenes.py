"""Synthetic scenes: one or two coloured shapes, or a rendered word, on a plain, gradient or
noisy background, each with a structured description and several English captions.

Training also varies what a photo library holds and the test-folder defaults leave out:
shapes tilted at any angle, canvases of other aspect ratios than 1:1 (`Scene.canvas`),
"busy" backgrounds, and cluttered scenes of many blobs and lines that hold no single shape
(`clutter_scene`), captioned only as "a photo", "a busy scene" and the like. A "scenery"
backdrop, photo-like at full contrast, is there for experiments (the committed weights do
not use it: resources/models/README.md, runs H and I). Colours are drawn near one shade of
each name (`COLOURS`), or from the whole range of the name (`Scene.wide_shades`,
`WIDE_SHADES`).

A scene is a pure function of its seed, so tests regenerate exactly the images a folder
holds, and training and held-out evaluation draw from disjoint seeds (`HELD_OUT_SEED`).
Pure Python, Pillow and numpy: importing this module never imports torch.
"""

from __future__ import annotations

import colorsys
import math
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

IMAGE_SIZE = 64

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (30, 60, 220),
    "yellow": (240, 220, 30),
    "purple": (140, 40, 180),
    "orange": (250, 140, 20),
    "black": (15, 15, 15),
    "white": (245, 245, 245),
}
SHAPES = ("circle", "square", "triangle", "star")
SIZES = ("small", "large")
POSITIONS = ("left", "right", "top", "bottom", "center")
BACKGROUND_KINDS = ("plain", "gradient", "noise")
#: A background textured with faint lines and blobs, like a real photo behind a shape.
BUSY = "busy"
#: A full-contrast backdrop like a real photo's: two tones split by a horizon, blotchy
#: texture and opaque blobs and lines, over which a shape is the one thing a caption names.
SCENERY = "scenery"
#: Captions of a cluttered scene: nothing in it is one shape, colour or word, so only what
#: fits any photo fits it (and the "a photo" prompts that tagging uses for "none of these").
CLUTTER_CAPTIONS = (
    "a photo",
    "an image",
    "a picture",
    "a photo of a busy scene",
    "a picture of many things",
    "a cluttered picture",
    "a busy scene",
    "lots of colours",
)
#: Words that name nothing drawn here, so text in an image is not always a shape's name.
OTHER_WORDS = ("cat", "dog", "sun", "car", "tree", "house", "stop", "hello")
#: What typographic scenes write. Not colour names: the word "red" in blue ink would teach
#: the small model that "red" is not red (the Stroop effect), and its colours fell from 0.92
#: to 0.56 with them. Shape names stay, for CLIP's habit of reading "circle" as a circle.
WORDS = (*SHAPES, *OTHER_WORDS)
#: Words that name a thing (all but "stop" and "hello"), so that "a {word}" is a caption
#: for the word alone.
_THINGS = frozenset(WORDS) - {"stop", "hello"}

#: Training draws scene seeds below this; held-out evaluation draws from here up.
HELD_OUT_SEED = 1_000_000_000
#: Shares of `generate_scene`'s output; the rest are single-object scenes.
WORD_SHARE = 0.2
TWO_OBJECT_SHARE = 0.3
#: How often `counterpart` changes each attribute of an object. Shapes most: colour alone
#: tells most scenes apart, so without such pairs a small model never learns shapes.
_COUNTERPART_WEIGHTS = {"shape": 4, "colour": 2, "size": 1, "position": 1}

# Geometry in pixels of a 64-px image. The radius ranges of "small" and "large" never meet,
# so the size word is always true of the pixels.
_RADIUS = {"small": (5.0, 8.0), "large": (12.0, 15.0)}
#: A close-up's large object, up to about 0.8 of half the short side: a shape that fills a
#: photo. Run FE, never shown a shape beyond 15 px, read large stars (radius 0.5-0.7 of half
#: the short side) as triangles or squares three times in four (models README).
_CLOSE_UP_RADIUS = (15.0, 25.0)
#: How far a unit outline reaches from its centre (a square's corner: 0.85 * sqrt 2).
_OUTLINE_REACH = 1.21
_CENTRE = {
    "left": (18, 32),
    "right": (46, 32),
    "top": (32, 18),
    "bottom": (32, 46),
    "center": (32, 32),
}
_POSITION_PHRASE = {
    "left": "on the left",
    "right": "on the right",
    "top": "at the top",
    "bottom": "at the bottom",
    "center": "in the center",
}
#: Two objects sit on opposite sides so that neither hides the other.
_OPPOSITE_PAIRS = (("left", "right"), ("top", "bottom"))
_POSITION_JITTER = 2
_SHADE_JITTER = 12
#: What each colour name covers as people use it, in (hue degrees, saturation, value)
#: ranges: a `Scene.wide_shades` scene draws its colours from these, so that the model
#: learns "orange" for the many oranges photos hold, not one RGB value and its neighbours
#: (with the fixed shades alone, FM read CSS orange, 255 165 0, as yellow: models README).
#: Neighbouring names keep a gap of hue between them (orange ends at 40, yellow starts at
#: 48), so that no shade is drawn for two names.
WIDE_SHADES: dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]] = {
    "red": ((-8.0, 6.0), (0.75, 1.0), (0.6, 1.0)),
    "orange": ((22.0, 40.0), (0.8, 1.0), (0.85, 1.0)),
    "yellow": ((48.0, 60.0), (0.75, 1.0), (0.85, 1.0)),
    "green": ((95.0, 145.0), (0.55, 1.0), (0.45, 0.85)),
    "blue": ((205.0, 240.0), (0.65, 1.0), (0.6, 1.0)),
    "purple": ((270.0, 295.0), (0.6, 1.0), (0.45, 0.8)),
    "black": ((0.0, 360.0), (0.0, 0.3), (0.0, 0.18)),
    "white": ((0.0, 360.0), (0.0, 0.06), (0.92, 1.0)),
}
_NOISE_STD = 28.0
#: Shapes are drawn this many times larger and downsampled, for smooth edges.
_SUPERSAMPLE = 4
#: Colours closer than this (RGB distance) make a shape or word hard to see: yellow/orange,
#: red/orange, blue/purple.
_MIN_CONTRAST = 125.0
_FONT_SIZES = range(15, 25)
_MAX_TEXT_WIDTH = 60
_TEXT_JITTER_Y = 10
#: How strongly a busy background's lines and blobs cover its colour.
_BUSY_OPACITY = 0.35


@dataclass(frozen=True)
class SceneObject:
    colour: str
    shape: str
    size: str
    position: str

    @property
    def noun_phrase(self) -> str:
        return f"{self.size} {self.colour} {self.shape}"


@dataclass(frozen=True)
class Background:
    kind: str
    colour: str

    @property
    def noun_phrase(self) -> str:
        if self.kind == "gradient":
            return f"a {self.colour} gradient background"
        if self.kind == "noise":
            return f"a noisy {self.colour} background"
        if self.kind == BUSY:
            return f"a busy {self.colour} background"
        if self.kind == SCENERY:
            # No colour: a photo behind a shape holds many. "A busy scene" is what a
            # cluttered scene alone is called, so the shape is what tells the two apart.
            return "a busy scene"
        return f"a {self.colour} background"


@dataclass(frozen=True)
class RenderedWord:
    text: str
    colour: str


@dataclass(frozen=True)
class Scene:
    """What a generated image shows; `render_seed` fixes the pixel-level variation
    (shades, jitter, noise, font size, tilt) so that `render()` is repeatable."""

    objects: tuple[SceneObject, ...]
    background: Background
    word: RenderedWord | None = None
    render_seed: int = 0
    #: (width, height) in pixels; the short side is IMAGE_SIZE, so on a wider canvas the
    #: background goes on and positions keep their meaning ("on the left" of the whole).
    canvas: tuple[int, int] = (IMAGE_SIZE, IMAGE_SIZE)
    #: Shapes turned by a random angle (a tilted square is a diamond, still a square).
    tilted: bool = False
    #: Large objects drawn larger, up to most of the frame (`_CLOSE_UP_RADIUS`), their
    #: centres pulled in just enough to keep them whole. Small ones stay small.
    close_up: bool = False
    #: Many random blobs and lines and no object: a stand-in for a photo of no shape.
    clutter: bool = False
    #: Colours drawn from the whole range of their names (`WIDE_SHADES`) instead of near
    #: one shade (`COLOURS`).
    wide_shades: bool = False

    def render(self) -> Image.Image:
        rng = np.random.default_rng(self.render_seed)
        shade = _wide_shade if self.wide_shades else _shade
        pixels = _background_pixels(self.background, self.canvas, rng, shade)
        if self.clutter and self.background.kind != SCENERY:  # scenery is clutter enough
            _paint_clutter(pixels, rng, items=int(rng.integers(12, 30)), opacity=1.0)
        for obj in self.objects:
            angle = rng.uniform(0.0, 2.0 * math.pi) if self.tilted else 0.0
            mask = _shape_mask(obj, self.canvas, angle, rng, self.close_up)
            _paint(pixels, mask, shade(obj.colour, rng))
        if self.word is not None:
            mask = _word_mask(self.word.text, self.canvas, rng)
            _paint(pixels, mask, shade(self.word.colour, rng))
        return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")

    def captions(self) -> list[str]:
        """English phrasings, most complete first: captions()[0] names everything drawn."""
        return [_with_articles(caption) for caption in self._raw_captions()]

    def _raw_captions(self) -> list[str]:
        if self.clutter:
            return list(CLUTTER_CAPTIONS)
        shape_captions = _object_captions(self.objects, self.background)
        if self.word is None:
            return shape_captions
        word_captions = _word_captions(self.word, self.background)
        if not self.objects:
            return word_captions
        written = f"with the word '{self.word.text}' written in {self.word.colour}"
        return [f"{caption} {written}" for caption in shape_captions[:3]] + word_captions[1:]

    @property
    def description(self) -> str:
        return self.captions()[0]


# --- Making scenes --------------------------------------------------------------------------


def generate_scene(seed_or_rng: int | random.Random, word_share: float = WORD_SHARE) -> Scene:
    """A random scene: a word (word_share), two objects (TWO_OBJECT_SHARE) or one object."""
    rng = _as_rng(seed_or_rng)
    roll = rng.random()
    if roll < word_share:
        return random_word_scene(rng)
    return random_object_scene(rng, n_objects=2 if roll < word_share + TWO_OBJECT_SHARE else 1)


def scene_series(n: int, seed: int, word_share: float = WORD_SHARE) -> list[Scene]:
    """The n scenes that `seed` stands for; two different seeds give independent series.
    Training asks for more words (`word_share`) than a folder of test photos holds."""
    rng = random.Random(seed)
    return [generate_scene(rng, word_share) for _ in range(n)]


def random_object_scene(
    seed_or_rng: int | random.Random,
    n_objects: int = 1,
    colour: str | None = None,
    shape: str | None = None,
) -> Scene:
    """One or two random objects; `colour`/`shape` fix the first object's (for classifiers)."""
    rng = _as_rng(seed_or_rng)
    positions = _random_positions(rng, n_objects)
    first = _random_object(rng, positions[0], colour, shape)
    objects = [first]
    while len(objects) < n_objects:
        other = _random_object(rng, positions[len(objects)])
        if (other.colour, other.shape) != (first.colour, first.shape):
            objects.append(other)
    background = _random_background(rng, [obj.colour for obj in objects], BACKGROUND_KINDS)
    return Scene(tuple(objects), background, render_seed=rng.getrandbits(32))


def random_word_scene(seed_or_rng: int | random.Random, word: str | None = None) -> Scene:
    rng = _as_rng(seed_or_rng)
    rendered = RenderedWord(word or rng.choice(WORDS), rng.choice(list(COLOURS)))
    # No noisy backgrounds (small letters on noise are barely legible at 64 px), and plain
    # ones twice as often as gradients: reading is the model's slowest skill to learn.
    background = _random_background(rng, [rendered.colour], ("plain", "gradient"), plain_weight=2.0)
    return Scene((), background, rendered, render_seed=rng.getrandbits(32))


def clutter_scene(seed_or_rng: int | random.Random) -> Scene:
    """Many blobs and lines in random colours over a random background: no shape, colour
    or word that a caption could name."""
    rng = _as_rng(seed_or_rng)
    background = _random_background(rng, [], BACKGROUND_KINDS)
    return Scene((), background, render_seed=rng.getrandbits(32), clutter=True)


def canvas_of(aspect: tuple[int, int]) -> tuple[int, int]:
    """(width, height) of a canvas of `aspect` (width:height) whose short side is IMAGE_SIZE."""
    width, height = aspect
    scale = IMAGE_SIZE / min(width, height)
    return round(width * scale), round(height * scale)


def single_object_scene(
    colour: str,
    shape: str,
    size: str = "large",
    position: str = "center",
    background: Background | None = None,
    render_seed: int = 0,
) -> Scene:
    """Exactly this object, on a plain white background (black for a white object)."""
    background = background or _plain_contrasting(colour)
    _check_visible(colour, background)
    return Scene((SceneObject(colour, shape, size, position),), background, None, render_seed)


def word_scene(
    word: str,
    colour: str = "black",
    background: Background | None = None,
    render_seed: int = 0,
) -> Scene:
    """Only the word, written in `colour`: an image whose sole content is text."""
    background = background or _plain_contrasting(colour)
    _check_visible(colour, background)
    return Scene((), background, RenderedWord(word, colour), render_seed)


def write_scene_folder(folder: Path, n: int, seed: int = 0, suffix: str = ".jpg") -> list[Path]:
    """Write `scene_series(n, seed)` as scene-0000.jpg, ... (or .png) and return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, scene in enumerate(scene_series(n, seed)):
        path = folder / f"scene-{index:04d}{suffix}"
        scene.render().save(path, quality=95)  # PNG ignores the JPEG quality
        paths.append(path)
    return paths


def counterpart(scene: Scene, seed_or_rng: int | random.Random) -> Scene:
    """The same scene, down to its pixel jitter, with exactly one thing changed: one object's
    shape, colour, size or position, or the written word. Side by side in a training batch,
    the two can be told apart only by that one thing, so every attribute has to be learned."""
    rng = _as_rng(seed_or_rng)
    if scene.word is not None:
        other_words = [word for word in WORDS if word != scene.word.text]
        return replace(scene, word=replace(scene.word, text=rng.choice(other_words)))
    index = rng.randrange(len(scene.objects))
    attribute = rng.choices(list(_COUNTERPART_WEIGHTS), list(_COUNTERPART_WEIGHTS.values()))[0]
    if attribute == "position" and len(scene.objects) == 2:
        first, second = scene.objects
        swapped = (
            replace(first, position=second.position),
            replace(second, position=first.position),
        )
        return replace(scene, objects=swapped)
    value = rng.choice(_alternatives(scene, index, attribute))
    return _with_object(scene, index, **{attribute: value})


def siblings(scene: Scene, attribute: str, n: int, seed_or_rng: int | random.Random) -> list[Scene]:
    """Up to n scenes, `scene` first, that differ from one another only in `attribute`
    ("shape", "colour", "size" or "position") of one object, or in the written word. A shape
    quartet can be told apart by nothing but shape: the hardest negatives for that word."""
    rng = _as_rng(seed_or_rng)
    if scene.word is not None:
        words = rng.sample([word for word in WORDS if word != scene.word.text], n - 1)
        return [scene] + [replace(scene, word=replace(scene.word, text=w)) for w in words]
    index = rng.randrange(len(scene.objects))
    values = _alternatives(scene, index, attribute)
    chosen = rng.sample(values, min(n - 1, len(values)))
    return [scene] + [_with_object(scene, index, **{attribute: value}) for value in chosen]


def figure_ground_swap(scene: Scene) -> Scene | None:
    """A one-object scene with the object's and the background's colours swapped ("a white
    circle on a black background" and "a black circle on a white background"): told apart
    only by which colour is the object's. None for words and two objects."""
    textured = scene.background.kind in (BUSY, SCENERY)
    if scene.word is not None or len(scene.objects) != 1 or textured:
        return None
    (obj,) = scene.objects
    background = replace(scene.background, colour=obj.colour)
    return replace(
        scene, objects=(replace(obj, colour=scene.background.colour),), background=background
    )


def _with_object(scene: Scene, index: int, **changes: str) -> Scene:
    objects = list(scene.objects)
    objects[index] = replace(objects[index], **changes)
    return replace(scene, objects=tuple(objects))


def _alternatives(scene: Scene, index: int, attribute: str) -> list[str]:
    """Values that change the object yet keep it visible and distinct from its neighbour."""
    current = scene.objects[index]
    neighbours = {(o.colour, o.shape) for i, o in enumerate(scene.objects) if i != index}
    choices = {"shape": SHAPES, "colour": tuple(COLOURS), "size": SIZES, "position": POSITIONS}
    alternatives = []
    for value in choices[attribute]:
        changed = replace(current, **{attribute: value})
        if (
            value != getattr(current, attribute)
            and _contrasts(changed.colour, scene.background.colour)
            and (changed.colour, changed.shape) not in neighbours
        ):
            alternatives.append(value)
    return alternatives


def _as_rng(seed_or_rng: int | random.Random) -> random.Random:
    return seed_or_rng if isinstance(seed_or_rng, random.Random) else random.Random(seed_or_rng)


def _random_positions(rng: random.Random, n_objects: int) -> list[str]:
    if n_objects == 1:
        return [rng.choice(POSITIONS)]
    if n_objects == 2:
        return rng.sample(rng.choice(_OPPOSITE_PAIRS), 2)
    raise ValueError(f"A scene holds one or two objects, not {n_objects}.")


def _random_object(
    rng: random.Random, position: str, colour: str | None = None, shape: str | None = None
) -> SceneObject:
    return SceneObject(
        colour or rng.choice(list(COLOURS)),
        shape or rng.choice(SHAPES),
        rng.choice(SIZES),
        position,
    )


def _random_background(
    rng: random.Random,
    foreground: Iterable[str],
    kinds: tuple[str, ...],
    plain_weight: float = 1.0,
) -> Background:
    colours = [name for name in COLOURS if all(_contrasts(name, other) for other in foreground)]
    kind = rng.choices(kinds, [plain_weight if k == "plain" else 1.0 for k in kinds])[0]
    return Background(kind, rng.choice(colours))


def _plain_contrasting(colour: str) -> Background:
    return Background("plain", "black" if colour == "white" else "white")


def _check_visible(colour: str, background: Background) -> None:
    if not _contrasts(colour, background.colour):
        raise ValueError(f"{colour} on a {background.colour} background would be invisible.")


def _contrasts(first: str, second: str) -> bool:
    distance = math.dist(COLOURS[first], COLOURS[second])
    return distance >= _MIN_CONTRAST


# --- Captions -------------------------------------------------------------------------------


def _object_captions(objects: tuple[SceneObject, ...], background: Background) -> list[str]:
    if len(objects) == 1:
        return _one_object_captions(objects[0], background.noun_phrase)
    if len(objects) == 2:
        return _two_object_captions(objects[0], objects[1], background.noun_phrase)
    return [background.noun_phrase]


def _one_object_captions(obj: SceneObject, background: str) -> list[str]:
    where = _POSITION_PHRASE[obj.position]
    return [
        f"a {obj.noun_phrase} {where} of {background}",
        f"a {obj.noun_phrase} on {background}",
        f"a {obj.noun_phrase} {where}",
        f"{background} with a {obj.colour} {obj.shape} {where}",
        f"a {obj.colour} {obj.shape}",
        f"a photo of a {obj.colour} {obj.shape}",
        f"a {obj.size} {obj.shape}",
        f"a {obj.shape}",
        f"a {obj.colour} shape",
        f"something {obj.colour}",
    ]


def _two_object_captions(first: SceneObject, second: SceneObject, background: str) -> list[str]:
    where_first, where_second = _POSITION_PHRASE[first.position], _POSITION_PHRASE[second.position]
    one, other = f"{first.colour} {first.shape}", f"{second.colour} {second.shape}"
    same_shape = first.shape == second.shape
    shapes = f"two {first.shape}s" if same_shape else f"a {first.shape} and a {second.shape}"
    return [
        f"{background} with a {first.noun_phrase} {where_first} "
        f"and a {second.noun_phrase} {where_second}",
        f"a {first.noun_phrase} and a {second.noun_phrase} on {background}",
        f"a {one} {where_first} and a {other} {where_second}",
        f"a {one} and a {other}",
        f"a {other} and a {one}",
        f"a photo of a {one} and a {other}",
        f"{shapes} on {background}",
        shapes,
        # Each object alone is still a true caption: "a circle" fits a circle beside a square.
        *(
            f"a {obj.colour} {obj.shape} {_POSITION_PHRASE[obj.position]}"
            for obj in (first, second)
        ),
        *dict.fromkeys(f"a {obj.shape}" for obj in (first, second)),  # "a star" once
    ]


def _with_articles(caption: str) -> str:
    """'a orange circle' -> 'an orange circle'."""
    return re.sub(r"\ba (?=[aeiou])", "an ", caption)


def _word_captions(word: RenderedWord, background: Background) -> list[str]:
    text, colour = word.text, word.colour
    return [
        f"the word '{text}' written in {colour} on {background.noun_phrase}",
        f"the word '{text}'",
        f"the word {text}",
        f"the text '{text}'",
        f"a sign that says {text}",
        f"{text} written in {colour} letters",
        f"{colour} text reading '{text}'",
        f"a picture of the word {text}",
        text,
        # As on the web, where a sign's text is taken for the thing it names: the habit
        # that makes CLIP match the word "circle" with "a circle" (a typographic attack).
        *([f"a {text}", f"a photo of a {text}"] if text in _THINGS else []),
    ]


# --- Pixels ---------------------------------------------------------------------------------


def _shade(colour: str, rng: np.random.Generator) -> np.ndarray:
    """The named colour, varied a little so the model learns names, not exact RGB values."""
    jitter = rng.integers(-_SHADE_JITTER, _SHADE_JITTER + 1, size=3)
    return np.clip(np.array(COLOURS[colour], dtype=np.float32) + jitter, 0, 255)


def _wide_shade(colour: str, rng: np.random.Generator) -> np.ndarray:
    """Any shade the colour's name covers (`WIDE_SHADES`), uniform in hue, saturation
    and value."""
    hue, saturation, value = (rng.uniform(low, high) for low, high in WIDE_SHADES[colour])
    rgb = colorsys.hsv_to_rgb((hue % 360.0) / 360.0, saturation, value)
    return np.array(rgb, dtype=np.float32) * 255.0


def _background_pixels(
    background: Background,
    canvas: tuple[int, int],
    rng: np.random.Generator,
    shade: Callable[[str, np.random.Generator], np.ndarray],
) -> np.ndarray:
    width, height = canvas
    base = np.broadcast_to(shade(background.colour, rng), (height, width, 3))
    if background.kind == "gradient":
        return _gradient(base, rng)
    if background.kind == "noise":
        return base + rng.normal(0.0, _NOISE_STD, size=base.shape).astype(np.float32)
    pixels = base.copy()
    if background.kind == SCENERY:
        return _scenery(pixels, rng)
    if background.kind == BUSY:
        # Faint, so that the colour word still names the background and shapes stand out.
        _paint_clutter(pixels, rng, items=int(rng.integers(4, 10)), opacity=_BUSY_OPACITY)
    return pixels


def _gradient(base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fade from the colour 40% of the way to black or white (whichever is farther), along a
    random axis and direction, so that the colour word still names the background."""
    target = 0.0 if base.mean() > 127 else 255.0
    reverse, vertical = rng.random() < 0.5, rng.random() < 0.5
    ramp = np.linspace(0.0, 0.4, base.shape[0 if vertical else 1], dtype=np.float32)
    ramp = ramp[::-1] if reverse else ramp
    weights = ramp[:, None, None] if vertical else ramp[None, :, None]
    return base * (1.0 - weights) + target * weights


def _scenery(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A stand-in for a real photo behind a shape, at full contrast: an upper and a lower
    tone split at a random horizon (sky and ground, wall and floor), blotchy texture, opaque
    blobs and lines, all in the muted tones of photos and a little soft. Held-out tagging
    found shapes on real photos read as another shape (21 of 32 with run E) while training
    had shown only faint textures behind shapes."""
    height, width = pixels.shape[:2]
    horizon = int(rng.integers(height // 4, 3 * height // 4 + 1))
    pixels[:horizon] = _muted_tone(rng)
    pixels[horizon:] = _muted_tone(rng)
    pixels += _smooth_noise(rng, width, height, std=25.0)
    _paint_items(pixels, rng, int(rng.integers(3, 9)), opacity=1.0, tone=_muted_tone)
    soft = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    return np.asarray(soft.filter(ImageFilter.GaussianBlur(0.6)), dtype=np.float32).copy()


def _muted_tone(rng: np.random.Generator) -> np.ndarray:
    """A colour as photos mostly hold them: a grey level with a moderate tint."""
    grey = rng.uniform(20.0, 235.0)
    return np.clip(grey + rng.normal(0.0, 30.0, size=3), 0.0, 255.0).astype(np.float32)


def _paint_clutter(
    pixels: np.ndarray, rng: np.random.Generator, items: int, opacity: float
) -> None:
    """Smooth colour texture, then `items` ellipses, random polygons and thick lines in
    random colours, overlapping: a busy picture with no single shape in it."""
    height, width = pixels.shape[:2]
    pixels += _smooth_noise(rng, width, height, std=40.0 * opacity)
    _paint_items(pixels, rng, items, opacity, tone=_any_colour)


def _paint_items(
    pixels: np.ndarray,
    rng: np.random.Generator,
    items: int,
    opacity: float,
    tone: Callable[[np.random.Generator], np.ndarray],
) -> None:
    """`items` clutter items (`_draw_clutter_item`), each in a colour drawn by `tone`."""
    height, width = pixels.shape[:2]
    for _ in range(items):
        mask = Image.new("L", (width, height), 0)
        _draw_clutter_item(ImageDraw.Draw(mask), rng, width, height)
        _paint(pixels, _coverage(mask) * opacity, tone(rng))


def _any_colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0.0, 255.0, size=3).astype(np.float32)


def _smooth_noise(rng: np.random.Generator, width: int, height: int, std: float) -> np.ndarray:
    """Colour noise that varies over about 8 pixels: the blotches of a real photo's texture."""
    coarse = rng.normal(0.0, std, size=(3, height // 8 + 2, width // 8 + 2)).astype(np.float32)
    channels = [
        np.asarray(Image.fromarray(channel, "F").resize((width, height), Image.Resampling.BILINEAR))
        for channel in coarse
    ]
    return np.stack(channels, axis=-1)


def _draw_clutter_item(
    draw: ImageDraw.ImageDraw, rng: np.random.Generator, width: int, height: int
) -> None:
    x, y = float(rng.uniform(0, width)), float(rng.uniform(0, height))
    size = float(rng.uniform(3.0, 0.3 * min(width, height)))
    kind = int(rng.integers(3))
    if kind == 0:  # an ellipse, never round enough to pass for a circle
        ratio = float(rng.uniform(0.25, 0.6))
        draw.ellipse((x - size, y - size * ratio, x + size, y + size * ratio), fill=255)
    elif kind == 1:  # an irregular blob of 5 to 8 corners
        corners = int(rng.integers(5, 9))
        angles = np.sort(rng.uniform(0.0, 2.0 * math.pi, corners))
        radii = size * rng.uniform(0.3, 1.0, corners)
        draw.polygon(
            [
                (x + r * math.cos(a), y + r * math.sin(a))
                for a, r in zip(angles, radii, strict=True)
            ],
            fill=255,
        )
    else:  # a line, like a branch or a wire
        end = (x + float(rng.uniform(-2, 2)) * size, y + float(rng.uniform(-2, 2)) * size)
        draw.line([(x, y), end], fill=255, width=int(rng.integers(1, 4)))


def _paint(pixels: np.ndarray, mask: np.ndarray, colour: np.ndarray) -> None:
    pixels *= 1.0 - mask[..., None]
    pixels += mask[..., None] * colour


def _shape_mask(
    obj: SceneObject,
    canvas: tuple[int, int],
    angle: float,
    rng: np.random.Generator,
    close_up: bool = False,
) -> np.ndarray:
    """Coverage in [0, 1] per pixel, drawn large and downsampled for anti-aliased edges."""
    width, height = canvas
    centre = np.array(_CENTRE[obj.position], dtype=np.float64) / IMAGE_SIZE * canvas
    centre += rng.integers(-_POSITION_JITTER, _POSITION_JITTER + 1, size=2)
    close = close_up and obj.size == "large"
    radius = rng.uniform(*(_CLOSE_UP_RADIUS if close else _RADIUS[obj.size]))
    centre += _spread_along_long_side(obj.position, canvas, rng)
    if close:
        reach = radius * _OUTLINE_REACH + 1.0  # and a pixel for the anti-aliased edge
        centre = np.clip(centre, reach, np.array(canvas, dtype=np.float64) - reach)
    turn = np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
    points = (_UNIT_OUTLINES[obj.shape] @ turn * radius + centre) * _SUPERSAMPLE
    large = Image.new("L", (width * _SUPERSAMPLE, height * _SUPERSAMPLE), 0)
    ImageDraw.Draw(large).polygon([(float(x), float(y)) for x, y in points], fill=255)
    return _coverage(large.resize((width, height), Image.Resampling.BOX))


def _spread_along_long_side(
    position: str, canvas: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    """On a long canvas, an object at that side's end moves up to a quarter of the extra
    length either way: still on its side (the words stay true), sometimes near the edge."""
    width, height = canvas
    along_x = width > height and position in ("left", "right")
    along_y = height > width and position in ("top", "bottom")
    if not (along_x or along_y):
        return np.zeros(2)
    extra = (max(canvas) - min(canvas)) / 4
    shift = rng.uniform(-extra, extra)
    return np.array([shift, 0.0]) if along_x else np.array([0.0, shift])


def _unit_outline(shape: str) -> np.ndarray:
    """The shape's polygon around (0, 0), pointing up, with radius about 1. Squares and
    triangles are scaled so that all shapes of one size look about equally big."""
    if shape == "square":
        return np.array([(-0.85, -0.85), (0.85, -0.85), (0.85, 0.85), (-0.85, 0.85)])
    corners = {"circle": 64, "triangle": 3, "star": 10}[shape]
    angles = np.linspace(0.0, 2.0 * math.pi, corners, endpoint=False) - math.pi / 2
    radii = {"circle": 1.0, "triangle": 1.15, "star": 1.15}[shape] * np.ones(corners)
    if shape == "star":
        radii[1::2] = 0.48  # the inner corners between the five points
    return np.stack([np.cos(angles) * radii, np.sin(angles) * radii], axis=1)


_UNIT_OUTLINES = {shape: _unit_outline(shape) for shape in SHAPES}


def _word_mask(text: str, canvas: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """The word centred with some jitter, at a random font size that still fits the width."""
    width, height = canvas
    font = _fitting_font(text, int(rng.choice(_FONT_SIZES)))
    left, top, right, bottom = font.getbbox(text)
    slack_x = max(0.0, (_MAX_TEXT_WIDTH - (right - left)) / 2)
    x = (width - (right - left)) / 2 - left + rng.uniform(-slack_x, slack_x)
    y = (height - (bottom - top)) / 2 - top + rng.uniform(-_TEXT_JITTER_Y, _TEXT_JITTER_Y)
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).text((x, y), text, fill=255, font=font)
    return _coverage(mask)


def _fitting_font(text: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    while size > _FONT_SIZES.start and _font(size).getlength(text) > _MAX_TEXT_WIDTH:
        size -= 1
    return _font(size)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow >= 10.1 ships a scalable default font: no dependence on system fonts.
    return ImageFont.load_default(size=size)


def _coverage(mask: Image.Image) -> np.ndarray:
    return np.asarray(mask, dtype=np.float32) / 255.0
