"""Albums, read-only: listed with counts and opened by name, as auto-sort fills them."""

from __future__ import annotations

from pathlib import Path

import pytest

from photoclip.core.albums import Album, album_photos, albums
from photoclip.core.catalog import Catalog
from photoclip.core.categories import Category, Label
from photoclip.core.errors import KnownError
from photoclip.core.sorting import Rule, Sorter
from photoclip.core.tagstore import TagRow, TagStore


@pytest.fixture
def sorted_catalog(tmp_path: Path) -> tuple[Catalog, Sorter, dict[str, int]]:
    """Four photos tagged red (2), blue (1) or nothing, sorted into albums by colour."""
    catalog = Catalog.open(tmp_path / "catalog.sqlite3")
    store = TagStore(catalog)
    category = store.save_category(Category("Colour", (Label("red"), Label("blue"))))
    label_ids = {label.name: int(label.id or 0) for label in category.labels}
    ids, rows = {}, []
    with catalog.transaction():
        root = catalog.add_root(tmp_path)
        for name, label in (("b.jpg", "red"), ("a.jpg", "red"), ("c.jpg", "blue"), ("d.jpg", "")):
            ids[name] = catalog.upsert_photo(
                tmp_path / name, root.id, size=1, mtime_ns=1, content_hash=name
            )
            if label:
                rows.append(TagRow(ids[name], label_ids[label], 0.5, 0.3))
    store.replace_auto_tags(list(label_ids.values()), rows, None)
    sorter = Sorter(catalog, tmp_path / "journals")
    sorter.plan([Rule.parse("Colour:red=album:Warm"), Rule.parse("Colour:*=album:All colours")])
    sorter.apply()
    return catalog, sorter, ids


def test_albums_are_listed_by_name_with_their_counts(
    sorted_catalog: tuple[Catalog, Sorter, dict[str, int]],
) -> None:
    catalog, sorter, _ = sorted_catalog
    assert albums(catalog) == [Album("All colours", 3), Album("Warm", 2)]
    sorter.undo()
    assert albums(catalog) == [Album("All colours", 0), Album("Warm", 0)]


def test_an_album_opens_by_name_in_any_case_with_its_photos_by_path(
    sorted_catalog: tuple[Catalog, Sorter, dict[str, int]], tmp_path: Path
) -> None:
    catalog, _, ids = sorted_catalog
    warm = album_photos(catalog, "warm")
    assert [(p.photo_id, p.path) for p in warm] == [
        (ids["a.jpg"], tmp_path / "a.jpg"),
        (ids["b.jpg"], tmp_path / "b.jpg"),
    ]
    assert [p.path.name for p in album_photos(catalog, "All colours")] == [
        "a.jpg",
        "b.jpg",
        "c.jpg",
    ]
    with pytest.raises(KnownError, match="no album 'Cold'"):
        album_photos(catalog, "Cold")


def test_no_albums_in_a_new_catalog(tmp_path: Path) -> None:
    assert albums(Catalog.open(tmp_path / "catalog.sqlite3")) == []
