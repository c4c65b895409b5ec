"""The test-shapes model's own figures, for photoclip/resources/models/README.md's table.

    python tests/benchmarks/bench_test_shapes.py [--weights candidate.safetensors]

Zero-shot top-1 accuracy with ensembled prompts (the acceptance tests' templates) on
  - generated scenes: 400 held-out single objects of the training generator's defaults
    (1:1, upright: tests/synthetic/test_test_shapes_model.py's set), and the rank of the
    word "circle" for "a circle" among 50 circles and 50 other scenes (below 10 passes);
  - held-out scenes unlike the generator (tests/heldout.py: 3:2, 2:3, 4:3, 1:1 canvases
    up to 1024 px, tilted shapes, JPEG/PNG), --per-pair (4) per colour x shape, and their
    shape top-1 per shape and size (radius as a share of half the short side: the
    training scenes' large shapes stop at about 0.5, the held-out ones go on to 0.7).
Embedded through load_encoder (the app's framing). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from photoclip.synthetic.scenes import (
    COLOURS,
    HELD_OUT_SEED,
    SHAPES,
    random_object_scene,
    word_scene,
)
from tests import heldout
from tests.synthetic.test_test_shapes_model import COLOUR_TEMPLATES, SHAPE_TEMPLATES


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", type=Path, help="test-shapes with these weights")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--per-pair", type=int, default=4, help="held-out scenes per pair")
    args = parser.parse_args()
    encoder = _encoder(args.weights)
    held_out = _held_out(encoder, args.seed, args.per_pair)
    result = {"generated": _generated(encoder), "held_out": held_out}
    json.dump(result, sys.stdout, indent=2, default=lambda x: round(float(x), 4))
    sys.stdout.write("\n")


def _encoder(weights: Path | None) -> Any:
    from photoclip.core.embedding import load_encoder
    from photoclip.core.profiles import resolve_profile

    profile = resolve_profile("test-shapes")
    if weights is not None:
        profile = replace(profile, weights_file=weights.resolve())
    return load_encoder(profile, device="cpu")


def _accuracy(
    encoder: Any, images: np.ndarray, names: list[str], templates: Any, truth: Any
) -> float:
    return float(np.mean(_predicted(encoder, images, names, templates) == np.array(truth)))


def _predicted(encoder: Any, images: np.ndarray, names: list[str], templates: Any) -> np.ndarray:
    """Each image's most likely name (zero-shot, ensembled prompts)."""
    classifier = encoder.embed_prompts(names, templates)
    return np.array(names)[(images @ classifier.T).argmax(axis=1)]


def _generated(encoder: Any) -> dict[str, Any]:
    rng = random.Random(HELD_OUT_SEED + 100)
    scenes = [random_object_scene(rng) for _ in range(400)]
    images = encoder.encode_pil([s.render() for s in scenes])
    shapes = [s.objects[0].shape for s in scenes]
    colours = [s.objects[0].colour for s in scenes]
    return {
        "shape": _accuracy(encoder, images, list(SHAPES), SHAPE_TEMPLATES, shapes),
        "colour": _accuracy(encoder, images, list(COLOURS), COLOUR_TEMPLATES, colours),
        "word_rank": _word_rank(encoder),
    }


def _word_rank(encoder: Any) -> int:
    """As test_the_word_circle_reads_as_a_circle: scenes ranked above the word 'circle'."""
    rng = random.Random(HELD_OUT_SEED + 200)
    circles = [random_object_scene(rng, rng.choice([1, 2]), shape="circle") for _ in range(50)]
    candidates = (random_object_scene(rng, rng.choice([1, 2])) for _ in range(200))
    others = [s for s in candidates if all(o.shape != "circle" for o in s.objects)][:50]
    query = encoder.encode_texts(["a circle"])[0]
    scores = encoder.encode_pil([s.render() for s in [*circles, *others]]) @ query
    word = encoder.encode_pil([word_scene("circle").render()])[0] @ query
    return int((scores > word).sum())


def _held_out(encoder: Any, seed: int, per_pair: int) -> dict[str, Any]:
    scenes = heldout.scene_set(seed, per_pair=per_pair)
    images = np.concatenate(
        [
            encoder.encode_pil([s.image for s in scenes[i : i + 32]])
            for i in range(0, len(scenes), 32)
        ]
    )
    shapes = _predicted(encoder, images, list(heldout.SHAPES), SHAPE_TEMPLATES)
    return {
        "scenes": len(scenes),
        "shape": float(np.mean(shapes == np.array([s.shape for s in scenes]))),
        "colour": _accuracy(
            encoder, images, list(heldout.COLOURS), COLOUR_TEMPLATES, [s.colour for s in scenes]
        ),
        "shape_by_size": _shape_by_size(shapes, scenes),
    }


#: Bands of a held-out shape's radius (share of half the short side).
SIZE_BANDS = ((0.2, 0.35), (0.35, 0.5), (0.5, 0.7))


def _shape_by_size(
    predicted: np.ndarray, scenes: list[heldout.HeldOutScene]
) -> dict[str, dict[str, float]]:
    """Shape top-1 (`predicted`: each scene's most likely shape) for each size band and
    shape: where a model's sizes run out."""
    result: dict[str, dict[str, float]] = {}
    for low, high in SIZE_BANDS:
        band = {}
        for shape in heldout.SHAPES:
            picked = [
                i
                for i, s in enumerate(scenes)
                if s.shape == shape and s.size is not None and low <= s.size < high
            ]
            band[shape] = float(np.mean(predicted[picked] == shape)) if picked else float("nan")
        result[f"{low}-{high}"] = band
    return result


if __name__ == "__main__":
    main()
