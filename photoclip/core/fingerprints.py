"""A photo's visual fingerprint, and how two fingerprints match: copies of one picture or not.

A fingerprint is made once per content hash, from the indexer's thumbnail, and kept in the
catalog (`Catalog.put_fingerprint`): about 7 kB, and a summary of 1.8 kB that every search
reads (`Fingerprint.summary`).

- `grid`: the photo squashed to GRID x GRID cells of mean sRGB colour (area averages).
  Matching compares it cell by cell, so a difference in one place (another shape, another
  colour of a small object) shows as a cell far off, however large and alike the rest is.
  Whole-image statistics cannot see that: a big shared background dominates them.
- `hashes`: a DCT perceptual hash (63 bits of the low frequencies of a 32 x 32 grey image)
  of the photo under each of the 8 symmetries of a square (4 rotations, each also
  mirrored). Equal bands of them find turned and mirrored copies among many photos fast
  (`duplicates.hash_candidates`); they decide nothing.

`quick_alignments` compares whole photos, many pairs at once. `align(a, b)` searches how b
lies on a: each of the 8 symmetries of b's grid, against windows of a
(a is b cropped) and windows of b (b is a cropped) at scales 1 to MIN_SCALE, coarse then
fine. For the best alignment, a brightness gain is fitted (a copy made 10% brighter is the
same picture; sRGB x gain is what a brightness slider does) and each cell's colour error
measured. Copies differ a little everywhere (resampling, JPEG); different pictures a lot
somewhere. Thresholds are measured in tests/benchmarks/bench_duplicate_quality.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache

import numpy as np
from PIL import Image

#: Cells per side of the stored colour grid, and of the grids compared. Windows are
#: resampled from the finer one: a window's cell straddles stored cells, and blending two
#: cells is not the mean of the pixels between them. On 12 textured photos and their 10%
#: crops at the exact window, the worst cell was off by 117 (of 441) with 16 stored cells
#: a side, 54 with 32, 25 with 48 and 22 with 64.
GRID = 48
COMPARED = 16
#: Cells a side when whole photos are compared without a search (`quick_alignments`):
#: cells of exactly 2 x 2 stored ones, nothing straddles, so a finer grid is safe and sees
#: small differences. Copies measured a worst cell of 34 at 24 cells, small different
#: shapes on one background 76 at best (28.9 at 16 cells: as close as copies).
WHOLE = 24
#: Symmetries of the square: 0-3 turn b's grid by 90 degrees that many times (numpy's rot90,
#: counter-clockwise); 4-7 mirror it left-right first.
TRANSFORMS = 8
MIRRORED = 4
#: Symmetries tried in full: those under which the two look most alike on the whole.
LIKELY = 2
#: Coarse alignments refined: on 8 x 8 cells a 10% crop's true window may lose narrowly to
#: a neighbour (1 of 12 real photos' crops did with one).
STARTS = 3
#: Smallest side of a crop, as a share of the photo's side, that still matches.
MIN_SCALE = 0.78
#: Brightness gains that still make a copy (sRGB values times the gain).
MIN_GAIN, MAX_GAIN = 0.8, 1.25
#: Cells at or above this value in any channel may be clipped by a brighter copy: they
#: do not inform the gain.
_CLIPPED = 245.0
_HASH_SIDE = 32
_HASH_BYTES = TRANSFORMS * 8


@dataclass(frozen=True)
class Fingerprint:
    #: (GRID, GRID, 3) uint8: the mean sRGB colour of each cell of the squashed photo
    grid: np.ndarray
    #: (8,) uint64: the DCT hash of the photo under each of the 8 TRANSFORMS
    hashes: np.ndarray

    def to_bytes(self) -> bytes:
        return self.grid.astype(np.uint8).tobytes() + self.hashes.astype("<u8").tobytes()

    def summary(self) -> bytes:
        """What every search needs (see `summaries`): the hashes and the grid shrunk to
        WHOLE cells a side, rounded to bytes."""
        small = np.rint(_shrink(self.grid.astype(np.float32), GRID // WHOLE))
        return self.hashes.astype("<u8").tobytes() + small.astype(np.uint8).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Fingerprint:
        cells = GRID * GRID * 3
        if len(data) != cells + _HASH_BYTES:
            raise ValueError(f"a fingerprint has {cells + _HASH_BYTES} bytes, not {len(data)}")
        grid = np.frombuffer(data, np.uint8, cells).reshape(GRID, GRID, 3)
        return cls(grid, np.frombuffer(data, "<u8", TRANSFORMS, cells).astype(np.uint64))


#: Size of `Fingerprint.to_bytes()`.
FINGERPRINT_BYTES = GRID * GRID * 3 + _HASH_BYTES


@dataclass(frozen=True)
class Alignment:
    """How b lies on a: `transform` (see TRANSFORMS) of b, `scale` of the side of the crop
    (below 1: one is a crop of the other), `gain` of brightness, and the colour errors
    (sRGB distance, of 441) after alignment: their mean, and the largest of one cell."""

    transform: int
    scale: float
    gain: float
    mean_error: float
    max_error: float
    #: cells a side of the comparison: COMPARED after a search, WHOLE for whole photos
    cells: int = COMPARED

    @property
    def turned(self) -> bool:
        return 0 < self.transform < MIRRORED

    @property
    def mirrored(self) -> bool:
        return self.transform >= MIRRORED


def fingerprint(image: Image.Image) -> Fingerprint:
    rgb = image.convert("RGB")
    grid = np.asarray(rgb.resize((GRID, GRID), Image.Resampling.BOX), dtype=np.uint8)
    grey = rgb.convert("L").resize((_HASH_SIDE, _HASH_SIDE), Image.Resampling.BOX)
    pixels = np.asarray(grey, dtype=np.float64)
    hashes = np.array([dct_hash(transformed(pixels, t)) for t in range(TRANSFORMS)])
    return Fingerprint(grid.copy(), hashes.astype(np.uint64))


def transformed(array: np.ndarray, transform: int, first_axis: int = 0) -> np.ndarray:
    """`array` (rows, columns, ...) under one of the TRANSFORMS; rows and columns may
    come later (`first_axis`: 1 for a batch of grids)."""
    axes = (first_axis, first_axis + 1)
    if transform >= MIRRORED:
        array = np.flip(array, axis=axes[1])
    return np.rot90(array, transform % MIRRORED, axes=axes)


def dct_hash(pixels: np.ndarray) -> np.uint64:
    """pHash: the 8 x 8 lowest DCT frequencies but the mean, each above or below their median."""
    basis = _dct_basis(pixels.shape[0])
    low = (basis @ pixels @ basis.T)[:8, :8].ravel()[1:]
    bits = (low > np.median(low)).astype(np.uint64)
    return np.uint64((bits << np.arange(len(bits), dtype=np.uint64)).sum())


def summaries(blobs: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Of many `Fingerprint.summary()`s at once: the hashes (n, 8) uint64 and the grids of
    WHOLE cells a side (n, W, W, 3) uint8, what `quick_alignments` and the candidate
    searches need (a quarter of a fingerprint's bytes; kept as bytes: 173 MB for 100k
    photos, where float32 took 4 times that)."""
    count, size = len(blobs), _HASH_BYTES + WHOLE * WHOLE * 3
    data = np.frombuffer(b"".join(blobs), np.uint8).reshape(count, size)
    hashes = data[:, :_HASH_BYTES].copy().view("<u8").astype(np.uint64)
    grids = data[:, _HASH_BYTES:].reshape(count, WHOLE, WHOLE, 3).copy()
    return hashes, grids


def quick_alignments(
    first: np.ndarray, second: np.ndarray, transforms: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean error, worst cell, gain) of many pairs of whole photos at once: shrunk grids
    (n, W, W, 3) of each, the second under its pair's transform, the brighter predicted
    from the darker (as `align` does). A copy that is not a crop is judged here without a
    search; the gain is the second's brightness over the first's."""
    first = np.asarray(first, np.float32)
    turned = np.asarray(second, np.float32).copy()
    for transform in range(1, TRANSFORMS):
        rows = transforms == transform
        if rows.any():
            turned[rows] = transformed(turned[rows], transform, first_axis=1)
    swap = turned.mean(axis=(1, 2, 3)) < first.mean(axis=(1, 2, 3))
    darker, brighter = first.copy(), turned
    darker[swap], brighter[swap] = turned[swap], first[swap]
    mean, peak, gain = _errors(darker, brighter)
    return mean, peak, np.where(swap, 1.0 / gain, gain)


@dataclass(frozen=True)
class Shot:
    """How two frames of one scene line up when one is panned (see `shot_alignment`): the
    shift of b on a in cells of WHOLE (`dx`, `dy`), the share of each frame that both show
    (`overlap`), and on that overlap: the mean colour error (of 441, brightness fitted),
    the share of cells off by more than SHOT_CELL (`off_cells`: what moved, or what
    differs), and the share of cells with detail (`detail`: edges or texture, not a plain
    or smooth background)."""

    dx: int
    dy: int
    overlap: float
    mean_error: float
    off_cells: float
    detail: float


#: Largest pan tried, in cells of WHOLE a side (7 of 24: 29% of the side).
SHOT_SHIFT = 7
#: A cell of the overlap further off than this differs (copies' worst cell measured 34).
SHOT_CELL = 40.0
#: A cell whose colour differs from its right or lower neighbour by this much or more
#: shows detail (sRGB distance of 441).
DETAIL_STEP = 24.0


def shot_alignment(a: Fingerprint, b: Fingerprint) -> Shot:
    """The pan of b on a (upright, same zoom give or take a few %) that leaves the least
    mean colour error on what both frames show: every pan on cells of 2 x 2 WHOLE cells,
    then the WHOLE cells around the best (~5 ms a pair)."""
    first = _shrink(a.grid.astype(np.float32), GRID // WHOLE)
    second = _shrink(b.grid.astype(np.float32), GRID // WHOLE)
    reach = SHOT_SHIFT // 2 + 1  # coarse: 2 x 2 cells, then the cells around the best
    _, dx, dy = _best_pan(_shrink(first, 2), _shrink(second, 2), range(-reach, reach + 1))
    near = [
        (x, y)
        for y in range(2 * dy - 1, 2 * dy + 2)
        for x in range(2 * dx - 1, 2 * dx + 2)
        if max(abs(x), abs(y)) <= SHOT_SHIFT
    ]
    _, dx, dy = min(_pan_error(first, second, x, y) for x, y in near)
    seen, other = _overlap(first, second, dx, dy)
    expected = seen * _errors(seen, other)[2]
    cells = np.sqrt(((np.clip(expected, 0, 255) - other) ** 2).sum(axis=-1))
    return Shot(
        dx,
        dy,
        overlap=cells.size / (WHOLE * WHOLE),
        mean_error=float(cells.mean()),
        off_cells=float((cells > SHOT_CELL).mean()),
        detail=min(_detail(seen), _detail(other)),
    )


def _best_pan(first: np.ndarray, second: np.ndarray, shifts: range) -> tuple[float, int, int]:
    return min(_pan_error(first, second, dx, dy) for dy in shifts for dx in shifts)


def _pan_error(first: np.ndarray, second: np.ndarray, dx: int, dy: int) -> tuple[float, int, int]:
    """(mean colour error of the overlap, dx, dy) of b panned by (dx, dy) cells on a."""
    mean, _, _ = _errors(*_overlap(first, second, dx, dy))
    return float(mean), dx, dy


def _overlap(first: np.ndarray, second: np.ndarray, dx: int, dy: int) -> tuple[np.ndarray, ...]:
    """The cells of `first` and `second` that show one place when b is a panned by (dx, dy)
    cells: a's cell (y, x) is b's cell (y - dy, x - dx)."""
    side = first.shape[0]
    rows, columns = slice(max(dy, 0), side + min(dy, 0)), slice(max(dx, 0), side + min(dx, 0))
    shifted_rows = slice(max(-dy, 0), side + min(-dy, 0))
    shifted_columns = slice(max(-dx, 0), side + min(-dx, 0))
    return first[rows, columns], second[shifted_rows, shifted_columns]


def _detail(cells: np.ndarray) -> float:
    return float(details(cells[None])[0])


def details(grids: np.ndarray) -> np.ndarray:
    """Of each grid (n, H, W, 3) of WHOLE cells: the share of its cells of 2 x 2 (pixel
    noise averages out) that differ from their right or lower neighbour by DETAIL_STEP or
    more."""
    rows, columns = grids.shape[1] // 2 * 2, grids.shape[2] // 2 * 2
    coarse = _shrink(np.asarray(grids[:, :rows, :columns], np.float32), 2)
    step = np.zeros(coarse.shape[:3], np.float32)
    across = np.sqrt(((coarse[:, :, 1:] - coarse[:, :, :-1]) ** 2).sum(axis=-1))
    down = np.sqrt(((coarse[:, 1:] - coarse[:, :-1]) ** 2).sum(axis=-1))
    step[:, :, :-1] = np.maximum(step[:, :, :-1], across)
    step[:, :-1] = np.maximum(step[:, :-1], down)
    return (step >= DETAIL_STEP).mean(axis=(1, 2))


# -- matching ---------------------------------------------------------------------------------


def align(a: Fingerprint, b: Fingerprint, give_up_above: float = np.inf) -> Alignment:
    """The best alignment of b on a (see the module docstring): every transform and window
    on coarse grids first, then windows near the best on the fine ones. The brighter is
    predicted from the darker, whichever is given first: a brighter copy's clipped
    highlights are what the darker one's gain clips too, never the other way round.

    When the coarse grids' best mean error is above `give_up_above`, that alignment is
    returned as it is (the fine search would not bring two such pictures close)."""
    if b.grid.mean() < a.grid.mean():
        found = _align(b, a, give_up_above)
        inverse = found.transform if found.mirrored else (MIRRORED - found.transform) % MIRRORED
        return replace(found, transform=inverse, gain=1.0 / found.gain)
    return _align(a, b, give_up_above)


def _align(a: Fingerprint, b: Fingerprint, give_up_above: float) -> Alignment:
    first, second = a.grid.astype(np.float32), b.grid.astype(np.float32)
    turned = np.stack([transformed(second, t) for t in range(TRANSFORMS)])
    coarse, fine = _Scale(GRID // 3, COMPARED // 2), _Scale(GRID, COMPARED)
    small_first, small_turned = _shrink(first, 3), _shrink(turned, 3)
    likely = _likely_transforms(small_first, small_turned, coarse)
    starts = _best(small_first, small_turned[likely], _coarse_windows(), coarse, keep=STARTS)
    best, rough, _ = starts[0]
    if rough.mean_error > give_up_above:
        return replace(rough, transform=int(likely[best]))
    refined = []
    for best, _, window in starts:  # the coarse grid's best may be a neighbour's slope
        chosen = turned[[int(likely[best])]]
        _, _, window = _best(first, chosen, _windows_near(window, 0.01, 0.015, 2, 1), fine)[0]
        _, found, _ = _best(first, chosen, _windows_near(window, 0.004, 0.005, 1, 1), fine)[0]
        refined.append(replace(found, transform=int(likely[best])))
    return min(refined, key=lambda found: found.mean_error)


def _likely_transforms(first: np.ndarray, turned: np.ndarray, scale: _Scale) -> np.ndarray:
    """The LIKELY symmetries of the second, by the whole of both on coarse grids: a crop
    keeps enough of the picture for its turn to show."""
    whole = _Window(1.0, 0.0, 0.0).matrix(0.0, scale)[None]
    errors = _errors(
        _resample(first[None], whole, whole)[0, 0][None], _resample(turned, whole, whole)[0]
    )[0]
    return np.argsort(errors, kind="stable")[:LIKELY]


@dataclass(frozen=True)
class _Scale:
    """Stored cells per side, and cells per side compared."""

    source: int
    out: int


def _shrink(grids: np.ndarray, factor: int) -> np.ndarray:
    """Area means of factor x factor cells of (..., H, W, 3)."""
    rows, columns = grids.shape[-3] // factor, grids.shape[-2] // factor
    shaped = grids.reshape(*grids.shape[:-3], rows, factor, columns, factor, 3)
    return shaped.mean(axis=(-4, -2))


def _best(
    first: np.ndarray, turned: np.ndarray, windows: list[_Window], scale: _Scale, keep: int = 1
) -> list[tuple[int, Alignment, _Window]]:
    """The `keep` best (transform, alignment, window) of every transform of the second
    against windows of the first and, the other way, the first against windows of each
    transform of the second; best first."""
    rows = np.stack([w.matrix(w.y, scale) for w in windows])
    columns = np.stack([w.matrix(w.x, scale) for w in windows])
    of_first = _resample(first[None], rows, columns)[:, 0]  # (windows, C, C, 3)
    of_second = _resample(turned, rows, columns)  # (windows, transforms, C, C, 3)
    whole = _Window(1.0, 0.0, 0.0).matrix(0.0, scale)[None]
    first_whole = _resample(first[None], whole, whole)[0, 0]
    turned_whole = _resample(turned, whole, whole)[0]
    found: list[tuple[int, Alignment, _Window]] = []
    for errors in (
        _errors(of_first[:, None], turned_whole[None]),  # a window of a vs each b
        _errors(first_whole[None, None], of_second),  # a vs a window of each b
    ):
        for flat in np.argsort(errors[0], axis=None)[:keep]:
            window, transform = np.unravel_index(flat, errors[0].shape)
            mean, peak, gain = (float(e[window, transform]) for e in errors)
            alignment = Alignment(int(transform), windows[window].scale, gain, mean, peak)
            found.append((int(transform), alignment, windows[window]))
    return sorted(found, key=lambda item: item[1].mean_error)[:keep]


def _errors(expected: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean error, largest cell error, gain) of `seen` against `expected` made brighter or
    darker by the gain that fits best (clipped cells left out of the fit). Written for
    speed (the finder runs it on 100k pairs): channels added by hand, not reduced over a
    3-long axis, and the error computed in place, 3x faster than the plain numpy."""
    expected, seen = np.broadcast_arrays(expected, seen)
    usable = (_brightest(expected) < _CLIPPED) & (_brightest(seen) < _CLIPPED)
    masked = expected * usable[..., None]
    numerator = (masked * seen).sum(axis=(-3, -2, -1))
    denominator = (masked * masked).sum(axis=(-3, -2, -1))
    gain = np.clip(numerator / np.maximum(denominator, 1e-6), MIN_GAIN, MAX_GAIN)
    off = expected * gain[..., None, None, None]
    np.clip(off, 0, 255, out=off)
    off -= seen
    off *= off
    cells = np.sqrt(off[..., 0] + off[..., 1] + off[..., 2])
    return cells.mean(axis=(-2, -1)), cells.max(axis=(-2, -1)), gain


def _brightest(cells: np.ndarray) -> np.ndarray:
    return np.maximum(np.maximum(cells[..., 0], cells[..., 1]), cells[..., 2])


def _resample(grids: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Windows of grids (n, G, G, 3) by area averaging: (windows, n, C, C, 3). Two large
    matrix products rather than many small ones."""
    n, side, out, count = grids.shape[0], grids.shape[1], rows.shape[1], rows.shape[0]
    down = np.tensordot(rows, grids, axes=([2], [1]))  # (w, C, n, G, 3)
    down = down.transpose(0, 2, 1, 4, 3).reshape(count, n * out * 3, side)
    across = down @ columns.transpose(0, 2, 1)  # (w, n*C*3, C)
    return across.reshape(count, n, out, 3, out).transpose(0, 1, 2, 4, 3)


@dataclass(frozen=True)
class _Window:
    scale: float
    x: float
    y: float

    def matrix(self, start: float, scale: _Scale) -> np.ndarray:
        return _area_matrix(round(start, 4), round(self.scale, 4), scale.source, scale.out)


@cache
def _coarse_windows() -> list[_Window]:
    windows = [_Window(1.0, 0.0, 0.0)]
    for scale in np.linspace(1.0, MIN_SCALE, 5)[1:]:
        steps = np.linspace(0.0, 1.0 - scale, 5)
        windows += [_Window(float(scale), float(x), float(y)) for y in steps for x in steps]
    return windows


def _windows_near(
    centre: _Window, step: float, scale_step: float, steps: int, scale_steps: int
) -> list[_Window]:
    """Windows around `centre`, `steps` (of offset) and `scale_steps` either way, inside
    the photo."""
    found = []
    offsets = np.arange(-steps, steps + 1) * step
    for scale in centre.scale + np.arange(-scale_steps, scale_steps + 1) * scale_step:
        if not MIN_SCALE - 0.02 <= scale <= 1.0:
            continue
        for dy in offsets:
            for dx in offsets:
                x = float(np.clip(centre.x + dx, 0.0, 1.0 - scale))
                y = float(np.clip(centre.y + dy, 0.0, 1.0 - scale))
                found.append(_Window(float(scale), x, y))
    return found


@cache
def _area_matrix(start: float, scale: float, source: int, cells: int) -> np.ndarray:
    """(cells, source): row i averages the stored cells of [start + i * scale / cells,
    ... + 1) of the unit side, each weighted by how much of it lies inside."""
    edges = np.arange(source + 1) / source
    out = np.arange(cells + 1) / cells
    low = start + scale * out[:-1]
    high = start + scale * out[1:]
    overlap = np.clip(
        np.minimum(high[:, None], edges[None, 1:]) - np.maximum(low[:, None], edges[None, :-1]),
        0.0,
        None,
    )
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


@cache
def _dct_basis(n: int) -> np.ndarray:
    x, u = np.meshgrid(np.arange(n), np.arange(n))
    return np.cos(np.pi * (2 * x + 1) * u / (2 * n))


_POPCOUNT = np.array([bin(byte).count("1") for byte in range(256)], dtype=np.uint8)


def bit_counts(words: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (numpy's bitwise_count needs numpy 2)."""
    as_bytes = np.ascontiguousarray(words, dtype=np.uint64).view(np.uint8)
    return _POPCOUNT[as_bytes].reshape(*np.shape(words), 8).sum(axis=-1)
