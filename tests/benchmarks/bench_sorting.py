"""Sort apply and undo over many photos: the journal's cost per step must stay flat.

    python tests/benchmarks/bench_sorting.py [--photos 1000 4000]

Small real files in a real catalog, tagged in one category, sorted by copy into
{label} folders, then undone. Prints JSON: for each size, apply and undo seconds and
milliseconds per step. With a journal rewritten whole at every step the time per step
grows with the plan; with an appended one it stays flat.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from photoclip.core.catalog import Catalog
from photoclip.core.categories import Category, Label
from photoclip.core.imageio import content_hash
from photoclip.core.sorting import Rule, Sorter
from photoclip.core.tagstore import TagRow, TagStore

LABELS = ("red", "green", "blue")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, nargs="+", default=[1000, 4000])
    args = parser.parse_args()
    found = {}
    for count in args.photos:
        with tempfile.TemporaryDirectory() as tmp:
            found[str(count)] = _run(Path(tmp), count)
    json.dump(found, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _run(base: Path, count: int) -> dict[str, float]:
    catalog = _library(base, count)
    sorter = Sorter(catalog, base / "journals")
    sorter.plan([Rule.parse(f"Colour:*={base}/sorted/{{label}}", "copy")])
    start = time.perf_counter()
    sorter.apply()
    applied = time.perf_counter() - start
    start = time.perf_counter()
    sorter.undo()
    undone = time.perf_counter() - start
    return {
        "apply_s": round(applied, 2),
        "undo_s": round(undone, 2),
        "apply_ms_per_step": round(1000 * applied / count, 2),
        "undo_ms_per_step": round(1000 * undone / count, 2),
    }


def _library(base: Path, count: int) -> Catalog:
    catalog = Catalog.open(base / "catalog.sqlite3")
    store = TagStore(catalog)
    category = store.save_category(Category("Colour", tuple(map(Label, LABELS))))
    label_ids = [int(label.id or 0) for label in category.labels]
    rows = []
    with catalog.transaction():
        root = catalog.add_root(base / "src")
        for i in range(count):
            path = base / "src" / f"photo-{i:06d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f"photo {i} ".encode() * 200)
            stat = path.stat()
            photo_id = catalog.upsert_photo(
                path, root.id, size=stat.st_size, mtime_ns=stat.st_mtime_ns,
                content_hash=content_hash(path), taken_at=None,
            )  # fmt: skip
            rows.append(TagRow(photo_id, label_ids[i % len(LABELS)], 0.5, 0.3))
    store.replace_auto_tags(label_ids, rows, None)
    return catalog


if __name__ == "__main__":
    main()
