"""k-NN benchmark for photoclip.core.vectorindex: exact numpy search against hnswlib.

    python tests/benchmarks/bench_knn.py --sizes 100000 1000000 [--out /tmp/knn.json]
    python tests/benchmarks/bench_knn.py --sizes 100000 --sweep 2000 5000 10000 20000 50000

Prints one JSON document: for each data set and size, exact search (p50 latency), the
graph build (seconds, memory), HNSW at several ef (p50, p95, recall@50), HNSW with exact
re-ranking of k x oversample candidates, `VectorIndex.search` itself, and filtered search
(exact over the allowed photos against hnswlib's filter callback). `--sweep` measures
exact against HNSW at small sizes, to place the exact/HNSW switch-over.

Data sets (dim 512, unit vectors, float32):

structured -- shaped like CLIP image embeddings of a photo library:
  x = normalise(0.71 mu + 0.45 topic + 0.55 burst + 0.17 own), where
  * mu is one direction shared by every photo: real CLIP image embeddings fill a narrow
    cone (mean pairwise cosine ~0.5, here 0.5 by construction: 0.71^2);
  * topic is one of N/1000 topic centres, with Zipf-distributed sizes (a few big topics:
    people, pets, the beach; many small ones), so photos of a topic have cosine ~0.7;
  * burst: photos come in bursts of near-duplicates (geometric sizes, mean ~3, up to 40,
    consecutive ids, as a camera produces them) sharing one direction: cosine ~0.97;
  * own is each photo's private noise.
  topic, burst and own directions are anisotropic Gaussians (per-axis std ~ i^-1/2,
  participation ratio ~30), since real embeddings have a low intrinsic dimension rather
  than filling all 512 axes evenly.
  Queries look like CLIP *text* embeddings: normalise(0.35 mu + 0.8 gap + 0.35 topic +
  0.35 noise) with a fixed random "modality gap" direction, so they lie near the photo
  cone but not on it: the best match scores ~0.5, the average photo ~0.25 (the JSON's
  "data" reports the measured values; real CLIP text queries score a little lower, ~0.3
  for the best match, which shifts all scores alike and leaves the ranking problem).

uniform -- uniform random unit vectors and queries: the worst case for a graph index and
  nothing like real embeddings; reported for comparison.

Recall@50 is |found & true top 50| / 50 against exact float64 search, averaged over the
queries. Latencies are single queries on one thread, as the GUI issues them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hnswlib
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from photoclip.core.vectorindex import (
    HNSW_EF_SEARCH,
    IndexSettings,
    VectorIndex,
)

K = 50
DIM = 512
EF_VALUES = (50, 64, 100, 128, 200, 256, 400)
OVERSAMPLE = (2, 4)
FILTER_FRACTIONS = (0.0002, 0.001, 0.005, 0.02, 0.1, 0.5)
GET_ITEMS_MAX = 5000
CHUNK = 65_536


# --- Data ------------------------------------------------------------------------------


def anisotropic(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """Unit vectors from a Gaussian whose per-axis std falls as i^-1/2."""
    scale = (np.arange(1, dim + 1, dtype=np.float32)) ** -0.5
    x = rng.standard_normal((n, dim), dtype=np.float32) * scale
    return normalise(x)


def normalise(x: np.ndarray) -> np.ndarray:
    x /= np.sqrt(np.einsum("ij,ij->i", x, x))[:, None]
    return x


def burst_sizes(rng: np.random.Generator, n: int) -> np.ndarray:
    sizes = np.minimum(rng.geometric(0.35, size=n), 40)
    cut = int(np.searchsorted(np.cumsum(sizes), n)) + 1
    sizes = sizes[:cut]
    sizes[-1] -= int(sizes.sum()) - n
    return sizes[sizes > 0]


def structured(n: int, dim: int, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    """Photo-like embeddings (see the module docstring); returns vectors and the world."""
    rng = np.random.default_rng(seed)
    mu = normalise(rng.standard_normal((1, dim), dtype=np.float32))[0]
    topics = anisotropic(rng, max(20, n // 1000), dim)
    weights = 1.0 / np.arange(1, len(topics) + 1) ** 0.9
    weights /= weights.sum()
    sizes = burst_sizes(rng, n)
    burst_topic = rng.choice(len(topics), size=len(sizes), p=weights)
    out = np.empty((n, dim), np.float32)
    start = 0
    for first in range(0, len(sizes), 20_000):
        group = slice(first, first + 20_000)
        bursts = anisotropic(rng, len(sizes[group]), dim)
        owner = np.repeat(np.arange(len(bursts)), sizes[group])
        x = anisotropic(rng, len(owner), dim) * 0.17
        x += 0.71 * mu + 0.45 * topics[burst_topic[group]][owner] + 0.55 * bursts[owner]
        out[start : start + len(x)] = normalise(x)
        start += len(x)
    world = {"mu": mu, "topics": topics, "weights": weights, "rng": rng}
    return out, world


def text_queries(world: dict[str, Any], count: int, dim: int) -> np.ndarray:
    rng: np.random.Generator = world["rng"]
    gap = normalise(rng.standard_normal((1, dim), dtype=np.float32))[0]
    topic = world["topics"][rng.choice(len(world["topics"]), size=count, p=world["weights"])]
    noise = anisotropic(rng, count, dim)
    return normalise(0.35 * world["mu"] + 0.8 * gap + 0.35 * topic + 0.35 * noise)


def uniform(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, CHUNK):
        part = rng.standard_normal((min(CHUNK, n - start), dim), dtype=np.float32)
        out[start : start + len(part)] = normalise(part)
    return out


def dataset(name: str, n: int, queries: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if name == "structured":
        vectors, world = structured(n, DIM, seed)
        return vectors, text_queries(world, queries, DIM)
    return uniform(n, DIM, seed), uniform(queries, DIM, seed + 1)


def data_stats(x: np.ndarray, q: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, len(x), size=(2, 20_000))
    top1 = np.einsum("ij,ij->i", x[truth[:, 0]], q)
    top50 = np.einsum("ij,ij->i", x[truth[:, -1]], q)
    pairs = np.einsum("ij,ij->i", x[a], x[b])
    nxt = np.einsum("ij,ij->i", x[:-1:97], x[1::97])  # neighbours by id: often one burst
    return {
        "mean_pairwise_cos": round(float(pairs.mean()), 3),
        "mean_cos_to_next_id": round(float(nxt.mean()), 3),
        "query_top1_cos": round(float(top1.mean()), 3),
        "query_top50_cos": round(float(top50.mean()), 3),
        "query_mean_cos": round(float((x[a[:2000]] @ q[:20].T).mean()), 3),
    }


# --- Measurements ----------------------------------------------------------------------


def exact_topk(x: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """True top k by float64 score, best first, a chunk of vectors at a time (ground truth)."""
    q64 = queries.astype(np.float64)
    best = np.empty((len(queries), 0), np.int64)
    best_scores = np.empty((len(queries), 0))
    for start in range(0, len(x), CHUNK):
        block = x[start : start + CHUNK].astype(np.float64)
        scores = np.concatenate([best_scores, q64 @ block.T], axis=1)
        ids = np.arange(start, start + len(block)).repeat(len(queries)).reshape(-1, len(queries))
        ids = np.concatenate([best, ids.T], axis=1)
        keep = top_columns(scores, k)
        best, best_scores = np.take_along_axis(ids, keep, 1), np.take_along_axis(scores, keep, 1)
    order = np.argsort(-best_scores, axis=1)
    return np.take_along_axis(best, order, 1)


def top_columns(scores: np.ndarray, k: int) -> np.ndarray:
    if scores.shape[1] <= k:
        return np.broadcast_to(np.arange(scores.shape[1]), scores.shape).copy()
    return np.argpartition(-scores, k - 1, axis=1)[:, :k]


def timed(
    fn: Callable[[np.ndarray], np.ndarray], queries: np.ndarray
) -> tuple[list[float], list[np.ndarray]]:
    times, found = [], []
    for q in queries:
        start = time.perf_counter()
        found.append(fn(q))
        times.append((time.perf_counter() - start) * 1000)
    return times, found


def summary(times: list[float], found: list[np.ndarray], truth: np.ndarray) -> dict[str, float]:
    recall = [
        len(set(f.tolist()) & set(t.tolist())) / len(t) for f, t in zip(found, truth, strict=True)
    ]
    return {
        "p50_ms": round(float(np.percentile(times, 50)), 2),
        "p95_ms": round(float(np.percentile(times, 95)), 2),
        f"recall@{K}": round(float(np.mean(recall)), 4),
    }


def rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def exact_search(x: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """What the exact store does: one matrix-vector product, then the top k."""

    def search(q: np.ndarray) -> np.ndarray:
        scores = x @ q
        top = np.argpartition(-scores, K - 1)[:K]
        return top[np.argsort(-scores[top])]

    return search


def graph_search(index: hnswlib.Index, k: int = K) -> Callable[[np.ndarray], np.ndarray]:
    return lambda q: index.knn_query(q, k=k, num_threads=1)[0][0].astype(np.int64)


def reranked_search(index: hnswlib.Index, oversample: int) -> Callable[[np.ndarray], np.ndarray]:
    """k x oversample candidates from the graph, re-scored exactly from its own storage."""

    def search(q: np.ndarray) -> np.ndarray:
        labels = index.knn_query(q, k=K * oversample, num_threads=1)[0][0].astype(np.int64)
        scores = np.asarray(index.get_items(labels), np.float32) @ q
        return labels[np.argsort(-scores)[:K]]

    return search


def build(x: np.ndarray, settings: IndexSettings) -> tuple[VectorIndex, dict[str, Any]]:
    before, start = rss_mib(), time.perf_counter()
    index = VectorIndex.build(np.arange(len(x)), x, model_key="bench", settings=settings)
    seconds = time.perf_counter() - start
    graph = index._store.index  # type: ignore[attr-defined]  # the benchmark looks inside
    return index, {
        "seconds": round(seconds, 1),
        "M": settings.m,
        "ef_construction": settings.ef_construction,
        "threads": settings.add_threads,
        "rss_growth_mib": round(rss_mib() - before),
        "index_file_mib": round(graph.index_file_size() / 2**20),
    }


def sweep_ef(graph: hnswlib.Index, queries: np.ndarray, truth: np.ndarray) -> list[dict[str, Any]]:
    rows = []
    for ef in EF_VALUES:
        graph.set_ef(ef)
        rows.append({"ef": ef, **summary(*timed(graph_search(graph), queries), truth)})
    graph.set_ef(HNSW_EF_SEARCH)
    return rows


def sweep_rerank(
    graph: hnswlib.Index, queries: np.ndarray, truth: np.ndarray
) -> list[dict[str, Any]]:
    rows = []
    for ef in (64, HNSW_EF_SEARCH):
        graph.set_ef(ef)
        for oversample in OVERSAMPLE:
            result = summary(*timed(reranked_search(graph, oversample), queries), truth)
            rows.append({"ef": ef, "candidates": K * oversample, **result})
    graph.set_ef(HNSW_EF_SEARCH)
    return rows


def filtered(index: VectorIndex, x: np.ndarray, queries: np.ndarray) -> list[dict[str, Any]]:
    """Exact over the allowed photos against hnswlib's filter callback, per selectivity."""
    rng = np.random.default_rng(1)
    rows = []
    for fraction in FILTER_FRACTIONS:
        chosen = np.sort(rng.choice(len(x), size=max(K, int(len(x) * fraction)), replace=False))
        rows.append({"fraction": fraction, **filter_row(index, x, chosen, queries)})
    return rows


def filter_row(
    index: VectorIndex, x: np.ndarray, chosen: np.ndarray, queries: np.ndarray
) -> dict[str, Any]:
    store: Any = index._store  # the benchmark times every path, whatever the rule picks
    allowed = set(chosen.tolist())
    truth = chosen[exact_topk(x[chosen], queries, K)]
    paths: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "hnsw_filter": lambda q: store.candidates_filtered(allowed, q, K),
        "exact_matrix_copy": exact_search_among(x, chosen),
        "vectorindex": lambda q: ids_of(index.search(q, K, allowed)),
    }
    if len(chosen) <= GET_ITEMS_MAX:  # beyond, a query takes seconds: see get_items_us
        paths["exact_get_items"] = lambda q: store.candidates_among(chosen, q, K)
    row: dict[str, Any] = {"allowed": len(chosen)}
    for name, path in paths.items():
        row[name] = summary(*timed(path, queries), truth)
    return row


def exact_search_among(x: np.ndarray, chosen: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Exact over the allowed rows of a numpy copy: what keeping a second copy would buy."""

    def search(q: np.ndarray) -> np.ndarray:
        scores = x[chosen] @ q
        return chosen[np.argpartition(-scores, min(K, len(chosen)) - 1)[:K]]

    return search


def get_items_cost(graph: hnswlib.Index, n: int) -> float:
    """Microseconds per vector that hnswlib's get_items takes (it builds Python floats)."""
    ids = np.random.default_rng(2).choice(n, size=min(n, 2000), replace=False)
    start = time.perf_counter()
    graph.get_items(ids)
    return round((time.perf_counter() - start) / len(ids) * 1e6, 1)


def ids_of(results: list[tuple[int, float]]) -> np.ndarray:
    return np.array([photo_id for photo_id, _ in results], np.int64)


def run_case(name: str, n: int, args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """One data set at one size; yields the partial result after each stage."""
    x, queries = dataset(name, n, args.queries, args.seed)
    truth = exact_topk(x, queries, K)
    result: dict[str, Any] = {"dataset": name, "n": n, "dim": DIM, "queries": len(queries)}
    result["data"] = data_stats(x, queries, truth)
    few = min(len(queries), args.exact_queries)
    result["exact"] = summary(*timed(exact_search(x), queries[:few]), truth[:few])
    yield result
    index, result["build"] = build(x, graph_settings(args))
    yield result
    graph = index._store.index  # type: ignore[attr-defined]
    result["hnsw"] = sweep_ef(graph, queries, truth)
    result["hnsw_rerank"] = sweep_rerank(graph, queries, truth)
    vi = summary(*timed(lambda q: ids_of(index.search(q, K)), queries), truth)
    result["vectorindex"] = {"ef": HNSW_EF_SEARCH, **vi}
    result["get_items_us_per_vector"] = get_items_cost(graph, n)
    yield result
    result["filtered"] = filtered(index, x, queries[: args.filter_queries])
    yield result


def run_sweep(sizes: list[int], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Exact against HNSW at small sizes, each size its own structured library."""
    rows = []
    for n in sizes:
        x, queries = dataset("structured", n, args.queries, args.seed)
        truth = exact_topk(x, queries, K)
        index, built = build(x, graph_settings(args))
        graph = index._store.index  # type: ignore[attr-defined]
        exact = summary(*timed(exact_search(x), queries), truth)
        hnsw = summary(*timed(graph_search(graph), queries), truth)
        rows.append({"n": n, "build_s": built["seconds"], "exact": exact, "hnsw": hnsw})
    return rows


def graph_settings(args: argparse.Namespace) -> IndexSettings:
    """VectorIndex settings that always build the graph, whatever the size."""
    return IndexSettings(
        exact_max_items=0,
        hnsw_min_items=0,
        m=args.m,
        ef_construction=args.ef_construction,
        threads=args.threads,
    )


def environment() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "load_avg": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "hnswlib": getattr(hnswlib, "__version__", "0.8.x"),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
        "k": K,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000])
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=["structured", "uniform"],
        choices=["structured", "uniform"],
    )
    parser.add_argument("--uniform-max", type=int, default=100_000, help="largest uniform size")
    parser.add_argument("--sweep", type=int, nargs="*", default=[])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--exact-queries", type=int, default=50)
    parser.add_argument("--filter-queries", type=int, default=30)
    parser.add_argument("--m", type=int, default=IndexSettings().m)
    parser.add_argument("--ef-construction", type=int, default=IndexSettings().ef_construction)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, help="also write the JSON here, after every stage")
    args = parser.parse_args()

    report: dict[str, Any] = {"environment": environment(), "results": [], "sweep": []}
    for n in args.sizes:
        for name in args.datasets:
            if name == "uniform" and n > args.uniform_max:
                continue
            for partial in run_case(name, n, args):
                save(report, args.out, partial)
            report["results"].append(partial)
    if args.sweep:
        report["sweep"] = run_sweep(args.sweep, args)
    save(report, args.out, None)
    print(json.dumps(report, indent=1))


def save(report: dict[str, Any], out: Path | None, partial: dict[str, Any] | None) -> None:
    if out is None:
        return
    snapshot = {**report, "in_progress": partial}
    out.write_text(json.dumps(snapshot, indent=1))


if __name__ == "__main__":
    main()
