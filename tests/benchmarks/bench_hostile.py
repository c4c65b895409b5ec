"""A long fuzzing run: a large hostile library indexed in one run, with peak memory.

    PYTHONPATH=. python tests/benchmarks/bench_hostile.py [--model test-shapes] [--seed 16]
        [--truncations 120] [--flips 80] [--big] [--onnx]

Writes tests/hostile.py's library (--truncations cuts and --flips damaged copies of each
of five formats, plus every odd mode, name and special file) into a temp folder and
indexes it once with the real model, then once more. With --big it adds the largest
photos the limits admit, decoded one at a time: a 100 MP PNG (the pixel limit), a 16-bit
48 MP TIFF (96 MB of samples) and a 12 MP JPEG, and reports the memory each one costs.

Prints JSON: files by expectation, what indexing made of them (a good photo that failed, a
bad one indexed, or a file with no row is a defect), the reasons, seconds, and peak RSS
(resource.getrusage) after loading the model and after indexing: their difference is what
the hostile files cost above the model (issue 16: ~1.5 GB at most for any single file).
--onnx indexes through the image tower's ONNX export and the torch-free pixel transform
(what `photoclip index` runs on the CPU once the export exists), made first in a child.
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from photoclip.core.embedding import load_encoder
from photoclip.core.indexing import Indexer
from photoclip.core.library import Library
from photoclip.core.paths import Locations
from photoclip.core.profiles import resolve_profile
from tests import hostile


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return round(int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except OSError:
        return float("nan")


def big_photos(folder: Path, rng: random.Random) -> list[hostile.Hostile]:
    """The largest photos the limits admit (their pixels are decoded in full)."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    noise = np.frombuffer(rng.randbytes(3 * 1000 * 1000), np.uint8).reshape(1000, 1000, 3)
    base = Image.fromarray(noise)
    for name, size, mode, fmt in [
        ("png-100mp.png", (10_000, 10_000), "RGB", "PNG"),
        ("tiff-16bit-48mp.tif", (8_000, 6_000), "I;16", "TIFF"),
        ("jpeg-12mp.jpg", (4_032, 3_024), "RGB", "JPEG"),
    ]:
        image = base.resize(size, Image.Resampling.NEAREST)
        if mode == "I;16":
            samples = (np.asarray(image.convert("L"), np.uint16) * 257).astype(np.uint16)
            image = Image.fromarray(samples)
        path = folder / name
        image.save(path, fmt, **({"compress_level": 1} if fmt == "PNG" else {}))
        made.append(hostile.Hostile(path, "big", hostile.GOOD))
    return made


def make_all(base: Path, seed: int, truncations: int, flips: int, big: bool) -> list:
    made = hostile.make_library(base, seed=seed, truncations=truncations, flips=flips)
    return made + (big_photos(base / "big", random.Random(seed)) if big else [])


def outcome(library: Library, root: Path, made: list[hostile.Hostile], base: Path) -> dict:
    rows = {
        Path(r[0]): (r[1], r[2] or "")
        for r in library.catalog.read("SELECT path, status, failure FROM photos")
    }
    defects: list[dict[str, str]] = []
    reasons: collections.Counter[str] = collections.Counter()
    for item in made:
        status, reason = rows.get(root / item.path.relative_to(base), ("missing", ""))
        ok = {"good": ("indexed",), "bad": ("failed",), "either": ("indexed", "failed")}
        if status not in ok[item.expect] or (status == "failed") != bool(reason):
            defects.append({"path": str(item.path), "expect": item.expect, "got": status})
        if reason:
            reasons[reason.split(" (")[0][:60]] += 1
    extra = len(rows) - len(made)
    return {"defects": defects, "extra_rows": extra, "reasons": dict(reasons.most_common())}


def _torch_encoder(model: str) -> Any:
    return load_encoder(resolve_profile(model), device="cpu")


def _onnx_encoder(model: str, cache: Path) -> Any:
    from photoclip.core.imageexport import open_image_export

    # A model load keeps the device probe that says the model runs on the CPU (without
    # it no image export is made: on a GPU indexing uses torch); then the export.
    keep_probe = (
        "from photoclip.core.embedding import load_encoder;"
        "from pathlib import Path;"
        "from photoclip.core.profiles import resolve_profile;"
        f"load_encoder(resolve_profile({model!r}), cache=Path({str(cache / 'weights')!r}))"
    )
    subprocess.run([sys.executable, "-c", keep_probe], check=True, timeout=600)
    command = [sys.executable, "-m", "photoclip.core.exports", model, str(cache)]
    subprocess.run(command, check=True, timeout=600)
    encoder = open_image_export(cache, resolve_profile(model), None)
    if encoder is None:
        raise SystemExit("the image export was not made; see the log above")
    return encoder


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    os.environ["PHOTOCLIP_DATA_DIR"] = str(work / "data")
    os.environ["PHOTOCLIP_CACHE_DIR"] = str(work / "cache")
    base = work / "library"
    # Made in a child process, so that this one's peak RSS is the model's and indexing's.
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        made = pool.apply(make_all, (base, args.seed, args.truncations, args.flips, args.big))
    encoder = _onnx_encoder(args.model, work / "cache") if args.onnx else _torch_encoder(args.model)
    after_model = {"peak_rss_mb": peak_rss_mb(), "rss_mb": current_rss_mb()}
    root = base.resolve()
    with Library.open(Locations.from_environment()) as library:
        started = time.perf_counter()
        first = Indexer(library, encoder).index([root])
        seconds = time.perf_counter() - started
        after_index = peak_rss_mb()
        second = Indexer(library, encoder).index([root])
        result = outcome(library, root, made, base)
        photos = library.catalog.counts().photos
    return {
        "model": args.model,
        "encoder": "onnx" if args.onnx else "torch",
        "files": len(made),
        "by_expectation": dict(collections.Counter(h.expect for h in made)),
        "first_run": {k: v for k, v in first.as_json().items() if k != "failures"},
        "second_run": {k: v for k, v in second.as_json().items() if k != "failures"},
        "photos_in_catalog": photos,
        "seconds": round(seconds, 1),
        "files_per_second": round(len(made) / seconds, 1),
        "after_model": after_model,
        "peak_rss_mb": after_index,
        "peak_above_model_mb": round(after_index - after_model["rss_mb"], 1),
        **result,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="test-shapes")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--truncations", type=int, default=120)
    parser.add_argument("--flips", type=int, default=80)
    parser.add_argument("--big", action="store_true")
    parser.add_argument("--onnx", action="store_true", help="index through the image export")
    work = Path(tempfile.mkdtemp(prefix="photoclip-hostile-"))
    try:
        print(json.dumps(run(parser.parse_args(), work), indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
