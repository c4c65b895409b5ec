"""'Very similar shot': burst-like pairs of real photos against distinct photos and generated
shapes. Prints JSON. Run by hand:

    PYTHONPATH=. python tests/benchmarks/bench_similar_shots.py --model test-shapes ViT-B-32

The set, made at run time in a temporary folder (nothing is committed):
- 40 bursts from ../shared/data/coco-mini: two frames of one photo, the second panned by
  15-25% of the side in a random direction (and zoomed in by up to 8%), saved at another
  JPEG quality (90 and 70): the same scene a moment later, not a copy;
- 40 other real photos, all different;
- the 150 generated single shapes of bench_duplicate_quality.py (6 shared backgrounds).
It prints, per model, what the thresholds in photoclip/core/duplicates.py rest on: the
embedding cosine and the shot alignment (`fingerprints.shot_alignment`) of each burst,
of the closest distinct real photos and of generated shapes on one background; then what
`DuplicateFinder` reports: bursts found as "very similar shot", and any other pair.
"""

from __future__ import annotations

import argparse
import json
import os
import random
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from bench_duplicate_quality import (  # type: ignore[import-not-found]
    indexed_set,
    real_photos,
    shapes,
)
from PIL import Image


def burst(image: Image.Image, rng: random.Random) -> tuple[Image.Image, Image.Image]:
    """Two frames of one scene: a window of 75% of the side, and the same window panned by
    15-25% of the frame's side (and zoomed in by up to 8%), both at the frame's size."""
    width, height = image.size
    side = 0.75
    shift = rng.uniform(0.15, 0.25) * side
    angle = rng.uniform(0, 2 * np.pi)
    dx, dy = shift * np.cos(angle), shift * np.sin(angle)
    x0 = min(max(0.125 - dx / 2, 0.0), 1 - side)
    y0 = min(max(0.125 - dy / 2, 0.0), 1 - side)
    zoom = side * (1 - rng.uniform(0, 0.08))
    x1 = min(max(x0 + dx, 0.0), 1 - zoom)
    y1 = min(max(y0 + dy, 0.0), 1 - zoom)
    size = (int(width * side), int(height * side))

    def frame(x: float, y: float, s: float) -> Image.Image:
        box = (x * width, y * height, (x + s) * width, (y + s) * height)
        return image.resize(size, Image.Resampling.LANCZOS, box=box)

    return frame(x0, y0, side), frame(x1, y1, zoom)


def make_set(folder: Path, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    chosen = real_photos(80, seed + 100)  # other photos than the quality bench's own
    truth: dict[str, Any] = {}
    for number, source in enumerate(chosen):
        image = Image.open(source).convert("RGB")
        if number < 40:
            first, second = burst(image, rng)
            first.save(folder / f"burst{number:02d}-a.jpg", quality=90)
            second.save(folder / f"burst{number:02d}-b.jpg", quality=70)
            truth[f"burst{number:02d}-a.jpg"] = truth[f"burst{number:02d}-b.jpg"] = {
                "group": f"burst{number}"
            }
        else:
            image.save(folder / f"real{number:02d}.jpg", quality=90)
            truth[f"real{number:02d}.jpg"] = {"group": f"real{number}"}
    for number, (label, image) in enumerate(shapes(150, seed)):
        image.save(folder / f"shape{number:03d}.jpg", quality=95)
        truth[f"shape{number:03d}.jpg"] = {"group": f"shape{number}", **label}
    return truth


def kind_of_pair(a: str, b: str, truth: dict[str, Any]) -> str:
    one, other = truth[a], truth[b]
    if one["group"] == other["group"]:
        return "burst"
    if "shape" in one and "shape" in other:
        if one["background"] != other["background"]:
            return "shapes, other background"
        same = one["shape"] == other["shape"] and one["colour"] == other["colour"]
        return "shapes, same shape and colour" if same else "shapes, shape or colour differ"
    return "real, different"


def measure(library: Any, truth: dict[str, Any]) -> dict[str, Any]:
    """Cosine and shot alignment of every pair of one kind (real different: the 60 closest
    by cosine)."""
    from photoclip.core.duplicates import FINGERPRINT_RECIPE
    from photoclip.core.fingerprints import Fingerprint, shot_alignment

    record = library.active_model
    ids, vectors = library.catalog.photo_vectors(record.key)
    photos = library.catalog.photos(ids.tolist())
    name_of = {i: photos[i].path.name for i in ids.tolist()}
    row = {name_of[i]: r for r, i in enumerate(ids.tolist())}
    stored = library.catalog.fingerprints(FINGERPRINT_RECIPE)
    prints = {
        p.path.name: Fingerprint.from_bytes(stored[str(p.content_hash)]) for p in photos.values()
    }
    by_kind: dict[str, list[list[float]]] = {}
    for a, b in combinations(sorted(row), 2):
        kind = kind_of_pair(a, b, truth)
        if kind == "shapes, other background":
            continue
        cosine = float(vectors[row[a]] @ vectors[row[b]])
        by_kind.setdefault(kind, []).append([round(cosine, 3), a, b])  # type: ignore[list-item]
    report: dict[str, Any] = {}
    for kind, pairs in by_kind.items():
        pairs.sort(key=lambda p: -p[0])
        chosen = pairs if kind != "real, different" else pairs[:60]
        rows = []
        for cosine, a, b in chosen:
            shot = shot_alignment(prints[a], prints[b])  # type: ignore[index]
            rows.append(
                [
                    cosine,
                    round(shot.mean_error, 1),
                    round(shot.off_cells, 3),
                    round(shot.detail, 3),
                    round(shot.overlap, 2),
                ]
            )
        rows_array = np.array(rows)
        report[kind] = {
            "pairs": len(pairs),
            "cosine_quantiles_5_50_95": np.quantile([p[0] for p in pairs], [0.05, 0.5, 0.95])
            .round(3)
            .tolist(),
            "closest_by_shot": sorted(rows, key=lambda r: (r[2], r[1]))[:8],
            "shot_mean_min_median": [
                float(rows_array[:, 1].min()),
                float(np.median(rows_array[:, 1])),
            ],
        }
    return report


def run(model: str, seed: int, keep: Path | None) -> dict[str, Any]:
    from photoclip.core.duplicates import SIMILAR, DuplicateFinder

    with indexed_set(model, seed, keep, make_set) as (library, truth, _):
        measured = measure(library, truth) if not os.environ.get("NO_MEASURE") else {}
        groups = DuplicateFinder(library).find()
        found: dict[str, list[Any]] = {}
        for group in groups:
            for match in group.pairs:
                names = {p.id: p.path.name for p in group.photos}
                a, b = sorted((names[match.a], names[match.b]))
                kind = kind_of_pair(a, b, truth)
                found.setdefault(f"{kind}: {match.kind}", []).append([a, b, match.similarity])
        bursts = sum(1 for key in found if key == f"burst: {SIMILAR}" for _ in found[key])
        return {
            "model": model,
            "bursts_found_as_similar_of_40": bursts,
            "found": {k: v if len(v) <= 6 else [len(v), *v[:6]] for k, v in found.items()},
            "measured": measured,
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", nargs="*", default=["test-shapes"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="make the set here once, and reuse it")
    args = parser.parse_args()
    print(json.dumps([run(m, args.seed, args.keep) for m in args.model], indent=1))


if __name__ == "__main__":
    main()
