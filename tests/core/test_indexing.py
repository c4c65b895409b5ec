"""The indexer end to end on real SQLite, hnswlib and a tiny open_clip model."""

from __future__ import annotations

import shutil
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
