"""Near-duplicate grouping: precision, recall and time. Prints JSON. Run by hand:

    PYTHONPATH=. python tests/benchmarks/bench_duplicates.py --sizes 25000 100000
    PYTHONPATH=. python tests/benchmarks/bench_duplicates.py --finder 100000

Vectors: photo-like 512-d unit vectors (a shared mean, topics, bursts of similar but
different shots at cosine ~0.8-0.9) with planted near-duplicate groups of 2-5 copies at cosine
0.93-0.995 to their original. Grouping uses the embeddings only (no files to fingerprint);
precision and recall count same-group pairs. Time covers index build and grouping apart.
The ratio of grouping times between sizes shows the growth: n log n gives ~4.5x for 4x the
photos, quadratic would give 16x.

--finder N times the whole `DuplicateFinder` and `photoclip duplicates --json` over a
synthetic catalog of N photos whose fingerprints are stored (photo-like random ViT-B-32
vectors, 40% planted copies), and what making one fingerprint costs (the first run).
Measured at 100k on this 2-core box shared with 3 other jobs (load 3-7), the whole CLI
with /usr/bin/time, before and after in one interleaved run (see issue 15's note):
- before (k-NN query per photo, hnswlib ef 64): wall 52.6-134 s, CPU 52-62 s;
- after (the graph's links, pairs as arrays, faster alignment, C-encoded JSON; with the
  layout graph and the "very similar shot" search added): wall 21.8-23.0 s, CPU 23 s at
  load 2 (base beside it: wall 41.3 s, CPU 54 s); the same 15951 groups.
A fingerprint costs 0.9-2.5 ms a photo (1.5-4 minutes per 100k, paid once, by the indexer).
The quality on real photos and generated shapes: bench_duplicate_quality.py.
"""

from __future__ import annotations

import argparse
import json
import time
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from photoclip.core.duplicates import (
    DEFAULT_THRESHOLD,
    MAX_HASH_DISTANCE,
    NEIGHBOURS,
    candidate_pairs,
    connected_groups,
    group_vectors,
    hash_candidates,
)
from photoclip.core.vectorindex import IndexSettings, VectorIndex

DIM = 512


def normalise(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def photo_like(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, group label per vector; -1 for photos with no planted copy)."""
    rng = np.random.default_rng(seed)
    scale = np.arange(1, DIM + 1) ** -0.5
    mu = normalise(rng.normal(size=(1, DIM)))[0]
    topics = normalise(rng.normal(size=(max(20, n // 1000), DIM)) * scale)
    n_originals = int(n * 0.6)
    bursts = normalise(rng.normal(size=(n_originals // 4 + 1, DIM)) * scale)
    burst_of = rng.integers(0, len(bursts), n_originals)
    topic_of = rng.integers(0, len(topics), len(bursts))[burst_of]
    own = normalise(rng.normal(size=(n_originals, DIM)) * scale)
    originals = normalise(0.6 * mu + 0.4 * topics[topic_of] + 0.4 * bursts[burst_of] + 0.5 * own)
    vectors, labels = [originals], [np.full(n_originals, -1)]
    planted, group = n - n_originals, 0
    while planted > 0:
        copies = min(int(rng.integers(1, 5)), planted)
        source = group  # the first originals get copies
        target = rng.uniform(0.93, 0.995, size=copies)
        noise = normalise(rng.normal(size=(copies, DIM)) * scale)
        noise -= (noise @ originals[source])[:, None] * originals[source]
        noise = normalise(noise)
        made = target[:, None] * originals[source] + np.sqrt(1 - target**2)[:, None] * noise
        vectors.append(made)
        labels.append(np.full(copies, source))
        labels[0][source] = source
        planted -= copies
        group += 1
    return np.vstack(vectors).astype(np.float32), np.concatenate(labels)


def pair_set(groups: list[list[int]]) -> set[tuple[int, int]]:
    return {pair for g in groups for pair in combinations(sorted(g), 2)}


def scores(groups: list[list[int]], labels: np.ndarray) -> dict[str, float]:
    """Pair precision and recall counted, not listed: a threshold that chains a whole
    library into one group must not need its n^2 pairs in memory."""
    planted = np.bincount(labels[labels >= 0])
    truth = int((planted * (planted - 1) // 2).sum())
    found = right = exact = 0
    for group in groups:
        found += len(group) * (len(group) - 1) // 2
        members = labels[np.asarray(group)]
        same = np.bincount(members[members >= 0]) if (members >= 0).any() else np.zeros(0, int)
        right += int((same * (same - 1) // 2).sum())
        label = members[0]
        exact += int(label >= 0 and (members == label).all() and len(group) == planted[label])
    return {
        "pair_precision": round(right / max(1, found), 4),
        "pair_recall": round(right / max(1, truth), 4),
        "groups_exactly_right": round(exact / max(1, int((planted > 0).sum())), 4),
    }


def turned_hashes(labels: np.ndarray, seed: int) -> np.ndarray:
    """(n, 4) random 63-bit hashes; each planted copy gets its original's hashes turned by a
    random quarter and 0-2 bits flipped (what turned copies measured)."""
    rng = np.random.default_rng(seed + 1)
    hashes = rng.integers(0, 2**63, size=(len(labels), 4), dtype=np.uint64)
    first = {}
    for row, label in enumerate(labels.tolist()):
        if label < 0:
            continue
        if label not in first:
            first[label] = row
            continue
        turned = np.roll(hashes[first[label]], -int(rng.integers(0, 4)))
        for _ in range(int(rng.integers(0, 3))):
            turned[rng.integers(0, 4)] ^= np.uint64(1) << np.uint64(rng.integers(0, 63))
        hashes[row] = turned
    return hashes


def run_hashes(labels: np.ndarray, seed: int) -> dict[str, Any]:
    """The rotation candidates by hash bands: recall of planted pairs, count, time."""
    hashes = turned_hashes(labels, seed)
    started = time.perf_counter()
    found = {(int(a), int(b)) for a, b in hash_candidates(np.arange(len(labels)), hashes)}
    seconds = time.perf_counter() - started
    groups: dict[int, list[int]] = {}
    for row, label in enumerate(labels.tolist()):
        if label >= 0:
            groups.setdefault(label, []).append(row)
    truth = pair_set(list(groups.values()))
    return {
        "candidate_pairs": len(found),
        "planted_pair_recall": round(len(truth & found) / max(1, len(truth)), 4),
        "seconds": round(seconds, 2),
    }


def run_pipeline(
    ids: np.ndarray, vectors: np.ndarray, labels: np.ndarray, index: VectorIndex, seed: int
) -> dict[str, Any]:
    """The finder's whole logic at DEFAULT_THRESHOLD, with the synthetic hashes standing in
    for fingerprints: embedding candidates and turned-hash candidates, each confirmed when
    some turn of one hash is within MAX_HASH_DISTANCE bits of the other's upright hash."""
    hashes = turned_hashes(labels, seed)

    def confirm(a: int, b: int, *_: object) -> bool:
        bits = [bin(int(hashes[a, 0] ^ hashes[b, t])).count("1") for t in range(4)]
        return min(bits) <= MAX_HASH_DISTANCE

    started = time.perf_counter()
    near = candidate_pairs(index, ids, vectors, DEFAULT_THRESHOLD, NEIGHBOURS)
    found = {(a, b) for a, b, _ in near} | {
        (int(a), int(b)) for a, b in hash_candidates(ids, hashes)
    }
    groups = connected_groups(p for p in found if confirm(*p))
    seconds = time.perf_counter() - started
    return {**scores(groups, labels), "candidate_pairs": len(found), "seconds": round(seconds, 2)}


def exact_seconds(vectors: np.ndarray) -> float:
    """The quadratic way for comparison: every photo against every photo (k-NN by blocks)."""
    everything = IndexSettings(exact_max_items=10**9, hnsw_min_items=10**9)
    exact = VectorIndex.build(np.arange(len(vectors)), vectors, model_key="b", settings=everything)
    started = time.perf_counter()
    exact.neighbours(vectors, NEIGHBOURS + 1)
    return time.perf_counter() - started


def run_vectors(n: int, thresholds: list[float], seed: int, exact_up_to: int) -> dict[str, Any]:
    vectors, labels = photo_like(n, seed)
    ids = np.arange(n)
    started = time.perf_counter()
    index = VectorIndex.build(ids, vectors, model_key="bench")
    built = time.perf_counter() - started
    row: dict[str, Any] = {
        "photos": n,
        "index": index.kind,
        "planted_groups": int((np.bincount(labels[labels >= 0]) > 0).sum()),
        "build_seconds": round(built, 2),
    }
    row["turned_hash_candidates"] = run_hashes(labels, seed)
    row["pipeline_at_default"] = run_pipeline(ids, vectors, labels, index, seed)
    if n <= exact_up_to:
        row["exact_all_pairs_seconds"] = round(exact_seconds(vectors), 2)
    for threshold in thresholds:
        started = time.perf_counter()
        groups = group_vectors(ids, vectors, index, threshold)
        grouped = time.perf_counter() - started
        row[f"embeddings_only_at_{threshold}"] = {
            "found_groups": len(groups),
            "largest_group": max((len(g) for g in groups), default=0),
            **scores(groups, labels),
            "group_seconds": round(grouped, 2),
        }
    return row


def finder_catalog(folder: Path, n: int, seed: int) -> np.ndarray:
    """A data folder of `n` photos (an unplugged drive: no files) with photo-like vectors
    of random ViT-B-32 and stored fingerprints; planted copies share their original's
    fingerprint, a little noise added. Returns the group label per photo."""
    import open_clip

    from photoclip.core.catalog import Catalog, ModelRecord
    from photoclip.core.duplicates import FINGERPRINT_RECIPE
    from photoclip.core.fingerprints import GRID, Fingerprint

    vectors, labels = photo_like(n, seed)
    rng = np.random.default_rng(seed + 2)
    coarse = rng.integers(0, 256, size=(n, 6, 6, 3)).astype(np.float32)
    grids = coarse.repeat(GRID // 6, axis=1).repeat(GRID // 6, axis=2)
    hashes = rng.integers(0, 2**63, size=(n, 8), dtype=np.uint64)
    first: dict[int, int] = {}
    for row, label in enumerate(labels.tolist()):
        if label >= 0 and first.setdefault(label, row) != row:
            original = first[label]
            grids[row] = np.clip(grids[original] + rng.normal(0, 2, grids[row].shape), 0, 255)
            hashes[row] = hashes[original]
    record = ModelRecord(
        "ViT-B-32:random", "ViT-B-32", "ViT-B-32", 512, open_clip.__version__, True
    )
    catalog = Catalog.open(folder / "catalog.sqlite3")
    with catalog.transaction() as db:
        catalog.register_model(record)
        catalog.set_meta("active_model", record.key)
        root = catalog.add_root(folder / "unplugged")
        db.executemany(
            "INSERT INTO photos(root_id, path, size, mtime_ns, content_hash, width, height, "
            "status, added_at) VALUES (?, ?, 1, 1, ?, 640, 480, 'indexed', 0)",
            ((root.id, f"{folder}/unplugged/p{i}.jpg", f"{i:08x}") for i in range(n)),
        )
        db.executemany(
            "INSERT INTO embeddings VALUES (?, ?, ?)",
            ((record.key, f"{i:08x}", vectors[i].tobytes()) for i in range(n)),
        )
        for i in range(n):
            made = Fingerprint(grids[i].astype(np.uint8), hashes[i])
            catalog.put_fingerprint(f"{i:08x}", FINGERPRINT_RECIPE, made.summary(), made.to_bytes())
    catalog.close()
    return labels


def run_finder(n: int, seed: int) -> dict[str, Any]:
    """`DuplicateFinder.find()` and `photoclip duplicates --json` over `n` photos whose
    fingerprints are stored: nothing is read but the catalog and the saved index."""
    import os
    import subprocess
    import sys
    import tempfile

    from photoclip.core.duplicates import DuplicateFinder
    from photoclip.core.library import Library
    from photoclip.core.paths import Locations

    with tempfile.TemporaryDirectory() as temporary:
        data, cache = Path(temporary) / "data", Path(temporary) / "cache"
        data.mkdir()
        started = time.perf_counter()
        labels = finder_catalog(data, n, seed)
        locations = Locations(data, cache)
        with Library.open(locations) as library:
            library.index()
            library.save_index()
        setup = time.perf_counter() - started
        with Library.open(locations) as library:
            started = time.perf_counter()
            finder = DuplicateFinder(library)
            groups = finder.find()
            seconds = time.perf_counter() - started
        env = {**os.environ, "PHOTOCLIP_DATA_DIR": str(data), "PHOTOCLIP_CACHE_DIR": str(cache)}
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "photoclip", "duplicates", "--json"],
            env=env,
            check=True,
            capture_output=True,
        )
        cli = time.perf_counter() - started
        found = [[p.id - 1 for p in g.photos] for g in groups]
        return {
            "photos": n,
            "setup_seconds": round(setup, 1),
            "find_seconds": round(seconds, 2),
            "cli_duplicates_json_seconds": round(cli, 2),
            "images_read": finder.images_read,
            **scores(found, labels),
        }


def first_run_cost(count: int = 60) -> dict[str, Any]:
    """What a fingerprint costs when it is made: a 256-px thumbnail decoded and
    fingerprinted (the indexer does it after each batch; a catalog from before they were
    kept does it on its first search)."""
    import io

    from PIL import Image

    from photoclip.core.fingerprints import fingerprint
    from photoclip.core.imageio import decode_image, make_thumbnail

    rng = np.random.default_rng(0)
    thumbnails = []
    for _ in range(count):
        pixels = rng.integers(0, 256, (12, 16, 3)).astype(np.uint8)
        image = Image.fromarray(pixels).resize((640, 480), Image.Resampling.BICUBIC)
        data = io.BytesIO()
        make_thumbnail(image).save(data, "JPEG", quality=85)
        thumbnails.append(data.getvalue())
    started = time.perf_counter()
    for data in thumbnails:
        fingerprint(decode_image(data, reduce_to=(96, 256)).image)
    each = (time.perf_counter() - started) / count
    return {"ms_per_photo": round(each * 1000, 2), "seconds_per_100k": round(each * 100_000)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[25_000, 100_000])
    parser.add_argument(
        "--thresholds", type=float, nargs="*", default=[DEFAULT_THRESHOLD, 0.85, 0.92]
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--exact-up-to", type=int, default=25_000, help="also time all-pairs k-NN up to here"
    )
    parser.add_argument(
        "--finder", type=int, nargs="*", help="time the whole finder over this many photos"
    )
    args = parser.parse_args()
    if args.finder:
        runs = [run_finder(n, args.seed) for n in args.finder]
        print(json.dumps({"finder": runs, "first_run": first_run_cost()}, indent=2))
        return
    rows = [run_vectors(n, args.thresholds, args.seed, args.exact_up_to) for n in args.sizes]
    report: dict[str, Any] = {"neighbours": NEIGHBOURS, "runs": rows}
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        key = f"embeddings_only_at_{args.thresholds[0]}"
        report["size_ratio"] = last["photos"] / first["photos"]
        report["group_time_ratio"] = round(
            last[key]["group_seconds"] / first[key]["group_seconds"], 2
        )
        report["build_time_ratio"] = round(last["build_seconds"] / first["build_seconds"], 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
