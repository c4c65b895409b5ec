"""The catalog: SQLite, the source of truth for roots, photos and their embeddings.

One writer (the indexer, later the worker) and any number of readers, each on its own
connection (WAL lets readers run while the writer commits). Schema changes are forward-only
migrations keyed on `PRAGMA user_version`; a database newer than this program is refused.

Embeddings are stored per (model, content hash), not per photo: a moved, renamed or copied
file has the same bytes, so it finds its vector without being embedded again.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from photoclip.core import dates
from photoclip.core.errors import CatalogError

INDEXED = "indexed"
FAILED = "failed"

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE roots (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        added_at REAL NOT NULL,
        online INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE photos (
        id INTEGER PRIMARY KEY,
        root_id INTEGER NOT NULL REFERENCES roots(id) ON DELETE CASCADE,
        path TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        content_hash TEXT,
        width INTEGER,
        height INTEGER,
        taken_at REAL,
        status TEXT NOT NULL CHECK (status IN ('indexed', 'failed')),
        failure TEXT,
        added_at REAL NOT NULL,
        -- The catalog generation in which this photo's vector last changed; the derived
        -- HNSW file remembers the generation it was saved at and replays what is newer.
        vec_gen INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX photos_by_hash ON photos(content_hash);
    CREATE INDEX photos_by_root ON photos(root_id);
    CREATE INDEX photos_by_vec_gen ON photos(vec_gen);
    CREATE TABLE models (
        key TEXT PRIMARY KEY,
        -- The profile name to load this model with again (an alias, ARCH:TAG or ARCH:FILE).
        profile TEXT NOT NULL,
        arch TEXT NOT NULL,
        dim INTEGER NOT NULL,
        open_clip_version TEXT NOT NULL,
        random_weights INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE embeddings (
        model_key TEXT NOT NULL REFERENCES models(key) ON DELETE CASCADE,
        content_hash TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (model_key, content_hash)
    ) WITHOUT ROWID;
    """,
    # 2: tag categories and labels, their cached text vectors, calibration, tags, user
    # corrections, and virtual albums (see photoclip/core/tagstore.py and sorting.py).
    """
    CREATE TABLE tag_categories (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        kind TEXT NOT NULL CHECK (kind IN ('single', 'multi')),
        -- Appended to every prompt ("a type of pet"), as in the CLIP paper.
        context TEXT NOT NULL DEFAULT '',
        -- Single-choice: how far the best label must lead the runner-up.
        margin REAL NOT NULL DEFAULT 0.0
    );
    CREATE TABLE tag_labels (
        id INTEGER PRIMARY KEY,
        category_id INTEGER NOT NULL REFERENCES tag_categories(id) ON DELETE CASCADE,
        name TEXT NOT NULL COLLATE NOCASE,
        -- JSON list of alternative phrasings; the name itself is always one.
        phrasings TEXT NOT NULL DEFAULT '[]',
        -- A counter-label competes for photos but never tags one ("a drawing").
        counter INTEGER NOT NULL DEFAULT 0,
        -- The user's threshold; NULL means the model's calibrated one.
        threshold REAL,
        UNIQUE (category_id, name)
    );
    CREATE TABLE label_vectors (
        model_key TEXT NOT NULL,
        -- A hash of the phrasings, templates and context the vector was built from.
        fingerprint TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (model_key, fingerprint)
    ) WITHOUT ROWID;
    CREATE TABLE tag_calibration (
        model_key TEXT NOT NULL,
        label_id INTEGER NOT NULL REFERENCES tag_labels(id) ON DELETE CASCADE,
        threshold REAL NOT NULL,
        photos INTEGER NOT NULL,
        tag_rate REAL NOT NULL,
        calibrated_at REAL NOT NULL,
        PRIMARY KEY (model_key, label_id)
    );
    CREATE TABLE photo_tags (
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        label_id INTEGER NOT NULL REFERENCES tag_labels(id) ON DELETE CASCADE,
        source TEXT NOT NULL CHECK (source IN ('auto', 'confirmed')),
        score REAL NOT NULL,
        threshold REAL NOT NULL,
        runner_up TEXT,
        runner_up_score REAL,
        PRIMARY KEY (photo_id, label_id)
    );
    CREATE INDEX photo_tags_by_label ON photo_tags(label_id);
    CREATE TABLE tag_corrections (
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        label_id INTEGER NOT NULL REFERENCES tag_labels(id) ON DELETE CASCADE,
        verdict TEXT NOT NULL CHECK (verdict IN ('confirmed', 'rejected')),
        corrected_at REAL NOT NULL,
        PRIMARY KEY (photo_id, label_id)
    );
    CREATE TABLE albums (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE
    );
    CREATE TABLE album_photos (
        album_id INTEGER NOT NULL REFERENCES albums(id) ON DELETE CASCADE,
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        PRIMARY KEY (album_id, photo_id)
    );
    """,
    # 3: the textness direction learned per model (photoclip/core/textness.py), dropped
    # with its model.
    """
    CREATE TABLE textness_directions (
        model_key TEXT NOT NULL REFERENCES models(key) ON DELETE CASCADE,
        -- The version of the training recipe; another one means learning again.
        recipe INTEGER NOT NULL,
        vector BLOB NOT NULL,
        accuracy REAL NOT NULL,
        samples INTEGER NOT NULL,
        computed_at REAL NOT NULL,
        PRIMARY KEY (model_key, recipe)
    ) WITHOUT ROWID;
    """,
    # 4 (issue 14): tag thresholds are probabilities now (CLIP's softmax over a category's
    # labels), no longer cosines: the old calibrations, the tagger's rows and user
    # thresholds (cosines) mean nothing on the new scale. The user's corrections stay. A
    # calibration also keeps the cosine the library's scores split at, where they do.
    """
    DELETE FROM tag_calibration;
    ALTER TABLE tag_calibration ADD COLUMN split REAL;
    DELETE FROM photo_tags WHERE source = 'auto';
    UPDATE tag_labels SET threshold = NULL;
    """,
    # 5 (issue 15): the visual fingerprint of each photo's bytes, for near-duplicates
    # (photoclip/core/fingerprints.py): made once, read by every search for copies.
    """
    CREATE TABLE fingerprints (
        content_hash TEXT PRIMARY KEY,
        -- The version of the fingerprint's recipe; another one means making it again.
        recipe INTEGER NOT NULL,
        -- What every search reads (~2 kB), before what only a few pairs need (~7 kB):
        -- SQLite then never loads the second for a search of the whole library.
        summary BLOB NOT NULL,
        data BLOB NOT NULL
    );
    """,
    # 6 (issue 14): whether a single-choice category also meets the other words of its
    # labels' kind as part of "none of these" (photoclip/core/vocabulary.py); on unless the
    # user turns it off.
    """
    ALTER TABLE tag_categories ADD COLUMN other_words INTEGER NOT NULL DEFAULT 1;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class Root:
    id: int
    path: Path
    online: bool


@dataclass(frozen=True)
class KnownFile:
    """What the catalog remembers of a file, enough to tell whether it changed."""

    id: int
    size: int
    mtime_ns: int
    content_hash: str | None
    status: str


@dataclass(frozen=True)
class Photo:
    id: int
    path: Path
    root_id: int
    size: int
    mtime_ns: int
    content_hash: str | None
    width: int | None
    height: int | None
    taken_at: float | None
    status: str
    failure: str | None

    @property
    def date(self) -> float:
        """When the photo was taken, else when the file was last written; a time that is no
        date (year 0 or 10000 somewhere, stored before 0.1 checked) counts as unknown."""
        usable = dates.usable(self.taken_at) or dates.usable(self.mtime_ns / 1e9)
        return usable if usable is not None else 0.0


@dataclass(frozen=True)
class ModelRecord:
    key: str
    profile: str
    arch: str
    dim: int
    open_clip_version: str
    random_weights: bool


@dataclass(frozen=True)
class Counts:
    photos: int
    indexed: int
    failed: int


PHOTO_COLUMNS = (
    "id, path, root_id, size, mtime_ns, content_hash, width, height, taken_at, status, failure"
)


class Catalog:
    """A connection to the catalog database. Not shared between threads: open one each."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, readonly: bool = False) -> Catalog:
        try:
            if readonly:
                return cls._open_readonly(path)
            catalog = cls(_connect(path, readonly), path)
            catalog._migrate()
        except sqlite3.Error as error:
            raise translate(error, path) from error
        return catalog

    @classmethod
    def _open_readonly(cls, path: Path) -> Catalog:
        catalog = cls(_connect(path, readonly=True), path)
        try:
            version = catalog._check_version()
        except sqlite3.OperationalError as error:
            # A read-only data folder: a WAL reader needs a -shm file it cannot make
            # there. Nothing can write the catalog either, so read it as unchanging.
            # (Only then: an immutable reader would miss a live writer's commits.)
            if not any(why in str(error) for why in _NO_SHM):
                raise
            catalog.close()
            catalog = cls(_connect(path, readonly=True, immutable=True), path)
            version = catalog._check_version()
        if version < SCHEMA_VERSION:  # written by an older PhotoClip: migrate it first
            cls.open(path).close()
        return catalog

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        if self._check_version() == SCHEMA_VERSION:
            return
        # Two processes may open a new data folder at once: the version is read again
        # under the write lock (BEGIN IMMEDIATE), so only the first one migrates.
        with self.transaction():
            for number in range(self._check_version(), SCHEMA_VERSION):
                for statement in _statements(MIGRATIONS[number]):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number + 1}")

    def _check_version(self) -> int:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise CatalogError(
                f"The catalog {self.path} was written by a newer PhotoClip (schema {version}, "
                f"this version knows {SCHEMA_VERSION}). Update PhotoClip to open it."
            )
        return version

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error; errors translated."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as error:
            raise translate(error, self.path) from error

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside `transaction()`: on an error, undo just what this block wrote (one file's
        rows) and re-raise; the transaction goes on."""
        self._db.execute("SAVEPOINT part")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK TO part")
            self._db.execute("RELEASE part")
            raise
        self._db.execute("RELEASE part")

    def read(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        """Run one SELECT; for the stores that keep their own tables (tags, albums)."""
        return self._query(sql, params)

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as error:
            raise translate(error, self.path) from error

    # -- meta ----------------------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else default

    def set_meta(self, key: str, value: str) -> None:
        """Call inside `transaction()`."""
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        return int(self.get_meta("generation", "0") or 0)

    def next_generation(self) -> int:
        """Bump the generation inside the current transaction and return the new value."""
        value = self.generation + 1
        self.set_meta("generation", str(value))
        return value

    @property
    def active_model(self) -> str | None:
        return self.get_meta("active_model")

    # -- models --------------------------------------------------------------------------

    def register_model(self, record: ModelRecord) -> None:
        """Call inside `transaction()`."""
        self._db.execute(
            "INSERT OR IGNORE INTO models VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                record.key,
                record.profile,
                record.arch,
                record.dim,
                record.open_clip_version,
                int(record.random_weights),
                time.time(),
            ),
        )

    def model(self, key: str) -> ModelRecord | None:
        rows = self._query(
            "SELECT key, profile, arch, dim, open_clip_version, random_weights FROM models "
            "WHERE key = ?",
            (key,),
        )
        if not rows:
            return None
        key, profile, arch, dim, version, random_weights = rows[0]
        return ModelRecord(key, profile, arch, dim, version, bool(random_weights))

    def drop_other_models(self, keep: str) -> None:
        """Delete every other model's vectors: they must never be mixed with `keep`'s."""
        self._db.execute("DELETE FROM embeddings WHERE model_key != ?", (keep,))
        self._db.execute("DELETE FROM models WHERE key != ?", (keep,))

    # -- roots ---------------------------------------------------------------------------

    def add_root(self, path: Path) -> Root:
        """Call inside `transaction()`. Adding a known root returns it unchanged."""
        self._db.execute(
            "INSERT OR IGNORE INTO roots(path, added_at) VALUES (CAST(? AS TEXT), ?)",
            (path_value(path), time.time()),
        )
        row = self._db.execute(
            "SELECT id, path, online FROM roots WHERE path = CAST(? AS TEXT)", (path_value(path),)
        )
        found = row.fetchone()
        return Root(found[0], Path(found[1]), bool(found[2]))

    def roots(self) -> list[Root]:
        rows = self._query("SELECT id, path, online FROM roots ORDER BY path")
        return [Root(r[0], Path(r[1]), bool(r[2])) for r in rows]

    def set_root_online(self, root_id: int, online: bool) -> None:
        """Call inside `transaction()`. An offline root (unplugged drive) keeps its photos."""
        self._db.execute("UPDATE roots SET online = ? WHERE id = ?", (int(online), root_id))

    def remove_root(self, root_id: int) -> list[int]:
        """Forget a root and its photos (never touches the files). Returns the photo ids."""
        ids = [
            r[0] for r in self._db.execute("SELECT id FROM photos WHERE root_id = ?", (root_id,))
        ]
        self._db.execute("DELETE FROM photos WHERE root_id = ?", (root_id,))
        self._db.execute("DELETE FROM roots WHERE id = ?", (root_id,))
        return ids

    # -- photos: writing (inside `transaction()`) -----------------------------------------

    def known_files(self, root_id: int) -> dict[str, KnownFile]:
        rows = self._query(
            "SELECT path, id, size, mtime_ns, content_hash, status FROM photos WHERE root_id = ?",
            (root_id,),
        )
        return {r[0]: KnownFile(r[1], r[2], r[3], r[4], r[5]) for r in rows}

    def upsert_photo(
        self,
        path: Path,
        root_id: int,
        *,
        size: int,
        mtime_ns: int,
        content_hash: str | None,
        width: int | None = None,
        height: int | None = None,
        taken_at: float | None = None,
        failure: str | None = None,
        vec_gen: int = 0,
    ) -> int:
        """Insert or update the row for `path`; a failure reason makes it a failed photo."""
        status = FAILED if failure else INDEXED
        self._db.execute(
            """
            INSERT INTO photos(root_id, path, size, mtime_ns, content_hash, width, height,
                               taken_at, status, failure, added_at, vec_gen)
            VALUES (?, CAST(? AS TEXT), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(path) DO UPDATE SET
                root_id = excluded.root_id, size = excluded.size, mtime_ns = excluded.mtime_ns,
                content_hash = excluded.content_hash, width = excluded.width,
                height = excluded.height, taken_at = excluded.taken_at,
                status = excluded.status, failure = excluded.failure, vec_gen = excluded.vec_gen
            """,
            (
                root_id,
                path_value(path),
                size,
                mtime_ns,
                content_hash,
                width,
                height,
                taken_at,
                status,
                failure,
                time.time(),
                vec_gen,
            ),
        )
        return int(
            self._db.execute(
                "SELECT id FROM photos WHERE path = CAST(? AS TEXT)", (path_value(path),)
            ).fetchone()[0]
        )

    def move_photo(self, photo_id: int, path: Path, root_id: int, mtime_ns: int) -> None:
        """A file moved or was renamed: same id, same vector, new place."""
        self._db.execute(
            "UPDATE photos SET path = CAST(? AS TEXT), root_id = ?, mtime_ns = ? WHERE id = ?",
            (path_value(path), root_id, mtime_ns, photo_id),
        )

    def move_folder(self, old: Path, new: Path, root_id: int) -> int:
        """Call inside `transaction()`. A folder moved or was renamed: rewrite the path
        prefix of every photo below it (ids, vectors and tags stay). Returns the count."""
        old_prefix, new_prefix = _folder_prefix(old), _folder_prefix(new)
        # Byte prefixes: a name that is not UTF-8 has no agreed length in characters.
        cursor = self._db.execute(
            "UPDATE photos SET path = CAST(? || substr(CAST(path AS BLOB), ?) AS TEXT), "
            f"root_id = ? WHERE {_UNDER}",
            (new_prefix, len(old_prefix) + 1, root_id, len(old_prefix), old_prefix),
        )
        return cursor.rowcount

    def photo_ids_under(self, folder: Path) -> list[int]:
        """Ids of every photo (indexed or failed) below `folder`."""
        prefix = _folder_prefix(folder)
        rows = self._query(f"SELECT id FROM photos WHERE {_UNDER}", (len(prefix), prefix))
        return [r[0] for r in rows]

    def delete_photos(self, ids: Iterable[int]) -> None:
        self._db.executemany("DELETE FROM photos WHERE id = ?", ((i,) for i in ids))

    def put_embedding(self, model_key: str, content_hash: str, vector: np.ndarray) -> None:
        """The first vector stored for these bytes stays: two writers that embedded the same
        bytes (a batch's floats vary in the last bits) must not change a vector under photos
        whose `vec_gen` does not say so, or a saved index would keep the old one."""
        self._db.execute(
            "INSERT OR IGNORE INTO embeddings VALUES (?, ?, ?)",
            (model_key, content_hash, np.asarray(vector, dtype=np.float32).tobytes()),
        )

    def mark_vectors_changed(self, ids: Iterable[int], generation: int) -> None:
        self._db.executemany(
            "UPDATE photos SET vec_gen = ? WHERE id = ?", ((generation, i) for i in ids)
        )

    def prune_orphan_embeddings(self) -> int:
        """Drop vectors no photo points at any more (their files were deleted)."""
        cursor = self._db.execute(
            "DELETE FROM embeddings WHERE content_hash NOT IN "
            "(SELECT content_hash FROM photos WHERE content_hash IS NOT NULL)"
        )
        self._db.execute(
            "DELETE FROM fingerprints WHERE content_hash NOT IN "
            "(SELECT content_hash FROM photos WHERE content_hash IS NOT NULL)"
        )
        return cursor.rowcount

    def put_fingerprint(self, content_hash: str, recipe: int, summary: bytes, data: bytes) -> None:
        """Call inside `transaction()`."""
        self._db.execute(
            "INSERT OR REPLACE INTO fingerprints VALUES (?, ?, ?, ?)",
            (content_hash, recipe, summary, data),
        )

    def fingerprints(self, recipe: int, hashes: Sequence[str] | None = None) -> dict[str, bytes]:
        """Stored fingerprints of `recipe` by content hash: of every indexed photo, or of
        those `hashes`."""
        sql = (
            "SELECT f.content_hash, f.data FROM fingerprints f WHERE f.recipe = ? AND "
            "f.content_hash IN (SELECT content_hash FROM photos WHERE status = 'indexed')"
        )
        if hashes is None:
            return {r[0]: r[1] for r in self._query(sql, (recipe,))}
        found: dict[str, bytes] = {}
        for start in range(0, len(hashes), 500):
            chunk = list(hashes[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = self._query(
                "SELECT content_hash, data FROM fingerprints WHERE recipe = ? AND "
                f"content_hash IN ({marks})",
                [recipe, *chunk],
            )
            found.update((r[0], r[1]) for r in rows)
        return found

    def fingerprint_chunks(
        self, recipe: int, size: int = 4096
    ) -> Iterator[list[tuple[str, bytes]]]:
        """Every indexed photo's fingerprint summary of `recipe`, `size` at a time."""
        try:
            cursor = self._db.execute(
                "SELECT f.content_hash, f.summary FROM fingerprints f WHERE f.recipe = ? AND "
                "f.content_hash IN (SELECT content_hash FROM photos WHERE status = 'indexed')",
                (recipe,),
            )
            while rows := cursor.fetchmany(size):
                yield [(r[0], r[1]) for r in rows]
        except sqlite3.Error as error:
            raise translate(error, self.path) from error

    # -- embeddings: reading --------------------------------------------------------------

    def has_embedding(self, model_key: str, content_hash: str) -> bool:
        rows = self._query(
            "SELECT 1 FROM embeddings WHERE model_key = ? AND content_hash = ?",
            (model_key, content_hash),
        )
        return bool(rows)

    def embedded_hashes(self, model_key: str) -> set[str]:
        rows = self._query("SELECT content_hash FROM embeddings WHERE model_key = ?", (model_key,))
        return {r[0] for r in rows}

    def photo_vectors(
        self, model_key: str, ids: Sequence[int] | None = None, *, newer_than: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of indexed photos that have a vector for `model_key`: all of them,
        those in `ids`, or those whose vector changed after generation `newer_than`."""
        sql = (
            "SELECT p.id, e.vector FROM photos p JOIN embeddings e "
            "ON e.content_hash = p.content_hash AND e.model_key = ? WHERE p.status = 'indexed'"
        )
        if ids is None:
            if newer_than is None:
                return _vectors(self._query(sql, (model_key,)))
            return _vectors(self._query(sql + " AND p.vec_gen > ?", (model_key, newer_than)))
        rows: list[sqlite3.Row] = []
        for chunk in _chunks(list(ids), 500):
            marks = ",".join("?" * len(chunk))
            rows += self._query(sql + f" AND p.id IN ({marks})", [model_key, *chunk])
        return _vectors(rows)

    def photo_ids_with_vectors(self, model_key: str) -> set[int]:
        rows = self._query(
            "SELECT p.id FROM photos p JOIN embeddings e ON e.content_hash = p.content_hash "
            "AND e.model_key = ? WHERE p.status = 'indexed'",
            (model_key,),
        )
        return {r[0] for r in rows}

    # -- photos: reading -------------------------------------------------------------------

    def photo(self, photo_id: int) -> Photo | None:
        rows = self._query(f"SELECT {PHOTO_COLUMNS} FROM photos WHERE id = ?", (photo_id,))
        return _photo(rows[0]) if rows else None

    def photo_by_path(self, path: Path) -> Photo | None:
        rows = self._query(
            f"SELECT {PHOTO_COLUMNS} FROM photos WHERE path = CAST(? AS TEXT)", (path_value(path),)
        )
        return _photo(rows[0]) if rows else None

    def photo_with_hash(self, content_hash: str) -> Photo | None:
        rows = self._query(
            f"SELECT {PHOTO_COLUMNS} FROM photos WHERE content_hash = ? AND status = 'indexed' "
            "LIMIT 1",
            (content_hash,),
        )
        return _photo(rows[0]) if rows else None

    def photos(self, ids: Sequence[int]) -> dict[int, Photo]:
        found: dict[int, Photo] = {}
        for chunk in _chunks(list(ids), 500):
            marks = ",".join("?" * len(chunk))
            rows = self._query(f"SELECT {PHOTO_COLUMNS} FROM photos WHERE id IN ({marks})", chunk)
            found.update((r[0], _photo(r)) for r in rows)
        return found

    def filter_ids(
        self,
        *,
        folder: Path | None = None,
        since: float | None = None,
        until: float | None = None,
        tag: tuple[str, str] | None = None,
    ) -> set[int]:
        """Ids of indexed photos inside `folder`, taken (else modified) in [since, until)
        and carrying `tag` = (category, label)."""
        clauses, params = ["status = 'indexed'"], list[object]()
        if tag is not None:
            clauses.append(
                "id IN (SELECT t.photo_id FROM photo_tags t JOIN tag_labels l ON l.id = t.label_id"
                " JOIN tag_categories c ON c.id = l.category_id WHERE c.name = ? AND l.name = ?)"
            )
            params += list(tag)
        if folder is not None:
            under = _folder_prefix(folder)
            clauses.append(f"(path = CAST(? AS TEXT) OR {_UNDER})")
            params += [under[:-1], len(under), under]
        date = "coalesce(taken_at, mtime_ns / 1e9)"
        if since is not None:
            clauses.append(f"{date} >= ?")
            params.append(since)
        if until is not None:
            clauses.append(f"{date} < ?")
            params.append(until)
        rows = self._query(f"SELECT id FROM photos WHERE {' AND '.join(clauses)}", params)
        return {r[0] for r in rows}

    def counts(self) -> Counts:
        row = self._query(
            "SELECT count(*), sum(status = 'indexed'), sum(status = 'failed') FROM photos"
        )[0]
        return Counts(row[0], row[1] or 0, row[2] or 0)

    def failures(self, limit: int | None = None) -> list[tuple[Path, str]]:
        sql = "SELECT path, failure FROM photos WHERE status = 'failed' ORDER BY path"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [(Path(r[0]), r[1]) for r in self._query(sql)]


# -- helpers ---------------------------------------------------------------------------------


#: What a read-only WAL open says when its folder cannot hold the -shm file.
_NO_SHM = ("attempt to write a readonly database", "unable to open database file")


def _connect(path: Path, readonly: bool, immutable: bool = False) -> sqlite3.Connection:
    if readonly:
        uri = f"{path.absolute().as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")
        connection = sqlite3.connect(uri, uri=True, isolation_level=None)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(path, isolation_level=None)
    # Autocommit mode (isolation_level=None): transactions are explicit, see transaction().
    connection.text_factory = _text
    connection.execute("PRAGMA busy_timeout = 5000")
    connection.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        _use_wal(connection)
        # NORMAL is durable across application crashes in WAL mode; only an OS crash can
        # lose the last commits, and the index is rebuilt from what survived.
        connection.execute("PRAGMA synchronous = NORMAL")
    return connection


def _use_wal(connection: sqlite3.Connection, tries: int = 100) -> None:
    """Switch to WAL. Processes opening a new catalog at once race to switch it, and SQLite
    answers the loser "locked" at once, without its busy handler: so wait and retry."""
    for attempt in range(tries):
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == tries - 1:
                raise
            time.sleep(0.05)


def _statements(script: str) -> list[str]:
    """Split a migration script; executescript() would commit our open transaction.
    Whole-line `--` comments go first, so a ';' inside one cannot split a statement."""
    code = "\n".join(line for line in script.splitlines() if not line.strip().startswith("--"))
    return [statement.strip() for statement in code.split(";") if statement.strip()]


def _photo(row: Sequence[object]) -> Photo:
    values = list(row)
    values[1] = Path(str(values[1]))
    return Photo(*values)  # type: ignore[arg-type]


def _vectors(rows: list[sqlite3.Row]) -> tuple[np.ndarray, np.ndarray]:
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    if not rows:
        return ids, np.zeros((0, 0), dtype=np.float32)
    # Each blob copied once, straight into its row (3x faster than joining them first).
    width = len(rows[0][1])
    matrix = np.empty((len(rows), width // 4), dtype=np.float32)
    view = matrix.data.cast("B")
    for i, row in enumerate(rows):
        view[i * width : (i + 1) * width] = row[1]
    return ids, matrix


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _folder_prefix(folder: Path) -> bytes:
    """'/a/b' -> b'/a/b/', so that it matches '/a/b/x.jpg' but never '/a/bc/x.jpg'."""
    text = str(folder).rstrip("/\\")
    return path_bytes(text + _separator(text))


#: `path` lies below the folder whose byte prefix (with its separator) is the 2nd parameter.
_UNDER = "substr(CAST(path AS BLOB), 1, ?) = CAST(? AS BLOB)"


def path_bytes(path: Path | str) -> bytes:
    """A path's bytes as the file system has them: a name that is not valid UTF-8 comes from
    os.scandir as a str with lone surrogates (surrogateescape), which turns back here."""
    text = str(path)
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # Windows: an unpaired UTF-16 surrogate
        return text.encode("utf-8", "surrogatepass")


def path_value(path: Path | str) -> str | bytes:
    """A path as an SQL parameter, bound as `CAST(? AS TEXT)`: a UTF-8 name as text, any
    other as its own bytes (sqlite3 refuses str with surrogates). Stored losslessly, the
    same column and schema as before; `_text` reads it back as the same str."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return path_bytes(text)
    return text


def _text(data: bytes) -> str:
    """sqlite3's text_factory: UTF-8, with any other byte kept as a lone surrogate, the way
    Python spells a file name that is not UTF-8, so such a path reads back as it went in."""
    return data.decode("utf-8", "surrogateescape")


def _separator(prefix: str) -> str:
    return "\\" if "\\" in prefix and "/" not in prefix else "/"


KNOWN_CONDITIONS = {
    "database is locked": "The catalog is busy in another PhotoClip window or process. "
    "Close it, or wait a moment and try again.",
    "database or disk is full": "The disk holding the catalog is full. Free some space.",
    "disk i/o error": "The disk holding the catalog reported an input/output error.",
    "file is not a database": "The catalog file is damaged. Move it away to start afresh.",
    "database disk image is malformed": "The catalog file is damaged. Move it away to start "
    "afresh.",
    "unable to open database file": "The catalog cannot be opened; check that the folder "
    "exists and that you may write to it.",
    "attempt to write a readonly database": "The catalog is read-only; check its permissions.",
}


def translate(error: sqlite3.Error, path: Path) -> Exception:
    """Known conditions become a CatalogError with advice; anything else is a bug."""
    text = str(error).lower()
    for needle, advice in KNOWN_CONDITIONS.items():
        if needle in text:
            return CatalogError(f"{advice} ({path})")
    return error
