"""The active model's image tower as ONNX: `photoclip index` on the CPU without torch.

Importing torch and open_clip costs an indexing run 890 MB of its memory before the model
(the CUDA build of torch alone 650 MB) and seconds of its start-up; with ViT-B-32's image
weights beside them, `index` peaked at 1.32 GB (issue 17 asks for 1.2 GB at most).
onnxruntime with the image tower's export, and the model's eval transform in Pillow and
numpy (photoclip.core.pixels), embed the same photos with neither.

Made and opened with photoclip.core.exports (where, when, the background process, the
checks every export gets). The graph is `visual` then normalisation, as
`encode_image(x, normalize=True)`, with the batch dynamic. It is checked against torch
when made, on PROBES (fixed generated photos: wide, tall, square, tiny): the pixels of
photoclip.core.pixels against open_clip's transform (equal within PIXEL_TOLERANCE), and
the vectors of the export from those pixels against torch's from its own (cosine >=
MIN_COSINE). Each time it is opened, the first CHECKS of them are embedded again and
compared with torch's vectors kept beside it.

The export serves a model that runs on the CPU: where torch would run it on a GPU, it
does (photoclip.core.device.known_cpu says which, without torch), and where the model's
last load found a GPU, the export is not made at all (photoclip.core.exports).
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from photoclip.core import pixels
from photoclip.core.exports import (
    IMAGE_EXPORT,
    ExportError,
    ExportFacts,
    agreement,
    check_exportable,
    checked_side,
    described,
    draft_facts,
    open_checked,
    release_weights,
    save_export,
    session,
    write_onnx,
)
from photoclip.core.pixels import MEAN_COLOUR, PixelConfig, PixelTransform, encode_by_shape

if TYPE_CHECKING:
    from PIL import Image

    from photoclip.core.embedding import LocalEncoder
    from photoclip.core.profiles import ModelProfile

log = logging.getLogger(__name__)

#: (width, height) of the generated photos of the export's check: wide and tall (the
#: letterbox pads across and down), square, and smaller than any model's input.
PROBE_SIZES = ((640, 480), (300, 800), (500, 500), (40, 30))
#: How many of PROBES are embedded again at each open (one short inference).
CHECKS = 2
#: open_clip's transform and photoclip.core.pixels run the same Pillow resize and the same
#: float32 arithmetic: measured equal to the bit; this leaves room for a Pillow build that
#: rounds a last bit otherwise, while catching any other interpolation or crop.
PIXEL_TOLERANCE = 1e-4


@dataclass(frozen=True)
class ImageExportInfo(ExportFacts):
    """The image export's description: ExportFacts (checks: torch's vectors of the first
    CHECKS of PROBES, min_cosine: over PROBES) and what the encoder says of itself."""

    dim: int
    #: (height, width) of the model's input
    input_size: list[int]
    logit_scale: float
    #: of the torch that exported it: the catalog records it with the vectors
    open_clip_version: str
    #: photoclip.core.pixels.PixelConfig's fields: the model's eval transform
    pixels: dict[str, Any]


def export_paths(cache: Path, model_key: str) -> tuple[Path, Path]:
    """(model.onnx, info.json) of a model key's image export, in the cache folder."""
    return IMAGE_EXPORT.paths(cache, model_key)


def probe_images() -> list[Image.Image]:
    """Fixed generated photos: ramps, a checkerboard and a disc, one per PROBE_SIZES."""
    from PIL import Image

    return [Image.fromarray(_pattern(w, h, n)) for n, (w, h) in enumerate(PROBE_SIZES)]


def _pattern(width: int, height: int, seed: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    red = x * 255 // max(width - 1, 1)
    green = y * 255 // max(height - 1, 1)
    checker = ((x // (7 + seed) + y // (5 + seed)) % 2) * 200
    disc = (x - width / 3) ** 2 + (y - height / 2) ** 2 < (min(width, height) / 4) ** 2
    blue = np.where(disc, 255 - checker, checker)
    return np.stack([red, green, blue], axis=-1).astype(np.uint8)


# -- using an export (no torch) ----------------------------------------------------------------


class OnnxImage:
    """The image side of an `Encoder`, from an export: prepare (numpy pixels) and
    encode_prepared, on the CPU."""

    device = "cpu"
    alive = True

    def __init__(self, profile: ModelProfile, session: Any, info: ImageExportInfo) -> None:
        self.profile, self.session, self.info = profile, session, info
        self.transform = PixelTransform(PixelConfig(**info.pixels))
        self.dim, self.logit_scale = info.dim, info.logit_scale
        self.input_size = (int(info.input_size[0]), int(info.input_size[1]))
        self.open_clip_version = info.open_clip_version

    @property
    def model_key(self) -> str:
        return self.info.model_key

    def prepare(self, image: Image.Image) -> np.ndarray:
        """The eval transform, in the decoding threads: the model's thread only infers."""
        return self.transform(image)

    def encode_prepared(self, prepared: Sequence[np.ndarray]) -> np.ndarray:
        return encode_by_shape(prepared, self._encode)

    def _encode(self, same_shape: list[np.ndarray]) -> np.ndarray:
        (vectors,) = self.session.run(None, {"pixels": np.stack(same_shape)})
        return np.asarray(vectors, dtype=np.float32)

    def encode_pil(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.encode_prepared([self.prepare(image) for image in images])

    def close(self) -> None:
        """Nothing to stop: the session goes with the last reference."""


def open_image_export(
    cache: Path, profile: ModelProfile, threads: int | None = None
) -> OnnxImage | None:
    """The model's image export if there is a usable one (run with `threads` intra-op
    threads); else None, with the reason logged."""

    def opened(onnx_file: Path, fields: dict[str, Any]) -> OnnxImage:
        return _checked(profile, onnx_file, described(ImageExportInfo, fields), threads)

    return open_checked(IMAGE_EXPORT, cache, profile.key, opened)


def image_export_on_cpu(
    cache: Path, profile: ModelProfile, device: str | None, threads: int | None = None
) -> OnnxImage | None:
    """The image export where torch would run the model on the CPU too (device.known_cpu:
    asked for, or the kept probe found it alone); None where a GPU would run it (faster
    than the export), or there is no usable export."""
    from photoclip.core.device import known_cpu

    return open_image_export(cache, profile, threads) if known_cpu(device, cache) else None


def _checked(
    profile: ModelProfile, onnx_file: Path, info: ImageExportInfo, threads: int | None
) -> OnnxImage:
    installed = _open_clip_version()
    if info.open_clip_version != installed:  # the catalog would record the wrong one
        raise ExportError(f"it is stale: made with open_clip {info.open_clip_version}, "
                          f"not {installed}")  # fmt: skip
    described(PixelConfig, info.pixels)  # (an ExportError that says so, before onnxruntime)
    return checked_side(
        onnx_file,
        info,
        lambda run: OnnxImage(profile, run, info),
        lambda image: image.encode_pil(probe_images()[:CHECKS]),
        threads,
    )


def _open_clip_version() -> str:
    try:
        return importlib.metadata.version("open_clip_torch")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# -- making an export (torch) ------------------------------------------------------------------


def export_image(encoder: LocalEncoder, cache: Path, *, last_use: bool = False) -> ImageExportInfo:
    """Export the encoder's image tower, check it and its pixels against torch, keep it;
    ExportError if it cannot be exported or its vectors are not torch's. `last_use`: the
    encoder is not used after this, and its weights are freed before the check loads the
    export's own copy."""
    check_exportable(encoder)
    config = pixel_config(encoder)
    info: ImageExportInfo = save_export(
        IMAGE_EXPORT,
        cache,
        encoder.model_key,
        lambda draft: _write_onnx(encoder, draft),
        lambda draft: _verified(draft, encoder, config, last_use),
    )
    log.info("exported the image tower of %s (cosine to torch >= %.6f)", info.model_key,
             info.min_cosine)  # fmt: skip
    return info


def pixel_config(encoder: LocalEncoder) -> PixelConfig:
    """The model's eval transform as photoclip.core.pixels runs it: open_clip's
    preprocessing of the model, framed as the profile says (embedding.framed_transform)."""
    import open_clip

    from photoclip.core.embedding import RESIZE_MODES
    from photoclip.core.profiles import LETTERBOX, NATIVE

    config = open_clip.get_model_preprocess_cfg(encoder.model)
    framing = encoder.profile.framing
    size = config["size"]
    return PixelConfig(
        size=(size, size) if isinstance(size, int) else (int(size[0]), int(size[1])),
        mean=_three(config["mean"]),
        std=_three(config["std"]),
        interpolation=config.get("interpolation") or "bicubic",
        resize_mode=pixels.NATIVE if framing == NATIVE else RESIZE_MODES[framing],
        fill=MEAN_COLOUR if framing == LETTERBOX else int(config.get("fill_color", 0)),
        cell=_native_cell(encoder) if framing == NATIVE else 0,
    )


def _native_cell(encoder: LocalEncoder) -> int:
    from photoclip.core import nativeframe

    return nativeframe.attach(encoder.model)  # (attached when the model was loaded)


def _three(value: Any) -> tuple[float, ...]:
    """open_clip takes one number for all three channels, too."""
    values = tuple(value) if isinstance(value, list | tuple) else (value,) * 3
    return tuple(float(v) for v in values)


def _write_onnx(encoder: LocalEncoder, path: Path) -> None:
    import torch
    import torch.nn.functional as F

    from photoclip.core.profiles import NATIVE

    visual = encoder.model.visual

    class ImageGraph(torch.nn.Module):
        """encode_image(x, normalize=True) as one module whose parameters are its own."""

        def __init__(self) -> None:
            super().__init__()
            self.visual = visual

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            return F.normalize(self.visual(pixels), dim=-1)

    # Two probes of one size (the native framing gives each proportion its own).
    example = torch.stack([encoder.prepare(image) for image in probe_images()[:1] * 2]).float()
    graph = ImageGraph().eval()
    dims = {0: torch.export.Dim("batch")}
    if encoder.profile.framing == NATIVE:  # any height and width, in whole cells
        dims.update({2: torch.export.Dim("height"), 3: torch.export.Dim("width")})
    write_onnx(graph, example.contiguous(), "pixels", dims, path)


def _verified(
    path: Path, encoder: LocalEncoder, config: PixelConfig, last_use: bool
) -> ImageExportInfo:
    images = probe_images()
    theirs = [encoder.prepare(image) for image in images]
    ours = [PixelTransform(config)(image) for image in images]
    apart = max(float(np.abs(a - b.numpy()).max()) for a, b in zip(ours, theirs, strict=True))
    if not apart <= PIXEL_TOLERANCE:
        raise ExportError(f"its pixels differ from open_clip's transform (by {apart:.2g})")
    draft = ImageExportInfo(
        **draft_facts(IMAGE_EXPORT, encoder.model_key, path),
        dim=encoder.dim, input_size=list(encoder.input_size), logit_scale=encoder.logit_scale,
        open_clip_version=encoder.open_clip_version, pixels=asdict(config),
    )  # fmt: skip
    torchs = encoder.encode_prepared(theirs)
    if last_use:
        release_weights(encoder)
    onnx = OnnxImage(encoder.profile, session(path), draft).encode_prepared(ours)
    lowest = agreement(onnx, torchs)
    return replace(draft, min_cosine=lowest, checks=torchs[:CHECKS].tolist())
