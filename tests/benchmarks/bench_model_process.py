"""The app's model process (photoclip.core.encoderprocess) served by torch or by the towers'
ONNX exports: its peak RSS and its answers (issue 17: indexing <= 1.2 GB with ViT-B-32).

    nice -n 10 python tests/benchmarks/bench_model_process.py [--arch ViT-B-32] [--images 64]

A model with random weights (seeded) saved to a safetensors file and loaded as a user's
checkpoint (`ARCH:FILE`, as bench_image_export.py does); both exports made by the background
export's own command, with the device probe of a CPU-only load. Then the model process is
started twice, as the window starts it: with a cache folder holding the exports (it serves
them) and with one without them (torch, both towers). Each embeds --images generated photos
in batches of the profile's size, a text query and a 2-label prompt ensemble; the child's
peak RSS (VmHWM) is read from /proc. The two answers are compared (cosines). Linux only.
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from bench_image_export import export
from bench_index_process import make_weights


def peak_rss_mb(pid: int | None) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def photos(count: int) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    sizes = [(640, 480), (480, 640), (800, 450)]
    return [
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        for w, h in (sizes[i % 3] for i in range(count))
    ]


def served(model: str, cache: Path, images: list[Image.Image]) -> dict[str, Any]:
    from photoclip.core.encoderprocess import start_encoder
    from photoclip.core.profiles import resolve_profile

    profile = resolve_profile(model)
    started = time.monotonic()
    remote = start_encoder(profile, cache=cache / "weights", threads=2)
    loaded = time.monotonic() - started
    try:
        batch = profile.batch_size
        vectors = np.concatenate(
            [remote.encode_pil(images[i : i + batch]) for i in range(0, len(images), batch)]
        )
        texts = remote.encode_texts(["a dog on a beach"])
        prompts = remote.embed_prompts(["dog", "cat"], ("a photo of a {}.", "a {}."))
        return {
            "origin": remote.origin,
            "load_seconds": round(loaded, 2),
            "seconds": round(time.monotonic() - started, 2),
            "peak_rss_mb": peak_rss_mb(remote.pid),
            "vectors": (vectors, texts, prompts),
        }
    finally:
        remote.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="ViT-B-32")
    parser.add_argument("--images", type=int, default=64)
    args = parser.parse_args()
    import torch

    from photoclip.core.device import DeviceProbe, save_probe

    images = photos(args.images)
    with tempfile.TemporaryDirectory(prefix="bench-model-process-") as temp:
        work = Path(temp)
        weights = work / f"{args.arch}-random.safetensors"
        make_weights(weights, args.arch)
        model = f"{args.arch}:{weights}"
        caches = {"onnx": work / "cache-onnx", "torch": work / "cache-torch"}
        for cache in caches.values():
            cache.mkdir()
            save_probe(DeviceProbe("auto", "cpu", torch.__version__, ("cpu",)), cache)
        made = export(model, caches["onnx"], work)
        runs = {name: served(model, cache, images) for name, cache in caches.items()}
        shutil.rmtree(work / "cache-onnx", ignore_errors=True)
    answers = [run.pop("vectors") for run in runs.values()]
    cosines = [
        float(np.min(np.sum(a * b, axis=1))) for a, b in zip(answers[0], answers[1], strict=True)
    ]
    ratio = runs["onnx"]["peak_rss_mb"] / runs["torch"]["peak_rss_mb"]
    print(
        json.dumps(
            {
                "arch": args.arch,
                "images": args.images,
                "export": made,
                "served": runs,
                "peak_rss_ratio_onnx_to_torch": round(ratio, 3),
                "min_cosine_images_texts_prompts": [round(c, 6) for c in cosines],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
