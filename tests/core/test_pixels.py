"""open_clip's eval transform without torch: the same pixels as open_clip's own, to the bit."""

from __future__ import annotations

import numpy as np
import open_clip
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from photoclip.core.embedding import Letterbox
from photoclip.core.pixels import MEAN_COLOUR, PixelConfig, PixelTransform, mean_colour

MEAN, STD = open_clip.OPENAI_DATASET_MEAN, open_clip.OPENAI_DATASET_STD


def _photo(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


@settings(max_examples=50, deadline=None)
@given(
    width=st.integers(1, 500),
    height=st.integers(1, 500),
    size=st.sampled_from([(64, 64), (224, 224), (96, 128), (128, 96)]),
    mode=st.sampled_from(["shortest", "longest", "squash"]),
    interpolation=st.sampled_from(["bicubic", "bilinear"]),
    seed=st.integers(0, 2**16),
)
def test_the_pixels_are_open_clips(
    width: int, height: int, size: tuple[int, int], mode: str, interpolation: str, seed: int
) -> None:
    photo = _photo(width, height, seed)
    theirs = open_clip.image_transform(
        size, is_train=False, mean=MEAN, std=STD, interpolation=interpolation,
        resize_mode=mode, fill_color=17,
    )  # fmt: skip
    ours = PixelTransform(PixelConfig(size, MEAN, STD, interpolation, mode, fill=17))
    try:
        expected = theirs(photo).numpy()
    except ValueError:  # a stripe that shrinks to no pixels (indexing never reads those)
        with pytest.raises(ValueError):
            ours(photo)
        return
    found = ours(photo)
    assert found.dtype == np.float32 and found.shape == expected.shape == (3, *size)
    np.testing.assert_array_equal(found, expected)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P"])
def test_the_letterbox_pads_with_the_photos_mean_colour_as_the_torch_path_does(mode: str) -> None:
    photo = _photo(300, 120, 1).convert(mode)
    config = {"size": (64, 64), "mean": MEAN, "std": STD, "interpolation": "bicubic"}
    theirs = Letterbox(config)(photo).numpy()
    ours = PixelTransform(PixelConfig((64, 64), MEAN, STD, "bicubic", "longest", MEAN_COLOUR))
    np.testing.assert_array_equal(ours(photo), theirs)


def test_the_mean_colour_is_rounded_per_channel() -> None:
    photo = Image.new("RGB", (2, 1))
    photo.putpixel((0, 0), (10, 0, 255))
    photo.putpixel((1, 0), (11, 3, 255))
    assert mean_colour(photo) == (10, 2, 255)  # 10.5 and 1.5 round to even, as Python's


def test_an_unknown_resize_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="resize mode"):
        PixelConfig((64, 64), MEAN, STD, "bicubic", "stretch")
