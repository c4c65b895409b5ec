"""Decoding benchmark: draft-mode JPEG decoding against the full decode, run by hand.

    PYTHONPATH=. python tests/benchmarks/bench_decode.py [--photos 24] [--camera 6]

Uses real photos from ../shared/data (never copied into the repository) plus camera-size
4032x3024 quality-90 JPEGs written to a temporary folder: real photos upscaled (some stored
sideways with an EXIF orientation) and collages of photos at native resolution, whose fine
detail is what scaled IDCT can alias. Prints one JSON object:

- hash: throughput of candidate hashes (MB/s) and of the chosen one on the photos' bytes,
  as a fraction of the draft decode time;
- timing: per-photo milliseconds (median) of decode+preprocess, full and draft, the hash and
  the thumbnail, for each set;
- fidelity: for each model and draft margin, against the full decode + the same open_clip
  eval transform: embedding cosine (min, mean, worst photo); the largest embedding distance
  as a fraction of the median distance between different photos (random weights can map
  all photos close together, which this figure does not depend on); the tensors' max pixel
  difference (8-bit units, normalisation undone) and PSNR; the decode scales and time.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PIL import Image

from photoclip.core import imageio

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
CAMERA_SIZE = (4032, 3024)
THUMBNAIL_MIN_LONG = imageio.THUMBNAIL_SIZE


def main() -> None:
    args = _arguments()
    warnings.filterwarnings("ignore")
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        sets = _photo_sets(Path(scratch), args.photos, args.camera)
        models = _models()
        report = {
            "machine": {"cpus": os.cpu_count(), "torch_threads": args.threads},
            "sets": {name: len(paths) for name, paths in sets.items()},
            "hash": _hash_report(sets),
            "timing": {name: _timing(paths, models[0][2]) for name, paths in sets.items()},
            "fidelity": _fidelity(sets, models, args.margins),
        }
    print(json.dumps(report, indent=2))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=24, help="COCO photos to use")
    parser.add_argument("--camera", type=int, default=6, help="camera-size photos per kind")
    parser.add_argument("--margins", default="1,1.5,2", help="draft margins to compare")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    args.margins = [float(m) for m in args.margins.split(",")]
    return args


# -- photos ----------------------------------------------------------------------------------


def _photo_sets(scratch: Path, count: int, camera: int) -> dict[str, list[Path]]:
    coco = sorted((DATA / "coco-mini" / "val2017").glob("*.jpg"))[:count]
    skimage = sorted((DATA / "skimage-photos" / "images").glob("*"))
    if not coco:
        sys.exit(f"no photos under {DATA}")
    real_jpegs = coco + [p for p in skimage if p.suffix == ".jpg"]
    return {
        "real_jpeg": real_jpegs,
        "real_png": [p for p in skimage if p.suffix == ".png"],
        "camera_upscaled": [_upscaled(p, scratch, i) for i, p in enumerate(coco[:camera])],
        "camera_collage": [_collage(coco, scratch, i) for i in range(camera)],
    }


def _upscaled(source: Path, scratch: Path, index: int) -> Path:
    with Image.open(source) as image:
        upright = image.convert("RGB").resize(CAMERA_SIZE, Image.Resampling.BICUBIC)
    # Every third photo is stored sideways, as phones do, with orientation 6 or 8.
    orientation = (1, 6, 8)[index % 3]
    return _save_camera_jpeg(upright, orientation, scratch / f"upscaled-{index}.jpg")


def _collage(coco: list[Path], scratch: Path, index: int) -> Path:
    """Native-resolution crops tiled to 12 MP: real fine detail at camera size."""
    canvas = Image.new("RGB", CAMERA_SIZE)
    tile = (CAMERA_SIZE[0] // 6, CAMERA_SIZE[1] // 6)
    for n in range(36):
        with Image.open(coco[(index * 36 + n) % len(coco)]) as photo:
            crop = photo.convert("RGB").crop((0, 0, *tile))
        canvas.paste(crop, ((n % 6) * tile[0], (n // 6) * tile[1]))
    orientation = (1, 8, 6)[index % 3]
    return _save_camera_jpeg(canvas, orientation, scratch / f"collage-{index}.jpg")


def _save_camera_jpeg(upright: Image.Image, orientation: int, path: Path) -> Path:
    stored = {1: upright, 6: upright.transpose(Image.Transpose.ROTATE_90)}.get(
        orientation, upright.transpose(Image.Transpose.ROTATE_270)
    )
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(path, "JPEG", quality=90, exif=exif.tobytes())
    return path


# -- models ----------------------------------------------------------------------------------

Model = tuple[str, Any, Callable[[Image.Image], Any], tuple[int, int]]


def _models() -> list[Model]:
    import open_clip

    models = [_model(open_clip, "ViT-B-32", {})]
    # MobileCLIP2's pretrained tags use mean 0, std 1 and bilinear resizing.
    mobile = {"image_mean": (0, 0, 0), "image_std": (1, 1, 1), "image_interpolation": "bilinear"}
    try:
        models.append(_model(open_clip, "MobileCLIP2-S0", mobile))
    except Exception as error:  # a missing timm must not lose the ViT figures
        print(f"MobileCLIP2-S0 not built: {error}", file=sys.stderr)
    return models


def _model(open_clip: Any, arch: str, kwargs: dict[str, Any]) -> Model:
    model, _, preprocess = open_clip.create_model_and_transforms(arch, pretrained=None, **kwargs)
    model.eval()
    size = model.visual.image_size
    return arch, model, preprocess, (size, size) if isinstance(size, int) else tuple(size)


# -- hashing ---------------------------------------------------------------------------------


def _hash_report(sets: dict[str, list[Path]]) -> dict[str, Any]:
    sample = os.urandom(8 << 20)
    speeds = {name: _hash_speed(name, sample) for name in ("sha256", "blake2b", "sha1", "md5")}
    photos = sets["camera_collage"] + sets["real_jpeg"]
    hash_ms, decode_ms = [], []
    for path in photos:
        data = path.read_bytes()
        hash_ms.append(_best_ms(lambda d=data: imageio.hash_bytes(d)))
        decode_ms.append(_best_ms(lambda d=data: _decode(d, imageio.model_min_short(224))))
    return {
        "mb_per_s": speeds,
        "chosen": imageio.HASH_NAME,
        "fraction_of_draft_decode": _stats(
            [h / d for h, d in zip(hash_ms, decode_ms, strict=True)]
        ),
    }


def _hash_speed(name: str, sample: bytes) -> int:
    seconds = min(_timed(lambda: hashlib.new(name, sample).digest()) for _ in range(5))
    return round(len(sample) / seconds / 1e6)


# -- timing ----------------------------------------------------------------------------------


def _timing(paths: list[Path], preprocess: Callable[[Image.Image], Any]) -> dict[str, Any]:
    need = imageio.model_min_short(224)
    rows: dict[str, list[float]] = {"full": [], "draft": [], "hash": [], "thumbnail": []}
    for path in paths:
        data = path.read_bytes()
        rows["full"].append(_best_ms(lambda d=data: preprocess(_decode(d, None).image)))
        rows["draft"].append(_best_ms(lambda d=data: preprocess(_decode(d, need).image)))
        rows["hash"].append(_best_ms(lambda d=data: imageio.hash_bytes(d)))
        image = _decode(data, need).image
        rows["thumbnail"].append(_best_ms(lambda i=image: _thumbnail_bytes(i)))
    medians = {f"{name}_ms": round(statistics.median(v), 1) for name, v in rows.items()}
    medians["speedup"] = round(medians["full_ms"] / medians["draft_ms"], 2)
    return medians


def _decode(data: bytes, min_short: int | None) -> imageio.DecodedImage:
    """None: the full decode, the reference; else a draft as read_photo asks for one."""
    reduce_to = None if min_short is None else (min_short, THUMBNAIL_MIN_LONG)
    return imageio.decode_image(data, reduce_to)


def _thumbnail_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    thumbnail = imageio.make_thumbnail(image)
    thumbnail.save(buffer, "JPEG", quality=imageio.THUMBNAIL_QUALITY)
    return buffer.getvalue()


def _best_ms(work: Callable[[], object], repeats: int = 3) -> float:
    return min(_timed(work) for _ in range(repeats)) * 1000


def _timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


# -- fidelity --------------------------------------------------------------------------------


def _fidelity(
    sets: dict[str, list[Path]], models: list[Model], margins: list[float]
) -> dict[str, Any]:
    jpeg_sets = {name: paths for name, paths in sets.items() if name != "real_png"}
    return {
        arch: {
            name: _fidelity_of_set(paths, model, preprocess, size, margins)
            for name, paths in jpeg_sets.items()
        }
        for arch, model, preprocess, size in models
    }


def _fidelity_of_set(
    paths: list[Path], model: Any, preprocess: Callable, size: tuple[int, int], margins: list[float]
) -> dict[str, Any]:
    import torch

    datas = [path.read_bytes() for path in paths]
    full = torch.stack([preprocess(_decode(d, None).image) for d in datas])
    reference = _embed(model, full)
    different = ~torch.eye(len(datas), dtype=torch.bool)
    # How far apart different photos are under these random weights: the scale against which
    # a draft's distance from its own full decode is read (some random models map every photo
    # to nearly one point, and then the cosine says nothing).
    spread = float(torch.cdist(reference, reference)[different].median())
    between = float((reference @ reference.T)[different].mean())
    result: dict[str, Any] = {"cosine_between_photos_mean": round(between, 4)}
    for margin in margins:
        tensors, scales, milliseconds = _draft_tensors(datas, preprocess, max(size) * margin)
        drafted = _embed(model, tensors)
        cosines = (reference * drafted).sum(dim=1)
        distance = (drafted - reference).norm(dim=1) / spread
        result[f"margin_{margin:g}"] = {
            "cosine_min": round(float(cosines.min()), 6),
            "cosine_mean": round(float(cosines.mean()), 6),
            "worst_photo": paths[int(cosines.argmin())].name,
            "distance_over_spread_max": round(float(distance.max()), 5),
            **_pixel_difference(full, tensors, preprocess),
            "scales": scales,
            "decode_preprocess_ms_median": round(milliseconds, 1),
        }
    return result


def _draft_tensors(
    datas: list[bytes], preprocess: Callable, min_short: float
) -> tuple[Any, list[int], float]:
    import torch

    tensors, scales, times = [], set(), []
    for data in datas:
        start = time.perf_counter()
        decoded = _decode(data, math.ceil(min_short))
        tensors.append(preprocess(decoded.image))
        times.append((time.perf_counter() - start) * 1000)
        scales.add(round(decoded.width / decoded.image.width))
    return torch.stack(tensors), sorted(scales), statistics.median(times)


def _embed(model: Any, batch: Any) -> Any:
    import torch

    with torch.inference_mode():
        return model.encode_image(batch, normalize=True)


def _pixel_difference(full: Any, draft: Any, preprocess: Any) -> dict[str, float]:
    """Undo Normalize so the figures are in pixel terms whatever the model's mean and std."""
    import torch

    normalize = preprocess.transforms[-1]
    mean = torch.tensor(normalize.mean).view(1, 3, 1, 1)
    std = torch.tensor(normalize.std).view(1, 3, 1, 1)
    a, b = full * std + mean, draft * std + mean
    mse = ((a - b) ** 2).mean(dim=(1, 2, 3))
    # Identical tensors (no draft possible) have no PSNR; they are left out of it.
    psnr = [10 * math.log10(1 / m) for m in mse.tolist() if m > 0]
    return {
        "max_pixel_diff_8bit": round(float((a - b).abs().max()) * 255, 1),
        "psnr_db_min": round(min(psnr), 1) if psnr else None,
        "psnr_db_mean": round(statistics.mean(psnr), 1) if psnr else None,
    }


def _stats(values: Iterable[float]) -> dict[str, float]:
    values = list(values)
    return {"median": round(statistics.median(values), 4), "max": round(max(values), 4)}


if __name__ == "__main__":
    main()
