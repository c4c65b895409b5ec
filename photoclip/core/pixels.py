"""open_clip's eval transform in Pillow and numpy: a model's input pixels without torch.

An indexing run that embeds photos with the image tower's ONNX export
(photoclip.core.imageexport) must not import torch for the transform either. open_clip's
eval transform is torchvision's PIL path: a Pillow resize (bicubic or bilinear), a centre
crop or a pad, then /255 and (x - mean) / std in float32. The same Pillow calls and the
same float32 arithmetic give the same pixels (the export checks it against open_clip's own
transform when it is made, and a test on generated images of every shape).

A letterbox is padded with each photo's own mean colour (`mean_colour`), as
photoclip.core.embedding.Letterbox does for torch. The native framing (`native_size`,
photoclip.core.nativeframe for torch) squashes each photo to a size of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageStat

#: `PixelConfig.fill` of a letterbox padded with each photo's own mean colour
MEAN_COLOUR = "mean"
#: `PixelConfig.resize_mode` of the native framing (profiles.NATIVE): ours, not open_clip's
NATIVE = "native"
#: The native framing's widest input, in short sides: a panorama beyond it is squashed to it,
#: so that one photo costs at most this many square inputs.
NATIVE_MAX_RATIO = 3
_RESAMPLING = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


def native_size(frame: tuple[int, int], side: int, cell: int) -> tuple[int, int]:
    """(height, width) of the native input of a (width, height) frame: its short side at the
    model's input side (the centre crop's scale), its long side at the nearest whole number
    of the model's cells (patches; a ResNet's last stride), so a 4:3 photo is squashed by at
    most half a cell (64x96 for a 64-px model with 32-px cells), up to NATIVE_MAX_RATIO."""
    width, height = frame
    cells = round(side * max(frame) / max(min(frame), 1) / cell)
    long = min(max(side, cells * cell), side * NATIVE_MAX_RATIO)
    return (side, long) if width >= height else (long, side)


def shape_groups(items: Sequence[Any]) -> list[list[int]]:
    """The items' positions grouped by shape (arrays or tensors), each group in order."""
    shapes: dict[tuple[int, ...], list[int]] = {}
    for index, item in enumerate(items):
        shapes.setdefault(tuple(item.shape), []).append(index)
    return list(shapes.values())


def encode_by_shape(
    prepared: Sequence[Any], encode: Callable[[list[Any]], np.ndarray]
) -> np.ndarray:
    """`encode` (a list of inputs of one shape -> one row each) over inputs of any shapes,
    one call per shape, the rows in the inputs' order: natively framed photos of several
    proportions are batched by size (one size only, as every other framing gives: one call)."""
    groups = shape_groups(prepared)
    if len(groups) == 1:
        return encode(list(prepared))
    rows: list[np.ndarray | None] = [None] * len(prepared)
    for indices in groups:
        for index, row in zip(indices, encode([prepared[i] for i in indices]), strict=True):
            rows[index] = row
    return np.stack(rows)  # type: ignore[arg-type]


def mean_colour(rgb: Image.Image) -> tuple[int, ...]:
    """The photo's mean colour, rounded: the letterbox's padding (a band of one fixed
    colour is something the model never saw in training)."""
    return tuple(round(value) for value in ImageStat.Stat(rgb).mean)


@dataclass(frozen=True)
class PixelConfig:
    """open_clip's preprocessing of one model (get_model_preprocess_cfg) and its framing."""

    #: (height, width) of the model's input
    size: tuple[int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    #: "bicubic" or "bilinear" (open_clip's "random" is bicubic at eval)
    interpolation: str
    #: open_clip's resize mode: "shortest" (centre crop), "longest" (letterbox), "squash";
    #: or NATIVE (ours: `native_size`, then squashed to it)
    resize_mode: str
    #: the letterbox's padding: MEAN_COLOUR, or one grey level for every photo
    fill: str | int = MEAN_COLOUR
    #: the native framing's cell in pixels (0 for open_clip's modes)
    cell: int = 0

    def __post_init__(self) -> None:
        if self.resize_mode not in ("shortest", "longest", "squash", NATIVE):
            raise ValueError(f"unknown resize mode {self.resize_mode!r}")
        if (self.resize_mode == NATIVE) != (self.cell > 0):
            raise ValueError("the native framing, and only it, needs a cell size")
        object.__setattr__(self, "size", (int(self.size[0]), int(self.size[1])))


class PixelTransform:
    """PIL image -> (3, height, width) float32 array, as open_clip's eval transform gives."""

    def __init__(self, config: PixelConfig) -> None:
        self.config = config
        self._resample = _RESAMPLING.get(config.interpolation, Image.Resampling.BICUBIC)
        self._mean = np.asarray(config.mean, dtype=np.float32)
        self._std = np.asarray(config.std, dtype=np.float32)

    def __call__(self, image: Image.Image) -> np.ndarray:
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        framed = self._framed(rgb)
        scaled = np.asarray(framed, dtype=np.float32) / np.float32(255)  # (torch's ToTensor)
        return np.ascontiguousarray(((scaled - self._mean) / self._std).transpose(2, 0, 1))

    def _framed(self, rgb: Image.Image) -> Image.Image:
        height, width = self.config.size
        mode = self.config.resize_mode
        if mode == NATIVE:
            height, width = native_size(rgb.size, height, self.config.cell)
        if mode in ("squash", NATIVE):
            return rgb.resize((width, height), self._resample)
        if mode == "longest":
            resized = rgb.resize(_kept_ratio(rgb.size, self.config.size, 1.0)[::-1], self._resample)
            return _crop_or_pad(resized, self.config.size, self._fill(rgb))
        if height == width:  # torchvision's Resize(int): the short side, the long one cut
            resized = _short_side_to(rgb, height, self._resample)
        else:  # open_clip's ResizeKeepRatio, which is always bicubic
            size = _kept_ratio(rgb.size, self.config.size, 0.0)[::-1]
            resized = rgb.resize(size, Image.Resampling.BICUBIC)
        return _crop_or_pad(resized, self.config.size, (0, 0, 0))

    def _fill(self, rgb: Image.Image) -> tuple[int, ...]:
        fill = self.config.fill
        return mean_colour(rgb) if fill == MEAN_COLOUR else (int(fill),) * 3


def _kept_ratio(
    source: tuple[int, int], target: tuple[int, int], longest: float
) -> tuple[int, int]:
    """open_clip's ResizeKeepRatio.get_params: the (height, width) to resize to."""
    height, width = source[1], source[0]
    ratio_h, ratio_w = height / target[0], width / target[1]
    ratio = max(ratio_h, ratio_w) * longest + min(ratio_h, ratio_w) * (1.0 - longest)
    return round(height / ratio), round(width / ratio)


def _short_side_to(rgb: Image.Image, side: int, resample: Image.Resampling) -> Image.Image:
    """torchvision's resize to an int: the short side to `side`, the long one in proportion
    (truncated, as torchvision does)."""
    width, height = rgb.size
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(side * long / short)
    size = (side, new_long) if width <= height else (new_long, side)
    return rgb if size == rgb.size else rgb.resize(size, resample)


def _crop_or_pad(image: Image.Image, size: tuple[int, int], fill: tuple[int, ...]) -> Image.Image:
    """open_clip's center_crop_or_pad (and torchvision's center_crop): padded around the
    centre with `fill` where smaller than `size`, then cut to it around the centre."""
    crop_height, crop_width = size
    width, height = image.size
    if crop_width > width or crop_height > height:
        left = (crop_width - width) // 2 if crop_width > width else 0
        top = (crop_height - height) // 2 if crop_height > height else 0
        canvas = Image.new("RGB", (max(width, crop_width), max(height, crop_height)), fill)
        canvas.paste(image, (left, top))
        image, (width, height) = canvas, canvas.size
    if (width, height) == (crop_width, crop_height):
        return image
    top = round((height - crop_height) / 2.0)  # (Python's round, half to even, as theirs)
    left = round((width - crop_width) / 2.0)
    return image.crop((left, top, left + crop_width, top + crop_height))
