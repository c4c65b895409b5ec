"""Re-tag benchmark: editing a category re-tags the whole library from stored vectors.

    python tests/benchmarks/bench_tagging.py [--photos 100000] [--dim 512] [--labels 10] [--cli]
        [--kind colours]

Builds a catalog of random unit vectors (as if indexed), one single-choice and one
multi-label category of random label vectors (a fake text model: no torch), then times
`Tagger.retag` of one category, which is what an edit costs: read every vector from
SQLite, score, learn thresholds, decide, and replace the category's tags. Also times the parts.
With --cli, also times `photoclip tag --category Single` in a fresh process over the same
catalog, registered as ViT-B-32 with random weights (--dim must be 512): the first run
embeds the labels with that model, the timed runs find them cached.
With --gui, also times what the GUI's category editor costs: a SaveCategories job on a
real Worker (queue, save, re-tag, reply), the first one (cold: the worker's Tagger reads
every vector) and the next ones (warm: Worker.tagger kept them).
With --kind, the labels are the first --labels words of that kind of
photoclip/resources/vocabulary.toml, so that the kind's other words compete too (what a
colour category costs). Prints one JSON document. Target: 100k photos in under 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from photoclip.core.catalog import Catalog, ModelRecord
from photoclip.core.categories import MULTI, SINGLE, Category, Label
from photoclip.core.tagging import Tagger, decide, probabilities
from photoclip.core.vocabulary import kinds

MODEL = "bench:random"


class RandomTexts:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.rng = np.random.default_rng(1)

    @property
    def model_key(self) -> str:
        return MODEL

    @property
    def logit_scale(self) -> float:
        return 100.0

    def knows(self, text: str) -> bool:
        return True  # an open vocabulary: other words of a kind compete, at their cost

    def embed_labels(self, texts: Sequence[Sequence[str]], templates: Sequence[str]) -> np.ndarray:
        rows = self.rng.normal(size=(len(texts), self.dim)).astype(np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def build_catalog(
    folder: Path, n: int, dim: int, model: ModelRecord | None = None, root: Path | None = None
) -> Catalog:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    record = model or ModelRecord(MODEL, "bench", "bench", dim, "0", True)
    catalog = Catalog.open(folder / "catalog.sqlite3")
    with catalog.transaction() as db:
        catalog.register_model(record)
        catalog.set_meta("active_model", record.key)
        photos = root or folder
        added = catalog.add_root(photos)
        db.executemany(
            "INSERT INTO photos(root_id, path, size, mtime_ns, content_hash, status, added_at) "
            "VALUES (?, ?, 1, 1, ?, 'indexed', 0)",
            ((added.id, f"{photos}/p{i}.jpg", f"h{i}") for i in range(n)),
        )
        db.executemany(
            "INSERT INTO embeddings VALUES (?, ?, ?)",
            ((record.key, f"h{i}", vectors[i].tobytes()) for i in range(n)),
        )
    return catalog


def timed(function: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return round(best, 4)


def cli_retag(folder: Path, n: int, labels: int) -> dict[str, float]:
    """`photoclip tag --category Single`, process start to exit, in a data folder of `n`
    photos of random ViT-B-32 vectors (the CLI loads the model only to embed new labels)."""
    import open_clip

    record = ModelRecord(
        "ViT-B-32:random", "ViT-B-32", "ViT-B-32", 512, open_clip.__version__, True
    )
    data = folder / "data"
    data.mkdir()
    build_catalog(data, n, 512, record).close()
    env = {
        **os.environ,
        "PHOTOCLIP_DATA_DIR": str(data),
        "PHOTOCLIP_CACHE_DIR": str(folder / "cache"),
        "PHOTOCLIP_ALLOW_RANDOM_WEIGHTS": "1",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    words = [f"label {i}" for i in range(labels)]
    command = [sys.executable, "-m", "photoclip", "tags", "add", "Single", *words]

    def run(*args: str) -> None:
        subprocess.run([*command[:3], *args], env=env, check=True, capture_output=True)

    first = timed(lambda: subprocess.run(command, env=env, check=True, capture_output=True), 1)
    return {
        "add_category_and_embed_labels_s": first,
        "tag_category_s": timed(lambda: run("tag", "--category", "Single")),
        "tag_category_json_s": timed(lambda: run("tag", "--category", "Single", "--json")),
        "import_only_s": timed(lambda: run("--version")),
    }


def gui_retag(folder: Path, n: int, dim: int, labels: tuple[Label, ...]) -> dict[str, float]:
    """SaveCategories jobs on a Worker over `n` photos of an unplugged drive (kept, never
    scanned), their label vectors cached beforehand so that no model is needed."""
    from photoclip.core.actions import SaveCategories
    from photoclip.core.paths import Locations
    from photoclip.core.worker import Worker

    locations = Locations(folder / "gui-data", folder / "gui-cache")
    locations.data.mkdir()
    catalog = build_catalog(locations.data, n, dim, root=folder / "unplugged")
    category = Category("Single", labels, SINGLE)
    Tagger(catalog, RandomTexts(dim)).label_matrix(catalog_category(catalog, category))
    catalog.close()

    def no_model(name: str) -> Any:
        raise AssertionError(f"the benchmark needs no model, asked for {name}")

    worker = Worker(locations, no_model, "bench")
    worker.start()
    worker.wait_idle()
    answered = threading.Event()

    def save() -> None:
        answered.clear()
        worker.submit(SaveCategories((category,), reply=lambda _: answered.set()))
        if not answered.wait(600):
            raise AssertionError("no answer from the worker")

    try:
        cold = timed(save, 1)
        warm = timed(save)
    finally:
        worker.stop()
    return {"save_category_cold_s": cold, "save_category_warm_s": warm,
            "cold_over_warm": round(cold / warm, 2)}  # fmt: skip


def catalog_category(catalog: Catalog, category: Category) -> Category:
    """`category` as stored (with label ids), so that its label vectors can be cached."""
    from photoclip.core.tagstore import TagStore

    return TagStore(catalog).save_category(category)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--labels", type=int, default=10)
    parser.add_argument("--cli", action="store_true", help="also time the CLI (ViT-B-32)")
    parser.add_argument("--gui", action="store_true", help="also time the GUI's re-tag job")
    parser.add_argument("--kind", help="labels named after this kind's words (e.g. colours)")
    args = parser.parse_args()
    labels = tuple(Label(f"label {i}") for i in range(args.labels))
    if args.kind:
        words = next(kind.words for kind in kinds() if kind.name == args.kind)
        labels = tuple(Label(word.name) for word in words[: args.labels])
    with tempfile.TemporaryDirectory() as tmp:
        catalog = build_catalog(Path(tmp), args.photos, args.dim)
        tagger = Tagger(catalog, RandomTexts(args.dim))
        single = tagger.store.save_category(Category("Single", labels, SINGLE))
        multi = tagger.store.save_category(Category("Multi", labels, MULTI))
        tagger.retag()  # embeds and caches the label vectors
        _, vectors = catalog.photo_vectors(MODEL)
        matrix = tagger.label_matrix(single)
        scores = vectors @ matrix.T
        background = vectors @ tagger.background_matrix(single).T
        probs = probabilities(single, scores, background, tagger.logit_scale())
        thresholds = tagger.thresholds(single)
        result = {
            "photos": args.photos,
            "dim": args.dim,
            "labels": args.labels,
            "other_words": background.shape[1] - len(tagger.background_matrix()),
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
                "probabilities": timed(
                    lambda: probabilities(single, scores, background, tagger.logit_scale())
                ),
                "calibrate": timed(lambda: tagger.calibrate(["Single"])),
                "decide": timed(lambda: decide(single, probs, thresholds)),
            },
            "tagged_single": tagger.retag(["Single"])[0].tagged,
            "tagged_multi": tagger.retag(["Multi"], recalibrate=False)[0].tagged,
            "multi_category": multi.name,
        }
        catalog.close()
        if args.cli:
            result["cli_s"] = cli_retag(Path(tmp), args.photos, args.labels)
        if args.gui:
            result["gui_s"] = gui_retag(Path(tmp), args.photos, args.dim, labels)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
