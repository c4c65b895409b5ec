"""Tagging on held-out scenes unlike the training generator (tests/heldout.py: other
canvases and shades, tilted shapes, JPEG and PNG), with the test-shapes model: what the
decisions reach, and that corrections stay local and never make things worse. (The same
checks at full size, with real photos, are tests/benchmarks/bench_tag_quality.py.)"""

from __future__ import annotations

import io
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from photoclip.core.categories import Category, Label
from photoclip.core.tagging import ClipTexts, Tagger
from photoclip.core.tagstore import REJECTED
from tests import heldout
from tests.core.tagvectors import catalog_with_vectors

pytestmark = pytest.mark.slow

SEED = 20_261_206
COLOUR = Category("Colour", tuple(Label(c) for c in heldout.CATEGORY_COLOURS))
SHAPE = Category("Shape", tuple(Label(s) for s in heldout.SHAPES))
#: Scenes that get a look-alike: the same picture resized and saved again as JPEG. Enough
#: that one of them gets a wrong colour tag for the rejection test (the better the model,
#: the later the first wrong one: 10th with the weights before run E, 18th with run E's).
LOOK_ALIKES = 32
COLOURS = heldout.CATEGORY_COLOURS


@pytest.fixture(scope="module", params=[heldout.CENTRE, heldout.ANYWHERE])
def library(
    request: pytest.FixtureRequest,
) -> tuple[Any, np.ndarray, list[tuple[str | None, str | None]]]:
    """The encoder, vectors and truths (colour, shape) of 2 scenes of every colour x shape
    (purple included), 8 look-alikes of the first scenes and 8 made-up photos (no shape).
    Shapes lie inside the central square, or anywhere in the frame: the app frames the
    whole photo (profiles.NATIVE), and shapes near a long canvas's end are ones the
    training scenes never had."""
    from photoclip.core.embedding import load_encoder
    from photoclip.core.profiles import resolve_profile

    encoder = load_encoder(resolve_profile("test-shapes"), device="cpu")
    scenes = heldout.scene_set(SEED, per_pair=2, max_side=256, placement=request.param)
    rng = random.Random(SEED)
    images = [s.image for s in scenes] + [_look_alike(s.image) for s in scenes[:LOOK_ALIKES]]
    truth = [(s.colour, s.shape) for s in scenes + scenes[:LOOK_ALIKES]]
    for _ in range(8):
        images.append(heldout.photo_scene(rng, heldout.made_up_photo(rng), 256).image)
        truth.append((None, None))
    return encoder, encoder.encode_pil(images), truth


def _look_alike(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.resize((image.width * 4 // 5, image.height * 4 // 5)).save(buffer, "JPEG", quality=80)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _tagger(folder: Path, encoder: Any, vectors: np.ndarray) -> tuple[Tagger, list[int]]:
    catalog, ids = catalog_with_vectors(folder, vectors, model_key=encoder.model_key)
    tagger = Tagger(catalog, ClipTexts(encoder))
    tagger.store.save_category(COLOUR)
    tagger.store.save_category(SHAPE)
    tagger.retag()
    return tagger, ids


def _labels(tagger: Tagger, ids: list[int], category: str) -> list[str | None]:
    found = {t.photo_id: t.label for t in tagger.store.tags() if t.category == category}
    return [found.get(i) for i in ids]


def _right(label: str | None, colour: str | None) -> bool:
    """A colour tag is right when it names the colour; no tag is right for purple shapes
    and photos (no colour of the category)."""
    return label == (colour if colour in heldout.CATEGORY_COLOURS else None)


def _accuracy(labels: list[str | None], truth: list[tuple[str | None, str | None]]) -> float:
    return float(np.mean([_right(g, t[0]) for g, t in zip(labels, truth, strict=True)]))


def test_decisions_on_held_out_scenes(tmp_path: Path, library: Any) -> None:
    encoder, vectors, truth = library
    tagger, ids = _tagger(tmp_path, encoder, vectors)
    colours, shapes = _labels(tagger, ids, "Colour"), _labels(tagger, ids, "Shape")
    seven = [k for k, (c, _) in enumerate(truth) if c in heldout.CATEGORY_COLOURS]
    tagged = [k for k in seven if colours[k]]
    recall = {c: np.mean([colours[k] == c for k in seven if truth[k][0] == c]) for c in COLOURS}
    purple = [colours[k] is None for k, (c, _) in enumerate(truth) if c == "purple"]
    shaped = [k for k in range(len(ids)) if shapes[k]]
    shape_precision = np.mean([shapes[k] == truth[k][1] for k in shaped])
    photos = [shapes[k] is None for k, (_, s) in enumerate(truth) if s is None]
    # The bars, all met here with the committed weights (run FS, framed natively; models
    # README): coverage 0.99, lowest recall 0.75, purple 1.0, precision 0.93, shape precision
    # 0.94, photos left without a shape 1.0. Shapes anywhere: 0.97, 0.75, 1.0, 0.95, 0.97, 1.0
    # (at seeds 1-3, which the test does not use: precision 0.93, 0.92, 0.88, and 0.92, 0.99,
    # 0.90 inside the central square; sets this small swing by a few points,
    # bench_tag_quality.py --anywhere judges 23 sets of 220 photos). Run FM: 0.99, 0.75, 0.88,
    # 0.93, 0.92, 1.0; anywhere 0.99, 0.75, 0.88, 0.91, 0.96, 1.0 (with "purple" competing as
    # another colour; before it did: 0.98, 0.75, 0.88, 0.94, 0.92, 1.0). Run FE: 0.95, 0.75, 0.62,
    # 0.92, 0.90, 1.0 (models README: FM's runs alone, and other seeds). Run E letterboxed: 1.0,
    # 0.625, 1.0, 0.93, 0.91, 1.0; run E framed natively fails shape precision (0.83). (The
    # weights before run E, trained on upright shapes on square canvases only: 0.86, 0.625,
    # 0.875, 0.87, 0.62, 0.5.)
    assert len(tagged) / len(seven) >= 0.8 and min(recall.values()) >= 0.5
    assert np.mean(purple) >= 0.6
    assert np.mean([colours[k] == truth[k][0] for k in tagged]) >= 0.9
    assert shape_precision >= 0.85
    assert np.mean(photos) >= 0.7


def test_purple_shapes_get_no_colour_because_they_look_like_purple(
    tmp_path: Path, library: Any
) -> None:
    """The colour category lacks purple; the model knows the word, so it competes as part
    of "none of these" (vocabulary.others), and a purple shape left untagged says so."""
    encoder, vectors, truth = library
    tagger, ids = _tagger(tmp_path, encoder, vectors)
    colours = _labels(tagger, ids, "Colour")
    purple = [k for k, (c, _) in enumerate(truth) if c == "purple"]
    said = []
    for k in purple:
        [why] = [e for e in tagger.explain(ids[k]) if e.category == "Colour"]
        top = next(s for s in why.scores if not s.counter)
        said.append(colours[k] is None and "looks more like 'purple'" in top.reason)
    assert np.mean(said) >= 0.6  # measured: 7 of 8 (the eighth reads as green, .54)


def test_photos_without_a_shape_are_none_of_these_and_say_so(tmp_path: Path, library: Any) -> None:
    """The background prompts ("a photo"...) compete in the single-choice shape category:
    a photo with no shape in it gets no shape because "none of these" is more likely, and
    its explanation says so in words."""
    encoder, vectors, truth = library
    tagger, ids = _tagger(tmp_path, encoder, vectors)
    photos = [ids[k] for k, (_, shape) in enumerate(truth) if shape is None]
    shapes = dict(zip(ids, _labels(tagger, ids, "Shape"), strict=True))
    for photo in photos:
        [why] = [e for e in tagger.explain(photo) if e.category == "Shape"]
        top = why.scores[0]
        assert shapes[photo] is None and why.background > top.probability
        assert top.reason == "not tagged: 'none of these' is more likely"


def test_one_rejection_changes_only_photos_that_look_like_it_and_can_be_undone(
    tmp_path: Path, library: Any
) -> None:
    encoder, vectors, truth = library
    tagger, ids = _tagger(tmp_path, encoder, vectors)
    before = _labels(tagger, ids, "Colour")
    calibrated = tagger.store.calibration(tagger.model_key)
    wrong = [k for k in range(LOOK_ALIKES) if before[k] and not _right(before[k], truth[k][0])]
    assert wrong, "no wrong colour tag among the scenes with a look-alike"
    k = wrong[0]
    change = tagger.correct(ids[k], "Colour", str(before[k]), REJECTED)
    after = _labels(tagger, ids, "Colour")
    others = [i for i in range(len(ids)) if i != k]
    changed = [i for i in others if after[i] != before[i]]
    lost = [i for i in changed if _right(before[i], truth[i][0])]
    assert after[k] != before[k]
    twin = len(ids) - 8 - LOOK_ALIKES + k  # its look-alike (resized, saved again)
    assert before[twin] == before[k] and after[twin] != before[k]  # it follows
    # It says what happened to the look-alike (and to any other): "1 lost 'black'". A
    # rejection never hands a photo another colour: what it takes is "none of these".
    assert change.describe().endswith(f"lost '{before[k]}'") and not change.gained
    assert change.lost.get(str(before[k]), 0) == sum(before[i] == before[k] for i in changed)
    assert len(changed) <= 0.05 * len(ids) and len(lost) <= 2
    assert tagger.store.calibration(tagger.model_key) == calibrated  # no threshold moved
    assert sum(change.lost.values()) + sum(change.gained.values()) >= len(changed)
    undone = tagger.undo()
    assert undone is not None and _labels(tagger, ids, "Colour") == before
    assert tagger.undo() is None


@settings(
    max_examples=25,
    database=None,  # no .hypothesis folder in the work tree
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=5))
def test_truthful_corrections_never_lower_accuracy(library: Any, picks: list[int]) -> None:
    encoder, vectors, truth = library
    with tempfile.TemporaryDirectory() as folder:
        tagger, ids = _tagger(Path(folder), encoder, vectors)
        labels = _labels(tagger, ids, "Colour")
        accuracy = _accuracy(labels, truth)
        for pick in picks:
            k = pick % len(ids)
            verdict, label = heldout.truthful_verdict(labels[k], truth[k][0])
            if verdict is None:
                continue
            tagger.correct(ids[k], "Colour", label, verdict)
            labels = _labels(tagger, ids, "Colour")
            now = _accuracy(labels, truth)
            assert now >= accuracy
            accuracy = now
        tagger.catalog.close()
