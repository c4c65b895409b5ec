"""open_clip's eval transform without torch: the same pixels as open_clip's own, to the bit."""

from __future__ import annotations

import numpy as np
import open_clip
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from photoclip.core.embedding import Letterbox
from photoclip.core.nativeframe import NativeFrame
from photoclip.core.pixels import (
    MEAN_COLOUR,
    NATIVE,
    NATIVE_MAX_RATIO,
    PixelConfig,
    PixelTransform,
    encode_by_shape,
    mean_colour,
    native_size,
)

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


@settings(max_examples=50, deadline=None)
@given(
    width=st.integers(2, 700),
    height=st.integers(2, 700),
    side=st.sampled_from([64, 224]),
    interpolation=st.sampled_from(["bicubic", "bilinear"]),
    seed=st.integers(0, 2**16),
)
def test_the_native_pixels_are_the_torch_paths(
    width: int, height: int, side: int, interpolation: str, seed: int
) -> None:
    photo = _photo(width, height, seed)
    config = {"size": side, "mean": MEAN, "std": STD, "interpolation": interpolation}
    theirs = NativeFrame(config, cell=32)(photo).numpy()
    ours = PixelTransform(PixelConfig((side, side), MEAN, STD, interpolation, NATIVE, 0, 32))
    np.testing.assert_array_equal(ours(photo), theirs)


@pytest.mark.parametrize(
    "frame, expected",
    [
        ((500, 500), (64, 64)),  # a square photo is framed as every square framing frames it
        ((640, 480), (64, 96)),  # 4:3: 2.67 cells long, squashed to 3
        ((480, 640), (96, 64)),
        ((1920, 1080), (64, 128)),  # 16:9: 3.56 cells, stretched to 4
        ((600, 500), (64, 64)),  # 6:5 rounds to the square
        ((6000, 1000), (64, 64 * NATIVE_MAX_RATIO)),  # a panorama at the widest input
        ((1, 400), (64 * NATIVE_MAX_RATIO, 64)),
    ],
)
def test_the_native_size_keeps_the_short_side_and_rounds_the_long_one_to_cells(
    frame: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert native_size(frame, 64, 32) == expected


@given(width=st.integers(1, 10_000), height=st.integers(1, 10_000))
def test_the_native_size_is_whole_cells_within_its_bounds(width: int, height: int) -> None:
    size = native_size((width, height), 224, 32)
    assert min(size) == 224 and max(size) % 32 == 0
    assert 224 <= max(size) <= 224 * NATIVE_MAX_RATIO
    if size[0] != size[1]:  # near-square frames get the square
        assert (size[1] > size[0]) == (width > height)


def test_the_native_framing_needs_its_cell_and_only_it() -> None:
    with pytest.raises(ValueError, match="cell"):
        PixelConfig((64, 64), MEAN, STD, "bicubic", NATIVE)
    with pytest.raises(ValueError, match="cell"):
        PixelConfig((64, 64), MEAN, STD, "bicubic", "longest", cell=32)


def test_inputs_of_several_shapes_are_encoded_per_shape_in_their_order() -> None:
    calls: list[int] = []

    def encode(same: list[np.ndarray]) -> np.ndarray:
        assert len({item.shape for item in same}) == 1
        calls.append(len(same))
        return np.stack([[item.shape[1], item.flat[0]] for item in same]).astype(np.float32)

    items = [np.full((3, h, 4), n) for n, h in enumerate([2, 5, 2, 7, 5])]
    rows = encode_by_shape(items, encode)
    assert rows.tolist() == [[2, 0], [5, 1], [2, 2], [7, 3], [5, 4]]
    assert sorted(calls) == [1, 2, 2]
    calls.clear()
    assert encode_by_shape(items[:1] + items[2:3], encode).tolist() == [[2, 0], [2, 2]]
    assert calls == [2]  # one shape: one call
