"""The library's thumbnail cache: where the settings put it, shared with its readers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from photoclip.core.errors import KnownError
from photoclip.core.imageio import ThumbnailStore
from photoclip.core.library import Library, check_thumbnail_folder, thumbnail_store
from photoclip.core.paths import Locations
from photoclip.core.settings import Settings
from tests.photos import make_photo


def test_thumbnails_go_to_the_data_folder_unless_the_settings_choose_one(tmp_path: Path) -> None:
    locations = Locations(tmp_path / "data", tmp_path / "cache")
    assert thumbnail_store(locations, Settings()).folder == locations.thumbnails
    chosen = Settings(thumbnail_cache=str(tmp_path / "thumbs"))
    assert thumbnail_store(locations, chosen) == ThumbnailStore(tmp_path / "thumbs")


def test_an_opened_library_and_its_readers_use_the_settings_folder(tmp_path: Path) -> None:
    locations = Locations(tmp_path / "data", tmp_path / "cache")
    Settings(thumbnail_cache=str(tmp_path / "thumbs")).save(locations.settings)
    with Library.open(locations) as library:
        assert library.thumbnails.folder == tmp_path / "thumbs"
        reader = library.reader()
        assert reader.thumbnails == library.thumbnails
        reader.close()


def test_a_folder_that_cannot_hold_thumbnails_is_refused_with_the_reason(tmp_path: Path) -> None:
    # A path under a file stands in for a read-only folder (chmod does not stop root).
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(KnownError, match=r"Thumbnails cannot be kept in .*a-file/thumbs"):
        check_thumbnail_folder(ThumbnailStore(tmp_path / "a-file" / "thumbs"))


def test_a_usable_folder_is_made_and_left_empty(tmp_path: Path) -> None:
    check_thumbnail_folder(ThumbnailStore(tmp_path / "new" / "thumbs"))
    assert list((tmp_path / "new" / "thumbs").iterdir()) == []


def test_the_first_model_is_recorded_before_its_first_vector(
    tiny_encoder: Any, tmp_path: Path
) -> None:
    """Reported: a first `index --model test-shapes` killed early left no model recorded,
    so the next `index` without --model loaded the default model instead."""
    from photoclip.core.indexing import Indexer

    for i in range(6):
        make_photo(tmp_path / "album" / f"{i}.jpg", (40 * i, 90, 200 - 20 * i), pattern=i)

    def killed(progress: object) -> None:
        raise KeyboardInterrupt

    locations = Locations.from_environment()
    with Library.open(locations) as library, pytest.raises(KeyboardInterrupt):
        Indexer(library, tiny_encoder, batch_size=2).index([tmp_path / "album"], killed)
    with Library.open(locations, readonly=True) as library:
        assert library.catalog.counts().indexed >= 2
        record = library.active_model
        assert record is not None and record.profile == tiny_encoder.profile.name
