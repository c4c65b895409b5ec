"""MobileCLIP's image tower fused for inference (photoclip.core.embedding.fuse_for_inference)
against the unfused one, random weights (same cost as real ones).

    python tests/benchmarks/bench_fusing.py [--arch MobileCLIP2-S0] [--batch 8] [--rounds 5]

The two run alternately, round by round, on the same batch; prints JSON with each median
rate, the median of the per-round speed-ups, and the largest difference of their vectors.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time

import torch

from photoclip.core.embedding import fuse_for_inference


def main() -> None:
    import open_clip

    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="MobileCLIP2-S0")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    plain = open_clip.create_model(args.arch, pretrained=None, pretrained_text=False).eval()
    built = time.perf_counter() - started
    fused = copy.deepcopy(plain)
    assert fuse_for_inference(fused), f"{args.arch} has nothing to fuse"
    size = plain.visual.image_size
    height, width = (size, size) if isinstance(size, int) else size
    images = torch.randn(args.batch, 3, height, width)
    nhwc = images.contiguous(memory_format=torch.channels_last)
    plain_times, fused_times = [], []
    with torch.inference_mode():
        difference = float((plain.encode_image(images, normalize=True)
                            - fused.encode_image(nhwc, normalize=True)).abs().max())  # fmt: skip
        for _ in range(args.rounds):
            plain_times.append(_timed(lambda: plain.encode_image(images)))
            fused_times.append(_timed(lambda: fused.encode_image(nhwc)))
    pairs = zip(plain_times, fused_times, strict=True)
    print(json.dumps({
        "arch": args.arch,
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "build_s": round(built, 2),
        "unfused_images_per_s": round(args.batch / statistics.median(plain_times), 2),
        "fused_channels_last_images_per_s": round(args.batch / statistics.median(fused_times), 2),
        "speed_up": round(statistics.median(p / f for p, f in pairs), 3),
        "max_abs_diff": difference,
    }, indent=2))  # fmt: skip


def _timed(work: object) -> float:
    start = time.perf_counter()
    work()  # type: ignore[operator]
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
