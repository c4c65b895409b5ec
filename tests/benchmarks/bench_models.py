"""CPU throughput of each built-in profile's architecture, with random weights (same cost).

    python tests/benchmarks/bench_models.py [--batch 16] [--rounds 3] [--archs A B ...]

Prints JSON: per architecture, images per second for a batch of preprocessed images and the
latency of one text query. Random weights cost exactly what the real ones cost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from photoclip.core.embedding import register_model_configs
from photoclip.core.profiles import BUILTIN_PROFILES


def measure(arch: str, batch: int, rounds: int) -> dict[str, float]:
    import open_clip

    model, _, _ = open_clip.create_model_and_transforms(
        arch, pretrained=None, pretrained_text=False
    )
    model.eval()
    size = model.visual.image_size
    height, width = (size, size) if isinstance(size, int) else size
    images = torch.randn(batch, 3, height, width)
    # Hub tokenizers (xlm-roberta) need a download; the context length alone sets the cost.
    context = model.context_length if hasattr(model, "context_length") else 77
    tokens = torch.randint(1, 1000, (1, context))
    with torch.inference_mode():
        model.encode_image(images[:2])  # warm-up
        image_times = [_timed(lambda: model.encode_image(images)) for _ in range(rounds)]
        text_times = [_timed(lambda: model.encode_text(tokens)) for _ in range(rounds * 3)]
    return {
        "images_per_second": round(batch / statistics.median(image_times), 2),
        "text_query_ms": round(1000 * statistics.median(text_times), 1),
        "input": f"{height}x{width}",
        "parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
    }


def _timed(work: object) -> float:
    start = time.perf_counter()
    work()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--archs", nargs="*")
    args = parser.parse_args()
    register_model_configs()
    archs = args.archs or sorted({p.arch for p in BUILTIN_PROFILES.values()})
    results = {"threads": torch.get_num_threads(), "batch": args.batch}
    for arch in archs:
        results[arch] = measure(arch, args.batch, args.rounds)
        print(arch, results[arch], flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
