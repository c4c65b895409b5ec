from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import numpy as np
import pytest

from photoclip.core.catalog import FAILED, INDEXED, SCHEMA_VERSION, Catalog, ModelRecord
from photoclip.core.errors import CatalogError

MODEL = ModelRecord("Tiny:random", "Tiny", "Tiny", 4, "3.3.0", True)


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    opened = Catalog.open(tmp_path / "catalog.sqlite3")
    with opened.transaction():
        opened.register_model(MODEL)
    return opened


def add_photo(catalog: Catalog, path: str, content_hash: str, **kwargs: object) -> int:
    with catalog.transaction():
        root = catalog.add_root(Path("/photos"))
        return catalog.upsert_photo(
            Path(path), root.id, size=10, mtime_ns=1, content_hash=content_hash, **kwargs
        )


def test_a_new_catalog_is_at_the_current_schema_in_wal_mode(catalog: Catalog) -> None:
    connection = sqlite3.connect(catalog.path)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_catalog_from_a_newer_photoclip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    Catalog.open(path).close()
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(CatalogError, match="newer PhotoClip"):
        Catalog.open(path)


def test_reopening_keeps_the_data_and_runs_no_migration_twice(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    with Catalog.open(path) as first, first.transaction():
        first.add_root(Path("/photos"))
    with Catalog.open(path) as second:
        assert [r.path for r in second.roots()] == [Path("/photos")]


def test_a_file_that_is_not_a_database_is_a_known_error(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CatalogError, match="damaged"):
        Catalog.open(path)


def test_a_locked_catalog_is_a_known_error(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    writer = Catalog.open(path)
    other = Catalog.open(path)
    other._db.execute("PRAGMA busy_timeout = 50")
    with writer.transaction(), pytest.raises(CatalogError, match="busy"), other.transaction():
        pass


def test_a_failed_transaction_leaves_nothing_behind(catalog: Catalog) -> None:
    with pytest.raises(RuntimeError), catalog.transaction():
        catalog.add_root(Path("/half"))
        raise RuntimeError("crash mid-batch")
    assert catalog.roots() == []


def test_vectors_are_shared_by_photos_with_the_same_bytes(catalog: Catalog) -> None:
    first = add_photo(catalog, "/photos/a.jpg", "h1")
    copy = add_photo(catalog, "/photos/b.jpg", "h1")
    with catalog.transaction():
        catalog.put_embedding(MODEL.key, "h1", np.array([1, 0, 0, 0], dtype=np.float32))
    ids, vectors = catalog.photo_vectors(MODEL.key)
    assert sorted(ids.tolist()) == sorted([first, copy])
    assert np.array_equal(vectors[0], vectors[1])


def test_photo_vectors_by_id_and_by_generation(catalog: Catalog) -> None:
    old = add_photo(catalog, "/photos/a.jpg", "h1", vec_gen=1)
    new = add_photo(catalog, "/photos/b.jpg", "h2", vec_gen=5)
    with catalog.transaction():
        catalog.put_embedding(MODEL.key, "h1", np.ones(4, dtype=np.float32))
        catalog.put_embedding(MODEL.key, "h2", np.zeros(4, dtype=np.float32))
    assert catalog.photo_vectors(MODEL.key, [old])[0].tolist() == [old]
    assert catalog.photo_vectors(MODEL.key, newer_than=3)[0].tolist() == [new]


def test_failed_photos_have_no_vector_and_keep_their_reason(catalog: Catalog) -> None:
    photo_id = add_photo(catalog, "/photos/bad.jpg", "h9", failure="truncated file")
    with catalog.transaction():
        catalog.put_embedding(MODEL.key, "h9", np.ones(4, dtype=np.float32))
    assert catalog.photo(photo_id).status == FAILED  # type: ignore[union-attr]
    assert catalog.photo_vectors(MODEL.key)[0].tolist() == []
    assert catalog.failures() == [(Path("/photos/bad.jpg"), "truncated file")]
    assert catalog.counts().failed == 1


def test_a_moved_photo_keeps_its_id(catalog: Catalog) -> None:
    photo_id = add_photo(catalog, "/photos/a.jpg", "h1")
    root = catalog.roots()[0]
    with catalog.transaction():
        catalog.move_photo(photo_id, Path("/photos/sub/renamed.jpg"), root.id, 99)
    moved = catalog.photo_by_path(Path("/photos/sub/renamed.jpg"))
    assert moved is not None and moved.id == photo_id and moved.status == INDEXED
    assert catalog.photo_by_path(Path("/photos/a.jpg")) is None


def test_folder_filter_matches_whole_folder_names_only(catalog: Catalog) -> None:
    inside = add_photo(catalog, "/photos/2024/a.jpg", "h1")
    add_photo(catalog, "/photos/2024-old/b.jpg", "h2")
    assert catalog.filter_ids(folder=Path("/photos/2024")) == {inside}


def test_date_filter_uses_taken_at_else_mtime(catalog: Catalog) -> None:
    taken = add_photo(catalog, "/photos/a.jpg", "h1", taken_at=1_000.0)
    add_photo(catalog, "/photos/b.jpg", "h2")  # mtime 1 ns: the epoch
    assert catalog.filter_ids(since=500.0) == {taken}
    assert taken not in catalog.filter_ids(until=500.0)


def test_dropping_other_models_removes_their_vectors(catalog: Catalog) -> None:
    other = ModelRecord("Other:random", "Other", "Other", 4, "3.3.0", True)
    add_photo(catalog, "/photos/a.jpg", "h1")
    with catalog.transaction():
        catalog.register_model(other)
        catalog.put_embedding(MODEL.key, "h1", np.ones(4, dtype=np.float32))
        catalog.put_embedding(other.key, "h1", np.ones(4, dtype=np.float32))
        catalog.drop_other_models(keep=MODEL.key)
    assert catalog.embedded_hashes(other.key) == set()
    assert catalog.embedded_hashes(MODEL.key) == {"h1"}


def test_orphan_vectors_are_pruned(catalog: Catalog) -> None:
    photo_id = add_photo(catalog, "/photos/a.jpg", "h1")
    with catalog.transaction():
        catalog.put_embedding(MODEL.key, "h1", np.ones(4, dtype=np.float32))
        catalog.delete_photos([photo_id])
        assert catalog.prune_orphan_embeddings() == 1


def test_readers_see_committed_batches_while_the_writer_works(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    writer = Catalog.open(path)
    with writer.transaction():
        root = writer.add_root(Path("/photos"))
    seen: list[int] = []

    def read() -> None:
        with Catalog.open(path, readonly=True) as reader:
            seen.append(reader.counts().photos)

    with writer.transaction():
        writer.upsert_photo(Path("/photos/a.jpg"), root.id, size=1, mtime_ns=1, content_hash="h")
        thread = threading.Thread(target=read)
        thread.start()
        thread.join()
    assert seen == [0]  # a reader never sees half a batch, and is not blocked by it


def _open_at_once(path: Path, start: Barrier, failures: Queue[str]) -> None:
    start.wait()
    try:
        Catalog.open(path).close()
    except Exception as error:  # reported to the parent, which asserts there were none
        failures.put(repr(error))


def test_processes_opening_a_new_catalog_at_once_all_succeed(tmp_path: Path) -> None:
    """Two commands started together on a new data folder raced to create the schema
    (`table meta already exists`); the migration is one transaction that re-checks."""
    context = multiprocessing.get_context("fork")
    failures: Queue[str] = context.Queue()
    for trial in range(8):
        path = tmp_path / f"catalog-{trial}.sqlite3"
        start = context.Barrier(6)
        processes = [
            context.Process(target=_open_at_once, args=(path, start, failures)) for _ in range(6)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(60)
        assert [p.exitcode for p in processes] == [0] * 6
        with Catalog.open(path, readonly=True) as opened:
            assert opened._check_version() == SCHEMA_VERSION
    found = []
    while not failures.empty():
        found.append(failures.get())
    assert found == []


# -- paths that are not UTF-8 (issue 16) -----------------------------------------------------

#: How Python spells the Linux file name b"bad\xff.jpg": the byte as a lone surrogate.
NOT_UTF8 = Path("/photos/" + b"bad\xff.jpg".decode("utf-8", "surrogateescape"))


def test_a_path_that_is_not_utf8_round_trips_losslessly(catalog: Catalog) -> None:
    photo_id = add_photo(catalog, str(NOT_UTF8), "h1", failure="broken")
    assert catalog.photo(photo_id).path == NOT_UTF8  # type: ignore[union-attr]
    assert catalog.photo_by_path(NOT_UTF8).id == photo_id  # type: ignore[union-attr]
    assert catalog.failures() == [(NOT_UTF8, "broken")]
    assert list(catalog.known_files(catalog.roots()[0].id)) == [str(NOT_UTF8)]
    # Stored as the file system's own bytes, beside UTF-8 names in the same column.
    raw = sqlite3.connect(catalog.path).execute("SELECT CAST(path AS BLOB) FROM photos")
    assert raw.fetchone()[0] == b"/photos/bad\xff.jpg"


def test_folder_moves_and_filters_work_below_a_folder_that_is_not_utf8(catalog: Catalog) -> None:
    odd = Path("/photos/" + b"d\xe9j\xe0".decode("utf-8", "surrogateescape"))
    inside = add_photo(catalog, str(odd / "\u00e9t\u00e9.jpg"), "h1")
    add_photo(catalog, str(odd) + "x/other.jpg", "h2")
    assert catalog.photo_ids_under(odd) == [inside]
    assert catalog.filter_ids(folder=odd) == {inside}
    with catalog.transaction():
        assert catalog.move_folder(odd, Path("/photos/ok"), catalog.roots()[0].id) == 1
    assert catalog.photo(inside).path == Path("/photos/ok/\u00e9t\u00e9.jpg")  # type: ignore[union-attr]


def test_the_first_vector_of_some_bytes_stays(catalog: Catalog) -> None:
    add_photo(catalog, "/photos/a.jpg", "h1", vec_gen=1)
    first = np.array([1, 0, 0, 0], dtype=np.float32)
    with catalog.transaction():
        catalog.put_embedding(MODEL.key, "h1", first)
    with catalog.transaction():  # a second writer embedded the same bytes meanwhile
        catalog.put_embedding(MODEL.key, "h1", np.array([0, 1, 0, 0], dtype=np.float32))
    assert np.array_equal(catalog.photo_vectors(MODEL.key)[1][0], first)


def test_a_savepoint_undoes_one_part_of_a_transaction(catalog: Catalog) -> None:
    with catalog.transaction():
        root = catalog.add_root(Path("/photos"))
        catalog.upsert_photo(Path("/photos/a.jpg"), root.id, size=1, mtime_ns=1, content_hash="a")
        with pytest.raises(RuntimeError), catalog.savepoint():
            catalog.upsert_photo(
                Path("/photos/b.jpg"), root.id, size=1, mtime_ns=1, content_hash="b"
            )
            raise RuntimeError("one file's problem")
    assert [p for p, _ in catalog.known_files(root.id).items()] == ["/photos/a.jpg"]


@pytest.mark.parametrize(
    ("taken_at", "mtime_ns", "expected"),
    [
        (253402343999.0, 1_700_000_000 * 10**9, 1_700_000_000.0),  # 9999-12-31 at -12:00
        (-62135640000.0, 1_700_000_000 * 10**9, 1_700_000_000.0),  # 0001-01-01 at +12:00
        (None, 10**21, 0.0),  # a file stamped in year 33658: no date at all
        (1_600_000_000.0, 10**21, 1_600_000_000.0),
    ],
)
def test_a_photo_date_is_always_one_every_zone_can_show(
    taken_at: float | None, mtime_ns: int, expected: float
) -> None:
    from datetime import datetime

    from photoclip.core.catalog import Photo

    photo = Photo(1, Path("/p.jpg"), 1, 1, mtime_ns, None, None, None, taken_at, INDEXED, None)
    assert photo.date == expected
    datetime.fromtimestamp(photo.date)  # what sorting's {year} does; raised before


def test_fingerprints_are_kept_by_content_and_pruned_with_their_last_photo(
    catalog: Catalog,
) -> None:
    first = add_photo(catalog, "/photos/a.jpg", "aa")
    add_photo(catalog, "/photos/b.jpg", "bb")
    with catalog.transaction():
        catalog.put_fingerprint("aa", 1, b"summary of a", b"print of a")
        catalog.put_fingerprint("bb", 1, b"summary of b", b"print of b")
        catalog.put_fingerprint("bb", 2, b"new summary", b"newer recipe")  # one per content
    assert catalog.fingerprints(1) == {"aa": b"print of a"}
    assert catalog.fingerprints(2, ["bb", "cc"]) == {"bb": b"newer recipe"}
    assert list(catalog.fingerprint_chunks(2)) == [[("bb", b"new summary")]]
    with catalog.transaction():
        catalog.delete_photos([first])
        catalog.prune_orphan_embeddings()
    assert catalog.fingerprints(1, ["aa"]) == {}
