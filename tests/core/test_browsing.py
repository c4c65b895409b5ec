"""Read-only queries for the GUI, on a real catalog tagged by the real tagger."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from photoclip.core.browsing import Failure, failures, photo_details, tag_counts
from photoclip.core.catalog import Catalog
from photoclip.core.categories import MULTI, Category, Label
from photoclip.core.tagging import Tagger
from photoclip.core.tagstore import CONFIRMED, TagStore
from tests.core.tagvectors import FakeTexts, catalog_with_vectors

#: 32 dimensions: in fewer, random directions come as near a label as photos do, and the
#: tagger (rightly) finds that no photo stands out from noise.
DIM = 32
BASIS = {name: np.eye(DIM, dtype=np.float32)[i] for i, name in enumerate(("red", "blue", "x", "y"))}
BASIS["neither"] = BASIS["x"] + BASIS["y"]
COLOURS = Category("Colour", (Label("red"), Label("blue"), Label("neither", counter=True)))
EXTRA = Category("Extra", (Label("x"), Label("y")), kind=MULTI)


def _library(tmp_path: Path, reds: int = 3, blues: int = 2) -> tuple[Catalog, list[int]]:
    """`reds` red and `blues` blue photos, tagged by the tagger; two failed photos."""
    rng = np.random.default_rng(0)
    rows = [BASIS["red"]] * reds + [BASIS["blue"]] * blues
    spread = 0.05 * np.sqrt(4 / DIM)  # noise as long as in 4 dimensions
    vectors = np.stack(rows) + rng.normal(0, spread, (len(rows), DIM)).astype(np.float32)
    catalog, ids = catalog_with_vectors(tmp_path, vectors)
    store = TagStore(catalog)
    store.save_category(COLOURS)
    store.save_category(EXTRA)
    Tagger(catalog, FakeTexts(BASIS)).retag()
    with catalog.transaction():
        root = catalog.roots()[0]
        for name, reason in (("z-broken.jpg", "not an image"), ("a-huge.png", "too large")):
            catalog.upsert_photo(
                tmp_path / "photos" / name, root.id, size=9, mtime_ns=1, content_hash=None,
                failure=reason,
            )  # fmt: skip
    return catalog, ids


def _selects(catalog: Catalog) -> list[str]:
    """Collects the statements `catalog` runs from now on."""
    seen: list[str] = []
    connection: sqlite3.Connection = catalog._db
    connection.set_trace_callback(seen.append)
    return seen


def test_photo_details_has_the_file_facts_and_the_taggers_evidence(tmp_path: Path) -> None:
    catalog, ids = _library(tmp_path)
    with catalog.transaction():
        catalog.upsert_photo(
            tmp_path / "photos" / "photo-0.png", catalog.roots()[0].id, size=123_456,
            mtime_ns=1, content_hash="h0", width=4000, height=3000,
            taken_at=datetime(2021, 6, 5, 14, 30).timestamp(),
        )  # fmt: skip
    details = photo_details(catalog, ids[0])
    assert details is not None
    assert (details.width, details.height, details.size) == (4000, 3000, 123_456)
    assert details.date == datetime(2021, 6, 5, 14, 30) and details.date_is_taken
    assert details.path == tmp_path / "photos" / "photo-0.png"
    (tag,) = [t for t in details.tags if t.category == "Colour"]
    assert (tag.label, tag.source) == ("red", "auto")
    assert tag.score > tag.threshold
    assert tag.runner_up in ("blue", "neither") and tag.runner_up_score is not None
    assert tag.score > tag.runner_up_score


def test_photo_details_of_a_photo_gone_from_the_catalog_is_none(tmp_path: Path) -> None:
    catalog, _ = _library(tmp_path)
    assert photo_details(catalog, 10_000) is None


def test_photo_details_shows_a_confirmed_tag_as_confirmed(tmp_path: Path) -> None:
    catalog, ids = _library(tmp_path)
    tagger = Tagger(catalog, FakeTexts(BASIS))
    tagger.correct(ids[-1], "Colour", "blue", CONFIRMED)
    details = photo_details(catalog, ids[-1])
    assert details is not None
    assert [(t.label, t.source) for t in details.tags if t.category == "Colour"] == [
        ("blue", "confirmed")
    ]


def test_tag_counts_count_every_label_in_order_including_the_empty_ones(tmp_path: Path) -> None:
    catalog, _ = _library(tmp_path, reds=3, blues=2)
    counts = {(c.category, c.label): c for c in tag_counts(catalog)}
    assert list(counts) == [
        ("Colour", "red"), ("Colour", "blue"), ("Colour", "neither"), ("Extra", "x"),
        ("Extra", "y"),
    ]  # fmt: skip
    assert counts["Colour", "red"].count == 3 and counts["Colour", "blue"].count == 2
    assert counts["Colour", "neither"].count == 0 and counts["Colour", "neither"].counter
    assert counts["Extra", "x"].kind == MULTI and counts["Colour", "red"].kind == "single"


def test_tag_counts_of_a_catalog_without_categories_is_empty(tmp_path: Path) -> None:
    catalog = Catalog.open(tmp_path / "catalog.sqlite3")
    assert tag_counts(catalog) == []


def test_failures_list_each_failed_photo_with_its_reason_by_path(tmp_path: Path) -> None:
    catalog, _ = _library(tmp_path)
    found = failures(catalog)
    assert [(f.path.name, f.reason) for f in found] == [
        ("a-huge.png", "too large"),
        ("z-broken.jpg", "not an image"),
    ]
    assert all(isinstance(f, Failure) and f.when <= datetime.now() for f in found)


@pytest.mark.parametrize("query", ["counts", "failures", "details"])
def test_each_query_costs_the_same_however_many_photos_and_tags(tmp_path: Path, query: str) -> None:
    """No N+1: a library five times larger runs exactly as many statements."""
    statements = []
    for n in (2, 10):
        catalog, ids = _library(tmp_path / str(n), reds=n, blues=n)
        seen = _selects(catalog)
        if query == "counts":
            assert sum(c.count for c in tag_counts(catalog)) >= 2 * n
        elif query == "failures":
            assert len(failures(catalog)) == 2
        else:
            assert photo_details(catalog, ids[0]) is not None
        statements.append(len(seen))
        catalog.close()
    assert statements[0] == statements[1] <= 2
