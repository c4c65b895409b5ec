"""Textness report: the test-shapes direction's held-out accuracy and, for the query
"a circle" over real circles and word-only "circle" images, where the word images rank at
each textness scale (indexed through the real path). Prints JSON. Run by hand:

    PYTHONPATH=. python tests/benchmarks/bench_textness.py [--each 12] [--distractors 24]
        [--seeds 3] [--weights candidate.safetensors] [--direction recipe2] [--explain]

--distractors adds other shapes, so "real circles fill the top 10" needs the model to know
shapes, not only to push text away.

"steering" (recipe 2's evidence): directions learned with --seeds seeds, each steering 12
folders of 12 shapes and 12 word-only images (the shape's own name in 8, another word in 4);
"misplaced" counts word images still in the top 12 at -2, plus, where the word is the
shape's name, those missing from the top 12 at +2 (0 is perfect; 12 folders x 12 at most).

--direction picks how "steering" learns its directions (the "scales" rows always use the
app's own path): recipe2 (textness.py), pair-gap (recipe 2 divided by the mean gap of its
training pairs along it), mean-difference (mean of written - smudged over the training
pairs, no classifier), text-side (the text tower's "a sign that says w"/"the word w" minus
"a photo of a w"/"a w" over textness.py's words). --explain adds, for the seed-0 direction,
each folder's mean projection of word and shape images, how the training images read as
shapes, and a bound fitted on the folders themselves (not a recipe): misplaced when each
folder is steered by the mean word-minus-shape difference of the other folders, or of the
folders of other shapes only. Low there means the embedding keeps "word, not the thing"
on a line, and only the training pairs miss it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from photoclip.core import textness
from photoclip.core.embedding import load_encoder
from photoclip.core.indexing import Indexer
from photoclip.core.library import Library
from photoclip.core.paths import Locations
from photoclip.core.profiles import resolve_profile
from photoclip.core.search import Searcher, SearchOptions
from photoclip.core.textness import learn_direction, steer
from photoclip.synthetic.scenes import SHAPES, random_object_scene, random_word_scene

SCALES = (-2.0, -1.0, 0.0, 1.0, 2.0)
#: (seed, shape, word) of the steering folders.
FOLDERS = (
    (7, "circle", "circle"), (11, "square", "square"), (13, "star", "star"),
    (17, "triangle", "triangle"), (29, "circle", "circle"), (31, "star", "star"),
    (37, "square", "square"), (41, "triangle", "triangle"), (19, "circle", "red"),
    (23, "square", "cat"), (43, "star", "sale"), (47, "triangle", "hello"),
)  # fmt: skip


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


def _folders(encoder: Any) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(shape, word, vectors, is_word) of every folder in FOLDERS."""
    return [(shape, word, *_folder(seed, shape, word, encoder)) for seed, shape, word in FOLDERS]


def steering(encoder: Any, seeds: int, how: str = "recipe2") -> list[dict[str, object]]:
    folders = _folders(encoder)
    rows = []
    for seed in range(seeds):
        direction = DIRECTIONS[how](encoder, seed)
        misplaced = [_misplaced(encoder, direction, *folder) for folder in folders]
        rows.append({"seed": seed, "misplaced": sum(misplaced), "per_folder": misplaced})
    return rows


def _pairs(encoder: Any, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Embedded (smudged, written) training pairs of learn_direction, and its held-out mask."""
    pairs = textness.SMALL_INPUT_PAIRS
    smudged, written = textness.training_pairs(pairs, seed, max(64, max(encoder.input_size)))
    held_out = textness._held_out_mask(pairs, seed)
    return encoder.encode_pil(smudged), encoder.encode_pil(written), held_out


def _recipe2(encoder: Any, seed: int) -> np.ndarray:
    return learn_direction(encoder, seed=seed).vector


def _pair_gap(encoder: Any, seed: int) -> np.ndarray:
    """Scale 1 moves the query as far along the direction as writing words moves an image."""
    vector = learn_direction(encoder, seed=seed).vector
    smudged, written, held_out = _pairs(encoder, seed)
    return vector / float(((written - smudged)[~held_out] @ vector).mean())


def _mean_difference(encoder: Any, seed: int) -> np.ndarray:
    smudged, written, held_out = _pairs(encoder, seed)
    mean = (written - smudged)[~held_out].astype(np.float64).mean(axis=0)
    return (mean / np.linalg.norm(mean)).astype(np.float32)


def _text_side(encoder: Any, seed: int) -> np.ndarray:
    """Seed-free: the same direction for every seed."""

    def mean_of(templates: tuple[str, ...]) -> np.ndarray:
        texts = [t.format(w) for t in templates for w in textness._WORDS]
        vectors = encoder.encode_texts(texts).astype(np.float64)
        return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).mean(axis=0)

    written = mean_of(("a sign that says {}", "the word {}"))
    difference = written - mean_of(("a photo of a {}", "a {}"))
    return (difference / np.linalg.norm(difference)).astype(np.float32)


DIRECTIONS = {
    "recipe2": _recipe2,
    "pair-gap": _pair_gap,
    "mean-difference": _mean_difference,
    "text-side": _text_side,
}


def explain(encoder: Any, how: str) -> dict[str, object]:
    """Where word and shape images lie along the seed-0 direction, and how much the training
    images (smudged and written) read as each shape (mean cosine with "a <shape>")."""
    direction = DIRECTIONS[how](encoder, 0)
    embedded = _folders(encoder)
    folders = []
    for shape, word, vectors, is_word in embedded:
        along = vectors @ direction
        folders.append({
            "shape": shape, "word": word,
            "word_projection": round(float(along[is_word].mean()), 3),
            "shape_projection": round(float(along[~is_word].mean()), 3),
            "word_sd": round(float(along[is_word].std()), 3),
            "shape_sd": round(float(along[~is_word].std()), 3),
        })  # fmt: skip
    prompts = encoder.encode_texts([f"a {shape}" for shape in SHAPES])
    prompts /= np.linalg.norm(prompts, axis=1, keepdims=True)
    smudged, written, _ = _pairs(encoder, 0)
    read_as = {}
    for kind, images in (("smudged", smudged), ("written", written)):
        cosines = (images @ prompts.T).mean(axis=0)
        pairs = zip(SHAPES, cosines, strict=True)
        read_as[kind] = {shape: round(float(cosine), 3) for shape, cosine in pairs}
    return {
        "folders": folders,
        "training_images_read_as": read_as,
        "word_minus_shape_bound": _folder_bound(encoder, embedded),
    }


def _folder_bound(
    encoder: Any, folders: list[tuple[str, str, np.ndarray, np.ndarray]]
) -> dict[str, int]:
    bound = {"other_folders": 0, "other_shapes_only": 0}
    for number, folder in enumerate(folders):
        for key, same_shape_too in (("other_folders", True), ("other_shapes_only", False)):
            others = [
                (vectors, is_word)
                for index, (shape, _, vectors, is_word) in enumerate(folders)
                if index != number and (same_shape_too or shape != folder[0])
            ]
            gaps = [v[w].mean(axis=0) - v[~w].mean(axis=0) for v, w in others]
            direction = np.mean(gaps, axis=0)
            unit = (direction / np.linalg.norm(direction)).astype(np.float32)
            bound[key] += _misplaced(encoder, unit, *folder)
    return bound


def _folder(seed: int, shape: str, word: str, encoder: Any) -> tuple[np.ndarray, np.ndarray]:
    rng, images, is_word = random.Random(seed), [], []
    for _ in range(12):
        images += [
            random_object_scene(rng, shape=shape).render(),
            random_word_scene(rng, word=word).render(),
        ]
        is_word += [False, True]
    return encoder.encode_pil(images), np.array(is_word)


def _misplaced(
    encoder: Any, direction: np.ndarray, shape: str, word: str, vectors: np.ndarray, is_word: Any
) -> int:
    query = encoder.encode_texts([f"a {shape}"])[0]
    top = {scale: np.argsort(-(vectors @ steer(query, direction, scale)))[:12] for scale in (-2, 2)}
    count = int(is_word[top[-2]].sum())
    if word == shape:
        count += 12 - int(is_word[top[2]].sum())
    return count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--each", type=int, default=12)
    parser.add_argument("--distractors", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--weights", type=Path, help="a candidate test-shapes checkpoint")
    parser.add_argument("--direction", choices=sorted(DIRECTIONS), default="recipe2")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    profile = resolve_profile("test-shapes")
    if args.weights is not None:
        profile = dataclasses.replace(profile, weights_file=args.weights.resolve())
    encoder = load_encoder(profile, device="cpu")
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
        "steering_direction": args.direction,
        "steering": steering(encoder, args.seeds, args.direction),
    }
    if args.explain:
        report["explain"] = explain(encoder, args.direction)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
