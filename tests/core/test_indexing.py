"""The indexer end to end on real SQLite, hnswlib and a tiny open_clip model."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from photoclip.core.imageio import ThumbnailStore
from photoclip.core.indexing import IndexControl, Indexer, IndexProgress
from photoclip.core.library import Library
from photoclip.core.paths import Locations
from photoclip.core.search import Searcher, SearchOptions
from photoclip.core.settings import Settings
from tests import hostile
from tests.photos import make_photo

COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 40), (120, 40, 160)]


@pytest.fixture
def album(tmp_path: Path) -> Path:
    folder = tmp_path / "album"
    for i, colour in enumerate(COLOURS * 2):
        make_photo(folder / f"sub{i % 2}" / f"photo{i}.jpg", colour, pattern=i * 9)
    return folder


@pytest.fixture
def library() -> Any:
    opened = Library.open(Locations.from_environment())
    yield opened
    opened.close()


def run(library: Library, encoder: Any, *roots: Path, **kwargs: Any) -> Any:
    return Indexer(library, encoder, batch_size=4, **kwargs).index(list(roots))


def ids_by_name(library: Library) -> dict[str, int]:
    photos = library.catalog.photos(
        sorted(library.catalog.photo_ids_with_vectors(str(library.catalog.active_model)))
    )
    return {p.path.name: p.id for p in photos.values()}


def test_first_run_embeds_every_photo(library: Library, tiny_encoder: Any, album: Path) -> None:
    report = run(library, tiny_encoder, album)
    assert (report.embedded, report.reused, report.unchanged, report.failed) == (10, 0, 0, 0)
    assert library.catalog.counts().indexed == 10
    assert len(library.index()) == 10


def test_thumbnails_go_where_the_settings_say(
    tmp_path: Path, tiny_encoder: Any, album: Path
) -> None:
    locations = Locations.from_environment()
    Settings(thumbnail_cache=str(tmp_path / "thumbs")).save(locations.settings)
    with Library.open(locations) as chosen:
        run(chosen, tiny_encoder, album)
    assert len(list((tmp_path / "thumbs").rglob("*.jpg"))) == 10
    assert not list(locations.thumbnails.rglob("*.jpg"))


def test_a_thumbnail_folder_it_cannot_write_fails_no_photo(
    library: Library, tiny_encoder: Any, album: Path, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("a file, not a folder")
    library.thumbnails = ThumbnailStore(tmp_path / "a-file" / "thumbs")
    report = run(library, tiny_encoder, album)
    assert (report.embedded, report.failed) == (10, 0)


def test_vectors_land_on_the_photo_they_came_from(
    library: Library, tiny_encoder: Any, album: Path
) -> None:
    (album / "sub0" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    run(library, tiny_encoder, album)
    for name in ("photo0.jpg", "photo3.jpg", "photo8.jpg"):
        photo = library.catalog.photo_by_path(next(album.rglob(name)).resolve())
        assert photo is not None
        stored = library.catalog.photo_vectors(tiny_encoder.model_key, [photo.id])[1][0]
        from PIL import Image

        direct = tiny_encoder.encode_pil([Image.open(photo.path).convert("RGB")])[0]
        assert float(stored @ direct) > 0.999


def test_a_rescan_touches_nothing(library: Library, tiny_encoder: Any, album: Path) -> None:
    run(library, tiny_encoder, album)
    generation = library.catalog.generation
    report = run(library, tiny_encoder, album)
    assert (report.embedded, report.reused, report.unchanged) == (0, 0, 10)
    assert library.catalog.generation == generation


def test_move_and_rename_keep_the_id_and_embed_nothing(
    library: Library, tiny_encoder: Any, album: Path
) -> None:
    run(library, tiny_encoder, album)
    before = ids_by_name(library)
    (album / "sub0" / "photo0.jpg").rename(album / "sub1" / "renamed.jpg")
    report = run(library, tiny_encoder, album)
    assert (report.embedded, report.reused, report.removed) == (0, 1, 0)
    after = ids_by_name(library)
    assert after["renamed.jpg"] == before["photo0.jpg"] and "photo0.jpg" not in after
    assert len(library.index()) == 10


def test_a_copy_reuses_the_vector(library: Library, tiny_encoder: Any, album: Path) -> None:
    run(library, tiny_encoder, album)
    shutil.copy(album / "sub0" / "photo0.jpg", album / "copy.jpg")
    report = run(library, tiny_encoder, album)
    assert (report.embedded, report.reused) == (0, 1)
    ids = ids_by_name(library)
    assert ids["copy.jpg"] != ids["photo0.jpg"]
    found = Searcher(library, lambda: tiny_encoder).similar(album / "sub0" / "photo0.jpg")
    assert found[0].photo.path.name == "copy.jpg" and found[0].score == pytest.approx(1.0)


def test_a_deleted_photo_leaves_the_results(
    library: Library, tiny_encoder: Any, album: Path
) -> None:
    run(library, tiny_encoder, album)
    gone = ids_by_name(library)["photo4.jpg"]
    (album / "sub0" / "photo4.jpg").unlink()
    report = run(library, tiny_encoder, album)
    assert report.removed == 1
    results = Searcher(library, lambda: tiny_encoder).search("a photo", SearchOptions(limit=50))
    assert gone not in {r.photo.id for r in results} and len(results) == 9


def test_corrupt_and_truncated_photos_are_skipped_with_reasons(
    library: Library, tiny_encoder: Any, album: Path
) -> None:
    (album / "corrupt.jpg").write_bytes(b"definitely not an image")
    whole = (album / "sub0" / "photo0.jpg").read_bytes()
    (album / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    report = run(library, tiny_encoder, album)
    assert (report.embedded, report.failed) == (10, 2)
    reasons = dict(library.catalog.failures())
    assert set(reasons) == {(album / "corrupt.jpg").resolve(), (album / "truncated.jpg").resolve()}
    assert all(reasons.values())
    assert run(library, tiny_encoder, album).unchanged == 12  # failures are not retried


def test_a_crash_mid_run_keeps_committed_batches_and_resumes(
    library: Library, tiny_encoder: Any, album: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = tiny_encoder.encode_images
    calls = {"n": 0}

    class Killed(BaseException):
        """Stands in for a kill: no handler of a per-file error may catch it."""

    def dies_on_third_batch(batch: Any) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 3:
            raise Killed
        return real(batch)

    monkeypatch.setattr(tiny_encoder, "encode_images", dies_on_third_batch)
    with pytest.raises(Killed):
        run(library, tiny_encoder, album)
    monkeypatch.setattr(tiny_encoder, "encode_images", real)
    assert library.catalog.counts().indexed == 8  # two batches of four committed
    reopened = Library.open(library.locations)  # as after a restart: the index catches up
    assert len(reopened.index(tiny_encoder.model_key)) == 8
    report = run(reopened, tiny_encoder, album)
    assert (report.embedded, report.unchanged) == (2, 8)
    reopened.close()


def test_a_lost_index_file_is_rebuilt_with_the_same_results(
    library: Library, tiny_encoder: Any, album: Path
) -> None:
    run(library, tiny_encoder, album)
    searcher = Searcher(library, lambda: tiny_encoder)
    expected = [(r.photo.id, round(r.score, 5)) for r in searcher.search("red")]
    for file in library.locations.indexes.iterdir():
        file.unlink()
    rebuilt = Library.open(library.locations)
    again = Searcher(rebuilt, lambda: tiny_encoder).search("red")
    assert [(r.photo.id, round(r.score, 5)) for r in again] == expected
    rebuilt.close()


def test_progress_reports_done_total_and_rate(
    library: Library, tiny_encoder: Any, album: Path
) -> None:
    events: list[IndexProgress] = []
    Indexer(library, tiny_encoder, batch_size=4).index([album], progress=events.append)
    assert [e.done for e in events] == [4, 8, 10]
    assert all(e.total == 10 and e.rate > 0 for e in events) and events[-1].eta == 0


def test_cancel_stops_after_the_current_batch(
    library: Library, tiny_encoder: Any, album: Path
) -> None:
    control = IndexControl()
    report = Indexer(library, tiny_encoder, batch_size=4).index(
        [album], progress=lambda _: control.cancel(), control=control
    )
    assert report.cancelled and report.embedded == 4
    assert library.catalog.counts().indexed == 4


def test_switching_models_replaces_the_vectors(
    library: Library, tiny_encoder: Any, album: Path, tmp_path: Path
) -> None:
    run(library, tiny_encoder, album)
    from dataclasses import replace

    other = replace(tiny_encoder, profile=replace(tiny_encoder.profile, arch="Other"))
    assert other.model_key != tiny_encoder.model_key
    report = run(library, other, album)
    assert report.embedded == 10
    assert library.catalog.active_model == other.model_key
    assert library.catalog.embedded_hashes(tiny_encoder.model_key) == set()
    saved = sorted(p.name for p in library.locations.indexes.iterdir())
    assert saved and all(name.startswith("Other") for name in saved)  # no stale index files


# -- hostile libraries and concurrent writers (issue 16) ------------------------------------


def photo_paths(library: Library) -> list[Path]:
    rows = library.catalog.read("SELECT path FROM photos ORDER BY path")
    return [Path(row[0]) for row in rows]


def test_a_data_folder_inside_a_root_is_never_indexed(
    tmp_path: Path, tiny_encoder: Any, album: Path
) -> None:
    inside = Locations(data=album / "PhotoClip", cache=album / "cache")
    with Library.open(inside) as library:
        first = run(library, tiny_encoder, album)
        assert any(library.locations.thumbnails.rglob("*.jpg"))  # thumbnails were made
        second = run(library, tiny_encoder, album)
        assert (first.embedded, second.embedded, second.unchanged) == (10, 0, 10)
        assert library.catalog.counts().photos == 10
        assert not [p for p in photo_paths(library) if p.is_relative_to(inside.data)]


def test_a_link_to_a_parent_folder_does_not_multiply_photos(
    library: Library, tiny_encoder: Any, album: Path
) -> None:
    (album / "sub0" / "up").symlink_to(album)
    (album / "sub1" / "grandparent").symlink_to(album.parent)
    run(library, tiny_encoder, album)
    run(library, tiny_encoder, album)
    assert library.catalog.counts().photos == 10
    assert not [p for p in photo_paths(library) if "up" in p.parts or "grandparent" in p.parts]


def test_a_name_that_is_not_utf8_is_indexed_and_kept_as_it_is(
    library: Library, tiny_encoder: Any, album: Path
) -> None:
    odd = os.fsencode(album) + b"/bad\xff name.jpg"
    shutil.copyfile(album / "sub0" / "photo0.jpg", odd)
    (album / "sub0" / "photo0.jpg").unlink()
    report = run(library, tiny_encoder, album)
    assert (report.embedded, report.failed) == (10, 0)
    (stored,) = [p for p in photo_paths(library) if "bad" in p.name]
    assert os.fsencode(stored) == odd  # the very bytes of the name
    assert run(library, tiny_encoder, album).unchanged == 10


@pytest.mark.parametrize("taken", ["0001:01:01 00:00:00", "9999:12:31 23:59:59"])
def test_placeholder_dates_do_not_stop_a_run(
    library: Library, tiny_encoder: Any, album: Path, taken: str
) -> None:
    from PIL import ExifTags, Image

    exif = Image.Exif()
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.DateTimeOriginal] = taken
    details[ExifTags.Base.OffsetTimeOriginal] = "-12:00"
    Image.new("RGB", (64, 48), (9, 99, 199)).save(album / "dated.jpg", exif=exif)
    report = run(library, tiny_encoder, album)
    assert (report.embedded, report.failed) == (11, 0)
    assert library.catalog.photo_by_path(album.resolve() / "dated.jpg").taken_at is None


def test_any_error_of_one_file_is_its_failure_and_the_batch_goes_on(
    library: Library, tiny_encoder: Any, album: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three depths: decoding (a bug in a transform), embedding (the model refuses one
    input) and recording (its row cannot be written). Batches are of 4: their other
    photos must be committed all the same."""
    prepare, encode = tiny_encoder.prepare, tiny_encoder.encode_prepared
    make_photo(album / "decode-bug.jpg", (1, 2, 3), size=(161, 120))
    make_photo(album / "model-bug.jpg", (4, 5, 6), size=(162, 120))
    make_photo(album / "record-bug.jpg", (7, 8, 9), size=(163, 120))

    def buggy_prepare(image: Any) -> Any:
        if image.width == 161:
            raise ZeroDivisionError("a bug in the transform")
        tensor = prepare(image)
        return tensor * np.nan if image.width == 162 else tensor

    def buggy_encode(tensors: list[Any]) -> Any:
        if any(bool(t.isnan().any()) for t in tensors):
            raise RuntimeError("NaN in the input")
        return encode(tensors)

    upsert = library.catalog.upsert_photo

    def buggy_upsert(path: Path, *args: Any, **kwargs: Any) -> int:
        if path.name == "record-bug.jpg" and not kwargs.get("failure"):
            raise ValueError("cannot store this row")
        return upsert(path, *args, **kwargs)

    monkeypatch.setattr(tiny_encoder, "prepare", buggy_prepare)
    monkeypatch.setattr(tiny_encoder, "encode_prepared", buggy_encode)
    monkeypatch.setattr(library.catalog, "upsert_photo", buggy_upsert)
    report = run(library, tiny_encoder, album)
    reasons = {path.name: reason for path, reason in library.catalog.failures()}
    assert (report.embedded, report.failed) == (10, 3)
    assert reasons == {
        "decode-bug.jpg": "unexpected error (ZeroDivisionError: a bug in the transform)",
        "model-bug.jpg": "unexpected error (RuntimeError: NaN in the input)",
        "record-bug.jpg": "unexpected error (ValueError: cannot store this row)",
    }
    assert library.catalog.counts().indexed == 10
    assert len(library.index()) == 10


def assert_index_agrees_with_catalog(locations: Locations, model_key: str) -> None:
    """What a fresh process loads: every vector as the catalog has it, each photo its own
    nearest neighbour."""
    with Library.open(locations) as fresh:
        ids, vectors = fresh.catalog.photo_vectors(model_key)
        index = fresh.index(model_key)
        assert sorted(index.ids().tolist()) == sorted(ids.tolist())
        assert np.array_equal(index.vectors(ids), vectors)
        for photo_id, vector in zip(ids.tolist(), vectors, strict=True):
            hits = index.search(vector, 3)  # near-identical photos may tie to the last bit
            assert photo_id in [i for i, score in hits if score >= hits[0][1] - 1e-6]
            assert hits[0][1] > 1 - 1e-5


def test_two_writers_leave_an_index_that_agrees_with_the_catalog(
    tiny_encoder: Any, album: Path
) -> None:
    """`index` and `watch` in two processes: each holds its own index in memory and saves
    it; a save must not claim another writer's changes that it never saw."""
    locations = Locations.from_environment()
    key = tiny_encoder.model_key
    with Library.open(locations) as a, Library.open(locations) as b:
        run(a, tiny_encoder, album)  # A indexes and saves
        b.index(key)  # B loads what A saved
        make_photo(album / "sub0" / "photo0.jpg", (90, 90, 90), pattern=77)  # changed bytes
        assert run(b, tiny_encoder, album).embedded == 1  # B re-embeds it and saves
        make_photo(album / "new.jpg", (10, 200, 90), pattern=5)
        assert run(a, tiny_encoder, album).embedded == 1  # A, unaware of B's change, saves last
    assert_index_agrees_with_catalog(locations, key)


def test_two_writers_interleaving_batches_agree_with_the_catalog(
    tiny_encoder: Any, tmp_path: Path
) -> None:
    locations = Locations.from_environment()
    folders = [tmp_path / "one", tmp_path / "two"]
    for n, folder in enumerate(folders):
        for i in range(12):
            make_photo(folder / f"p{i}.jpg", (20 * i, 100 + 60 * n, 40), pattern=i + 13 * n)
    with Library.open(locations) as a, Library.open(locations) as b:
        writers = [Indexer(a, tiny_encoder, batch_size=2), Indexer(b, tiny_encoder, batch_size=3)]
        writers[0].index([folders[0]])
        for i in range(0, 12, 3):  # edits picked up alternately, each writer saving
            make_photo(folders[0] / f"p{i}.jpg", (i, i, 250), pattern=50 + i)
            make_photo(folders[1] / f"p{i}.jpg", (250, i, i), pattern=60 + i)
            writers[i % 2].index([folders[1]])
            writers[(i + 1) % 2].index([folders[0]])
    assert_index_agrees_with_catalog(locations, tiny_encoder.model_key)


@pytest.fixture
def library_inside(tmp_path: Path) -> Iterator[Library]:
    """A library whose data and cache folders lie inside the folder it indexes."""
    root = tmp_path / "hostile"
    inside = Locations(data=root / "PhotoClip data", cache=root / "PhotoClip cache")
    with Library.open(inside) as opened:
        yield opened


def test_a_hostile_library_indexes_in_one_run_and_again_unchanged(
    library_inside: Library, tiny_encoder: Any, tmp_path: Path
) -> None:
    """Issue 16's acceptance on tests/hostile.py's library (~160 files) with PhotoClip's
    own data folder inside it: every good photo indexed, every bad one a failure with a
    reason, damaged ones either, none lost, none extra (no thumbnail), no exception out
    of the run; a second run changes nothing."""
    library = library_inside
    made = hostile.make_library(tmp_path / "hostile", seed=16)
    root = (tmp_path / "hostile").resolve()
    first = run(library, tiny_encoder, root)
    assert any(library.thumbnails.folder.rglob("*.jpg"))
    rows = {
        Path(r[0]): (r[1], r[2])
        for r in library.catalog.read("SELECT path, status, failure FROM photos")
    }
    expected = {root / h.path.relative_to(tmp_path / "hostile"): h for h in made}
    assert sorted(rows, key=str) == sorted(expected, key=str)
    for path, item in expected.items():
        status, reason = rows[path]
        wanted = {"good": ["indexed"], "bad": ["failed"], "either": ["indexed", "failed"]}
        assert status in wanted[item.expect], (path, reason)
        assert (status == "failed") == bool(reason), (path, reason)
    assert first.embedded + first.reused + first.failed == len(made) and not first.cancelled
    assert len(library.index()) == library.catalog.counts().indexed
    second = run(library, tiny_encoder, root)
    assert (second.embedded, second.failed, second.unchanged) == (0, 0, len(made))
    assert library.catalog.counts().photos == len(made)


# -- a lazily built model (issue 17: a rescan with nothing new builds no model) --------------


def lazy(encoder: Any, library: Library, fail: bool = False) -> Any:
    from photoclip.core.embedding import LazyEncoder
    from photoclip.core.errors import ModelError

    def load() -> Any:
        if fail:
            raise ModelError("no weights here")
        return encoder

    return LazyEncoder(encoder.profile, load, library.catalog.model(encoder.model_key))


def test_a_rescan_with_nothing_new_builds_no_model(
    library: Library, tiny_encoder: Any, album: Path
) -> None:
    run(library, tiny_encoder, album)
    again = lazy(tiny_encoder, library)
    report = run(library, again, album)
    assert (report.embedded, report.unchanged) == (0, 10)
    assert not again.loaded


def test_moved_photos_need_no_model(
    library: Library, tiny_encoder: Any, album: Path, tmp_path: Path
) -> None:
    run(library, tiny_encoder, album)
    shutil.move(album / "sub0", tmp_path / "elsewhere")
    (album / "sub0").mkdir()
    shutil.move(tmp_path / "elsewhere", album / "sub0" / "moved")
    again = lazy(tiny_encoder, library)
    report = run(library, again, album)
    assert (report.embedded, report.reused, report.removed) == (0, 5, 0)
    assert not again.loaded


def test_a_new_photo_builds_the_model_once(
    library: Library, tiny_encoder: Any, album: Path
) -> None:
    run(library, tiny_encoder, album)
    make_photo(album / "new.jpg", (10, 250, 250), pattern=3)
    make_photo(album / "new2.jpg", (250, 10, 250), pattern=5)
    calls = []
    from photoclip.core.embedding import LazyEncoder

    again = LazyEncoder(tiny_encoder.profile, lambda: calls.append(1) or tiny_encoder)
    report = run(library, again, album)
    assert (report.embedded, report.unchanged) == (2, 10)
    assert calls == [1]


def test_a_model_that_cannot_load_stops_the_run_and_fails_no_photo(
    library: Library, tiny_encoder: Any, album: Path
) -> None:
    from photoclip.core.errors import ModelError

    run(library, tiny_encoder, album)
    make_photo(album / "new.jpg", (10, 250, 250), pattern=3)
    with pytest.raises(ModelError, match="no weights here"):
        run(library, lazy(tiny_encoder, library, fail=True), album)
    assert library.catalog.counts().failed == 0


# -- decoding while the model is built (issue 17: start-up to the first decoded photo) ------


def hint_of(encoder: Any) -> Any:
    from photoclip.core.embedding import ModelHint

    return ModelHint(tuple(encoder.input_size), encoder.dim, encoder.open_clip_version)


def test_photos_decode_while_the_model_is_built_with_the_same_vectors(
    tiny_encoder: Any, album: Path, tmp_path: Path
) -> None:
    """With a hint, the first photos are decoded before the build ends (the build here
    waits for a decode to finish), and the vectors are those of a model loaded first."""
    import threading

    import photoclip.core.indexing as indexing
    from photoclip.core.embedding import LazyEncoder
    from photoclip.core.imageio import decode_photo

    decoded = threading.Event()

    def slow_build() -> Any:
        assert decoded.wait(30), "no photo was decoded while the model was being built"
        return tiny_encoder

    def decode(*args: Any, **kwargs: Any) -> Any:
        result = decode_photo(*args, **kwargs)
        decoded.set()
        return result

    lazy = LazyEncoder(tiny_encoder.profile, slow_build, hint=hint_of(tiny_encoder))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(indexing, "decode_photo", decode)
        first = Library.open(Locations.from_environment())
        report = run(first, lazy, album)
    assert report.embedded == len(COLOURS) * 2 and lazy.loaded
    os.environ["PHOTOCLIP_DATA_DIR"] = str(tmp_path / "other")
    second = Library.open(Locations.from_environment())
    run(second, tiny_encoder, album)
    found = [vectors_by_name(lib, tiny_encoder.model_key) for lib in (first, second)]
    assert found[0].keys() == found[1].keys()
    for name, vector in found[0].items():
        np.testing.assert_allclose(vector, found[1][name], atol=1e-6)
    first.close()
    second.close()


def vectors_by_name(library: Library, key: str) -> dict[str, Any]:
    ids, vectors = library.catalog.photo_vectors(key)
    photos = library.catalog.photos([int(i) for i in ids])
    return {photos[int(i)].path.name: v for i, v in zip(ids, vectors, strict=True)}


def test_a_model_that_fails_to_build_in_the_background_stops_the_run(
    library: Library, tiny_encoder: Any, album: Path
) -> None:
    """As before decoding overlapped the build: the run stops with the model's error, and
    no photo is recorded as failed for it."""
    from photoclip.core.embedding import LazyEncoder
    from photoclip.core.errors import ModelError

    def broken() -> Any:
        raise ModelError("the weights are gone")

    lazy = LazyEncoder(tiny_encoder.profile, broken, hint=hint_of(tiny_encoder))
    with pytest.raises(ModelError, match="the weights are gone"):
        run(library, lazy, album)
    assert library.catalog.counts().failed == 0
