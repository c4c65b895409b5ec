"""Reading photos: one read and one decode per file give the indexer everything it needs.

`read_photo` reads a file's bytes once, hashes them (the content hash finds moved and copied
photos), decodes them from memory with Pillow (a JPEG straight to the smallest DCT scale
that still serves the model and the thumbnail), turns the image upright by its EXIF
orientation, converts it to RGB, and hands it to open_clip's own eval transform and to the
thumbnail cache. Anything wrong with the photo itself becomes an `ImageError` whose message
is the reason the indexer records.

On first use this module registers pillow-heif and sets `Image.MAX_IMAGE_PIXELS = None` for
the process: Pillow's own bomb check warns at 89 MP and refuses at 179 MP whatever the user
chose, so PhotoClip checks the declared size against its own limit before decoding instead.
torch is never imported here; the transform is a callable handed in.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import io
import logging
import math
import os
import re
import stat
import struct
import tempfile
import threading
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ExifTags, Image, ImageOps

from photoclip.core import dates
from photoclip.core.errors import ImageError

log = logging.getLogger(__name__)

#: File name extensions the scanner offers to `read_photo` (lower case, with the dot).
SUPPORTED_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".tif", ".tiff", ".bmp", ".gif"}
)
#: Pillow decoders we let near the user's files. Naming them keeps out plugins such as EPS,
#: which runs Ghostscript, for a file that merely ends in .jpg. (JPEG's opener also returns
#: MPO, the multi-picture JPEGs of some cameras.)
_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF", "TIFF", "BMP", "DIB", "GIF")

DEFAULT_MAX_PIXELS = 100_000_000
#: The most bytes read from one file. A photo is read whole (hashed and decoded from memory),
#: so this bounds a file's memory: 512 MB of bytes plus at most DEFAULT_MAX_PIXELS decoded
#: (300 MB as RGB) stays under ~1.5 GB above the model with every copy the decoder makes.
#: The largest real photos (uncompressed 16-bit scans of 80 MP) are just under it.
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
#: The longest side may be at most this many times the shortest. The model's transform
#: scales the short side up to its input size, so a 1x100000 strip would become 224x22.4M
#: (15 GB as floats); at 50:1 the worst case is 50 x 224 x 224 x 3 floats = 30 MB. Real
#: panoramas (a 360 degree sweep is 2:1 to 12:1) stay well inside it; a stripe beyond it
#: has nothing a photo search could find, so it is refused with that reason, not padded.
MAX_ASPECT_RATIO = 50
THUMBNAIL_SIZE = 256
THUMBNAIL_QUALITY = 85

#: sha256, which the CPU's SHA extensions make the fastest sound choice here: 1600-1800 MB/s
#: against blake2b 600-950, md5 530-760 and sha1 1000-1900 (broken for collisions), measured
#: by tests/benchmarks/bench_decode.py on 2 shared cores. Hashing a whole 12 MP JPEG (3 MB)
#: takes under 2 ms: median 4% (at most 6%) of the draft decode of the same photo.
HASH_NAME = "sha256"
_CHUNK = 1 << 20

#: A JPEG decodes at 1/2, 1/4 or 1/8 scale only while its short side stays at least this many
#: times the model's input side. libjpeg's scaled IDCT aliases fine detail; open_clip's
#: antialiased resize hides that only when it still has to shrink by about 2x. Measured with
#: tests/benchmarks/bench_decode.py against the full decode + the same transform (ViT-B-32,
#: random weights, 27 real JPEGs and 12 camera-size 12 MP ones; three runs):
#:   margin 1:   cosine down to 0.9968-0.9980 (below our 0.999 floor), PSNR down to 24 dB,
#:               max diff 162/255 (a 640x449 COCO photo decoded at 1/2, then resized 1.0x);
#:   margin 1.5: cosine >= 0.99997, PSNR >= 42 dB (12 MP at 1/8);
#:   margin 2:   cosine >= 0.999995, PSNR >= 44.8 dB (real) and >= 52 dB (12 MP at 1/4).
#: At 2 a 12 MP photo still decodes and preprocesses 5-7x faster than in full (27-46 ms
#: instead of 183-219 ms). MobileCLIP2-S0's transform (bilinear, 256 px) agrees on PSNR.
DRAFT_MARGIN = 2.0

#: Modes Pillow clips (values above 255 become white) when converting to 8 bits.
_HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_SIGNATURES = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"GIF8": "GIF",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}
_EXIF_DATE = re.compile(r"(\d{4})\D(\d\d)\D(\d\d)\D(\d\d)\D(\d\d)\D(\d\d)")
_EXIF_OFFSET = re.compile(r"([+-])(\d\d):?(\d\d)")
#: What Pillow's plugins raise on damaged data; a bug of ours is none of these.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)


@dataclass(frozen=True)
class DecodedPhoto:
    """Everything the indexer keeps from one photo."""

    content_hash: str
    size_bytes: int
    #: Full size after EXIF orientation, whatever scale the pixels were decoded at.
    width: int
    height: int
    #: EXIF DateTimeOriginal as a POSIX timestamp (local time unless the EXIF gives an offset).
    taken_at: float | None
    #: What `preprocess` made of the pixels (the eval transform's CHW tensor, or an
    #: `Encoder.prepare`'s input of another kind), or None when none was given.
    tensor: Any
    thumbnail_path: Path | None


@dataclass(frozen=True)
class DecodedImage:
    """An upright RGB image; a JPEG's pixels may be reduced, its width/height are not."""

    image: Image.Image
    width: int
    height: int
    taken_at: float | None


@dataclass(frozen=True)
class ThumbnailStore:
    """JPEG thumbnails named by content hash, so a moved or copied photo reuses its own."""

    folder: Path
    size: int = THUMBNAIL_SIZE
    quality: int = THUMBNAIL_QUALITY

    def path_for(self, content_hash: str) -> Path:
        # Two levels of 256 folders keep every folder small even for a million photos.
        if not re.fullmatch(r"[0-9a-f]{8,}", content_hash):
            raise ValueError(f"not a content hash: {content_hash!r}")
        return self.folder / content_hash[:2] / content_hash[2:4] / f"{content_hash}.jpg"

    def has(self, content_hash: str) -> bool:
        # An empty file is what a crash between write and flush can leave: make it again.
        try:
            return self.path_for(content_hash).stat().st_size > 0
        except OSError:  # not there, or the folder cannot be looked in: none to reuse
            return False

    def save(self, content_hash: str, image: Image.Image) -> Path:
        """Write `image`'s thumbnail atomically. OSError (disk full, read-only) is the store's
        problem, not the photo's: it is not an ImageError, and `decode_photo` goes on
        without the thumbnail (readers then fall back to the photo itself)."""
        path = self.path_for(content_hash)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                make_thumbnail(image, self.size).save(file, "JPEG", quality=self.quality)
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        return path


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_EXTENSIONS


def read_photo(
    path: Path,
    target: tuple[int, int] | int | None,
    preprocess: Callable[[Image.Image], Any] | None = None,
    thumbnails: ThumbnailStore | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> DecodedPhoto:
    """Hash, decode, preprocess and thumbnail one photo; ImageError says why it cannot be read.

    `target` is the model's input size, (height, width) as in `Encoder.input_size`, which
    `preprocess` (open_clip's eval transform) produces; it bounds how far a JPEG may shrink.
    With neither a transform nor a thumbnail to make, a JPEG decodes at 1/8 scale: its data
    is still checked to the end.
    """
    return decode_photo(read_file(path), target, preprocess, thumbnails, max_pixels)


def decode_photo(
    data: bytes,
    target: tuple[int, int] | int | None,
    preprocess: Callable[[Image.Image], Any] | None = None,
    thumbnails: ThumbnailStore | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    digest: str | None = None,
) -> DecodedPhoto:
    """`read_photo` for bytes already in memory (and perhaps already hashed as `digest`)."""
    if preprocess is not None and target is None:
        raise ValueError("a preprocess transform needs its target size")
    digest = digest or hash_bytes(data)
    new_thumbnail = thumbnails is not None and not thumbnails.has(digest)
    decoded = decode_image(data, _reduce_to(target, preprocess, thumbnails), max_pixels)
    return DecodedPhoto(
        content_hash=digest,
        size_bytes=len(data),
        width=decoded.width,
        height=decoded.height,
        taken_at=decoded.taken_at,
        tensor=preprocess(decoded.image) if preprocess is not None else None,
        thumbnail_path=_thumbnail(thumbnails, digest, decoded.image, new_thumbnail),
    )


def _reduce_to(
    target: tuple[int, int] | int | None,
    preprocess: Callable[[Image.Image], Any] | None,
    thumbnails: ThumbnailStore | None,
) -> tuple[int, int]:
    """How far a photo may shrink while decoding. It depends on the model and the store's
    size only, never on whether the thumbnail is cached yet: the same bytes must give the
    model the same pixels on every path (indexing, re-indexing, a query image), or their
    vectors differ (cosine 0.997 between a 1/4 and a 1/8 draft of one JPEG)."""
    min_short = model_min_short(target) if preprocess is not None and target is not None else 0
    return min_short, max(THUMBNAIL_SIZE, thumbnails.size if thumbnails is not None else 0)


def _thumbnail(
    store: ThumbnailStore | None, digest: str, image: Image.Image, new: bool
) -> Path | None:
    if store is None:
        return None
    if not new:
        return store.path_for(digest)
    try:
        return store.save(digest, image)
    except OSError as error:  # the cache's problem (full, read-only), never the photo's
        _warn_once(store.folder, error)
        return None


_warned_folders: set[Path] = set()


def _warn_once(folder: Path, error: OSError) -> None:
    """One warning per folder, not one per photo of a library."""
    if folder not in _warned_folders:
        _warned_folders.add(folder)
        log.warning("thumbnails are not saved in %s: %s", folder, error.strerror or error)


def read_file(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """All of a file's bytes, read once: they are hashed and decoded from memory. Only a
    regular file of at most `max_bytes` is read; anything else is an ImageError."""
    with open_regular(path, max_bytes) as file:
        try:
            data = file.read(max_bytes + 1)
        except OSError as error:
            raise ImageError(_os_reason(error)) from error
    if len(data) > max_bytes:  # it grew after the size check
        raise ImageError(_too_large(len(data), max_bytes))
    if not data:
        raise ImageError("empty file (0 bytes)")
    return data


def open_regular(path: Path, max_bytes: int | None = None) -> io.BufferedReader:
    """The one gate before PhotoClip opens a user's file: only a regular file (or a link to
    one) of at most `max_bytes` is opened. FIFOs, devices, sockets and folders are refused
    from `stat` alone, so a FIFO can never block the open and /dev/zero is never read; the
    open itself is non-blocking and the opened file is checked again (it may have been
    swapped in between)."""
    check_regular(_stat(path, os.stat), max_bytes, path)
    try:
        handle = os.open(path, os.O_RDONLY | _O_NONBLOCK | _O_BINARY)
    except OSError as error:
        raise ImageError(_os_reason(error)) from error
    try:
        check_regular(os.fstat(handle), max_bytes, path)
    except BaseException:
        os.close(handle)
        raise
    return os.fdopen(handle, "rb")


_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # POSIX: an open of a FIFO returns at once
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation


def check_regular(info: os.stat_result, max_bytes: int | None, path: Path | None = None) -> None:
    """ImageError unless `info` is a regular file of at most `max_bytes`."""
    kind = _special_kind(info.st_mode)
    if kind is not None:
        raise ImageError(f"{kind}, not a photo file; skipped without opening it")
    if max_bytes is not None and info.st_size > max_bytes:
        raise ImageError(_too_large(info.st_size, max_bytes))


def file_problem(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> str | None:
    """Why `path` cannot be read as a photo, from `stat` alone (None: it may be read)."""
    try:
        check_regular(_stat(path, os.stat), max_bytes, path)
    except ImageError as error:
        return str(error)
    return None


def _stat(path: Path, how: Callable[[Path], os.stat_result]) -> os.stat_result:
    try:
        return how(path)
    except OSError as error:
        raise ImageError(_stat_reason(path, error)) from error


def _special_kind(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _stat_reason(path: Path, error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "a symbolic link loop (the link points back to itself)"
    if isinstance(error, FileNotFoundError) and os.path.islink(path):
        return "a broken symbolic link (its target does not exist)"
    return _os_reason(error)


def _too_large(size: int, limit: int) -> str:
    return (
        f"file too large ({_bytes_text(size)}), the limit is {_bytes_text(limit)}; "
        "a photo this large is more likely a damaged or non-photo file"
    )


def _bytes_text(size: int) -> str:
    if size >= 1 << 30:
        return f"{size / (1 << 30):.1f} GB"
    return f"{size / (1 << 20):.0f} MB" if size >= 1 << 20 else f"{size} bytes"


def hash_bytes(data: bytes) -> str:
    return hashlib.new(HASH_NAME, data).hexdigest()


def content_hash(path: Path) -> str:
    """The hash `read_photo` gives the same file, streamed without decoding (move detection)."""
    digest = hashlib.new(HASH_NAME)
    try:
        with open_regular(path) as file:
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
    except OSError as error:
        raise ImageError(_os_reason(error)) from error
    return digest.hexdigest()


def model_min_short(target: tuple[int, int] | int) -> int:
    """The short side a decoded photo must keep for the model's eval transform.

    The transform scales the short side to the input size and center-crops; requiring the
    larger input side on the short side is also enough for the 'longest' and 'squash' modes.
    """
    height, width = (target, target) if isinstance(target, int) else target
    return math.ceil(max(height, width) * DRAFT_MARGIN)


def decode_image(
    data: bytes,
    reduce_to: tuple[int, int] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> DecodedImage:
    """Decode to upright RGB. With `reduce_to` = (short, long), the image shrinks as far as
    its short and long sides stay at least that large: a JPEG by a draft (1/2, 1/4, 1/8
    scale), then any photo by an integer box reduction; None decodes in full."""
    image = open_image(data, max_pixels)
    full_size = image.size
    if reduce_to is not None:
        draft(image, *reduce_to)
    with DECODING.hold(_decoding_cost(image.size)):
        try:
            image.load()
        except _DECODE_ERRORS as error:
            raise ImageError(_decode_reason(error)) from error
        exif = _exif(image)
        orientation = exif.get(ExifTags.Base.Orientation, 1)
        rgb = to_rgb(_upright(image, orientation))
        if reduce_to is not None:
            rgb = box_reduce(rgb, *reduce_to)
    width, height = full_size[::-1] if orientation in (5, 6, 7, 8) else full_size
    return DecodedImage(rgb, width, height, exif_taken_at(exif))


class MemoryBudget:
    """Bytes that the decoding threads may hold in full-size pixels at once.

    Photos decode in parallel, but two of the largest the limits admit (100 MP: 400 MB
    each as Pillow holds RGB, twice that while converted) would together cost ~1.6 GB.
    A decode that needs more than is free waits; one that needs more than the whole
    budget runs alone. Camera JPEGs decode at a draft scale and cost a few MB."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._free = capacity
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def hold(self, amount: int) -> Iterator[None]:
        amount = min(amount, self.capacity)
        with self._changed:
            self._changed.wait_for(lambda: self._free >= amount)
            self._free -= amount
        try:
            yield
        finally:
            with self._changed:
                self._free += amount
                self._changed.notify_all()


#: 512 MB: a few large PNGs or HEICs at once, one photo at the pixel limit alone.
DECODING = MemoryBudget(512 * 1024 * 1024)


def _decoding_cost(size: tuple[int, int]) -> int:
    # Pillow keeps 4 bytes a pixel for RGB (and for I and F); conversion holds a second copy.
    return size[0] * size[1] * 4 * 2


def box_reduce(image: Image.Image, min_short: int, min_long: int) -> Image.Image:
    """Shrink by the largest integer factor that keeps both sides at least this large.

    What a draft does for a JPEG, for every other format (PNG, HEIC, ...): the batches in
    flight then hold ~1 MB a photo, not 36 MB for 12 MP. The short side keeps DRAFT_MARGIN
    times the model's input side, as drafts do (cosine >= 0.99999 to the full decode)."""
    short, long = sorted(image.size)
    factor = min(short // max(min_short, 1), long // max(min_long, 1))
    return image.reduce(factor) if factor >= 2 else image


def open_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Identify the image and check its declared size; no pixel is decoded yet."""
    _configure_pillow()
    try:
        image = Image.open(io.BytesIO(data), formats=_FORMATS)
    except Image.UnidentifiedImageError as error:
        raise ImageError(_unidentified_reason(data)) from error
    except _DECODE_ERRORS as error:
        raise ImageError(_decode_reason(error)) from error
    check_pixels(image.size, max_pixels)
    return image


@functools.cache
def _configure_pillow() -> None:
    # Lazily, once: pillow-heif's import is not free. Two threads racing here both register,
    # which is harmless.
    import pillow_heif

    pillow_heif.register_heif_opener()
    Image.MAX_IMAGE_PIXELS = None  # check_pixels enforces the user's limit instead
    # "Corrupt EXIF data", "Tag data larger than file": Pillow warns and reads on. A photo
    # that decodes is indexed, one that does not gets a reason; the warnings are noise.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")


def check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    """ImageError if the declared size is too large or too far from a photo's shape."""
    width, height = size
    if width * height > max_pixels:
        raise ImageError(
            f"image too large ({width}x{height} = {_megapixels(width * height)} MP > "
            f"{_megapixels(max_pixels)} MP limit); raise the limit in Settings"
        )
    short, long = sorted(size)
    if long > MAX_ASPECT_RATIO * max(short, 1):
        raise ImageError(
            f"image too narrow ({width}x{height}: its long side is more than "
            f"{MAX_ASPECT_RATIO} times its short side), not a photo PhotoClip can search"
        )


def _megapixels(pixels: int) -> str:
    return f"{round(pixels / 1e6, 1):g}"


def draft(image: Image.Image, min_short: int, min_long: int) -> None:
    """Ask libjpeg to decode at 1/2, 1/4 or 1/8 scale if both sides stay large enough.

    Scaled IDCT skips most of the decoding work. Pillow picks the largest scale keeping each
    requested side, so the request is laid out along the photo's own long side. Other formats
    ignore drafts.
    """
    width, height = image.size
    short, long = max(min_short, 1), max(min_long, 1)
    image.draft("RGB", (long, short) if width >= height else (short, long))


def _exif(image: Image.Image) -> Image.Exif:
    # A damaged EXIF block must not cost the photo its pixels: ignore it instead.
    try:
        return image.getexif()
    except _DECODE_ERRORS:
        return Image.Exif()


def _upright(image: Image.Image, orientation: object) -> Image.Image:
    if orientation in (2, 3, 4, 5, 6, 7, 8):
        try:
            ImageOps.exif_transpose(image, in_place=True)
        except _DECODE_ERRORS as error:
            raise ImageError(_decode_reason(error)) from error
    return image


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB for the model and the thumbnail: transparency over white, 16 bits scaled to 8."""
    if image.mode == "RGB":
        return image
    if image.mode in _HIGH_DEPTH_MODES:
        image = _to_8_bits(image)
    try:
        if image.mode in _ALPHA_MODES or "transparency" in image.info:
            return _over_white(image.convert("RGBA"))
        return image.convert("RGB")
    except ValueError as error:
        raise ImageError(f"unsupported color mode {image.mode}") from error


def _to_8_bits(image: Image.Image) -> Image.Image:
    """Float images are 0..1 by convention (NaN as black); integer ones are taken as 16-bit.

    One working copy, changed in place: a 100 MP 32-bit image is 400 MB, and each
    temporary of a chained expression would cost as much again."""
    values = np.array(image)  # a writable copy, in the image's own type
    if values.dtype.kind == "f":
        np.nan_to_num(values, copy=False)
        np.multiply(values, 255.0, out=values)
        np.add(values, 0.5, out=values)
        np.clip(values, 0, 255, out=values)
    elif values.dtype != np.uint16:
        np.clip(values, 0, 65535, out=values)
    if values.dtype.kind != "f":
        np.right_shift(values, 8, out=values)
    return Image.fromarray(values.astype(np.uint8))


def _over_white(rgba: Image.Image) -> Image.Image:
    # Most transparent photos are logos and screenshots drawn for a light page.
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def exif_taken_at(exif: Image.Exif) -> float | None:
    try:
        details = exif.get_ifd(ExifTags.IFD.Exif)
    except _DECODE_ERRORS:
        return None
    taken = details.get(ExifTags.Base.DateTimeOriginal)
    return parse_exif_datetime(taken, details.get(ExifTags.Base.OffsetTimeOriginal))


def parse_exif_datetime(text: object, offset: object = None) -> float | None:
    """'2024:05:01 14:30:00' as a POSIX timestamp: at `offset` ('+02:00') if given, else local."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    match = _EXIF_DATE.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        moment = datetime(year, month, day, hour, minute, second)
        zone = _parse_offset(offset)
        stamp = (moment.replace(tzinfo=zone) if zone else moment).timestamp()
    except (ValueError, OverflowError, OSError):  # "0000:00:00 00:00:00", year 0 in UTC
        return None
    # Placeholders such as 0001:01:01 and 9999:12:31 are no dates; beyond this range a
    # date could not even be shown in every time zone (year 0 or 10000).
    return dates.usable(stamp)


def _parse_offset(offset: object) -> timezone | None:
    match = _EXIF_OFFSET.fullmatch(offset.strip()) if isinstance(offset, str) else None
    if match is None:
        return None
    sign = -1 if match[1] == "-" else 1
    hours, minutes = int(match[2]), int(match[3])
    if hours > 23 or minutes > 59:  # timezone() would refuse it: a damaged offset
        return None
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def make_thumbnail(image: Image.Image, size: int = THUMBNAIL_SIZE) -> Image.Image:
    """`size` pixels on the long side, never enlarged."""
    width, height = image.size
    scale = size / max(width, height)
    if scale >= 1:
        return image
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # reducing_gap: a cheap integer box reduction first, Lanczos only for the last 3x.
    return image.resize(new_size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _os_reason(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "file not found (moved or deleted?)"
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, IsADirectoryError):
        return "a folder, not a file"
    return f"cannot read the file: {error.strerror or error}"


def _decode_reason(error: BaseException) -> str:
    text = str(error)
    if "truncated" in text.lower() or "end of file" in text.lower():
        return "file is truncated (an incomplete copy or download?)"
    return f"corrupt image data ({text or type(error).__name__})"


def _unidentified_reason(data: bytes) -> str:
    # Pillow cannot tell a PNG cut before its pixels from a text file; the signature can.
    for signature, name in _SIGNATURES.items():
        if data.startswith(signature):
            return f"damaged {name} file (truncated or corrupt)"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "damaged WEBP file (truncated or corrupt)"
    return "not an image, or a format PhotoClip cannot read"
