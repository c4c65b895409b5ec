"""Re-tag benchmark: editing a category re-tags the whole library from stored vectors.

    python tests/benchmarks/bench_tagging.py [--photos 100000] [--dim 512] [--labels 10]

Builds a catalog of random unit vectors (as if indexed), one single-choice and one
multi-label category of random label vectors (a fake text model: no torch), then times
`Tagger.retag` of one category, which is what an edit costs: read every vector from
SQLite, score, calibrate, decide, and replace the category's tags. Also times the parts.
Prints one JSON document. Target: 100k photos in under 2 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from photoclip.core.catalog import Catalog, ModelRecord
from photoclip.core.categories import MULTI, SINGLE, Category, Label
from photoclip.core.tagging import Tagger, calibrated_threshold, decide

MODEL = "bench:random"


class RandomTexts:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.rng = np.random.default_rng(1)

    @property
    def model_key(self) -> str:
        return MODEL

    def embed_labels(self, texts: Sequence[Sequence[str]], templates: Sequence[str]) -> np.ndarray:
        rows = self.rng.normal(size=(len(texts), self.dim)).astype(np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def build_catalog(folder: Path, n: int, dim: int) -> Catalog:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    catalog = Catalog.open(folder / "catalog.sqlite3")
    with catalog.transaction() as db:
        catalog.register_model(ModelRecord(MODEL, "bench", "bench", dim, "0", True))
        root = catalog.add_root(folder)
        db.executemany(
            "INSERT INTO photos(root_id, path, size, mtime_ns, content_hash, status, added_at) "
            "VALUES (?, ?, 1, 1, ?, 'indexed', 0)",
            ((root.id, f"{folder}/p{i}.jpg", f"h{i}") for i in range(n)),
        )
        db.executemany(
            "INSERT INTO embeddings VALUES (?, ?, ?)",
            ((MODEL, f"h{i}", vectors[i].tobytes()) for i in range(n)),
        )
    return catalog


def timed(function: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return round(best, 4)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--labels", type=int, default=10)
    args = parser.parse_args()
    labels = tuple(Label(f"label {i}") for i in range(args.labels))
    with tempfile.TemporaryDirectory() as tmp:
        catalog = build_catalog(Path(tmp), args.photos, args.dim)
        tagger = Tagger(catalog, RandomTexts(args.dim))
        single = tagger.store.save_category(Category("Single", labels, SINGLE))
        multi = tagger.store.save_category(Category("Multi", labels, MULTI))
        tagger.retag()  # embeds and caches the label vectors
        _, vectors = catalog.photo_vectors(MODEL)
        matrix = tagger.label_matrix(single)
        scores = vectors @ matrix.T
        thresholds = tagger.thresholds(single)
        result = {
            "photos": args.photos,
            "dim": args.dim,
            "labels": args.labels,
            # A long-lived tagger (GUI, worker) keeps the vectors between edits...
            "retag_single_category_s": timed(lambda: tagger.retag(["Single"])),
            "retag_multi_category_s": timed(lambda: tagger.retag(["Multi"])),
            # ... a fresh one (the CLI) reads them from SQLite first.
            "retag_single_category_cold_s": timed(
                lambda: Tagger(catalog, tagger.texts).retag(["Single"])
            ),
            "parts_s": {
                "read_vectors": timed(lambda: catalog.photo_vectors(MODEL)),
                "score": timed(lambda: vectors @ matrix.T),
                "calibrate": timed(lambda: [calibrated_threshold(scores[:, j]) for j in range(10)]),
                "decide": timed(lambda: decide(single, scores, thresholds)),
            },
            "tagged_single": tagger.retag(["Single"])[0].tagged,
            "tagged_multi": tagger.retag(["Multi"], recalibrate=False)[0].tagged,
            "multi_category": multi.name,
        }
        catalog.close()
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
