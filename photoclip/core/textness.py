"""Textness: the direction in a model's embedding space along which "has text in it" grows.

CLIP reads: a photo of a T-shirt that says CAT can beat a real cat for the query "cat".
Following the PicCollage write-up on CLIP, we learn that direction per model and add
`scale * direction` to a text query before searching (scale -2 ignores text written in
photos, +2 favours it); steering the query worked much better for them than steering every
image vector, and it costs nothing at search time.

The direction comes from images generated here: pairs on one background (plain, gradient,
smooth noise, random shapes), one with rendered words (Pillow's own scalable font and any of
a few common system fonts, at various sizes, colours and places), the other with the same
words' ink blurred into smudges: the same colour, place and amount of ink, only not legible.
The two differ only in being text, so that is what a linear classifier (logistic
regression, no hidden layer) learns to separate; its weight vector, normalised, is the
direction. A few hundred small images: seconds on a CPU for the small models.

Why smudges. Bare backgrounds as the other half taught "something is drawn here" instead,
which pointed photos of circles further along the direction than images of the word
"circle". Marks of the words' size (ellipses, boxes, polygons: recipe 1) fixed that until a
model knew shapes: test-shapes retrained on tilted shapes (models README, run E) reads an
ellipse as a circle, so the classifier learned "circle-like = not text", and the images of
the word "circle", which that model also reads as a circle, stopped moving at all (on 12
generated folders, word images left in the top 12 at -2 or missing at +2: 114 with marks,
17 with smudges; 10 and 15 with the earlier weights). A smudge means nothing to any model.

The catalog caches one direction per model key (and recipe version), so a new model gets a
new direction; `ensure_direction` learns and stores it when it is missing.
"""

from __future__ import annotations

import random
import string
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageStat

from photoclip.core.catalog import Catalog
from photoclip.core.errors import QueryError
from photoclip.core.query import MAX_SCALE as MAX_SCALE
from photoclip.core.query import check_scale as check_scale

#: Bump when the training images or the classifier change: cached directions are relearned.
#: (2: smudges instead of marks as the images without text; 480 small pairs; L2 0.001.)
RECIPE = 2
#: Pairs to learn from. A 64-px model like test-shapes needs many and embeds 480 pairs in
#: about 2 s; with 160 the direction depended more on the seed (over 3 seeds and 12 folders,
#: the worst seed left 11 word images misplaced with 160 pairs, 8 with 480). A 224-px
#: ViT-B/32 embeds ~3-10 images a second on two busy CPU cores, so large inputs get fewer
#: pairs (~15-40 s). (Real weights cannot be downloaded here: 64 pairs is unmeasured there.)
SMALL_INPUT_PAIRS = 480
LARGE_INPUT_PAIRS = 64
SMALL_INPUT = 96
#: Weight decay of the classifier. With smudges, 0.001 steers more reliably than 0.01 (12
#: generated folders x 3 seeds, word images misplaced at -2 or +2: 15 against 51 with the
#: earlier test-shapes weights, 17 against 26 with run E's); with recipe 1's marks it was
#: the other way round.
L2 = 0.001
#: Images embedded per forward pass while learning (bounds memory).
BATCH = 32
#: progress(done, total): training images embedded so far
Progress = Callable[[int, int], None]
#: Share of the pairs kept out of training to measure the classifier.
HELD_OUT_SHARE = 0.25

#: Words of signs and labels. None names a shape or colour: the direction must not learn
#: the words a test searches for.
_WORDS = (
    "cat", "dog", "sale", "open", "stop", "exit", "love", "home", "coffee", "beach", "summer",
    "hello", "welcome", "happy", "birthday", "park", "street", "hotel", "menu", "free", "city",
    "music", "party", "news", "cafe", "book", "sun", "tree", "car", "bus", "the", "and", "you",
    "hot", "new", "best",
)  # fmt: skip
#: Common fonts of Linux, macOS and Windows; any found add variety to Pillow's own.
_SYSTEM_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Oblique.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/System/Library/Fonts/Supplemental/Times New Roman.ttf",
    "C:/Windows/Fonts/arial.ttf",
    "C:/Windows/Fonts/times.ttf",
    "C:/Windows/Fonts/cour.ttf",
)


class ImageEncoder(Protocol):
    """What learning needs of an `Encoder` (tests may pass a fake)."""

    @property
    def model_key(self) -> str: ...

    input_size: tuple[int, int]

    def encode_pil(self, images: Sequence[Image.Image]) -> np.ndarray: ...


@dataclass(frozen=True)
class TextnessDirection:
    model_key: str
    #: unit vector: embeddings of images with text lie further along it
    vector: np.ndarray
    #: the classifier's accuracy on held-out pairs (0..1)
    accuracy: float
    #: images it was trained on
    samples: int
    recipe: int = RECIPE


# -- steering a query --------------------------------------------------------------------------


def steer(query: np.ndarray, direction: np.ndarray, scale: float) -> np.ndarray:
    """The query moved `scale` along the direction, made a unit vector again."""
    moved = np.asarray(query, dtype=np.float32) + np.float32(check_scale(scale)) * direction
    norm = float(np.linalg.norm(moved))
    if norm < 1e-6:
        raise QueryError("This textness cancels the query out; move the slider a little.")
    return moved / norm


# -- the cache in the catalog ------------------------------------------------------------------


def load_direction(catalog: Catalog, model_key: str) -> TextnessDirection | None:
    rows = catalog.read(
        "SELECT vector, accuracy, samples FROM textness_directions "
        "WHERE model_key = ? AND recipe = ?",
        (model_key, RECIPE),
    )
    if not rows:
        return None
    vector = np.frombuffer(rows[0][0], dtype=np.float32).copy()
    return TextnessDirection(model_key, vector, float(rows[0][1]), int(rows[0][2]))


def save_direction(catalog: Catalog, direction: TextnessDirection) -> None:
    """Store it for its model (which must be registered in the catalog)."""
    with catalog.transaction() as db:
        db.execute(
            "INSERT OR REPLACE INTO textness_directions VALUES (?, ?, ?, ?, ?, ?)",
            (
                direction.model_key,
                direction.recipe,
                direction.vector.astype(np.float32).tobytes(),
                direction.accuracy,
                direction.samples,
                time.time(),
            ),
        )


def ensure_direction(
    catalog: Catalog, encoder: ImageEncoder, progress: Progress | None = None
) -> TextnessDirection:
    """The cached direction of the encoder's model, learned and stored when missing
    (`progress(done, total)`: training images embedded)."""
    found = load_direction(catalog, encoder.model_key)
    if found is None:
        found = learn_direction(encoder, progress=progress)
        save_direction(catalog, found)
    return found


# -- learning ----------------------------------------------------------------------------------


def learn_direction(
    encoder: ImageEncoder,
    pairs: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> TextnessDirection:
    """Embed generated pairs, fit the classifier on most of them, measure it on the rest."""
    side = max(64, max(encoder.input_size))
    if pairs is None:
        pairs = SMALL_INPUT_PAIRS if side <= SMALL_INPUT else LARGE_INPUT_PAIRS
    plain, written = training_pairs(pairs, seed, side)
    images = plain + written
    chunks = []
    for start in range(0, len(images), BATCH):
        chunks.append(encoder.encode_pil(images[start : start + BATCH]))
        if progress is not None:
            progress(min(start + BATCH, len(images)), len(images))
    features = np.concatenate(chunks).astype(np.float64)
    labels = np.repeat([0.0, 1.0], pairs)
    held_out = _held_out_mask(pairs, seed)
    train = ~np.concatenate([held_out, held_out])
    weights, bias = fit_logistic(features[train], labels[train], l2=L2)
    predicted = (features[~train] @ weights + bias) > 0
    accuracy = float(np.mean(predicted == labels[~train].astype(bool)))
    vector = (weights / np.linalg.norm(weights)).astype(np.float32)
    return TextnessDirection(encoder.model_key, vector, accuracy, int(train.sum()))


def fit_logistic(
    features: np.ndarray, labels: np.ndarray, l2: float = 1e-3, steps: int = 2000
) -> tuple[np.ndarray, float]:
    """Binary logistic regression by full-batch gradient descent: (weights, bias) in the
    features' own space. Centring and one global scale speed it up without turning the
    weight vector (a per-feature scale would)."""
    mean = features.mean(axis=0)
    scale = float(np.sqrt(((features - mean) ** 2).sum(axis=1).mean())) or 1.0
    x = (features - mean) / scale
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        error = p - labels
        w -= 0.5 * (x.T @ error / len(x) + l2 * w)
        b -= 0.5 * float(error.mean())
    weights = w / scale
    return weights, float(b - mean @ weights)


def _held_out_mask(pairs: int, seed: int) -> np.ndarray:
    order = np.random.default_rng(seed).permutation(pairs)
    mask = np.zeros(pairs, dtype=bool)
    mask[order[: max(1, round(pairs * HELD_OUT_SHARE))]] = True
    return mask


# -- the training images -----------------------------------------------------------------------


def training_pairs(pairs: int, seed: int, side: int) -> tuple[list[Image.Image], list[Image.Image]]:
    """`pairs` images with smudges that are not text, and the same images with the words
    the smudges were made of. Half are plain signs (one word in Pillow's font on a
    plain or gradient background), half vary everything; small models learn text only from
    the first kind, large ones from both."""
    rng = random.Random(seed)
    smudged, written = [], []
    for number in range(pairs):
        varied = number % 2 == 1
        background = random_background(rng, side, varied)
        with_smudges, with_words = background.copy(), background.copy()
        for _ in range(rng.choice((1, 1, 2, 3)) if varied else 1):
            placed = place_word(background, rng, varied)
            draw_smudge(with_smudges, placed)
            draw_word(with_words, placed)
        smudged.append(with_smudges)
        written.append(with_words)
    return smudged, written


def random_background(rng: random.Random, side: int, varied: bool = True) -> Image.Image:
    kinds = ("plain", "gradient", "noise", "shapes") if varied else ("plain", "gradient")
    kind = rng.choice(kinds)
    if kind == "plain":
        return Image.new("RGB", (side, side), _colour(rng))
    if kind == "gradient":
        return _gradient(rng, side)
    if kind == "noise":
        return _smooth_noise(rng, side)
    return _shapes(rng, _gradient(rng, side))


@dataclass(frozen=True)
class PlacedWord:
    text: str
    font: Any
    #: the text's box in the image: left, top, right, bottom
    box: tuple[float, float, float, float]
    #: where to draw it from (Pillow's text origin sits above and left of the ink)
    origin: tuple[float, float]
    colour: tuple[int, int, int]
    stroke: int


def place_word(image: Image.Image, rng: random.Random, varied: bool) -> PlacedWord:
    """A word, shortened until it fits, at a random place fully inside the image, in a
    colour that stands out from what lies under it."""
    side, word = image.width, _word(rng)
    font = _random_font(rng, side, varied)
    measure = ImageDraw.Draw(image)
    left, top, right, bottom = measure.textbbox((0, 0), word, font=font)
    while right - left > side * 0.95 and len(word) > 2:
        word = word[:-1]
        left, top, right, bottom = measure.textbbox((0, 0), word, font=font)
    x = rng.uniform(0, max(0.0, side - (right - left)))
    y = rng.uniform(0, max(0.0, side - (bottom - top)))
    box = (x, y, x + right - left, y + bottom - top)
    under = ImageStat.Stat(
        image.crop((int(box[0]), int(box[1]), int(box[2]) + 1, int(box[3]) + 1))
    ).mean
    stroke = rng.choice((0, 0, 1)) if varied else 0
    return PlacedWord(word, font, box, (x - left, y - top), _contrasting(rng, under), stroke)


def draw_word(image: Image.Image, placed: PlacedWord) -> None:
    ImageDraw.Draw(image).text(
        placed.origin, placed.text, fill=placed.colour, font=placed.font, stroke_width=placed.stroke
    )


def draw_smudge(image: Image.Image, placed: PlacedWord) -> None:
    """The word's own ink blurred until it cannot be read, with as much ink as the word: its
    colour, place and weight without its letters. A mark of the word's size (an ellipse, a
    box) would mean something to a model that knows shapes; a smudge means nothing."""
    ink = Image.new("L", image.size, 0)
    ImageDraw.Draw(ink).text(
        placed.origin, placed.text, fill=255, font=placed.font, stroke_width=placed.stroke
    )
    height = placed.box[3] - placed.box[1]
    blurred = np.asarray(ink.filter(ImageFilter.GaussianBlur(max(1.5, height / 3))), np.float32)
    total = float(blurred.sum())
    if total > 0:
        blurred *= float(np.asarray(ink, np.float32).sum()) / total
    mask = Image.fromarray(np.clip(blurred, 0, 255).astype(np.uint8))
    image.paste(Image.new("RGB", image.size, placed.colour), (0, 0), mask)


def _random_font(rng: random.Random, side: int, varied: bool) -> Any:
    if not varied:
        return _font(None, round(side * rng.uniform(0.2, 0.3)))
    return _font(rng.choice(_font_files()), rng.randint(side // 8, side // 3))


def _word(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.6:
        word = rng.choice(_WORDS)
    elif roll < 0.85:
        word = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 8)))
    else:
        word = str(rng.randint(1, 9999))
    return word.upper() if rng.random() < 0.3 else word


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def _contrasting(rng: random.Random, under: Sequence[float]) -> tuple[int, int, int]:
    """A random colour far enough from the one under the text to be legible."""
    base = np.array(under[:3], dtype=float)
    for _ in range(50):
        colour = _colour(rng)
        if np.linalg.norm(np.array(colour) - base) > 160:
            return colour
    return (0, 0, 0) if base.mean() > 127 else (255, 255, 255)


def _gradient(rng: random.Random, side: int) -> Image.Image:
    start, end = np.array(_colour(rng), float), np.array(_colour(rng), float)
    ramp = np.linspace(0.0, 1.0, side)[:, None, None]
    ramp = ramp if rng.random() < 0.5 else ramp.transpose(1, 0, 2)
    pixels = start + (end - start) * np.broadcast_to(ramp, (side, side, 1))
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def _smooth_noise(rng: random.Random, side: int) -> Image.Image:
    """Low-resolution colour noise blown up and blurred: blotches like foliage or clouds."""
    cells = rng.randint(3, 10)
    noise = np.random.default_rng(rng.getrandbits(32)).integers(0, 256, (cells, cells, 3))
    small = Image.fromarray(noise.astype(np.uint8), "RGB")
    large = small.resize((side, side), Image.Resampling.BICUBIC)
    return large.filter(ImageFilter.GaussianBlur(side / 32))


def _shapes(rng: random.Random, image: Image.Image) -> Image.Image:
    draw, side = ImageDraw.Draw(image), image.width
    for _ in range(rng.randint(2, 6)):
        x, y = rng.uniform(0, side), rng.uniform(0, side)
        r = rng.uniform(side / 12, side / 3)
        box = (x - r, y - r, x + r, y + r)
        if rng.random() < 0.5:
            draw.ellipse(box, fill=_colour(rng))
        else:
            draw.rectangle(box, fill=_colour(rng))
    return image


@cache
def _font_files() -> tuple[str | None, ...]:
    """None stands for Pillow's own scalable font, always there."""
    return (None, *(path for path in _SYSTEM_FONTS if Path(path).is_file()))


@cache
def _font(path: str | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size)
