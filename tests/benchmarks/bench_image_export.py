"""The image tower's ONNX export against torch: fidelity, encoder speed, and whole `photoclip
index` processes (issue 17: indexing with ViT-B-32 <= 1.2 GB peak RSS).

    nice -n 10 python tests/benchmarks/bench_image_export.py [--photos 64] [--rounds 2]
        [--arch ViT-B-32] [--threads 2] [--source ../shared/data/coco-mini/val2017]
        [--real ../shared/data/coco-mini]

A ViT-B-32 with random weights (seeded) saved to a safetensors file, loaded as a user's
checkpoint (`ARCH:FILE`), and N 4032x3024 JPEGs made from --source
(bench_index_process). Then, in one run:
  export    `python -m photoclip.core.exports MODEL CACHE` (both towers, as the
            background process makes them): wall time and peak RSS;
  fidelity  every photo under --real (coco-mini: 239), as indexing reads it (the same
            draft decode), through torch (open_clip's transform, the image tower) and
            through the export (numpy pixels, onnxruntime): cosines of the vectors, and the
            pixels' largest difference;
  encoder   images/s of the image tower alone on the same ready pixels, torch and
            onnxruntime, --threads threads each, the profile's batch, interleaved rounds;
  indexer   in this process, the indexer over the camera JPEGs with each (a fresh library
            each): steady photos/s (first progress report to last), against the pipeline
            bound of issue 17 (2 cores / (encoder CPU-s per image + decode-thread CPU-s per
            photo), both measured alone here);
  index     whole `photoclip index` processes into fresh libraries, torch (a cache without
            the image export) and onnx (with it), interleaved: wall time, peak RSS, start-up
            to the first decoded photo.
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_index_process import REPO, make_camera_photos, make_weights, run


def export(model: str, cache: Path, work: Path) -> dict[str, float]:
    """The background export's own command, timed, with its peak RSS."""
    command = ["/usr/bin/time", "-f", "maxrss_kb=%M", sys.executable, "-m",
               "photoclip.core.exports", model, str(cache)]  # fmt: skip
    start = time.monotonic()
    done = subprocess.run(command, cwd=work, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"the export failed: {done.stderr[-3000:]}")
    peak = int(done.stderr.rsplit("maxrss_kb=", 1)[1].split()[0]) / 1024
    return {"seconds": round(time.monotonic() - start, 1), "peak_rss_mb": round(peak, 1)}


def encoders(model: str, cache: Path, threads: int) -> tuple[Any, Any]:
    """(torch's image tower, the export) of the model, `threads` threads each."""
    import torch

    from photoclip.core.embedding import load_encoder
    from photoclip.core.imageexport import open_image_export
    from photoclip.core.profiles import resolve_profile
    from photoclip.core.towers import IMAGE

    profile = resolve_profile(model)
    torchs = load_encoder(profile, "cpu", towers=frozenset({IMAGE}), keep_probe=False)
    torch.set_num_threads(threads)
    onnx = open_image_export(cache, profile, threads)
    assert onnx is not None, "no usable image export"
    return torchs, onnx


def fidelity(torchs: Any, onnx: Any, source: Path) -> dict[str, Any]:
    """Both paths on every photo of `source`, decoded as indexing decodes them."""
    from photoclip.core.imageio import decode_photo

    photos = sorted(source.rglob("*.jpg"))
    cosines, apart = [], 0.0
    for batch in range(0, len(photos), 16):
        datas = [path.read_bytes() for path in photos[batch : batch + 16]]
        theirs = [decode_photo(d, torchs.input_size, torchs.prepare).tensor for d in datas]
        ours = [decode_photo(d, onnx.input_size, onnx.prepare).tensor for d in datas]
        pairs = zip(ours, theirs, strict=True)
        apart = max(apart, *(float(np.abs(a - b.numpy()).max()) for a, b in pairs))
        a, b = onnx.encode_prepared(ours), torchs.encode_prepared(theirs)
        cosines += list(
            np.sum(a * b, axis=-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
        )
    return {
        "photos": len(photos),
        "cosine_min": round(float(min(cosines)), 6),
        "cosine_median": round(float(statistics.median(cosines)), 6),
        "pixels_max_abs_diff": apart,
    }


def encoder_speed(torchs: Any, onnx: Any, batch: int, count: int, rounds: int) -> dict[str, Any]:
    """Images/s and CPU-s per image of each encoder on the same ready pixels, interleaved."""
    import torch

    height, width = torchs.input_size
    pixels = np.random.default_rng(0).standard_normal((batch, 3, height, width), np.float32)
    runs = {
        "torch": lambda: torchs.encode_images(torch.from_numpy(pixels)),
        "onnx": lambda: onnx.encode_prepared(list(pixels)),
    }
    for encode in runs.values():  # warm-up: first calls allocate
        encode()
    found: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, encode in runs.items():
            start, cpu = time.perf_counter(), time.process_time()
            for _ in range(0, count, batch):
                encode()
            done = -(-count // batch) * batch
            found[name].append((done / (time.perf_counter() - start),
                                (time.process_time() - cpu) / done))  # fmt: skip
    result = {
        name: {
            "images_per_s": round(statistics.median(r[0] for r in rs), 2),
            "cpu_s_per_image": round(statistics.median(r[1] for r in rs), 4),
        }
        for name, rs in found.items()
    }
    result["onnx_over_torch"] = round(
        result["onnx"]["images_per_s"] / result["torch"]["images_per_s"], 3
    )
    return result


def decode_cpu(encoder: Any, paths: list[Path], work: Path) -> float:
    """CPU-s per photo of all a decode thread does for the indexer with this encoder."""
    from photoclip.core.imageio import ThumbnailStore, read_photo

    thumbnails = ThumbnailStore(work / f"thumbnails-{type(encoder).__name__}")
    cpu = time.process_time()
    for path in paths:
        read_photo(path, encoder.input_size, encoder.prepare, thumbnails)
    return (time.process_time() - cpu) / len(paths)


def indexer_steady(encoder: Any, folder: Path, data: Path, batch: int) -> float:
    """Steady photos/s of the indexer (first progress report to the last)."""
    from photoclip.core.embedding import ImageFirst
    from photoclip.core.indexing import Indexer
    from photoclip.core.library import Library
    from photoclip.core.paths import Locations

    def no_text() -> Any:
        raise AssertionError("no texts here")

    os.environ["PHOTOCLIP_DATA_DIR"] = str(data)
    library = Library.open(Locations.from_environment())
    indexer = Indexer(library, ImageFirst(encoder, no_text), batch_size=batch)
    reports: list[tuple[float, int]] = []
    indexer.index([folder], lambda p: reports.append((time.perf_counter(), p.done)))
    library.close()
    (t0, d0), (t1, d1) = reports[0], reports[-1]
    return (d1 - d0) / (t1 - t0)


def indexers(torchs: Any, onnx: Any, photos: Path, work: Path, batch: int, speed: dict) -> dict:
    paths = sorted(photos.glob("*.jpg"))[:24]
    result = {}
    for name, encoder in (("torch", torchs), ("onnx", onnx)):
        decode = decode_cpu(encoder, paths, work)
        steady = indexer_steady(encoder, photos, work / f"indexer-{name}", batch)
        bound = 2 / (speed[name]["cpu_s_per_image"] + decode)
        result[name] = {
            "decode_thread_cpu_s": round(decode, 4),
            "steady_per_s": round(steady, 2),
            "bound_per_s": round(bound, 2),
            "steady_vs_bound": round(steady / bound, 3),
        }
    return result


def processes(model: str, photos: Path, work: Path, caches: dict, rounds: int) -> dict:
    """Whole `photoclip index` runs, torch and onnx, interleaved, each into a library of
    its own."""
    env = {**os.environ, "PHOTOCLIP_TEXT_EXPORT": "0"}
    found: dict[str, list[dict[str, float]]] = {name: [] for name in caches}
    tag = 0
    for _ in range(rounds):
        for name, cache in (reversed if tag % 2 else iter)(list(caches.items())):
            tag += 1
            data = Path(tempfile.mkdtemp(prefix=f"data-{name}-", dir=work))
            run_env = {**env, "PHOTOCLIP_DATA_DIR": str(data), "PHOTOCLIP_CACHE_DIR": str(cache)}
            found[name].append(run(REPO, ["index", str(photos), "--model", model], run_env, work))
    result: dict[str, Any] = {
        name: {key: round(statistics.median(r[key] for r in rs), 3) for key in rs[0]}
        for name, rs in found.items()
    }
    if len(found) == 2:
        result["onnx_over_torch"] = {
            key: round(result["onnx"][key] / result["torch"][key], 3) for key in result["onnx"]
        }
    result["all_rounds"] = found
    return result


def _said(stage: str, found: Any) -> Any:
    """Each stage's figures on stderr as it ends: a later stage that fails loses none."""
    print(json.dumps({stage: found}), file=sys.stderr, flush=True)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--arch", default="ViT-B-32")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--source", type=Path, default=REPO.parent / "shared/data/coco-mini/val2017"
    )
    parser.add_argument("--real", type=Path, default=REPO.parent / "shared/data/coco-mini")
    args = parser.parse_args()
    os.environ["PHOTOCLIP_TEXT_EXPORT"] = "0"
    with tempfile.TemporaryDirectory(prefix="bench-image-export-") as temp:
        work = Path(temp)
        (work / "photos").mkdir()
        make_camera_photos(work / "photos", args.photos, args.source)
        weights = work / f"{args.arch}-random.safetensors"
        make_weights(weights, args.arch)
        model = f"{args.arch}:{weights}"
        caches = {"torch": work / "cache-torch", "onnx": work / "cache-onnx"}
        # One torch run keeps the device probe that says the model runs on the CPU (the
        # export process keeps none), as the load that starts the export does; both
        # caches get it.
        processes(model, work / "photos", work, {"torch": caches["torch"]}, 1)
        caches["onnx"].mkdir()
        shutil.copy(caches["torch"] / "device-probe.json", caches["onnx"])
        made = _said("export", export(model, caches["onnx"], work))
        timed = _said("index", processes(model, work / "photos", work, caches, args.rounds))
        from photoclip.core.profiles import resolve_profile

        batch = resolve_profile(model).batch_size
        torchs, onnx = encoders(model, caches["onnx"], args.threads)
        faithful = _said("fidelity", fidelity(torchs, onnx, args.real))
        speed = _said("encoder", encoder_speed(torchs, onnx, batch, 64, 3))
        pipeline = indexers(torchs, onnx, work / "photos", work, batch, speed)
    result = {
        "arch": args.arch,
        "photos": args.photos,
        "rounds": args.rounds,
        "threads": args.threads,
        "batch": batch,
        "export": made,
        "index_process": timed,
        "fidelity": faithful,
        "encoder": speed,
        "indexer": pipeline,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
