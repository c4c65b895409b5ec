"""Near-duplicate photos: copies of one picture (resized, re-encoded, cropped, turned,
mirrored, made brighter).

Candidates come from three places, so that no single one has to be right:

1. The stored CLIP embeddings: pairs at or above the cosine `threshold` among each
   photo's `NEIGHBOURS` nearest (one batched k-NN call, for an exact index: up to ~12k
   photos), or among the links of the index's HNSW graph (`VectorIndex.links`: ~1.5 s at
   100k photos, where a k-NN query per photo took 14-60 s; see `_candidates`).
2. The fingerprints' perceptual hashes under the 8 symmetries of a square: a turned or
   mirrored copy shares a 16-bit band with the original (`hash_candidates`, O(n log n)).
   CLIP embeds turned copies far apart (test-shapes put them at cosine 0.24-0.57).
3. The fingerprints' colour layouts (4 x 4 cells): each photo's nearest few
   (`layout_candidates`, exact) up to LAYOUT_NEIGHBOURS_MAX photos, past that the links
   of a graph built over the layouts (`layout_links`). A model with poor embeddings
   (random weights, or test-shapes on real photos) still finds crops and brighter copies
   this way: they used to stop at 5k photos, leaving a large library's crops to the
   embeddings alone.

Each candidate pair that passes a cheap gate (hashes or layouts close under some symmetry)
is then judged on local structure, cell by cell, never on whole-image statistics that a
large shared background dominates (a red square and an orange one on the same purple
differ in a few cells only, by far more than a copy's worst cell):

- whole photos, all pairs at once: the second under the symmetry its hashes suggest,
  brightness fitted, compared on 24 x 24 cells (`whole_alignments`). Resized, re-encoded,
  turned, mirrored and brighter copies are decided here;
- the pairs left, one by one, by a search for a crop (`fingerprints.align`: windows down to
  78% of the side, on 16 x 16 cells).

The thresholds rest on tests/benchmarks/bench_duplicate_quality.py.

Each confirmed pair gets a kind in words (`SAME`, `RESIZED`, ...). Only exact and
near-exact copies (same picture after resize, re-encode, rotation or mirror) are
`PRE_TICKED` for the trash; crops, edits and similar shots are shown for the user to judge.

Candidate pairs that are no copies may still be frames of one scene a moment apart (a
burst: the camera panned, the subject moved): `SIMILAR`, "very similar shot", when their
embeddings are at the threshold or closer and their fingerprints line up after a pan
with few cells off and enough detail in what both show (`is_shot`, measured by
tests/benchmarks/bench_similar_shots.py). The detail is what keeps generated shapes out:
one shape on a plain or noisy background lines up with another shape's picture as well
as a burst does, but shows too little to tell.

Fingerprints are kept in the catalog by content hash (made by the indexer after embedding,
see `remember_fingerprints`), so a search reads no thumbnail for a photo indexed since.
Two paths to one file (a symlink, a hard link) are one photo: never a keep/trash pair.
Confirmed pairs are joined into groups with union-find; each group keeps the photo with the
largest resolution, then the oldest.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from photoclip.core.catalog import Catalog, Photo
from photoclip.core.errors import CatalogError, KnownError
from photoclip.core.fingerprints import (
    TRANSFORMS,
    WHOLE,
    Alignment,
    Fingerprint,
    Shot,
    align,
    bit_counts,
    details,
    fingerprint,
    quick_alignments,
    shot_alignment,
    summaries,
    transformed,
)
from photoclip.core.imageio import ThumbnailStore, decode_image, read_file
from photoclip.core.library import Library
from photoclip.core.vectorindex import IndexSettings, VectorIndex, unique_pairs

log = logging.getLogger(__name__)

#: Cosine at which two photos' embeddings make them candidates; the fingerprint judges
#: each pair, so a low floor costs time, not precision. 10% crops fell to cosine 0.76-0.80
#: with test-shapes.
DEFAULT_THRESHOLD = 0.75
#: Nearest photos asked for per photo: a burst longer than this is still one group, as
#: its frames chain to each other.
NEIGHBOURS = 10
#: Graph search breadth for the candidates (near-duplicates are each other's nearest).
CANDIDATE_EF = 64
#: The fingerprint recipe stored with each fingerprint; bump it when fingerprints.py changes.
FINGERPRINT_RECIPE = 1
#: Colour-layout neighbours per photo, and the library size up to which they are looked
#: for exactly (O(n^2): 12 s at 20k photos on this busy 2-core box, ~1 s at 5k).
LAYOUT_NEIGHBOURS = 5
LAYOUT_NEIGHBOURS_MAX = 5_000
#: Past LAYOUT_NEIGHBOURS_MAX, a graph over the layouts (`layout_links`): a small one, built
#: for each search (48 values a photo), on one core so that the same library gives the same
#: links, and so the same duplicates, every run. hnswlib's parallel inserts make another
#: graph each time (five builds over 2000 layouts on 2 cores: five link sets), and in 2 of
#: 200 such builds of test_duplicates' 451 layouts a copy lost its link to its original.
#: One core costs 3.7 s at 100k photos against 1.9 s on this machine's two.
LAYOUT_GRAPH = IndexSettings(
    exact_max_items=0, hnsw_min_items=0, m=8, ef_construction=32, threads=1
)
#: Bits (of 63) by which the hashes of a turned or mirrored copy may differ from the
#: original's turned hash (copies measured 0-2; unrelated photos ~31).
MAX_HASH_DISTANCE = 7

#: A pair is aligned (~30 ms) only if it passes a cheap gate: hashes within GATE_BITS under
#: some symmetry (turned, mirrored, resized, re-encoded, brighter copies measured 0-2 bits;
#: 1% of different real photos 20 or fewer), or 4 x 4 colour layouts at cosine
#: GATE_LAYOUT or more under some symmetry (10% crops measured >= 0.992, different real
#: photos 0.97 at the 99th percentile).
GATE_BITS = 12
GATE_LAYOUT = 0.985

# What a copy's alignment may leave (sRGB distance of a cell, of 441; see the module
# docstring). Measured by bench_duplicate_quality.py (--calibrate, and the stored
# fingerprints of its sets for seeds 0 and 1) on 12 real photos x 7 copies each, as the
# indexer's thumbnails, and 150 generated shapes on 6 shared backgrounds.
#: Copies that are not crops, compared whole on 24 x 24 cells (fingerprints.WHOLE): mean
#: <= 6.2 (a 10% brighter copy), worst cell <= 34; small different shapes on one
#: background had a worst cell >= 76, different real photos a mean >= 38.
COPY_MEAN, COPY_MAX = 9.0, 50.0
#: Crops (a side below CROP_SCALE of the other's): the window is found to 0.5% of the side,
#: but its cells straddle the stored ones; 24 crops measured mean <= 5.0, worst cell <= 42
#: (22 of 24 <= 35). Different shapes on one background aligned without a turn stayed
#: above mean 8 or a worst cell of 45; different real photos above mean 38.
CROP_SCALE = 0.97
CROP_MEAN, CROP_MAX = 7.0, 40.0
#: Pairs whose coarse alignment (8 x 8 cells) is off by more than this on average are no
#: copies, and the fine search is skipped: 12 real photos' 7 kinds of copy measured 13.1 at
#: worst there (a crop: the coarse windows are 5% apart), different real photos 40 at best.
GIVE_UP = 25.0
#: Brightness gains further from 1 than this make an edited copy.
EDIT_GAIN = 0.04
#: Pixel counts further apart than this ratio make a resized copy.
RESIZE_RATIO = 1.1

#: "Very similar shot" (`is_shot`): two frames whose embeddings are at the finder's
#: threshold or closer and that line up as one scene panned a little. Measured by
#: tests/benchmarks/bench_similar_shots.py (40 bursts of real photos panned 15-25% and
#: zoomed up to 8%, other JPEG quality; 40 other real photos; 150 generated shapes):
#: - bursts: mean error <= 37.2, cells off <= 0.37, detail >= 0.434 (5%: 0.49);
#: - different real photos: none with mean <= 40 and off <= 0.4 had detail above 0.284;
#: - generated shapes on one background (different or not): none above 0.37; a plain or
#:   noisy background and one shape give little detail, however well they line up.
#: The finder then told 25 of the 40 bursts with test-shapes, 32 with random ViT-B-32
#: (the others: below the cosine, or past SHOT_SEARCHES), and no other pair as a shot.
#: The cheap gate first: upright colour layouts at SHOT_LAYOUT or closer (bursts >= 0.89).
SHOT_LAYOUT = 0.85
SHOT_MEAN, SHOT_OFF, SHOT_DETAIL = 40.0, 0.4, 0.45
#: Embedding cosine from which a pair may be a shot (or the finder's threshold, if
#: higher), and the most pairs searched in one run, the closest first (~5 ms each: the
#: search must not cost a 100k library more than a few seconds; past 500 candidate
#: pairs, the least close are not told as shots).
SHOT_COSINE = 0.75
SHOT_SEARCHES = 500
#: Detail (`fingerprints.details`) each whole frame needs before a search: burst frames
#: measured >= 0.312, generated shapes <= 0.257 (the search then asks SHOT_DETAIL of what
#: both frames show).
SHOT_FRAME_DETAIL = 0.28

SAME = "same photo"
RESIZED = "same photo, resized"
REENCODED = "same photo, re-encoded"
ROTATED = "same photo, rotated"
MIRRORED = "same photo, mirrored"
CROPPED = "same photo, cropped"
EDITED = "same photo, brightness changed"
#: Frames of one scene, not copies (see `is_shot`): shown, never pre-ticked.
SIMILAR = "very similar shot"
#: Kinds whose extra copies are ticked for the trash at first: nothing is lost with them.
PRE_TICKED = frozenset({SAME, RESIZED, REENCODED, ROTATED, MIRRORED})


@dataclass(frozen=True)
class Match:
    """Why photos `a` and `b` (ids) belong together: a kind in words and a similarity in
    [0, 1] (1: the same pixels)."""

    a: int
    b: int
    kind: str
    similarity: float

    def involves(self, first: int, second: int) -> bool:
        return {self.a, self.b} == {first, second}


@dataclass(frozen=True)
class DuplicateGroup:
    keep: Photo
    others: tuple[Photo, ...]
    #: matches between members: every confirmed pair, and each other photo with the keeper
    pairs: tuple[Match, ...] = ()

    @property
    def photos(self) -> tuple[Photo, ...]:
        return (self.keep, *self.others)

    def match(self, first: Photo, second: Photo) -> Match | None:
        return next((m for m in self.pairs if m.involves(first.id, second.id)), None)

    def why(self, photo: Photo, keeper: Photo | None = None) -> Match | None:
        """How `photo` matches the keeper (or `keeper`), else its closest match in the group."""
        direct = self.match(photo, keeper or self.keep)
        if direct is not None:
            return direct
        own = [m for m in self.pairs if photo.id in (m.a, m.b)]
        return max(own, key=lambda m: m.similarity, default=None)

    def pre_ticked(self, photo: Photo, keeper: Photo | None = None) -> bool:
        """Whether `photo` goes to the trash unless the user says otherwise: only an exact
        or near-exact copy of the keeper."""
        keeper = keeper or self.keep
        direct = self.match(photo, keeper)
        return photo.id != keeper.id and direct is not None and direct.kind in PRE_TICKED

    def as_json(self) -> dict[str, Any]:
        paths = {p.id: str(p.path) for p in self.photos}
        pairs = [
            {"a": paths[m.a], "b": paths[m.b], "kind": m.kind, "similarity": m.similarity}
            for m in self.pairs
        ]
        return {
            "keep": paths[self.keep.id],
            "others": [str(p.path) for p in self.others],
            "pairs": pairs,
        }


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


def hash_candidates(
    ids: np.ndarray,
    hashes: np.ndarray,
    max_bucket: int = 32,
    max_distance: int = MAX_HASH_DISTANCE,
) -> np.ndarray:
    """Pairs (m, 2), smaller id first, one of whose hashes under a symmetry ((n, 8)
    uint64, column 0 upright) is within `max_distance` bits of the other's upright hash,
    found through 4 bands of 16 bits (a multi-index: any two within 3 bits share a band;
    turned copies measured 0-2). Buckets fuller than `max_bucket` (flat or dark photos)
    say nothing and are skipped. Sorting and binary search: O(n log n)."""
    found: list[np.ndarray] = []
    for band in range(4):
        keys = (hashes >> np.uint64(16 * band)) & np.uint64(0xFFFF)
        order = np.argsort(keys[:, 0], kind="stable")
        upright = keys[order, 0]
        for turns in range(hashes.shape[1]):
            low = np.searchsorted(upright, keys[:, turns], "left")
            high = np.searchsorted(upright, keys[:, turns], "right")
            counts = np.where(high - low <= max_bucket, high - low, 0)
            rows = np.repeat(np.arange(len(ids)), counts)  # every (row, bucket member)
            starts = np.repeat(low - (np.cumsum(counts) - counts), counts)
            others = order[starts + np.arange(len(rows))]
            close = bit_counts(hashes[others, 0] ^ hashes[rows, turns]) <= max_distance
            found.append(np.stack([ids[rows[close]], ids[others[close]]], axis=1))
    return unique_pairs(np.concatenate(found) if found else np.zeros((0, 2), np.int64))


def layout_candidates(ids: np.ndarray, layouts: np.ndarray, k: int) -> np.ndarray:
    """Each photo with its k nearest by colour layout (unit rows of `layouts`), exactly:
    pairs (m, 2), smaller id first."""
    k = min(k, len(ids) - 1)
    if k <= 0:
        return np.zeros((0, 2), np.int64)
    found = []
    for start in range(0, len(ids), 1024):
        block = layouts[start : start + 1024] @ layouts.T
        rows = np.arange(start, start + len(block))
        block[rows - start, rows] = -np.inf  # not itself
        nearest = np.argpartition(-block, k - 1, axis=1)[:, :k]
        found.append(np.stack([np.repeat(ids[rows], k), ids[nearest.ravel()]], axis=1))
    return unique_pairs(np.concatenate(found))


def layout_links(ids: np.ndarray, layouts: np.ndarray) -> np.ndarray:
    """Photos close by colour layout in a library too large for `layout_candidates`: the
    links of an HNSW graph built over the layouts (unit rows) for this search. Each photo
    keeps a link to its nearest (hnswlib's rule), and a copy's layout is nearer its
    original's than any other photo's is (crops >= 0.992, different photos 0.97 at the
    99th percentile)."""
    usable = np.abs(np.linalg.norm(layouts, axis=1) - 1.0) < 1e-3  # all black: no layout
    if usable.sum() < 2:
        return np.zeros((0, 2), np.int64)
    graph = VectorIndex.build(
        ids[usable], layouts[usable], model_key="layouts", settings=LAYOUT_GRAPH
    )
    links = graph.links()
    return links if links is not None else np.zeros((0, 2), np.int64)


def cosines(ids: np.ndarray, vectors: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """The cosine of each pair (m, 2) of ids, with unit `vectors` (rows of `ids`)."""
    rows = _Lookup.of(dict(zip(ids.tolist(), range(len(ids)), strict=True))).get(pairs)
    found = np.full(len(pairs), -np.inf, np.float32)
    for start in range(0, len(pairs), 50_000):  # a gathered pair is 2 vectors
        chunk = rows[start : start + 50_000]
        inside = (chunk >= 0).all(axis=1)
        first, second = vectors[chunk[inside, 0]], vectors[chunk[inside, 1]]
        found[start : start + len(chunk)][inside] = np.einsum("ij,ij->i", first, second)
    return found


@dataclass(frozen=True)
class _Lookup:
    """Photo id -> a non-negative number, as an array (-1: none): for millions of pairs."""

    table: np.ndarray

    @classmethod
    def of(cls, values: dict[int, int] | dict[int, str]) -> _Lookup:
        """Numbers as given, or one per distinct string (equal strings, equal numbers)."""
        table = np.full(max(values, default=-1) + 1, -1, np.int64)
        if values:
            given = np.array(list(values.values()))
            if given.dtype.kind == "U":
                given = np.unique(given, return_inverse=True)[1]
            table[list(values)] = given
        return cls(table)

    def get(self, ids: np.ndarray) -> np.ndarray:
        inside = (ids >= 0) & (ids < len(self.table))
        return np.where(inside, self.table[np.where(inside, ids, 0)], -1)

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, numbers) of the ids that have one."""
        ids = np.flatnonzero(self.table >= 0)
        return ids, self.table[ids]


def _contains(pairs: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """For each row of `wanted` (m, 2), whether it is a row of `pairs` (both unique_pairs)."""
    if not len(pairs) or not len(wanted):
        return np.zeros(len(wanted), bool)
    span = int(max(pairs.max(), wanted.max())) + 1
    return np.isin(wanted[:, 0] * span + wanted[:, 1], pairs[:, 0] * span + pairs[:, 1])


def layouts(small: np.ndarray) -> np.ndarray:
    """(n, 4, 4, 3): the colour layouts of shrunk grids (n, C, C, 3), each scaled to unit
    length (a brighter copy points the same way)."""
    count, side = small.shape[0], small.shape[1] // 4
    found = np.empty((count, 4, 4, 3), np.float32)
    for start in range(0, count, 4096):  # float32 a chunk at a time: 5x faster than mean()
        chunk = small[start : start + 4096].astype(np.float32)
        found[start : start + 4096] = chunk.reshape(-1, 4, side, 4, side, 3).sum(axis=(2, 4))
    norms = np.linalg.norm(found.reshape(count, -1), axis=1)
    return found / np.maximum(norms, 1e-6)[:, None, None, None]


def worth_aligning(
    hashes: np.ndarray, layout: np.ndarray, a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """The cheap gate before `align` (see GATE_BITS), for many pairs (rows a[i], b[i] of
    `hashes` (n, 8) and `layout` (n, 4, 4, 3)) at once."""
    keep = bit_counts(hashes[a, :1] ^ hashes[b]).min(axis=1) <= GATE_BITS
    first = layout[a].reshape(len(a), -1)
    for transform in range(TRANSFORMS):
        other = transformed(layout[b], transform, first_axis=1).reshape(len(b), -1)
        keep |= (first * other).sum(axis=1) >= GATE_LAYOUT
    return keep


def whole_alignments(
    hashes: np.ndarray, small: np.ndarray, a: np.ndarray, b: np.ndarray
) -> list[Alignment]:
    """Whole-photo alignments of many pairs (rows a[i], b[i] of the summaries) at once,
    under the symmetry whose hashes differ least, or the runner-up where that one leaves
    no copy (a symmetric picture's hashes may tie)."""
    tries = np.argsort(bit_counts(hashes[a, :1] ^ hashes[b]), axis=1, kind="stable")[:, :2]
    transforms = tries[:, 0].copy()
    mean, peak, gain = quick_alignments(small[a], small[b], transforms)
    retry = np.flatnonzero((mean > COPY_MEAN) | (peak > COPY_MAX))
    if len(retry):
        again = quick_alignments(small[a[retry]], small[b[retry]], tries[retry, 1])
        better = again[0] < mean[retry]
        for whole, other in zip((mean, peak, gain), again, strict=True):
            whole[retry[better]] = other[better]
        transforms[retry[better]] = tries[retry[better], 1]
    return [
        Alignment(int(t), 1.0, float(g), float(m), float(p), WHOLE)
        for t, m, p, g in zip(transforms.tolist(), mean, peak, gain, strict=True)
    ]


def keeper_order(photos: Sequence[Photo]) -> list[Photo]:
    """Best to keep first: the largest resolution, then the oldest, then by path."""
    return sorted(photos, key=lambda p: (-(p.width or 0) * (p.height or 0), p.date, str(p.path)))


def choose_keeper(photos: Sequence[Photo]) -> Photo:
    return keeper_order(photos)[0]


# -- judging a pair --------------------------------------------------------------------------


def kind_of(found: Alignment, a: Photo, b: Photo) -> str | None:
    """The kind of copy that `found` (b aligned on a) shows, or None if not a copy. Whole
    photos are judged on WHOLE cells a side, crops (found by a search) on fewer."""
    cropped = found.scale < CROP_SCALE
    if not cropped and found.cells != WHOLE:
        return None  # a search that found no crop: the whole photos were judged already
    mean, peak = (CROP_MEAN, CROP_MAX) if cropped else (COPY_MEAN, COPY_MAX)
    if found.mean_error > mean or found.max_error > peak:
        return None
    if cropped and found.transform != 0:
        return None  # a crop of a turned picture: on a few cells, a star turned and cropped
        # matched a triangle (bench_duplicate_quality.py --seed 1); copies are one or the other
    if found.mirrored:
        return MIRRORED
    if found.turned:
        return ROTATED
    if cropped:
        return CROPPED
    if abs(found.gain - 1.0) > EDIT_GAIN:
        return EDITED
    if a.content_hash is not None and a.content_hash == b.content_hash:
        return SAME
    return RESIZED if _resized(a, b) else REENCODED


def similarity(found: Alignment) -> float:
    """1 for the same pixels, falling with the mean colour error (0 at 50 of 441)."""
    return round(max(0.0, 1.0 - found.mean_error / 50.0), 3)


def is_shot(found: Shot) -> bool:
    """Whether two frames that are no copies show one scene a moment apart: what both show
    lines up after a pan (mean error, few cells off) and has detail enough to tell (a plain
    or smooth background lines up with anything; see SHOT_DETAIL)."""
    return (
        found.mean_error <= SHOT_MEAN
        and found.off_cells <= SHOT_OFF
        and found.detail >= SHOT_DETAIL
    )


def _resized(a: Photo, b: Photo) -> bool:
    first, second = (a.width or 0) * (a.height or 0), (b.width or 0) * (b.height or 0)
    if not first or not second:
        return False
    return max(first, second) / min(first, second) > RESIZE_RATIO


# -- fingerprints: made, kept, read -----------------------------------------------------------


def read_small_image(photo: Photo, thumbnails: ThumbnailStore | None = None) -> Image.Image | None:
    """The photo upright and small: from the indexer's thumbnail when there is one (local
    even when the photo's drive is unplugged), else from the file decoded at a small scale;
    None when neither can be read now."""
    source = photo.path
    if thumbnails is not None and photo.content_hash and thumbnails.has(photo.content_hash):
        source = thumbnails.path_for(photo.content_hash)
    try:
        return decode_image(read_file(source), reduce_to=(96, 256)).image
    except (KnownError, OSError) as error:
        log.info("cannot read %s for duplicates: %s", photo.path, error)
        return None


def remember_fingerprints(library: Library, photo_ids: Sequence[int]) -> int:
    """Make and store the fingerprints the catalog lacks for these photos (the indexer
    calls it after each batch: their thumbnails were just written). Returns how many."""
    catalog = library.catalog
    photos = [p for p in catalog.photos(list(photo_ids)).values() if p.content_hash]
    hashes = sorted({str(p.content_hash) for p in photos})
    known = catalog.fingerprints(FINGERPRINT_RECIPE, hashes)
    made: dict[str, Fingerprint] = {}
    for photo in photos:
        digest = str(photo.content_hash)
        if digest in known or digest in made:
            continue
        image = read_small_image(photo, library.thumbnails)
        if image is not None:
            made[digest] = fingerprint(image)
    store_fingerprints(catalog, made)
    return len(made)


def store_fingerprints(catalog: Catalog, prints: dict[str, Fingerprint]) -> bool:
    """False when the catalog is read-only here (they are made again next time)."""
    if not prints:
        return True
    try:
        with catalog.transaction():
            for digest, print_ in prints.items():
                catalog.put_fingerprint(
                    digest, FINGERPRINT_RECIPE, print_.summary(), print_.to_bytes()
                )
    except CatalogError as error:
        log.info("fingerprints not kept: %s", error)
        return False
    return True


# -- one file, many paths ---------------------------------------------------------------------


def same_file_key(path: Path) -> object:
    """What identifies the file behind `path`: its device and inode (a symlink and a hard
    link share them), else its resolved path (the drive is unplugged)."""
    try:
        stat = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    return (stat.st_dev, stat.st_ino)


def one_path_per_file(photos: Sequence[Photo]) -> list[Photo]:
    """The photos less the extra paths to a file already listed: the real file (not a
    link) is kept, so trashing another member can never leave a dangling link. Paths to
    one file have the same bytes, so only photos sharing a content hash are looked up on
    the disk (stat and realpath for every photo of 16k groups took 4-6 s)."""
    counts = Counter(p.content_hash for p in photos)
    shared = [p for p in photos if p.content_hash is None or counts[p.content_hash] > 1]
    chosen: dict[object, Photo] = {}
    for photo in sorted(shared, key=lambda p: (p.path.is_symlink(), len(str(p.path)))):
        chosen.setdefault(same_file_key(photo.path), photo)
    dropped = {p.id for p in shared} - {p.id for p in chosen.values()}
    return [p for p in photos if p.id not in dropped]


# -- a library's duplicates -------------------------------------------------------------------


class DuplicateFinder:
    """Finds the near-duplicate groups of a library's active model. Reads only, but for
    the fingerprints it had to make (kept when the catalog may be written): run it anywhere
    (the worker's FindDuplicates job, or a CLI process).

    Stored fingerprints are read from the catalog; a photo without one (indexed before
    they were kept) is read once from its thumbnail. `progress(done, total)` counts those
    reads, the slow part."""

    def __init__(
        self,
        library: Library,
        threshold: float | None = None,
        neighbours: int = NEIGHBOURS,
        *,
        progress: Callable[[int, int], None] | None = None,
        images: Callable[[Photo], Image.Image | None] | None = None,
    ) -> None:
        threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        if not 0.0 < threshold <= 1.0:
            raise KnownError(f"The threshold is a cosine in (0, 1], not {threshold}.")
        self.library, self.threshold, self.neighbours = library, threshold, neighbours
        thumbnails = library.thumbnails
        self._read = images or (lambda photo: read_small_image(photo, thumbnails))
        self._progress = progress
        self._photos: dict[int, Photo] = {}
        #: photo id -> row of the summaries: hashes (n, 8), shrunk grids, colour layouts
        self._rows = _Lookup.of({})
        #: photo id -> a number per content hash (equal numbers: the same bytes)
        self._codes = _Lookup.of({})
        self._hashes = np.zeros((0, 8), np.uint64)
        self._small = np.zeros((0, WHOLE, WHOLE, 3), np.uint8)
        self._layouts = np.zeros((0, 4, 4, 3), np.float32)
        #: fingerprints made this run, and the full ones read for searches, by content hash
        self._made: dict[str, Fingerprint] = {}
        self._full: dict[str, Fingerprint] = {}
        #: every candidate pair before the gate (copies or shots of one scene)
        self._near = np.zeros((0, 2), np.int64)
        #: photos read from an image this run (no stored fingerprint), pairs aligned
        self.images_read = self.aligned = 0

    def find(self) -> list[DuplicateGroup]:
        record = self.library.active_model
        if record is None:
            return []
        ids, vectors = self.library.catalog.photo_vectors(record.key)
        if not len(ids):
            return []
        self._photos = self.library.catalog.photos(ids.tolist())
        self._codes = _Lookup.of(
            {i: p.content_hash for i, p in self._photos.items() if p.content_hash}
        )
        self._summarise()
        matches = self._judge(self._candidates(ids, vectors))
        matches += self._shots(ids, vectors, matches)
        groups = connected_groups((m.a, m.b) for m in matches)
        group_of = {photo_id: number for number, ids_ in enumerate(groups) for photo_id in ids_}
        inside: list[list[Match]] = [[] for _ in groups]
        for match in matches:
            inside[group_of[match.a]].append(match)
        return [
            g for ids_, own in zip(groups, inside, strict=True) if (g := self._group(ids_, own))
        ]

    # -- fingerprints --------------------------------------------------------------------

    def _summarise(self) -> None:
        """Hashes and shrunk grids of every photo: from the catalog, else made now (and
        kept). Full fingerprints are read again only for the pairs that need a search."""
        digests: list[str] = []
        hashes: list[np.ndarray] = []
        small: list[np.ndarray] = []
        for chunk in self.library.catalog.fingerprint_chunks(FINGERPRINT_RECIPE):
            chunk_hashes, chunk_small = summaries([data for _, data in chunk])
            digests += [digest for digest, _ in chunk]
            hashes.append(chunk_hashes)
            small.append(chunk_small)
        self._made = self._make_missing(set(digests))
        if self._made:
            made_hashes, made_small = summaries([p.summary() for p in self._made.values()])
            digests += list(self._made)
            hashes.append(made_hashes)
            small.append(made_small)
        row_of = {digest: row for row, digest in enumerate(digests)}
        self._rows = _Lookup.of(
            {
                i: row_of[str(p.content_hash)]
                for i, p in self._photos.items()
                if str(p.content_hash) in row_of
            }
        )
        self._hashes = np.concatenate(hashes) if hashes else np.zeros((0, 8), np.uint64)
        self._small = np.concatenate(small) if small else np.zeros((0, WHOLE, WHOLE, 3), np.uint8)
        self._layouts = layouts(self._small)

    def _make_missing(self, stored: set[str]) -> dict[str, Fingerprint]:
        by_hash = {str(p.content_hash): p for p in self._photos.values()}
        missing = [p for digest, p in by_hash.items() if digest not in stored]
        made: dict[str, Fingerprint] = {}
        for done, photo in enumerate(missing, 1):
            image = self._read(photo)
            if image is not None:
                made[str(photo.content_hash)] = fingerprint(image)
            if self._progress is not None:
                self._progress(done, len(missing))
        self.images_read = len(missing)
        store_fingerprints(self.library.catalog, made)
        return made

    # -- candidates ----------------------------------------------------------------------

    def _candidates(self, ids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """The pairs (m, 2) worth judging: close by embedding (cosine at or above the
        threshold) or by fingerprint, that pass the gate or are byte-identical.

        A large library's embedding candidates are its graph's links (`VectorIndex.links`,
        ~1 s at 100k photos, where a k-NN query per photo took 14-60 s on this box). The
        links are not each photo's k nearest, but they join each set of close photos into
        one piece (hnswlib keeps links that make the graph navigable: a relative-neighbourhood
        graph, which holds a minimum spanning tree), and a group needs no more: its members
        chain, and each is then matched with the keeper (`_group`). On 100k photos with 16k
        planted groups: links 1.1M pairs, every group whole, as with k-NN at ef 64."""
        index = self.library.index()
        prints = self._fingerprint_candidates()
        links = index.links()
        if links is None:
            near = candidate_pairs(index, ids, vectors, self.threshold, self.neighbours)
            found = np.array([(a, b) for a, b, _ in near], np.int64).reshape(-1, 2)
            self._near = unique_pairs(np.concatenate([found, prints]))
            return self._gated(self._near)
        self._near = unique_pairs(np.concatenate([links, prints]))
        gated = self._gated(self._near)
        linked_only = ~_contains(prints, gated)  # the others need no cosine
        close = cosines(ids, vectors, gated[linked_only]) >= self.threshold
        keep = ~linked_only
        keep[np.flatnonzero(linked_only)[close]] = True
        return gated[keep]

    def _fingerprint_candidates(self) -> np.ndarray:
        ids, rows = self._rows.items()
        if not len(ids):
            return np.zeros((0, 2), np.int64)
        found = [hash_candidates(ids, self._hashes[rows])]
        flat = self._layouts[rows].reshape(len(ids), -1)
        if len(ids) <= LAYOUT_NEIGHBOURS_MAX:
            found.append(layout_candidates(ids, flat, LAYOUT_NEIGHBOURS))
        else:
            found.append(layout_links(ids, flat))
        return unique_pairs(np.concatenate(found))

    def _gated(self, pairs: np.ndarray) -> np.ndarray:
        """The pairs worth judging: byte-identical ones, and those that pass the gate."""
        same = self._same_bytes(pairs)
        rows = self._rows.get(pairs)
        known = np.flatnonzero(~same & (rows >= 0).all(axis=1))
        passed = same.copy()
        for start in range(0, len(known), 100_000):  # a gathered layout: 192 bytes a pair
            chunk = known[start : start + 100_000]
            passed[chunk] = worth_aligning(
                self._hashes, self._layouts, rows[chunk, 0], rows[chunk, 1]
            )
        return pairs[passed]

    def _same_bytes(self, pairs: np.ndarray) -> np.ndarray:
        codes = self._codes.get(pairs)
        return (codes[:, 0] >= 0) & (codes[:, 0] == codes[:, 1])

    # -- pairs and groups ----------------------------------------------------------------

    def _judge(self, pairs: np.ndarray) -> list[Match]:
        """Matches among `pairs`: copies that are not crops at once, all together on
        shrunk grids; the rest (crops, and pairs that are no copies) by a search each."""
        same = self._same_bytes(pairs)
        matches = [Match(a, b, SAME, 1.0) for a, b in pairs[same].tolist()]
        rest = pairs[~same]
        searched: list[tuple[int, int]] = []
        for start in range(0, len(rest), 20_000):
            quick, slow = self._quick(rest[start : start + 20_000])
            matches += quick
            searched += slow
        self._full = self._full_fingerprints(searched)
        matches += [m for a, b in searched if (m := self._search(a, b)) is not None]
        return matches

    def _quick(self, pairs: np.ndarray) -> tuple[list[Match], list[tuple[int, int]]]:
        """(matches of whole photos, the pairs left for a search)."""
        if not len(pairs):
            return [], []
        rows = self._rows.get(pairs)
        found = whole_alignments(self._hashes, self._small, rows[:, 0], rows[:, 1])
        matches, slow = [], []
        for (a, b), alignment in zip(pairs.tolist(), found, strict=True):
            kind = kind_of(alignment, self._photos[a], self._photos[b])
            if kind is None:
                slow.append((a, b))
            else:
                matches.append(Match(a, b, kind, similarity(alignment)))
        return matches, slow

    def _shots(self, ids: np.ndarray, vectors: np.ndarray, copies: list[Match]) -> list[Match]:
        """SIMILAR matches: candidate pairs that are no copies, whose embeddings are at
        the threshold (and SHOT_COSINE) or closer and whose frames line up as one scene
        panned a little (`is_shot`). Cheap gates first: upright colour layouts at
        SHOT_LAYOUT or closer (a pan keeps most of them), and detail in both frames."""
        matched = unique_pairs(np.array([(m.a, m.b) for m in copies], np.int64))
        pairs = self._near[~_contains(matched, self._near)]
        rows = self._rows.get(pairs)
        pairs, rows = pairs[(rows >= 0).all(axis=1)], rows[(rows >= 0).all(axis=1)]
        if not len(pairs):
            return []
        first = self._layouts[rows[:, 0]].reshape(len(rows), -1)
        second = self._layouts[rows[:, 1]].reshape(len(rows), -1)
        pairs = pairs[np.einsum("ij,ij->i", first, second) >= SHOT_LAYOUT]
        pairs = pairs[self._detailed(pairs)]
        close = cosines(ids, vectors, pairs)
        chosen = np.flatnonzero(close >= max(self.threshold, SHOT_COSINE))
        if len(chosen) > SHOT_SEARCHES:  # the closest first: each takes a search
            chosen = chosen[np.argsort(-close[chosen], kind="stable")[:SHOT_SEARCHES]]
        log.info("shots: %d pairs, %d searched", len(pairs), len(chosen))
        pairs = pairs[np.sort(chosen)]
        self._full.update(self._full_fingerprints([(a, b) for a, b in pairs.tolist()]))
        return [m for a, b in pairs.tolist() if (m := self._shot(a, b)) is not None]

    def _detailed(self, pairs: np.ndarray) -> np.ndarray:
        """Whether both photos of each pair show detail enough to be told a shot (see
        SHOT_FRAME_DETAIL)."""
        photos, rows = np.unique(self._rows.get(pairs), return_inverse=True)
        enough = np.concatenate(
            [
                details(self._small[photos[start : start + 4096]]) >= SHOT_FRAME_DETAIL
                for start in range(0, len(photos), 4096)
            ]
            or [np.zeros(0, bool)]
        )
        return np.asarray(enough[rows.reshape(pairs.shape)].all(axis=1), bool)

    def _shot(self, a: int, b: int) -> Match | None:
        one = self._full.get(str(self._photos[a].content_hash))
        other = self._full.get(str(self._photos[b].content_hash))
        if one is None or other is None:
            return None
        found = shot_alignment(one, other)
        if not is_shot(found):
            return None
        # A crop whose hashes and layouts missed the gate lines up as a pan too: the
        # copy it is comes first (a test's 10% crop was called a shot).
        copy = self._match(a, b)
        if copy is not None:
            return copy
        return Match(a, b, SIMILAR, round(max(0.0, 1.0 - found.mean_error / 50.0), 3))

    def _full_fingerprints(self, pairs: list[tuple[int, int]]) -> dict[str, Fingerprint]:
        wanted = {str(self._photos[i].content_hash) for pair in pairs for i in pair}
        found = {d: p for d, p in self._made.items() if d in wanted}
        stored = self.library.catalog.fingerprints(FINGERPRINT_RECIPE, sorted(wanted - set(found)))
        found.update((d, Fingerprint.from_bytes(data)) for d, data in stored.items())
        return found

    def _match(self, a: int, b: int) -> Match | None:
        """One pair, judged whole, else by a search for a crop."""
        pair = np.array([[a, b]], np.int64)
        if self._same_bytes(pair)[0]:
            return Match(a, b, SAME, 1.0)
        if (self._rows.get(pair) >= 0).all():
            quick, _ = self._quick(pair)
            if quick:
                return quick[0]
        return self._search(a, b)

    def _search(self, a: int, b: int) -> Match | None:
        first, second = self._photos[a], self._photos[b]
        one = self._full.get(str(first.content_hash))
        other = self._full.get(str(second.content_hash))
        if one is None or other is None:
            return None
        self.aligned += 1
        found = align(one, other, give_up_above=GIVE_UP)
        kind = kind_of(found, first, second)
        return Match(a, b, kind, similarity(found)) if kind is not None else None

    def _group(self, ids: list[int], matches: list[Match]) -> DuplicateGroup | None:
        """The group of `ids` (`matches`: those among them), one path per file, the keeper
        matched with every other photo."""
        members = one_path_per_file([self._photos[i] for i in ids])
        if len(members) < 2:
            return None
        keep, *others = keeper_order(members)
        inside = {p.id for p in members}
        pairs = [m for m in matches if m.a in inside and m.b in inside]
        with_keeper = {m.a if m.b == keep.id else m.b for m in pairs if keep.id in (m.a, m.b)}
        for other in others:
            if other.id not in with_keeper:
                self._full.update(self._full_fingerprints([(keep.id, other.id)]))
                direct = self._match(keep.id, other.id)
                if direct is not None:
                    pairs.append(direct)
        return DuplicateGroup(keep, tuple(others), tuple(pairs))
