"""The visual fingerprint on generated images: copies align, different pictures do not,
even when a large shared background makes them alike on the whole."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageEnhance

from photoclip.core.fingerprints import FINGERPRINT_BYTES, Fingerprint, align, fingerprint
from tests.core.test_duplicates import photo_like


def shape_on(
    background: tuple[int, int, int], colour: tuple[int, int, int], shape: str
) -> Image.Image:
    """A shape of 30% of the side on a plain background: most of the picture is shared."""
    image = Image.new("RGB", (200, 200), background)
    draw = ImageDraw.Draw(image)
    box = (70, 70, 130, 130)
    if shape == "circle":
        draw.ellipse(box, fill=colour)
    elif shape == "square":
        draw.rectangle(box, fill=colour)
    else:
        draw.polygon([(100, 66), (134, 130), (66, 130)], fill=colour)
    return image


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    data = io.BytesIO()
    image.save(data, "JPEG", quality=quality)
    return Image.open(io.BytesIO(data.getvalue())).convert("RGB")


COPIES = {
    "half": lambda i: i.resize((i.width // 2, i.height // 2), Image.Resampling.LANCZOS),
    "jpeg20": lambda i: jpeg(i, 20),
    "crop10": lambda i: i.crop(
        (i.width // 20, i.height // 20, i.width * 19 // 20, i.height * 19 // 20)
    ),
    "rot90": lambda i: i.rotate(90, expand=True),
    "rot180": lambda i: i.rotate(180),
    "bright10": lambda i: ImageEnhance.Brightness(i).enhance(1.1),
    "mirror": lambda i: i.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
}


@pytest.mark.parametrize("kind", list(COPIES))
def test_each_kind_of_copy_aligns_closely_with_its_transform(kind: str) -> None:
    for seed in range(3):
        original = photo_like(seed, (320, 240))
        found = align(fingerprint(original), fingerprint(COPIES[kind](original)))
        assert found.mean_error < 6 and found.max_error < 33, (kind, seed, found)
        assert found.turned == kind.startswith("rot")
        assert found.mirrored == (kind == "mirror")
        assert (found.scale < 0.97) == (kind == "crop10")
        assert (abs(found.gain - 1) > 0.04) == (kind == "bright10")


def test_different_shapes_and_colours_on_one_background_are_far_apart_somewhere() -> None:
    purple, orange, red, yellow = (140, 40, 180), (250, 140, 20), (220, 30, 30), (240, 220, 30)
    pairs = [
        (shape_on(purple, orange, "circle"), shape_on(purple, yellow, "circle")),
        (shape_on(purple, red, "square"), shape_on(purple, orange, "square")),
        (shape_on(purple, orange, "circle"), shape_on(purple, orange, "square")),
        (shape_on(purple, yellow, "triangle"), shape_on(purple, yellow, "circle")),
    ]
    for first, second in pairs:
        found = align(fingerprint(first), fingerprint(second))
        assert found.max_error > 40, found


def test_different_photos_are_far_apart() -> None:
    prints = [fingerprint(photo_like(seed)) for seed in range(6)]
    for i, first in enumerate(prints):
        for second in prints[i + 1 :]:
            assert align(first, second).mean_error > 10


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.lists(st.integers(0, 2**64 - 1), min_size=8, max_size=8))
def test_a_fingerprint_survives_its_bytes(seed: int, hashes: list[int]) -> None:
    grid = np.random.default_rng(seed).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    original = Fingerprint(grid, np.array(hashes, dtype=np.uint64))
    data = original.to_bytes()
    assert len(data) == FINGERPRINT_BYTES
    again = Fingerprint.from_bytes(data)
    assert np.array_equal(again.grid, grid) and np.array_equal(again.hashes, original.hashes)
    with pytest.raises(ValueError, match="bytes"):
        Fingerprint.from_bytes(data[:-1])


def test_the_verdict_is_the_same_whichever_photo_comes_first() -> None:
    """A brighter copy clips its highlights: the darker predicts the brighter, both ways."""
    original = photo_like(5, (320, 240))
    ImageDraw.Draw(original).rectangle((0, 0, 320, 70), fill=(246, 248, 250))  # a pale sky
    brighter = fingerprint(COPIES["bright10"](original))
    turned = fingerprint(original.rotate(90, expand=True))
    first = fingerprint(original)
    for a, b in ((first, brighter), (brighter, first)):
        found = align(a, b)
        assert found.max_error < 30 and abs(found.gain - 1) > 0.04, found
    assert align(first, brighter).gain == pytest.approx(1 / align(brighter, first).gain)
    assert {align(first, turned).transform, align(turned, first).transform} == {1, 3}


def test_a_panned_frame_lines_up_where_both_show_one_place() -> None:
    from photoclip.core.duplicates import is_shot
    from photoclip.core.fingerprints import shot_alignment
    from tests.core.test_duplicates import burst

    first, second = burst(11)  # the second panned by 64 of 320 px across, 36 of 240 down
    found = shot_alignment(fingerprint(first), fingerprint(second))
    assert (found.dx, found.dy) == (5, 4)  # cells of 24 a side: 4.8 and 3.6
    assert found.mean_error < 15 and found.off_cells < 0.1 and found.detail > 0.5
    assert is_shot(found)
    other = shot_alignment(fingerprint(first), fingerprint(photo_like(12, (320, 240))))
    assert not is_shot(other)


@pytest.mark.parametrize("kind", ["plain", "noise", "gradient"])
def test_generated_shapes_on_one_background_are_never_one_scene(kind: str) -> None:
    """Shapes that differ, or one shape moved: they line up as well as a burst, but one shape
    on a plain, noisy or smooth background has too little detail to tell."""
    from photoclip.core.duplicates import is_shot
    from photoclip.core.fingerprints import shot_alignment
    from photoclip.synthetic.scenes import Background, single_object_scene

    background = Background(kind, "purple")
    prints = [
        fingerprint(single_object_scene(colour, shape, size, where, background, seed).render())
        for colour, shape, size, where, seed in [
            ("red", "square", "large", "center", 1),
            ("orange", "square", "large", "center", 1),
            ("red", "star", "large", "center", 2),
            ("red", "square", "large", "left", 3),
            ("yellow", "circle", "small", "right", 1),
            ("white", "circle", "small", "right", 1),
        ]
    ]
    for first in range(len(prints)):
        for second in range(first + 1, len(prints)):
            assert not is_shot(shot_alignment(prints[first], prints[second])), (first, second)
