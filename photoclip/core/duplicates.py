"""Near-duplicate photos: bursts, resized or re-encoded copies, small crops, rotated copies.

Two signals:

1. The stored CLIP embeddings find candidates. Every photo asks the vector index for its
   `NEIGHBOURS` nearest photos in one batched k-NN call (HNSW for large libraries), and
   pairs at or above the cosine `threshold` become candidates: O(n k log n), never the
   n^2 comparisons of every pair. Resized or re-encoded copies sit at cosine 0.99+, crops
   lower (see DEFAULT_THRESHOLD).
2. A visual fingerprint of each photo (read from the indexer's 256-px thumbnail): DCT
   perceptual hashes (63 bits of the low frequencies of a 32 x 32 grey image) of the photo
   in its four 90-degree rotations and of 19 windows of it (the whole, and 90% and 80%
   crops at 3 x 3 places), its mean colour and its contrast. It does two jobs:
   - it finds the turned copies that CLIP embeds far apart (a retrained test-shapes model
     put them at cosine 0.24-0.57; Immich declined rotation for this reason): a photo whose
     turned hash shares a 16-bit band with another's upright hash is a candidate too
     (`rotated_pairs`, a multi-index: O(n log n));
   - it confirms every candidate: some window of one must be within MAX_HASH_DISTANCE bits
     of some rotation of the other, and their mean colours close. This vetoes the pairs
     CLIP finds alike that are different pictures (two beach photos), which lets the
     embedding threshold stay low enough to keep crops. The hash of a nearly flat image is
     noise, so for one the embedding decides, at SAME_PICTURE_COSINE.

Why a hash rather than embeddings of rotated thumbnails: it needs no model (three more
forward passes per photo cost far more than a thumbnail decode), it is exact under 90-degree
rotations (rotating the thumbnail is rotating the photo), it finds rotation candidates that
no embedding k-NN would, and it catches re-encodes and resizes as well. Its cost: every photo's
thumbnail is read once per search (~6 ms a photo on this busy 2-core box; caching the
fingerprints in the catalog is the next step for very large libraries).

Confirmed pairs are joined into groups with union-find; groups are ordered by size, and
each keeps the photo with the largest resolution, then the oldest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from PIL import Image

from photoclip.core.catalog import Photo
from photoclip.core.errors import KnownError
from photoclip.core.imageio import ThumbnailStore, decode_image, read_file
from photoclip.core.library import Library
from photoclip.core.vectorindex import VectorIndex

log = logging.getLogger(__name__)

#: Cosine at which two photos become candidates; the fingerprint confirms each pair, so a
#: low floor costs little precision. Measured (tests/benchmarks/bench_duplicates.py
#: --images, 40 generated photo-like images): with the interim test-shapes model, copies
#: (resized, JPEG quality 15, 10% crops, turned 90/180/270 degrees) kept cosine >= 0.90 and
#: different images reached 0.98, so the cosine alone cannot tell them apart; with two
#: retrained ResNet candidates of test-shapes, 10% crops fell to 0.76-0.80 and turned
#: copies to 0.24-0.57 (turned copies are found by their hashes instead, see
#: `rotated_pairs`). 0.75 keeps the crops. Without fingerprints (random vectors with planted
#: copies at 0.93-0.995 among photo-like neighbours), 0.85 found every planted pair with
#: 93% pair precision and 0.92 with 100%.
DEFAULT_THRESHOLD = 0.75
#: Nearest photos asked for per photo: a burst longer than this is still one group, as
#: its frames chain to each other.
NEIGHBOURS = 10
#: Graph search breadth for the candidates (the index's own is 256, for recall at 50):
#: near-duplicates are each other's nearest, and 64 finds 99.9% of the same neighbours
#: at 2.8x the speed (25k photo-like vectors, k = 11).
CANDIDATE_EF = 64
#: For a nearly flat photo (grey standard deviation below FLAT_CONTRAST, of 255) the hash
#: means nothing; embeddings this close then decide.
SAME_PICTURE_COSINE = 0.99
FLAT_CONTRAST = 8.0
#: Mean colours of copies differ by at most this much in any channel (of 255): a crop or a
#: low JPEG quality shifts it a little, a different photo usually a lot.
MAX_COLOUR_DIFFERENCE = 30.0
#: Bits (of 63) by which matching fingerprints may differ. Measured on generated images:
#: copies (resized, JPEG 15, 10% crops anywhere, rotations) differed by at most 4 bits (6 in
#: an earlier set with corner crops), different images by at least 14 (780 pairs; 10 in the
#: earlier set).
MAX_HASH_DISTANCE = 7

_HASH_SIDE = 32
_THUMB_SIDE = 96
_WINDOW_SCALES = (1.0, 0.9, 0.8)


@dataclass(frozen=True)
class DuplicateGroup:
    keep: Photo
    others: tuple[Photo, ...]

    @property
    def photos(self) -> tuple[Photo, ...]:
        return (self.keep, *self.others)

    def as_json(self) -> dict[str, Any]:
        return {"keep": str(self.keep.path), "others": [str(p.path) for p in self.others]}


# -- candidates and groups (pure) ---------------------------------------------------------------


def candidate_pairs(
    index: VectorIndex, ids: np.ndarray, vectors: np.ndarray, threshold: float, k: int
) -> list[tuple[int, int, float]]:
    """(a, b, cosine) with a < b, for every photo and each of its k nearest at or above
    `threshold`; each pair once."""
    found, scores = index.neighbours(vectors, k + 1, ef=CANDIDATE_EF)  # +1: itself
    source = np.repeat(np.asarray(ids, np.int64), found.shape[1])
    found, scores = found.ravel(), scores.ravel()
    keep = (scores >= threshold) & (found != source) & (found >= 0)
    low = np.minimum(source[keep], found[keep])
    high = np.maximum(source[keep], found[keep])
    pairs: dict[tuple[int, int], float] = {}
    for a, b, score in zip(low.tolist(), high.tolist(), scores[keep].tolist(), strict=True):
        pairs[(a, b)] = max(score, pairs.get((a, b), -1.0))
    return [(a, b, s) for (a, b), s in pairs.items()]


def connected_groups(pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Union-find: the sets of ids linked by the pairs, largest first, ids sorted."""
    parent: dict[int, int] = {}

    def root(item: int) -> int:
        parent.setdefault(item, item)
        while parent[item] != item:
            parent[item] = parent[parent[item]]  # path halving
            item = parent[item]
        return item

    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for item in parent:
        groups.setdefault(root(item), []).append(item)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: (-len(g), g[0]))


def group_vectors(
    ids: np.ndarray,
    vectors: np.ndarray,
    index: VectorIndex,
    threshold: float = DEFAULT_THRESHOLD,
    k: int = NEIGHBOURS,
    confirm: Callable[[int, int, float], bool] | None = None,
) -> list[list[int]]:
    """Groups of ids whose vectors are near-duplicates (`confirm` may veto a pair)."""
    pairs = candidate_pairs(index, ids, vectors, threshold, k)
    if confirm is not None:
        pairs = [p for p in pairs if confirm(*p)]
    return connected_groups((a, b) for a, b, _ in pairs)


def keeper_order(photos: Sequence[Photo]) -> list[Photo]:
    """Best to keep first: the largest resolution, then the oldest, then by path."""
    return sorted(photos, key=lambda p: (-(p.width or 0) * (p.height or 0), p.date, str(p.path)))


def choose_keeper(photos: Sequence[Photo]) -> Photo:
    return keeper_order(photos)[0]


# -- the visual fingerprint ---------------------------------------------------------------------


@dataclass(frozen=True)
class Fingerprint:
    #: (4,) uint64 of 63 bits: the hash of the photo turned by 0, 90, 180 and 270 degrees
    rotations: np.ndarray
    #: (19,) uint64: the hashes of the whole photo and of 90% and 80% windows of it
    windows: np.ndarray
    #: (3,) the mean RGB colour
    colour: np.ndarray
    #: the standard deviation of the grey thumbnail: below FLAT_CONTRAST the hash is noise
    contrast: float

    @property
    def flat(self) -> bool:
        return self.contrast < FLAT_CONTRAST


def fingerprint(image: Image.Image) -> Fingerprint:
    small = image.convert("RGB").resize((_THUMB_SIDE, _THUMB_SIDE), Image.Resampling.BOX)
    pixels = np.asarray(small.convert("L"), dtype=np.float64)
    whole = _shrink(pixels)
    rotations = np.array([_dct_hash(np.rot90(whole, turns)) for turns in range(4)])
    windows = np.array([_dct_hash(_shrink(w)) for w in _windows(pixels)])
    colour = np.asarray(small, dtype=np.float64).reshape(-1, 3).mean(axis=0)
    return Fingerprint(rotations, windows, colour, float(pixels.std()))


def same_picture(a: Fingerprint, b: Fingerprint, cosine: float) -> bool:
    """Whether two candidates are copies of one picture (see the module docstring)."""
    if np.abs(a.colour - b.colour).max() > MAX_COLOUR_DIFFERENCE:
        return False
    if a.flat or b.flat:
        return cosine >= SAME_PICTURE_COSINE
    return fingerprint_distance(a, b) <= MAX_HASH_DISTANCE


def fingerprint_distance(a: Fingerprint, b: Fingerprint) -> int:
    """The fewest differing bits between a window of one and a rotation of the other."""
    one = _bit_counts(a.windows[:, None] ^ b.rotations[None, :]).min()
    other = _bit_counts(b.windows[:, None] ^ a.rotations[None, :]).min()
    return int(min(one, other))


def read_small_image(photo: Photo, thumbnails: ThumbnailStore | None = None) -> Image.Image | None:
    """The photo upright and small: from the indexer's thumbnail when there is one (local
    even when the photo's drive is unplugged), else from the file decoded at a small scale;
    None when neither can be read now."""
    source = photo.path
    if thumbnails is not None and photo.content_hash and thumbnails.has(photo.content_hash):
        source = thumbnails.path_for(photo.content_hash)
    try:
        return decode_image(read_file(source), reduce_to=(_THUMB_SIDE, _THUMB_SIDE)).image
    except (KnownError, OSError) as error:
        log.info("cannot read %s for duplicates: %s", photo.path, error)
        return None


def read_fingerprint(photo: Photo, thumbnails: ThumbnailStore | None = None) -> Fingerprint | None:
    image = read_small_image(photo, thumbnails)
    return fingerprint(image) if image is not None else None


def rotated_pairs(
    ids: np.ndarray,
    hashes: np.ndarray,
    max_bucket: int = 32,
    max_distance: int = MAX_HASH_DISTANCE,
) -> set[tuple[int, int]]:
    """Candidates the embeddings may miss (CLIP is not rotation-invariant): photos one of
    whose turned hashes ((n, 4) uint64) equals another's upright hash in one of 4 bands of
    16 bits (a multi-index: any two within 3 bits share a band; turned copies measured 0-2
    bits) and whose whole hashes then differ by at most `max_distance` bits. Buckets
    fuller than `max_bucket` (flat or dark photos) say nothing and are skipped. Sorting and
    binary search: O(n log n)."""
    pairs: set[tuple[int, int]] = set()
    for band in range(4):
        keys = (hashes >> np.uint64(16 * band)) & np.uint64(0xFFFF)
        order = np.argsort(keys[:, 0], kind="stable")
        upright = keys[order, 0]
        for turns in range(4):
            low = np.searchsorted(upright, keys[:, turns], "left")
            high = np.searchsorted(upright, keys[:, turns], "right")
            for row in np.flatnonzero((high > low) & (high - low <= max_bucket)):
                others = order[low[row] : high[row]]
                close = _bit_counts(hashes[others, 0] ^ hashes[row, turns]) <= max_distance
                for other in others[close].tolist():
                    a, b = int(ids[row]), int(ids[other])
                    if a != b:
                        pairs.add((min(a, b), max(a, b)))
    return pairs


def _windows(pixels: np.ndarray) -> list[np.ndarray]:
    side, out = pixels.shape[0], []
    for scale in _WINDOW_SCALES:
        width = round(side * scale)
        offsets = sorted({0, (side - width) // 2, side - width})
        out += [pixels[y : y + width, x : x + width] for y in offsets for x in offsets]
    return out


def _shrink(pixels: np.ndarray) -> np.ndarray:
    image = Image.fromarray(pixels.astype(np.float32), "F")
    return np.asarray(image.resize((_HASH_SIDE, _HASH_SIDE), Image.Resampling.BOX), np.float64)


def _dct_hash(pixels: np.ndarray) -> np.uint64:
    """pHash: the 8 x 8 lowest DCT frequencies but the mean, each above or below their median."""
    basis = _dct_basis(_HASH_SIDE)
    low = (basis @ pixels @ basis.T)[:8, :8].ravel()[1:]
    bits = (low > np.median(low)).astype(np.uint64)
    return np.uint64((bits << np.arange(len(bits), dtype=np.uint64)).sum())


_POPCOUNT = np.array([bin(byte).count("1") for byte in range(256)], dtype=np.uint8)


def _bit_counts(words: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (numpy's bitwise_count needs numpy 2)."""
    as_bytes = np.ascontiguousarray(words, dtype=np.uint64).view(np.uint8)
    return _POPCOUNT[as_bytes].reshape(*words.shape, 8).sum(axis=-1)


@cache
def _dct_basis(n: int) -> np.ndarray:
    x, u = np.meshgrid(np.arange(n), np.arange(n))
    return np.cos(np.pi * (2 * x + 1) * u / (2 * n))


# -- a library's duplicates -------------------------------------------------------------------


class DuplicateFinder:
    """Finds the near-duplicate groups of a library's active model. Reads only: run it
    anywhere (the worker's FindDuplicates job, or a CLI process).

    With `rotations` (the default) every photo's small image is read once for its
    fingerprint (from the indexer's thumbnails: ~6 ms a photo on this busy 2-core box), so
    turned copies are found even when the model embeds them far apart; without, only the
    photos in embedding candidate pairs are read."""

    def __init__(
        self,
        library: Library,
        threshold: float | None = None,
        neighbours: int = NEIGHBOURS,
        *,
        rotations: bool = True,
        progress: Callable[[int, int], None] | None = None,
        images: Callable[[Photo], Image.Image | None] | None = None,
    ) -> None:
        threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        if not 0.0 < threshold <= 1.0:
            raise KnownError(f"The threshold is a cosine in (0, 1], not {threshold}.")
        self.library, self.threshold, self.neighbours = library, threshold, neighbours
        self.rotations = rotations
        thumbnails = library.thumbnails
        self._read = images or (lambda photo: read_small_image(photo, thumbnails))
        #: (images read, images to read): the slow part
        self._progress = progress
        self._done = self._total = 0
        self._prints: dict[int, Fingerprint | None] = {}
        self._photos: dict[int, Photo] = {}
        self._vectors: dict[int, np.ndarray] = {}

    def find(self) -> list[DuplicateGroup]:
        record = self.library.active_model
        if record is None:
            return []
        ids, vectors = self.library.catalog.photo_vectors(record.key)
        if not len(ids):
            return []
        self._photos = self.library.catalog.photos(ids.tolist())
        self._vectors = dict(zip(ids.tolist(), vectors, strict=True))
        near = candidate_pairs(self.library.index(), ids, vectors, self.threshold, self.neighbours)
        found = {(a, b) for a, b, _ in near}
        self._total = len(ids) if self.rotations else len(_members(found))
        if self.rotations:  # every photo's fingerprint, then (cached) those of the pairs
            found |= self._rotated_candidates(ids)
        confirmed = [(a, b) for a, b in sorted(found) if self._confirm(a, b)]
        return [self._group(g) for g in connected_groups(confirmed)]

    def _rotated_candidates(self, ids: np.ndarray) -> set[tuple[int, int]]:
        prints = {i: self._fingerprint(i) for i in ids.tolist()}
        readable = [(i, p.rotations) for i, p in prints.items() if p is not None]
        if not readable:
            return set()
        return rotated_pairs(np.array([i for i, _ in readable]), np.array([r for _, r in readable]))

    def _confirm(self, a: int, b: int) -> bool:
        first, second = self._fingerprint(a), self._fingerprint(b)
        if first is None or second is None:
            return False
        cosine = float(self._vectors[a] @ self._vectors[b])
        return same_picture(first, second, cosine)

    def _fingerprint(self, photo_id: int) -> Fingerprint | None:
        if photo_id not in self._prints:
            image = self._read(self._photos[photo_id])
            self._prints[photo_id] = fingerprint(image) if image is not None else None
            self._step()
        return self._prints[photo_id]

    def _step(self) -> None:
        self._done += 1
        if self._progress is not None:
            self._progress(self._done, max(self._total, self._done))

    def _group(self, ids: list[int]) -> DuplicateGroup:
        keep, *others = keeper_order([self._photos[i] for i in ids])
        return DuplicateGroup(keep, tuple(others))


def _members(pairs: Iterable[tuple[int, int]]) -> set[int]:
    return {photo_id for pair in pairs for photo_id in pair}
