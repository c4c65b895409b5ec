"""The catalog's tag tables (schema migration 2): categories and labels, cached label
vectors, calibration, photo tags and the user's corrections.

Writes happen inside one `Catalog.transaction()` each; reads go through `Catalog.read`.
Photo tags are of two sources: "auto" rows belong to the tagger and are replaced wholesale
on every re-tag; "confirmed" rows belong to the user and re-tagging never touches them. A
rejected (photo, label) pair is kept in `tag_corrections` and the tagger skips it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from photoclip.core.catalog import Catalog
from photoclip.core.categories import Category, Label, name_problems
from photoclip.core.errors import KnownError

AUTO = "auto"
CONFIRMED = "confirmed"
REJECTED = "rejected"


@dataclass(frozen=True)
class Calibration:
    """A label's threshold for one model, from the library's score distribution."""

    label_id: int
    threshold: float
    #: how many photos it was computed from, and the share of them above it
    photos: int
    tag_rate: float
    #: the cosine the library's scores split at (None: they support no split)
    split: float | None = None


class TagRow(NamedTuple):
    """One decision of the tagger, with the evidence shown by `tag --explain`. (A named
    tuple, in the photo_tags columns' order: a re-tag writes 100k of them as they are.)"""

    photo_id: int
    label_id: int
    score: float
    threshold: float
    runner_up: str | None = None
    runner_up_score: float | None = None


@dataclass(frozen=True)
class PhotoTag:
    photo_id: int
    path: Path
    category: str
    label: str
    source: str
    score: float
    threshold: float
    runner_up: str | None
    runner_up_score: float | None


_TAG_SELECT = """
    SELECT t.photo_id, p.path, c.name, l.name, t.source, t.score, t.threshold, t.runner_up,
           t.runner_up_score
    FROM photo_tags t JOIN tag_labels l ON l.id = t.label_id
    JOIN tag_categories c ON c.id = l.category_id JOIN photos p ON p.id = t.photo_id
"""


class TagStore:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    # -- categories ----------------------------------------------------------------------

    def categories(self) -> list[Category]:
        rows = self.catalog.read(
            "SELECT id, name, kind, context, margin, other_words FROM tag_categories ORDER BY id"
        )
        labels = self._labels()
        return [
            Category(r[1], tuple(labels.get(r[0], [])), r[2], r[3], r[4], bool(r[5]), id=r[0])
            for r in rows
        ]

    def category(self, name: str) -> Category | None:
        return next((c for c in self.categories() if c.name.lower() == name.lower()), None)

    def _labels(self) -> dict[int, list[Label]]:
        rows = self.catalog.read(
            "SELECT category_id, id, name, phrasings, counter, threshold FROM tag_labels "
            "ORDER BY id"
        )
        found: dict[int, list[Label]] = {}
        for cat, lid, name, phrasings, counter, threshold in rows:
            label = Label(name, tuple(json.loads(phrasings)), bool(counter), threshold, id=lid)
            found.setdefault(cat, []).append(label)
        return found

    def save_category(self, category: Category) -> Category:
        """Create or update a category; its labels become exactly `category.labels`."""
        return self.save_categories([category])[0]

    def save_categories(
        self, changed: Sequence[Category], removed: Sequence[str] = ()
    ) -> list[Category]:
        """Remove the categories named in `removed`, then create or update `changed`, in
        one transaction. A category or label is its stored row when it carries that row's
        id (a renamed one stays itself, with its corrections and calibration), else the
        row of its name; a label of no row is new, and the rows no label took are deleted.
        Returns the categories as stored (with ids). Refuses, storing nothing, a category
        whose names `name_problems` rejects, whichever way it came (CLI, editor, import)."""
        problems = [problem for category in changed for problem in name_problems(category)]
        if problems:
            raise KnownError(" ".join(problems))
        with self.catalog.transaction() as db:
            db.executemany("DELETE FROM tag_categories WHERE name = ?", [(n,) for n in removed])
            own = {int(c.id) for c in changed if c.id is not None and _has_row(db, c.id)}
            _park(db, "tag_categories", sorted(own))
            ids = [self._save_category(db, category, category.id in own) for category in changed]
        by_id = {c.id: c for c in self.categories()}
        return [by_id[i] for i in ids]

    def _save_category(self, db: sqlite3.Connection, category: Category, own: bool) -> int:
        values = (
            category.name, category.kind, category.context, category.margin,
            int(category.other_words),
        )  # fmt: skip
        if own:
            db.execute(
                "UPDATE tag_categories SET name = ?, kind = ?, context = ?, margin = ?, "
                "other_words = ? WHERE id = ?",
                (*values, category.id),
            )
            cat_id = int(category.id or 0)
        else:
            db.execute(
                "INSERT INTO tag_categories(name, kind, context, margin, other_words) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, "
                "context = excluded.context, margin = excluded.margin, "
                "other_words = excluded.other_words",
                values,
            )
            cat_id = db.execute(
                "SELECT id FROM tag_categories WHERE name = ?", (category.name,)
            ).fetchone()[0]
        self._save_labels(db, cat_id, category.labels)
        return cat_id

    def _save_labels(self, db: sqlite3.Connection, cat_id: int, labels: Sequence[Label]) -> None:
        stored = dict(
            db.execute("SELECT id, name FROM tag_labels WHERE category_id = ?", (cat_id,))
        )
        rows = _label_rows(labels, stored)
        db.executemany(
            "DELETE FROM tag_labels WHERE id = ?", [(i,) for i in stored if i not in rows]
        )
        _park(db, "tag_labels", [i for i in rows if i is not None])
        for label, row in zip(labels, rows, strict=True):
            values = (label.name, json.dumps(list(label.phrasings)), int(label.counter),
                      label.threshold)  # fmt: skip
            if row is None:
                db.execute(
                    "INSERT INTO tag_labels(category_id, name, phrasings, counter, threshold) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (cat_id, *values),
                )
            else:
                db.execute(
                    "UPDATE tag_labels SET name = ?, phrasings = ?, counter = ?, threshold = ? "
                    "WHERE id = ?",
                    (*values, row),
                )

    def remove_category(self, name: str) -> bool:
        with self.catalog.transaction() as db:
            return db.execute("DELETE FROM tag_categories WHERE name = ?", (name,)).rowcount > 0

    # -- label vectors -------------------------------------------------------------------

    def label_vectors(self, model_key: str, fingerprints: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for fingerprint in fingerprints:
            rows = self.catalog.read(
                "SELECT vector FROM label_vectors WHERE model_key = ? AND fingerprint = ?",
                (model_key, fingerprint),
            )
            if rows:
                found[fingerprint] = np.frombuffer(rows[0][0], dtype=np.float32).copy()
        return found

    def put_label_vectors(self, model_key: str, vectors: dict[str, np.ndarray]) -> None:
        with self.catalog.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO label_vectors VALUES (?, ?, ?)",
                [
                    (model_key, fp, np.asarray(v, dtype=np.float32).tobytes())
                    for fp, v in vectors.items()
                ],
            )

    # -- calibration -----------------------------------------------------------------------

    def calibration(self, model_key: str) -> dict[int, Calibration]:
        rows = self.catalog.read(
            "SELECT label_id, threshold, photos, tag_rate, split FROM tag_calibration "
            "WHERE model_key = ?",
            (model_key,),
        )
        return {r[0]: Calibration(*r) for r in rows}

    def put_calibration(self, model_key: str, calibrations: Iterable[Calibration]) -> None:
        now = time.time()
        with self.catalog.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO tag_calibration(model_key, label_id, threshold, photos, "
                "tag_rate, calibrated_at, split) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (model_key, c.label_id, c.threshold, c.photos, c.tag_rate, now, c.split)
                    for c in calibrations
                ],
            )

    # -- photo tags ------------------------------------------------------------------------

    def replace_auto_tags(
        self, label_ids: Sequence[int], rows: Iterable[TagRow], photo_ids: Sequence[int] | None
    ) -> None:
        """Drop the tagger's rows of these labels (for these photos, or all) and write
        `rows`; a confirmed row for the same (photo, label) is kept as it is."""
        labels = ",".join(str(int(i)) for i in label_ids)
        with self.catalog.transaction() as db:
            sql = f"DELETE FROM photo_tags WHERE source = 'auto' AND label_id IN ({labels})"
            if photo_ids is None:
                db.execute(sql)
            else:
                db.executemany(sql + " AND photo_id = ?", ((int(i),) for i in photo_ids))
            db.executemany(
                "INSERT OR IGNORE INTO photo_tags VALUES (?, ?, 'auto', ?, ?, ?, ?)", rows
            )

    def tags(self, photo_ids: Sequence[int] | None = None) -> list[PhotoTag]:
        order = " ORDER BY p.path, c.id, l.id"
        if photo_ids is None:
            rows = self.catalog.read(_TAG_SELECT + order)
        else:
            marks = ",".join(str(int(i)) for i in photo_ids)
            rows = self.catalog.read(_TAG_SELECT + f" WHERE t.photo_id IN ({marks})" + order)
        return [PhotoTag(r[0], Path(r[1]), *r[2:]) for r in rows]

    def category_labels(self, category_id: int) -> dict[int, set[str]]:
        """Photo id -> the names of its tags in one category: what a correction compares
        before and after, read without the paths and scores of every tag in the library."""
        found: dict[int, set[str]] = {}
        rows = self.catalog.read(
            "SELECT t.photo_id, l.name FROM photo_tags t JOIN tag_labels l ON l.id = t.label_id "
            "WHERE l.category_id = ?",
            (category_id,),
        )
        for photo_id, name in rows:
            found.setdefault(photo_id, set()).add(name)
        return found

    # -- corrections -----------------------------------------------------------------------

    def correct(self, photo_id: int, label_id: int, verdict: str, tag: TagRow) -> str | None:
        """The user confirms or rejects a label on a photo; `tag` is the evidence to keep
        with a confirmation. Returns the verdict it replaces (None: there was none)."""
        return self.correct_many(label_id, verdict, [tag._replace(photo_id=photo_id)])[0]

    def correct_many(self, label_id: int, verdict: str, tags: Sequence[TagRow]) -> list[str | None]:
        """`correct` for many photos (each `tag` names its photo and holds its evidence),
        in one transaction. Returns the verdict each replaces, in the order given."""
        previous = [self.verdict(tag.photo_id, label_id) for tag in tags]
        now = time.time()
        with self.catalog.transaction() as db:
            for tag in tags:
                self._write_verdict(db, tag.photo_id, label_id, verdict, now)
                if verdict == CONFIRMED:
                    db.execute(
                        "INSERT INTO photo_tags VALUES (?, ?, 'confirmed', ?, ?, ?, ?)",
                        (tag.photo_id, label_id, tag.score, tag.threshold, tag.runner_up,
                         tag.runner_up_score),
                    )  # fmt: skip
        return previous

    @staticmethod
    def _write_verdict(
        db: sqlite3.Connection, photo_id: int, label_id: int, verdict: str, now: float
    ) -> None:
        db.execute(
            "INSERT OR REPLACE INTO tag_corrections VALUES (?, ?, ?, ?)",
            (photo_id, label_id, verdict, now),
        )
        db.execute(
            "DELETE FROM photo_tags WHERE photo_id = ? AND label_id = ?", (photo_id, label_id)
        )

    def verdict(self, photo_id: int, label_id: int) -> str | None:
        rows = self.catalog.read(
            "SELECT verdict FROM tag_corrections WHERE photo_id = ? AND label_id = ?",
            (photo_id, label_id),
        )
        return str(rows[0][0]) if rows else None

    def uncorrect(self, photo_id: int, label_id: int, previous: str | None) -> None:
        """Undo a correction: the pair's verdict goes back to `previous` (None: none). A
        confirmed row is dropped; the next re-tag decides the pair again."""
        self.uncorrect_many(label_id, {photo_id: previous})

    def uncorrect_many(self, label_id: int, previous: Mapping[int, str | None]) -> None:
        """`uncorrect` for many photos (photo id -> the verdict it goes back to), in one
        transaction."""
        with self.catalog.transaction() as db:
            for photo_id, verdict in previous.items():
                db.execute(
                    "DELETE FROM tag_corrections WHERE photo_id = ? AND label_id = ?",
                    (photo_id, label_id),
                )
                db.execute(
                    "DELETE FROM photo_tags WHERE photo_id = ? AND label_id = ? "
                    "AND source = 'confirmed'",
                    (photo_id, label_id),
                )
                if verdict is not None:
                    db.execute(
                        "INSERT INTO tag_corrections VALUES (?, ?, ?, ?)",
                        (photo_id, label_id, verdict, time.time()),
                    )

    def corrections(self, label_ids: Sequence[int]) -> dict[int, dict[str, list[int]]]:
        """label id -> {"confirmed": [photo ids], "rejected": [photo ids]}."""
        marks = ",".join(str(int(i)) for i in label_ids)
        rows = self.catalog.read(
            f"SELECT label_id, verdict, photo_id FROM tag_corrections WHERE label_id IN ({marks})"
            " ORDER BY corrected_at"
        )
        found: dict[int, dict[str, list[int]]] = {}
        for label_id, verdict, photo_id in rows:
            found.setdefault(label_id, {CONFIRMED: [], REJECTED: []})[verdict].append(photo_id)
        return found


def _has_row(db: sqlite3.Connection, category_id: int) -> bool:
    return (
        db.execute("SELECT 1 FROM tag_categories WHERE id = ?", (category_id,)).fetchone()
        is not None
    )


def _park(db: sqlite3.Connection, table: str, ids: Sequence[int]) -> None:
    """Give rows about to be renamed names no one uses, so that names swapped between two
    of them (dog <-> cat) never collide on the way."""
    db.executemany(
        f"UPDATE {table} SET name = ? WHERE id = ?", [(f"\x01renaming {i}", i) for i in ids]
    )


def _label_rows(labels: Sequence[Label], stored: dict[int, str]) -> list[int | None]:
    """The stored row each label takes: its own (by id: a renamed label keeps its row),
    else the row of its name that no label claimed by id, else none (a new label)."""
    claimed = {label.id for label in labels if label.id in stored}
    free = {name.lower(): i for i, name in stored.items() if i not in claimed}
    return [
        label.id if label.id in claimed else free.pop(label.name.lower(), None) for label in labels
    ]
