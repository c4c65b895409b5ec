"""Indexing throughput on camera-size JPEGs against a naive pipeline and the bare encoder.

    python tests/benchmarks/bench_indexing.py [--photos 300] [--arch ViT-B-32]
        [--source ../shared/data/coco-mini/val2017] [--no-remote]

Makes N 4032x3024 quality-90 JPEGs (a quarter EXIF-rotated) by upscaling real photos from
--source (or gradients when it is missing) into a temp folder, then measures, in one run:
  (a) naive: full decode + open_clip's transform + the same model, one thread, batch 16;
  (b) encoder alone on ready tensors (the ceiling);
  (c) PhotoClip's indexer (draft decode in a thread pool, batched inference, commits);
  (d) the same indexer with the model in a child process, as the desktop app runs it
      (decoded pixels cross a pipe; the child applies the transform and infers).
Also times a rescan of the unchanged folder, and of 10k unchanged files (--rescan 10000),
and the start-up of a whole `photoclip index` process until its first photo is decoded
(bench_index_process.run: from the process's start to the end of its first decode_photo),
with the model's weights in a checkpoint file, as a user's would be.

The pipeline bound (issue 17): 2 cores / (the encoder's CPU-seconds per image + the decode
thread's CPU-seconds per photo), both measured alone in this run; the decode is counted
twice over, as the draft decode alone and as all a decode thread does (read, hash, draft
decode, transform, thumbnail). (c) in steady state (from its first progress report to its
last, so start-up is left out) is set against both.
Prints JSON; the figures of merit are (c)/(b) and steady (c) / the pipeline bound.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image, ImageOps

from photoclip.core.embedding import load_encoder
from photoclip.core.indexing import Indexer
from photoclip.core.library import Library
from photoclip.core.paths import Locations
from photoclip.core.profiles import RANDOM_WEIGHTS_ENV, resolve_profile


def make_camera_photos(folder: Path, count: int, source: Path) -> list[Path]:
    sources = sorted(source.glob("*.jpg"))[:count] if source.is_dir() else []
    paths = []
    for i in range(count):
        if sources:
            image = Image.open(sources[i % len(sources)]).convert("RGB").resize((4032, 3024))
        else:
            image = Image.linear_gradient("L").convert("RGB").resize((4032, 3024))
        exif = Image.Exif()
        if i % 4 == 0:
            exif[0x0112] = 6  # rotated 90 degrees: the reader must turn it upright
        path = folder / f"IMG_{i:04d}.jpg"
        image.save(path, quality=90, exif=exif)
        paths.append(path)
    return paths


def naive(encoder: object, paths: list[Path], batch: int) -> float:
    start = time.perf_counter()
    for i in range(0, len(paths), batch):
        images = [
            ImageOps.exif_transpose(Image.open(p)).convert("RGB") for p in paths[i : i + batch]
        ]
        encoder.encode_images(torch.stack([encoder.preprocess(im) for im in images]))  # type: ignore[attr-defined]
    return len(paths) / (time.perf_counter() - start)


def encoder_alone(encoder: object, count: int, batch: int) -> tuple[float, float]:
    """(images per second, CPU-seconds per image) of the encoder on ready tensors."""
    height, width = encoder.input_size  # type: ignore[attr-defined]
    tensors = torch.randn(batch, 3, height, width)
    start, cpu = time.perf_counter(), time.process_time()
    done = 0
    for _ in range(0, count, batch):
        encoder.encode_images(tensors)  # type: ignore[attr-defined]
        done += batch
    return done / (time.perf_counter() - start), (time.process_time() - cpu) / done


def decode_cpu(encoder: object, paths: list[Path], work: Path) -> dict[str, float]:
    """CPU-seconds per photo, on this thread alone: the draft decode by itself, and all a
    decode thread does for the indexer."""
    from photoclip.core.imageio import ThumbnailStore, _reduce_to, decode_image, read_photo

    target = encoder.input_size  # type: ignore[attr-defined]
    preprocess = encoder.preprocess  # type: ignore[attr-defined]
    thumbnails = ThumbnailStore(work / "bound-thumbnails")
    reduce_to = _reduce_to(target, preprocess, thumbnails)  # as far as the indexer shrinks
    cpu = time.process_time()
    for path in paths:
        decode_image(path.read_bytes(), reduce_to)
    draft = (time.process_time() - cpu) / len(paths)
    cpu = time.process_time()
    for path in paths:
        read_photo(path, target, preprocess, thumbnails)
    return {"draft_decode": draft, "decode_thread": (time.process_time() - cpu) / len(paths)}


def photoclip_indexer(encoder: object, folder: Path, data: Path, batch: int) -> dict[str, float]:
    os.environ["PHOTOCLIP_DATA_DIR"] = str(data)
    library = Library.open(Locations.from_environment())
    indexer = Indexer(library, encoder, batch_size=batch)  # type: ignore[arg-type]
    reports: list[tuple[float, int]] = []
    start = time.perf_counter()
    report = indexer.index([folder], lambda p: reports.append((time.perf_counter(), p.done)))
    elapsed = time.perf_counter() - start
    (t0, d0), (t1, d1) = reports[0], reports[-1]
    start = time.perf_counter()
    again = indexer.index([folder])
    rescan = time.perf_counter() - start
    library.close()
    return {
        "photos_per_second": report.embedded / elapsed,
        "steady_per_second": (d1 - d0) / (t1 - t0) if t1 > t0 else 0.0,
        "rescan_seconds": rescan,
        "rescan_unchanged": again.unchanged,
    }


def remote_indexer(encoder: object, folder: Path, data: Path, batch: int) -> float:
    """(c) again, on a fresh catalog, with the model in a child process (same threads)."""
    from photoclip.core.encoderprocess import start_encoder

    profile = encoder.profile  # type: ignore[attr-defined]
    remote = start_encoder(profile, device="cpu", threads=torch.get_num_threads())
    try:
        return photoclip_indexer(remote, folder, data, batch)["photos_per_second"]
    finally:
        remote.close()


def rescan_many(count: int, work: Path) -> dict[str, float]:
    """10k small files indexed once, then rescanned: only stat() and one query each. The
    rescan never runs the model, so the first pass uses the tiny test architecture."""
    encoder = load_encoder(resolve_profile("PhotoClip-TestShapes"), device="cpu")
    folder = work / "many"
    folder.mkdir()
    for i in range(count):
        Image.new("RGB", (32, 24), (i % 256, (i // 256) % 256, 7)).save(folder / f"{i}.png")
    os.environ["PHOTOCLIP_DATA_DIR"] = str(work / "many-data")
    library = Library.open(Locations.from_environment())
    indexer = Indexer(library, encoder, batch_size=64)  # type: ignore[arg-type]
    indexer.index([folder])
    start = time.perf_counter()
    report = indexer.index([folder])
    seconds = time.perf_counter() - start
    library.close()
    return {"files": count, "unchanged": report.unchanged, "rescan_seconds": round(seconds, 3)}


def startup_to_first_decode(arch: str, folder: Path, work: Path) -> dict[str, float]:
    """`photoclip index` in a process of its own, into a fresh library: seconds from its
    start to its first decoded photo, and to its end."""
    from bench_index_process import REPO, make_weights, run

    weights = work / "startup-weights.safetensors"
    make_weights(weights, arch)
    env = {
        **os.environ,
        "PHOTOCLIP_TEXT_EXPORT": "0",
        "PHOTOCLIP_DATA_DIR": str(work / "startup-data"),
        "PHOTOCLIP_CACHE_DIR": str(work / "startup-cache"),
    }
    found = run(REPO, ["index", str(folder), "--model", f"{arch}:{weights}"], env, work)
    return {"first_decode_s": found["first_decode_s"], "whole_run_s": found["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--arch", default="ViT-B-32")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rescan", type=int, default=10000)
    parser.add_argument("--no-remote", action="store_true", help="skip (d), the child process")
    parser.add_argument(
        "--source", type=Path, default=Path(__file__).parents[3] / "shared/data/coco-mini/val2017"
    )
    args = parser.parse_args()
    os.environ[RANDOM_WEIGHTS_ENV] = "1"
    encoder = load_encoder(resolve_profile(args.arch), device="cpu")
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        (work / "photos").mkdir()
        paths = make_camera_photos(work / "photos", args.photos, args.source)
        ceiling, encoder_cpu = encoder_alone(encoder, args.photos, args.batch)
        decoding = decode_cpu(encoder, paths[: min(len(paths), 48)], work)
        baseline = naive(encoder, paths, args.batch)
        ours = photoclip_indexer(encoder, work / "photos", work / "data", args.batch)
        remote = 0.0
        if not args.no_remote:
            remote = remote_indexer(encoder, work / "photos", work / "remote-data", args.batch)
        many = rescan_many(args.rescan, work) if args.rescan else {}
        startup = startup_to_first_decode(args.arch, work / "photos", work)
    result = {
        "arch": args.arch,
        "photos": args.photos,
        "threads": torch.get_num_threads(),
        "encoder_alone_per_s": round(ceiling, 2),
        "naive_per_s": round(baseline, 2),
        "photoclip_per_s": round(ours["photos_per_second"], 2),
        "photoclip_vs_encoder": round(ours["photos_per_second"] / ceiling, 3),
        "photoclip_vs_naive": round(ours["photos_per_second"] / baseline, 2),
        "photoclip_remote_per_s": round(remote, 2),
        "remote_vs_in_process": round(remote / ours["photos_per_second"], 3),
        "encoder_cpu_s_per_image": round(encoder_cpu, 4),
        "decode_cpu_s_per_photo": {k: round(v, 4) for k, v in decoding.items()},
        "photoclip_steady_per_s": round(ours["steady_per_second"], 2),
        "steady_vs_bound": {
            k: round(ours["steady_per_second"] * (encoder_cpu + v) / 2, 3)
            for k, v in decoding.items()
        },
        "rescan_300_seconds": round(ours["rescan_seconds"], 3),
        "rescan_many": many,
        "index_process": startup,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
