"""Virtual albums, read-only: what `photoclip albums` and the GUI list.

Albums live in the catalog (tables `albums` and `album_photos`, migration 2); auto-sort
rules with an `album:NAME` destination fill them (photoclip/core/sorting.py), and undoing
the sort empties them again. Names compare without case, as the table does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from photoclip.core.catalog import Catalog
from photoclip.core.errors import KnownError


@dataclass(frozen=True)
class Album:
    name: str
    #: photos in it now (0 after its sort was undone)
    photos: int


@dataclass(frozen=True)
class AlbumPhoto:
    photo_id: int
    path: Path


def albums(catalog: Catalog) -> list[Album]:
    """Every album with how many photos it holds, by name."""
    rows = catalog.read(
        "SELECT b.name, COUNT(a.photo_id) FROM albums b "
        "LEFT JOIN album_photos a ON a.album_id = b.id GROUP BY b.id ORDER BY b.name"
    )
    return [Album(name, count) for name, count in rows]


def album_photos(catalog: Catalog, name: str) -> list[AlbumPhoto]:
    """The photos in album `name` (any case), by path."""
    found = catalog.read("SELECT id FROM albums WHERE name = ?", (name,))
    if not found:
        raise KnownError(f"There is no album '{name}'. See: photoclip albums")
    rows = catalog.read(
        "SELECT p.id, p.path FROM album_photos a JOIN photos p ON p.id = a.photo_id "
        "WHERE a.album_id = ? ORDER BY p.path",
        (found[0][0],),
    )
    return [AlbumPhoto(photo_id, Path(path)) for photo_id, path in rows]
