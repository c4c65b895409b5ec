"""Whole-frame search (issue 20): are shapes near a photo's edges found as well as central ones?

    python tests/benchmarks/bench_whole_frame.py [--scenes 400] [--seed 20]
        [--coco ../shared/data/coco-mini] [--only crop,squash,...] [--no-quality]
        [--speed-photos 48] [--rounds 5] [--speed-arch ViT-B-32] [--no-speed]
        [--weights candidate.safetensors] [--records rows.jsonl]

Held-out scenes of our own making (tests/heldout.py `frame_scene`, not the training
generator): 3:2, 2:3, 4:3, 16:9 and 1:1 canvases up to 1024 px with one or two tilted shapes
placed anywhere, on plain, gradient and noise backgrounds and on real photos from coco-mini.
Each is embedded with the test-shapes model under every framing candidate:

  crop            open_clip's default eval transform (short side resized, centre square kept);
  squash          the whole frame resized to a square (open_clip resize_mode 'squash');
  letterbox-mean  long side resized, padded to a square with the model's mean colour
                  (open_clip resize_mode 'longest', fill_color = the normalisation mean);
  letterbox-black the same with open_clip's default fill (0);
  letterbox-photo the same, padded with the photo's own mean colour (the framing of every
                  profile but test-shapes, photoclip.core.embedding.Letterbox);
  letterbox-edge  the letterbox with its bands filled by repeating the photo's edge pixels;
  letterbox-reflect  ... by mirroring the photo across its edges;
  crops-mean      3 overlapping squares (both ends and the centre), their vectors averaged;
  crops-best      the same 3 squares kept as 3 vectors, a photo scored by its best one;
  crops2-best     the 2 squares at the ends of the long side (together they cover a frame up
                  to 2:1), 2 vectors, the best one scores (1 for a square photo);
  crops2-fair     the same, less the photo's mean gain of best over average (`fair_best`);
  letterbox+crop-best, letterbox+crops2-best: the letterbox's vector with the centre
                  crop's, or with both end squares', the best one scores;
  native          the app's framing of test-shapes (photoclip.core.nativeframe): one vector
                  of the whole frame at the crop's scale: the short side at the model's
                  input side, the long one at the nearest whole number of cells (slightly
                  squashed to fit), the position embeddings resized (bicubic) to that grid.
                  One pass, over more positions (4:3: 2x3 cells instead of 2x2). Towers
                  without an attention pool (ViTs: --speed-arch ViT-B-32) leave it out.

Every "a photo of a {colour} {shape}" query ranks all scenes; R is the number of scenes
holding that shape. Per relevant (scene, shape): its rank, and whether it is within the top R.
Split by where the shape's centre lies: inside or outside the centre square. `splits` says
why a rate differs, inside and outside each: by canvas (aspect), background, the shape's
radius in pixels of the letterboxed 64-px input (size), the gap between the shape and the
frame's nearest edge over the short side (edge), and 1:1 or not by size; --records FILE
appends one JSON line per relevant shape (candidate, where, size_px, gap, centre, frame,
rank, hit) for any other cut.

Speed: photos/s of the embedding pipeline (our draft decode + the candidate's transform +
the model) on camera-size (4032x3024) JPEGs upscaled from coco-mini, candidates interleaved
round by round (the order turning each round) in one run, reported as medians and as
ratios to `crop`, per second of wall clock and per CPU-second of this process (the latter
steadier on a shared machine). With test-shapes (64 px) the decode dominates; --speed-arch ViT-B-32
times the same with random weights of the default model's architecture, whose forward pass
dominates on a CPU (what several crops cost a real library).
Prints JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import random
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests import heldout

Transform = Callable[[Image.Image], Any]
QUERY = "a photo of a {} {}"
DEFAULT_COCO = Path(__file__).resolve().parents[3] / "shared" / "data" / "coco-mini"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenes", type=int, default=400)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--coco", type=Path, default=DEFAULT_COCO)
    parser.add_argument("--only", help="comma-separated candidate names (default: all)")
    parser.add_argument("--no-quality", action="store_true")
    parser.add_argument("--speed-photos", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--speed-arch", help="time this architecture (random weights) instead")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument(
        "--records", type=Path, help="append every relevant shape's record here (JSON lines)"
    )
    parser.add_argument(
        "--weights", type=Path, help="test-shapes with these weights (a training candidate)"
    )
    args = parser.parse_args()
    encoder = _encoder(weights=args.weights)
    result: dict[str, Any] = {"model": str(args.weights or "test-shapes")}
    if not args.no_quality:
        result.update(_quality(encoder, args))
    if not args.no_speed:
        timed = _encoder(args.speed_arch) if args.speed_arch else encoder
        result["speed"] = {"model": args.speed_arch or "test-shapes", **_speed(timed, args)}
    json.dump(result, sys.stdout, indent=2, default=lambda x: round(float(x), 4))
    sys.stdout.write("\n")


def _quality(encoder: Any, args: argparse.Namespace) -> dict[str, Any]:
    candidates = _candidates(encoder)
    names = args.only.split(",") if args.only else list(candidates)
    scenes = _scenes(args)
    queries = [(c, s) for c in heldout.COLOURS for s in heldout.SHAPES]
    texts = encoder.encode_texts([QUERY.format(c, s) for c, s in queries])
    found = {}
    for name in names:
        transform, crops = candidates[name]
        records = _records(scenes, queries, _scores(encoder, scenes, transform, crops, texts))
        found[name] = _figures(records)
        if args.records:
            with args.records.open("a", encoding="utf-8") as sink:
                sink.writelines(json.dumps({"candidate": name, **r}) + "\n" for r in records)
    return {"scenes": len(scenes), "relevant": _relevant_counts(scenes), "found": found}


def _encoder(arch: str | None = None, weights: Path | None = None) -> Any:
    import os
    from dataclasses import replace

    from photoclip.core.embedding import load_encoder
    from photoclip.core.profiles import RANDOM_WEIGHTS_ENV, resolve_profile

    if arch:
        os.environ[RANDOM_WEIGHTS_ENV] = "1"
    profile = resolve_profile(arch or "test-shapes")
    if weights is not None:  # same profile (framing included), other weights
        profile = replace(profile, weights_file=weights.resolve())
    return load_encoder(profile, device="cpu")


# -- the candidates ----------------------------------------------------------------------------


def _candidates(encoder: Any) -> dict[str, tuple[Transform, str | None]]:
    """name -> (PIL -> tensor, how crops combine: None for one view, 'mean' or 'best')."""
    import open_clip

    from photoclip.core.embedding import Letterbox

    cfg = open_clip.get_model_preprocess_cfg(encoder.model)
    size = encoder.input_size

    def transform(mode: str, fill: Any = 0) -> Transform:
        return open_clip.image_transform(
            size, is_train=False, mean=cfg["mean"], std=cfg["std"],
            interpolation=cfg["interpolation"], resize_mode=mode, fill_color=fill,
        )  # fmt: skip

    crop = transform("shortest")
    model_mean = tuple(round(255 * m) for m in cfg["mean"])
    letterbox = Letterbox(cfg)
    return {
        "crop": (crop, None),
        "squash": (transform("squash"), None),
        "letterbox-mean": (transform("longest", model_mean), None),
        "letterbox-black": (transform("longest", 0), None),
        "letterbox-photo": (letterbox, None),
        "letterbox-edge": (_padded(cfg, "edge"), None),
        "letterbox-reflect": (_padded(cfg, "reflect"), None),
        "crops-mean": (_views(crop, square_crops), "mean"),
        "crops-best": (_views(crop, square_crops), "best"),
        "crops2-best": (_views(crop, end_squares), "best"),
        "crops2-fair": (_views(crop, end_squares), "fair"),
        "letterbox+crop-best": (_stacked([letterbox, crop]), "best"),
        "letterbox+crops2-best": (_stacked([letterbox, _views(crop, end_squares)]), "best"),
        **_native(encoder, cfg),
    }


def _native(encoder: Any, cfg: dict[str, Any]) -> dict[str, tuple[Transform, str | None]]:
    from photoclip.core.errors import ModelError
    from photoclip.core.nativeframe import NativeFrame, attach

    try:
        return {"native": (NativeFrame(cfg, attach(encoder.model)), None)}
    except ModelError:  # a ViT: not done (profiles.NATIVE says why)
        return {}


def _padded(cfg: dict[str, Any], mode: str) -> Transform:
    """The letterbox with its bands filled from the photo's own edges ('edge': each edge
    row or column repeated; 'reflect': mirrored) instead of one colour."""
    import open_clip
    from torchvision.transforms import functional

    side = cfg["size"] if isinstance(cfg["size"], int) else cfg["size"][0]
    from torchvision.transforms import InterpolationMode

    bilinear = cfg["interpolation"] == "bilinear"
    mode_ = InterpolationMode.BILINEAR if bilinear else InterpolationMode.BICUBIC
    resize = open_clip.transform.ResizeKeepRatio(side, interpolation=mode_, longest=1)
    normalise = open_clip.image_transform(
        side, is_train=False, mean=cfg["mean"], std=cfg["std"],
        interpolation=cfg["interpolation"], resize_mode="squash",
    )  # fmt: skip

    def framed(image: Image.Image) -> Any:
        small = resize(image.convert("RGB"))
        width, height = small.size
        left, top = (side - width) // 2, (side - height) // 2
        padding = [left, top, side - width - left, side - height - top]
        return normalise(functional.pad(small, padding, padding_mode=mode))

    return framed


def fair_best(scores: np.ndarray) -> np.ndarray:
    """(views, queries) -> the best view's score per query, less what taking the best of
    several views adds on average over all queries: the maximum of two noisy scores is
    higher than either, which would rank a wide photo (2 views) above a square one (1)
    for any query at all."""
    best = scores.max(axis=0)
    return best - float((best - scores.mean(axis=0)).mean())


def _views(crop: Transform, squares: Callable[[Image.Image], list[Image.Image]]) -> Transform:
    import torch

    def views(image: Image.Image) -> Any:
        return torch.stack([crop(view) for view in squares(image)])

    return views


def _stacked(transforms: list[Transform]) -> Transform:
    """Every transform's views of the photo, one tensor of (views, C, H, W)."""
    import torch

    def views(image: Image.Image) -> Any:
        tensors = [t(image) for t in transforms]
        return torch.cat([t if t.dim() == 4 else t[None] for t in tensors])

    return views


def square_crops(image: Image.Image, count: int = 3) -> list[Image.Image]:
    """Squares of the short side: one for a square photo, else `count` of them from one end
    to the other (3: both ends and the centre)."""
    width, height = image.size
    short, long = min(width, height), max(width, height)
    if long - short < 2:
        return [image]
    offsets = [round(k * (long - short) / (count - 1)) for k in range(count)]
    if width >= height:
        return [image.crop((o, 0, o + short, short)) for o in offsets]
    return [image.crop((0, o, short, o + short)) for o in offsets]


def end_squares(image: Image.Image) -> list[Image.Image]:
    """The two squares at the ends of the long side: together they cover a frame up to
    2:1 (every camera and phone shape), with one model pass fewer than three crops."""
    return square_crops(image, 2)


# -- the scenes and their figures --------------------------------------------------------------


def _scenes(args: argparse.Namespace) -> list[heldout.FrameScene]:
    rng = random.Random(args.seed)
    files = [json.loads(line)["file"] for line in (args.coco / "manifest.jsonl").open()]
    rng.shuffle(files)
    pairs = [(c, s) for c in heldout.COLOURS for s in heldout.SHAPES]
    scenes = []
    for i in range(args.scenes):
        chosen = rng.sample(pairs, 2 if rng.random() < 0.4 else 1)
        aspect = heldout.FRAME_ASPECTS[i % len(heldout.FRAME_ASPECTS)]
        background = heldout.FRAME_BACKGROUNDS[(i // 5) % len(heldout.FRAME_BACKGROUNDS)]
        if background == "photo":
            with Image.open(args.coco / files[i % len(files)]) as photo:
                scenes.append(heldout.frame_scene(rng, chosen, photo=photo, aspect=aspect))
        else:
            scenes.append(heldout.frame_scene(rng, chosen, background=background, aspect=aspect))
    return scenes


def _relevant_counts(scenes: list[heldout.FrameScene]) -> dict[str, int]:
    placed = [(s, p) for s in scenes for p in s.shapes]
    outside = sum(s.outside_centre(p) for s, p in placed)
    return {"inside": len(placed) - outside, "outside": outside}


def _scores(
    encoder: Any,
    scenes: list[heldout.FrameScene],
    transform: Transform,
    crops: str | None,
    texts: np.ndarray,
) -> np.ndarray:
    """(scenes, queries) scores."""

    rows = []
    for start in range(0, len(scenes), 32):
        views = [transform(s.image) for s in scenes[start : start + 32]]
        if crops is None:  # one view each, batched by size as the app does (native)
            rows.append(encoder.encode_prepared(views) @ texts.T)
            continue
        for view in views:
            vectors = encoder.encode_images(view)
            if crops == "mean":
                mean = vectors.mean(axis=0)
                rows.append((mean / np.linalg.norm(mean) @ texts.T)[None])
            elif crops == "best":
                rows.append((vectors @ texts.T).max(axis=0)[None])
            else:
                rows.append(fair_best(vectors @ texts.T)[None])
    return np.concatenate(rows)


def _figures(records: list[dict[str, Any]]) -> dict[str, Any]:
    figures = _rates(records)
    figures["outside_over_inside"] = figures["top_r_outside"] / max(figures["top_r_inside"], 1e-9)
    figures["splits"] = {key: _split(records, key) for key in SPLITS}
    return figures


def _records(
    scenes: list[heldout.FrameScene], queries: list[tuple[str, str]], scores: np.ndarray
) -> list[dict[str, Any]]:
    """One per relevant (scene, shape): where it lies, what it is on, and how it ranked."""
    records = []
    for q, (colour, shape) in enumerate(queries):
        holders = {
            k: p
            for k, s in enumerate(scenes)
            for p in s.shapes
            if (p.colour, p.shape) == (colour, shape)
        }
        order = np.argsort(-scores[:, q], kind="stable")
        rank_of = {int(k): r + 1 for r, k in enumerate(order)}
        for k, placed in holders.items():
            rank = rank_of[k]
            hit = rank <= len(holders)
            records.append({"scene": k, **_describe(scenes[k], placed), "rank": rank, "hit": hit})
    return records


def _rates(records: list[dict[str, Any]]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for where in ("inside", "outside"):
        chosen = [r for r in records if r["where"] == where]
        figures[f"top_r_{where}"] = float(np.mean([r["hit"] for r in chosen])) if chosen else None
        figures[f"median_rank_{where}"] = (
            statistics.median(r["rank"] for r in chosen) if chosen else None
        )
    return figures


# -- splits: why a rate differs (by canvas, background, size on the model's input, edge) ------

#: Where the letterbox leaves a shape: its radius in pixels of the model's input once the
#: long side is fitted to it (the 64-px test-shapes input: 4 to 19 px).
SIZE_BUCKETS = ((0, 6), (6, 8), (8, 11), (11, math.inf))
#: The gap between a shape's circle and the nearest edge of the frame, over the short side.
EDGE_BUCKETS = ((0, 0.02), (0.02, 0.08), (0.08, 0.2), (0.2, math.inf))
SPLITS = ("aspect", "background", "size", "edge", "aspect_size")


def _describe(scene: heldout.FrameScene, placed: heldout.PlacedShape) -> dict[str, Any]:
    width, height = scene.image.size
    long, short = max(width, height), min(width, height)
    ratio = width / height
    aspect = min(heldout.FRAME_ASPECTS, key=lambda a: abs(a[0] / a[1] - ratio))
    size_px = placed.radius * LETTERBOX_INPUT / long
    gap = min(placed.x, placed.y, width - placed.x, height - placed.y) - placed.radius
    size = _bucket(size_px, SIZE_BUCKETS, "px")
    return {
        "shape": f"{placed.colour} {placed.shape}",
        "where": "outside" if scene.outside_centre(placed) else "inside",
        "size_px": round(size_px, 2),
        "gap": round(gap / short, 4),
        "aspect": f"{aspect[0]}:{aspect[1]}",
        "background": scene.background,
        "size": size,
        "edge": _bucket(gap / short, EDGE_BUCKETS, ""),
        "aspect_size": f"{'1:1' if aspect == (1, 1) else 'wide/tall'} {size}",
        "frame": [width, height],
        "centre": [round(placed.x / width, 3), round(placed.y / height, 3)],
    }


LETTERBOX_INPUT = 64


def _bucket(value: float, buckets: tuple[tuple[float, float], ...], unit: str) -> str:
    low, high = next(b for b in buckets if b[0] <= value < b[1])
    return f"{low}-{high}{unit}" if high < math.inf else f">={low}{unit}"


def _natural(label: str) -> tuple[str, float]:
    """'1:1 6-8px' before '1:1 11-...': text first, then the first number after it."""
    head = label.rstrip("0123456789.-:px>=")
    digits = "".join(c if c.isdigit() or c == "." else " " for c in label[len(head) :]).split()
    return head, float(digits[0]) if digits else 0.0


def _split(records: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Per value of `key`: top-R rate and count inside and outside the centre square."""
    table = {}
    for value in sorted({r[key] for r in records}, key=_natural):
        group = [r for r in records if r[key] == value]
        row: dict[str, Any] = {}
        for where in ("inside", "outside"):
            chosen = [r["hit"] for r in group if r["where"] == where]
            row[where] = round(float(np.mean(chosen)), 3) if chosen else None
            row[f"n_{where}"] = len(chosen)
        table[value] = row
    return table


# -- speed ---------------------------------------------------------------------------------------


def _speed(encoder: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Photos/s of draft decode + transform + model on camera JPEGs, candidates interleaved."""
    candidates = _candidates(encoder)
    files = sorted((args.coco / "train2017").glob("*.jpg"))[: args.speed_photos]
    blobs = [_camera_jpeg(path) for path in files]
    names = ["crop", "squash", "letterbox-mean", "letterbox-photo", "crops-best"]
    if args.only:  # the baseline first, then those asked for
        names = ["crop", *[n for n in args.only.split(",") if n != "crop"]]
    rates: dict[str, list[float]] = {name: [] for name in names}
    cpu_rates: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(args.rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            transform, crops = candidates[name]
            wall, per_cpu = _rate(encoder, blobs, transform, crops)
            rates[name].append(wall)
            cpu_rates[name].append(per_cpu)
    medians = {name: statistics.median(values) for name, values in rates.items()}
    cpu = {name: statistics.median(values) for name, values in cpu_rates.items()}
    return {
        "photos": len(blobs),
        "photos_per_s": medians,
        "ratio_to_crop": {name: medians[name] / medians["crop"] for name in names},
        # Photos per CPU-second of this process: what a busy shared machine's wall clock
        # hides (other processes' load comes and goes between candidates).
        "photos_per_cpu_s": cpu,
        "cpu_ratio_to_crop": {name: cpu[name] / cpu["crop"] for name in names},
        # The transform alone on one draft-decoded camera photo (what differs between the
        # one-pass candidates; the decode, ~20-30 ms, and the model pass are the same).
        "transform_ms": {
            name: _transform_ms(candidates[name][0], blobs[0], encoder) for name in names
        },
    }


def _transform_ms(transform: Transform, blob: bytes, encoder: Any) -> float:
    from photoclip.core.imageio import decode_image, model_min_short

    image = decode_image(blob, (model_min_short(encoder.input_size), 256)).image
    runs = [timeit.timeit(lambda: transform(image), number=50) / 50 for _ in range(5)]
    return 1000 * statistics.median(runs)


def _camera_jpeg(path: Path) -> bytes:
    with Image.open(path) as image:
        big = image.convert("RGB").resize((4032, 3024), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    big.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _rate(
    encoder: Any, blobs: list[bytes], transform: Transform, crops: str | None
) -> tuple[float, float]:
    """Photos per second of wall clock and per CPU-second of this process."""
    import torch

    from photoclip.core.imageio import decode_photo

    start, cpu_start = time.perf_counter(), time.process_time()
    for first in range(0, len(blobs), 16):
        tensors = [
            decode_photo(blob, encoder.input_size, transform).tensor
            for blob in blobs[first : first + 16]
        ]
        if crops is None:  # one view each, batched by size as the app does (native)
            encoder.encode_prepared(tensors)
        else:
            encoder.encode_images(torch.cat(tensors))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return len(blobs) / wall, len(blobs) / cpu


if __name__ == "__main__":
    main()
