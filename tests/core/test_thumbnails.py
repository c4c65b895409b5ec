"""Filling a new thumbnail folder: copied from the previous one, else made from the photo."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from photoclip.core.imageio import ThumbnailStore
from photoclip.core.indexing import IndexControl, Indexer, IndexProgress
from photoclip.core.library import Library
from photoclip.core.paths import Locations
from photoclip.core.thumbnails import Filled, fill, missing
from tests.photos import make_photo

COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 40)]


@pytest.fixture
def library(tmp_path: Path, tiny_encoder: Any) -> Iterator[Library]:
    album = tmp_path / "album"
    for i, colour in enumerate(COLOURS):
        make_photo(album / f"photo{i}.jpg", colour, pattern=i * 9)
    with Library.open(Locations.from_environment()) as opened:
        Indexer(opened, tiny_encoder).index([album])
        yield opened


def photo_files(library: Library) -> dict[str, tuple[str, Path]]:
    """name -> (content hash, path) of the library's photos."""
    photos = library.catalog.photos(sorted(library.catalog.filter_ids())).values()
    return {p.path.name: (str(p.content_hash), p.path) for p in photos}


def test_thumbnails_are_copied_from_the_previous_folder_else_made(
    library: Library, tmp_path: Path
) -> None:
    old, new = library.thumbnails, ThumbnailStore(tmp_path / "new")
    files = photo_files(library)
    old.path_for(files["photo0.jpg"][0]).unlink()  # made again, from the photo
    files["photo1.jpg"][1].unlink()  # unreadable now: its old thumbnail is what is left
    assert fill(library.catalog, new, old) == Filled(copied=3, made=1)
    assert all(new.has(digest) for digest, _ in files.values())
    assert old.path_for(files["photo1.jpg"][0]).is_file()  # the old folder is only read
    assert missing(library.catalog, new) == []
    assert fill(library.catalog, new, old) == Filled()


def test_without_a_previous_folder_every_readable_photo_is_decoded(
    library: Library, tmp_path: Path
) -> None:
    photo_files(library)["photo1.jpg"][1].unlink()
    steps: list[IndexProgress] = []
    filled = fill(library.catalog, ThumbnailStore(tmp_path / "new"), progress=steps.append)
    assert filled == Filled(made=3, unreadable=1)
    assert (steps[-1].done, steps[-1].total) == (4, 4)


def test_a_cancelled_fill_stops_and_says_so(library: Library, tmp_path: Path) -> None:
    control = IndexControl()
    control.cancel()
    assert fill(library.catalog, ThumbnailStore(tmp_path / "new"), control=control) == Filled(
        cancelled=True
    )


def test_a_folder_that_takes_nothing_ends_the_fill_quietly(
    library: Library, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("a file, not a folder")
    unusable = ThumbnailStore(tmp_path / "a-file" / "thumbs")
    assert fill(library.catalog, unusable) == Filled()
    assert fill(library.catalog, unusable, library.thumbnails) == Filled()
