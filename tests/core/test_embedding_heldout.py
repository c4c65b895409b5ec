"""Whole-frame embedding (issue 20) on held-out scenes unlike the training generator
(tests/heldout.py `frame_scene`: wide and tall canvases, tilted shapes placed anywhere),
with the test-shapes model: a shape near a photo's edge is found, which open_clip's default
centre crop cut off. (The full comparison of framings, with real-photo backgrounds and
indexing speed, is tests/benchmarks/bench_whole_frame.py.)"""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from photoclip.core.profiles import LEGACY_FRAMING, LETTERBOX, NATIVE
from tests import heldout

pytestmark = pytest.mark.slow

SEED = 20_261_220
SCENES = 96
QUERY = "a photo of a {} {}"
PAIRS = [(c, s) for c in heldout.CATEGORY_COLOURS for s in heldout.SHAPES]


@pytest.fixture(scope="module")
def scenes() -> list[heldout.FrameScene]:
    """One shape per scene on a non-square canvas (up to 16:9), plain, gradient, noise or
    made-up-photo background; about half the shapes lie outside the centre square."""
    rng = random.Random(SEED)
    made = []
    for i in range(SCENES):
        aspect = ((16, 9), (3, 2), (2, 3), (4, 3))[i % 4]
        pair = PAIRS[i % len(PAIRS)]
        if i % 4 == 3:
            photo = heldout.made_up_photo(rng)
            made.append(heldout.frame_scene(rng, [pair], 384, photo=photo, aspect=aspect))
        else:
            background = heldout.BACKGROUNDS[i % 3]
            made.append(heldout.frame_scene(rng, [pair], 384, background, aspect=aspect))
    return made


def found_rates(framing: str, scenes: list[heldout.FrameScene]) -> dict[str, float]:
    """Share of scenes ranked within the top R for their shape's query (R: how many
    scenes hold it), for shapes inside and outside the centre square."""
    from photoclip.core.embedding import load_encoder
    from photoclip.core.profiles import resolve_profile

    profile = dataclasses.replace(resolve_profile("test-shapes"), framing=framing)
    encoder = load_encoder(profile, device="cpu")
    vectors = encoder.encode_pil([s.image for s in scenes])
    texts = encoder.encode_texts([QUERY.format(*pair) for pair in PAIRS])
    hits: dict[str, list[bool]] = {"inside": [], "outside": []}
    for q, pair in enumerate(PAIRS):
        holders = [k for k, s in enumerate(scenes) if _pair(s) == pair]
        top = set(np.argsort(-(vectors @ texts[q]), kind="stable")[: len(holders)].tolist())
        for k in holders:
            where = "outside" if scenes[k].outside_centre(scenes[k].shapes[0]) else "inside"
            hits[where].append(k in top)
    return {where: float(np.mean(found)) for where, found in hits.items()}


def _pair(scene: heldout.FrameScene) -> tuple[str, str]:
    return scene.shapes[0].colour, scene.shapes[0].shape


@pytest.fixture(scope="module")
def rates(scenes: list[heldout.FrameScene]) -> dict[str, dict[str, float]]:
    framings = (NATIVE, LETTERBOX, LEGACY_FRAMING)
    return {framing: found_rates(framing, scenes) for framing in framings}


def test_the_scenes_put_shapes_on_both_sides_of_the_centre_square(
    scenes: list[heldout.FrameScene],
) -> None:
    outside = sum(s.outside_centre(s.shapes[0]) for s in scenes)
    assert SCENES // 4 <= outside <= 3 * SCENES // 4


@pytest.mark.parametrize("framing", [NATIVE, LETTERBOX])
def test_shapes_near_the_edges_are_found_as_central_ones_are(
    rates: dict[str, dict[str, float]], framing: str
) -> None:
    """Both whole-frame framings: the ViT profiles' letterbox, and the native framing (the
    test-shapes profile's)."""
    whole = rates[framing]
    # Measured (the seed above, the committed weights, run FS): native inside 0.59, outside
    # 0.81; letterbox 0.53 and 0.81; the old centre crop 0.53 and 0.16 (run FM: 0.58 and 0.81;
    # 0.51 and 0.70; 0.49 and 0.16; run FE: 0.54 and 0.76; 0.49 and 0.68; 0.47 and 0.14; run E:
    # 0.51 and 0.70; 0.53 and 0.68; 0.44 and 0.19). These scenes have one large shape each,
    # easier than the benchmark's; what matters is that the edges no longer lag the centre.
    assert whole["outside"] >= 0.5
    assert whole["outside"] >= 0.9 * whole["inside"]


def test_the_old_centre_crop_misses_them(rates: dict[str, dict[str, float]]) -> None:
    """The same check fails with open_clip's default framing: the test can fail."""
    cropped, whole = rates[LEGACY_FRAMING], rates[LETTERBOX]
    assert cropped["outside"] < 0.3 and cropped["outside"] < 0.9 * cropped["inside"]
    assert whole["outside"] >= cropped["outside"] + 0.3
    assert whole["inside"] >= cropped["inside"] - 0.05  # nothing lost in the centre
