"""Search: text, image and combined queries over the active model's vectors.

A query becomes one unit vector (the weighted sum of its terms' embeddings), and results are
photos with their cosine score, cut off by an absolute minimum and relative to the best hit,
filtered by folder and date, sorted by relevance or date. A text query can be steered
away from (or towards) photos with writing in them: see photoclip/core/textness.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from photoclip.core.catalog import Photo
from photoclip.core.embedding import Encoder
from photoclip.core.errors import ImageError, KnownError, QueryError
from photoclip.core.imageio import file_problem, read_photo
from photoclip.core.library import Library

# SearchOptions lives with the query language, which a client of a running worker
# (photoclip.core.searchservice) reads without this module's numpy and model imports.
from photoclip.core.query import DATE as DATE
from photoclip.core.query import RELEVANCE as RELEVANCE
from photoclip.core.query import SearchOptions as SearchOptions
from photoclip.core.query import Term, parse_query
from photoclip.core.tagstore import TagStore
from photoclip.core.textness import TextnessDirection, learn_direction, load_direction
from photoclip.core.textness import steer as steer_textness


@dataclass(frozen=True)
class SearchResult:
    photo: Photo
    score: float


class Searcher:
    """Answers queries from a `Library`; the encoder is asked for only when a term needs it."""

    def __init__(self, library: Library, encoder: Callable[[], Encoder]) -> None:
        self.library = library
        self._encoder = encoder
        self._textness: TextnessDirection | None = None

    def search(self, query: str, options: SearchOptions | None = None) -> list[SearchResult]:
        options = options or SearchOptions()
        vector = self.query_vector(query)
        if options.textness:
            vector = steer_textness(vector, self.textness_direction().vector, options.textness)
        return self.search_vector(vector, options)

    def check_filters(self, options: SearchOptions) -> None:
        """A filter that can match nothing is a mistake to point out, not an empty result."""
        catalog = self.library.catalog
        if options.tag is not None:
            category = TagStore(catalog).category(options.tag[0])
            if category is None or category.label(options.tag[1]) is None:
                tag = ":".join(options.tag)
                raise KnownError(f"There is no tag {tag}. See: photoclip tags list")
        if options.folder is not None:
            folder = options.folder.expanduser().resolve()
            roots = [root.path for root in catalog.roots()]
            if not any(folder.is_relative_to(r) or r.is_relative_to(folder) for r in roots):
                raise KnownError(
                    f"{options.folder} is not in any of PhotoClip's folders "
                    f"({', '.join(map(str, roots)) or 'none yet'})."
                )

    def textness_direction(self) -> TextnessDirection:
        """The active model's textness direction: the catalog's (the worker's
        ComputeTextness job stores it), else learned here once and kept in memory."""
        key = self.library.catalog.active_model
        if self._textness is None or self._textness.model_key != key:
            found = load_direction(self.library.catalog, key) if key else None
            self._textness = found or learn_direction(self._encoder())
        return self._textness

    def similar(
        self, target: Path | int, options: SearchOptions | None = None
    ) -> list[SearchResult]:
        """Photos like an indexed photo (by id or path) or like any image file."""
        options = options or SearchOptions()
        photo = self._indexed_photo(target)
        if photo is None:
            if isinstance(target, int):
                raise QueryError(f"No photo has the id {target}.")
            vector = self._image_vector(target)
        else:
            vector = self._stored_vector(photo.id)
        wider = SearchOptions(**{**options.__dict__, "limit": options.limit + 1})
        found = self.search_vector(vector, wider)
        skip = photo.id if photo is not None else None
        return [r for r in found if r.photo.id != skip][: options.limit]

    def query_vector(self, query: str) -> np.ndarray:
        terms = parse_query(query)
        # Only the weights' ratios matter (the sum is made a unit vector): dividing by the
        # largest keeps 1e308:dog from overflowing.
        scale = max(abs(term.weight) for term in terms)
        total = sum(term.weight / scale * self._term_vector(term) for term in terms)
        return _unit(np.asarray(total, dtype=np.float32))

    def search_vector(self, vector: np.ndarray, options: SearchOptions) -> list[SearchResult]:
        allowed = self._allowed(options)
        if allowed is not None and not allowed:
            return []
        hits = self.library.index().search(vector, options.limit, allowed=allowed)
        hits = _cut(hits, options)
        photos = self.library.catalog.photos([photo_id for photo_id, _ in hits])
        results = [SearchResult(photos[i], s) for i, s in hits if i in photos]
        if options.sort == DATE:
            results.sort(key=lambda r: r.photo.date, reverse=True)
        return results

    # -- terms ---------------------------------------------------------------------------

    def _term_vector(self, term: Term) -> np.ndarray:
        if term.image is not None:
            photo = self.library.catalog.photo_by_path(term.image.resolve())
            if photo is not None and photo.status == "indexed":
                return self._stored_vector(photo.id)
            return self._image_vector(term.image)
        return self._encoder().encode_texts([str(term.text)])[0]

    def _image_vector(self, path: Path) -> np.ndarray:
        try:
            problem = file_problem(path)  # before the model loads: /dev/zero fails at once
            if problem is not None:
                raise ImageError(problem)
            encoder = self._encoder()
            decoded = read_photo(path, target=encoder.input_size, preprocess=encoder.prepare)
        except ImageError as error:
            raise ImageError(f"Cannot use {path}: {error}") from error
        assert decoded.tensor is not None  # a preprocess was given
        return encoder.encode_prepared([decoded.tensor])[0]

    def _stored_vector(self, photo_id: int) -> np.ndarray:
        model = self.library.catalog.active_model
        ids, vectors = self.library.catalog.photo_vectors(str(model), [photo_id])
        if not len(ids):
            raise KnownError(f"Photo {photo_id} has no vector yet; index its folder first.")
        return vectors[0]

    def _indexed_photo(self, target: Path | int) -> Photo | None:
        catalog = self.library.catalog
        if isinstance(target, int):
            return catalog.photo(target)
        return catalog.photo_by_path(Path(target).expanduser().resolve())

    def _allowed(self, options: SearchOptions) -> set[int] | None:
        if not options.filtered:
            return None
        folder = options.folder.expanduser().resolve() if options.folder else None
        return self.library.catalog.filter_ids(
            folder=folder, since=options.since, until=options.until, tag=options.tag
        )


def _cut(hits: list[tuple[int, float]], options: SearchOptions) -> list[tuple[int, float]]:
    if not hits:
        return hits
    floor = options.min_score if options.min_score is not None else -1.0
    if options.relative is not None:
        floor = max(floor, hits[0][1] * options.relative)
    return [(i, s) for i, s in hits if s >= floor]


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    if not np.isfinite(norm) or norm < 1e-8:
        raise QueryError("The query's terms cancel each other out; change a weight.")
    return vector / norm
