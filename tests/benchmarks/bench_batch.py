"""Images per second of each profile's image tower at several batch sizes, interleaved.

    PYTHONPATH=$PWD nice -n 10 python tests/benchmarks/bench_batch.py [--rounds 3] \
        [--images 64] [--threads 2] [--archs ViT-B-32 MobileCLIP2-S0] [--batches 8 16 32]

Builds each architecture as PhotoClip loads it (load_encoder: MobileCLIP fused and
channels-last), with random weights (the same cost as real ones), and embeds `--images`
preprocessed random images at each batch size, round by round, the sizes interleaved so that
a busy machine slows them alike. Prints JSON: per architecture and batch size, the median
images per second and the median ratio to the first batch size of the same round. The
per-profile batch sizes in photoclip/core/profiles.py come from this.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch

from photoclip.core.embedding import load_encoder
from photoclip.core.profiles import RANDOM_WEIGHTS_ENV, resolve_profile


def rate(encoder: object, images: torch.Tensor, batch: int) -> float:
    start = time.perf_counter()
    for i in range(0, len(images), batch):
        encoder.encode_images(images[i : i + batch])  # type: ignore[attr-defined]
    return len(images) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--archs", nargs="*", default=["ViT-B-32", "MobileCLIP2-S0"])
    parser.add_argument("--batches", nargs="*", type=int, default=[8, 16, 32])
    args = parser.parse_args()
    os.environ[RANDOM_WEIGHTS_ENV] = "1"
    results = {}
    for arch in args.archs:
        encoder = load_encoder(resolve_profile(arch), device="cpu", threads=args.threads)
        height, width = encoder.input_size
        images = torch.randn(args.images, 3, height, width)
        encoder.encode_images(images[:4])  # warm-up
        rates: dict[int, list[float]] = {batch: [] for batch in args.batches}
        for _ in range(args.rounds):
            for batch in args.batches:
                rates[batch].append(rate(encoder, images, batch))
        first = rates[args.batches[0]]
        results[arch] = {
            str(batch): {
                "images_per_second": round(statistics.median(found), 2),
                "ratio_to_first": round(
                    statistics.median(r / f for r, f in zip(found, first, strict=True)), 3
                ),
            }
            for batch, found in rates.items()
        }
    print(json.dumps({"threads": args.threads, "images": args.images, **results}, indent=2))


if __name__ == "__main__":
    main()
