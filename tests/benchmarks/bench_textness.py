"""Textness report: the test-shapes direction's held-out accuracy and, for the query
"a circle" over real circles and word-only "circle" images, where the word images rank at
each textness scale (indexed through the real path). Prints JSON. Run by hand:

    PYTHONPATH=. python tests/benchmarks/bench_textness.py [--each 12] [--distractors 24]

--distractors adds other shapes, so "real circles fill the top 10" needs the model to know
shapes, not only to push text away.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import torch

from photoclip.core.embedding import load_encoder
from photoclip.core.indexing import Indexer
from photoclip.core.library import Library
from photoclip.core.paths import Locations
from photoclip.core.profiles import resolve_profile
from photoclip.core.search import Searcher, SearchOptions
from photoclip.core.textness import learn_direction
from photoclip.synthetic.scenes import SHAPES, random_object_scene, random_word_scene

SCALES = (-2.0, -1.0, 0.0, 1.0, 2.0)


def write_folder(folder: Path, each: int, distractors: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    for number in range(each):
        random_object_scene(rng, shape="circle").render().save(folder / f"circle-{number}.png")
        random_word_scene(rng, word="circle").render().save(folder / f"word-{number}.png")
    others = [s for s in SHAPES if s != "circle"]
    for number in range(distractors):
        shape = others[number % len(others)]
        random_object_scene(rng, shape=shape).render().save(folder / f"other-{number}.png")


def ranks(searcher: Searcher, scale: float) -> dict[str, object]:
    results = searcher.search("a circle", SearchOptions(limit=1000, textness=scale))
    names = [r.photo.path.name.split("-")[0] for r in results]
    words = [i for i, n in enumerate(names, 1) if n == "word"]
    top10 = names[:10]
    return {
        "scale": scale,
        "word_ranks": words,
        "top10": "".join(n[0].upper() for n in top10),
        "top10_words": top10.count("word"),
        "top10_circles": top10.count("circle"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--each", type=int, default=12)
    parser.add_argument("--distractors", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(2)
    encoder = load_encoder(resolve_profile("test-shapes"), device="cpu")
    started = time.perf_counter()
    direction = learn_direction(encoder)
    seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as temporary:
        home = Path(temporary)
        write_folder(home / "photos", args.each, args.distractors)
        with Library.open(Locations(home / "data", home / "cache")) as library:
            Indexer(library, encoder).index([home / "photos"])
            searcher = Searcher(library, lambda: encoder)
            rows = [ranks(searcher, scale) for scale in SCALES]
    report = {
        "model": encoder.model_key,
        "classifier_held_out_accuracy": round(direction.accuracy, 4),
        "trained_on_images": direction.samples,
        "learn_seconds": round(seconds, 2),
        "circles": args.each,
        "word_images": args.each,
        "distractors": args.distractors,
        "scales": rows,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
