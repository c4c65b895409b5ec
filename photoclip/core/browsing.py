"""Read-only queries the GUI shows: one photo's details, tag counts, failed photos.

Every function here only reads, through whatever connection it is given (the GUI passes a
read-only one), and answers in a fixed number of queries however large the library is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from photoclip.core.catalog import Catalog, Photo
from photoclip.core.tagstore import PhotoTag, TagStore


@dataclass(frozen=True)
class PhotoDetails:
    """What the photo view shows of one photo."""

    photo: Photo
    #: the tags the photo carries, with the tagger's evidence (score, threshold, runner-up)
    tags: tuple[PhotoTag, ...] = ()

    @property
    def id(self) -> int:
        return self.photo.id

    @property
    def path(self) -> Path:
        return self.photo.path

    @property
    def width(self) -> int | None:
        return self.photo.width

    @property
    def height(self) -> int | None:
        return self.photo.height

    @property
    def size(self) -> int:
        """The file's size in bytes."""
        return self.photo.size

    @property
    def date(self) -> datetime:
        """When it was taken, else when the file was last written (local time)."""
        return datetime.fromtimestamp(self.photo.date)

    @property
    def date_is_taken(self) -> bool:
        """True when `date` comes from the photo's own metadata, not the file's."""
        return self.photo.taken_at is not None


@dataclass(frozen=True)
class TagCount:
    """A label and how many photos carry it; a category's labels come in order."""

    category: str
    label: str
    count: int
    #: "single" or "multi", as in core.categories
    kind: str = "single"
    #: a counter-label never tags a photo; its count is always 0
    counter: bool = False


@dataclass(frozen=True)
class Failure:
    """A photo that could not be indexed, and why."""

    path: Path
    reason: str
    #: when PhotoClip first saw the file (the catalog keeps no time for the failure itself)
    when: datetime


def photo_details(catalog: Catalog, photo_id: int) -> PhotoDetails | None:
    """The photo and its tags (two queries), or None when the catalog no longer has it."""
    photo = catalog.photo(photo_id)
    if photo is None:
        return None
    return PhotoDetails(photo, tuple(TagStore(catalog).tags([photo_id])))


def tag_counts(catalog: Catalog) -> list[TagCount]:
    """Every label of every category with its photo count (labels no photo carries
    included), in the order the categories and labels were made: one query."""
    rows = catalog.read(
        "SELECT c.name, l.name, count(t.photo_id), c.kind, l.counter "
        "FROM tag_labels l JOIN tag_categories c ON c.id = l.category_id "
        "LEFT JOIN photo_tags t ON t.label_id = l.id "
        "GROUP BY l.id ORDER BY c.id, l.id"
    )
    return [TagCount(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]


def failures(catalog: Catalog) -> list[Failure]:
    """Every photo that failed, with its reason, by path: one query."""
    rows = catalog.read(
        "SELECT path, failure, added_at FROM photos WHERE status = 'failed' ORDER BY path"
    )
    return [Failure(Path(r[0]), r[1] or "unknown", datetime.fromtimestamp(r[2])) for r in rows]
