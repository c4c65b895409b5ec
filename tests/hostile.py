"""A generator of hostile photo libraries: the files a real disk holds besides good photos.

`make_library(folder)` writes, below `folder`, good photos in every odd mode Pillow can
make (CMYK, 16 bits, I;16, float, palette with alpha, LA, 1-bit, animated GIF and WebP),
photos with damaged or absurd EXIF, photos with odd names (not UTF-8, a newline, 250
bytes), and files that must never become a vector: truncations at many offsets, damaged
headers, byte flips, extreme dimensions and aspect ratios, files too large to read, and
special files (a FIFO, a device, a link loop, a dangling link, a folder named x.jpg, an empty
file, an unreadable file when not running as root).

Each written path comes back as a `Hostile` saying what it is and what indexing must make
of it: `GOOD` (indexed), `BAD` (a failure with a reason) or `EITHER` (a damaged file that
a decoder may still read: indexed, or failed with a reason, but never lost or fatal).
Deterministic for a seed; `truncations` and `flips` scale the damaged part (a CI test keeps
them small, tests/benchmarks/bench_hostile.py makes thousands).
"""

from __future__ import annotations

import io
import os
import random
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image

GOOD, BAD, EITHER = "good", "bad", "either"


@dataclass(frozen=True)
class Hostile:
    path: Path
    kind: str
    expect: str


def make_library(
    folder: Path, *, seed: int = 0, truncations: int = 12, flips: int = 8
) -> list[Hostile]:
    """Write the hostile library below `folder`; returns every file a scan must offer."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    made: list[Hostile] = []
    for name, expect, data in _files(rng, truncations, flips):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        made.append(Hostile(path, name.split("/")[0], expect))
    made += _odd_names(folder, rng)
    made += _special_files(folder)
    return made


# -- contents ------------------------------------------------------------------------------


def picture(rng: random.Random, size: tuple[int, int] = (96, 64)) -> Image.Image:
    """A photo-like RGB image: gradients and blocks, different for every draw."""
    width, height = size
    x, y = np.meshgrid(np.linspace(0, 1, width), np.linspace(0, 1, height))
    a, b, c = (rng.uniform(0.2, 1.0) for _ in range(3))
    block = ((np.arange(width)[None, :] // 8 + np.arange(height)[:, None] // 8) % 2) * 40
    rgb = np.dstack([255 * a * x + block, 255 * b * y, 255 * c * (1 - x) * y + block])
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))


def encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def _files(rng: random.Random, truncations: int, flips: int) -> Iterator[tuple[str, str, bytes]]:
    yield from _good_modes(rng)
    yield from _odd_exif(rng)
    yield from _extreme_sizes(rng)
    yield from _damaged(rng, truncations, flips)


def _good_modes(rng: random.Random) -> Iterator[tuple[str, str, bytes]]:
    rgb = picture(rng)
    gray16 = (np.asarray(rgb.convert("L"), np.uint16) * 257).astype(np.uint16)
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    frames = [picture(rng) for _ in range(3)]
    yield "modes/rgb.jpg", GOOD, encode(rgb, "JPEG", quality=90)
    yield "modes/progressive.jpg", GOOD, encode(rgb, "JPEG", progressive=True)
    yield "modes/cmyk.jpg", GOOD, encode(rgb.convert("CMYK"), "JPEG")
    yield "modes/gray.jpg", GOOD, encode(rgb.convert("L"), "JPEG")
    yield "modes/rgb.png", GOOD, encode(picture(rng), "PNG")
    yield "modes/rgba.png", GOOD, encode(picture(rng).convert("RGBA"), "PNG")
    yield "modes/la.png", GOOD, encode(picture(rng).convert("LA"), "PNG")
    yield "modes/1bit.png", GOOD, encode(picture(rng).convert("1"), "PNG")
    yield "modes/i16.png", GOOD, encode(Image.fromarray(gray16), "PNG")
    yield "modes/i16.tif", GOOD, encode(Image.fromarray(gray16), "TIFF")
    yield "modes/float.tif", GOOD, encode(Image.fromarray(gray16 / 65535.0, "F"), "TIFF")
    yield "modes/palette.gif", GOOD, encode(palette, "GIF")
    yield "modes/palette-alpha.png", GOOD, encode(palette, "PNG", transparency=0)
    yield (
        "modes/animated.gif",
        GOOD,
        encode(frames[0], "GIF", save_all=True, append_images=frames[1:]),
    )
    yield (
        "modes/animated.webp",
        GOOD,
        encode(frames[0], "WEBP", save_all=True, append_images=frames[1:]),
    )
    yield "modes/lossless.webp", GOOD, encode(picture(rng), "WEBP", lossless=True)
    yield "modes/rgb.bmp", GOOD, encode(picture(rng), "BMP")
    yield "modes/cmyk.tif", GOOD, encode(picture(rng).convert("CMYK"), "TIFF")
    yield "modes/UPPER.JPEG", GOOD, encode(picture(rng), "JPEG")


def _odd_exif(rng: random.Random) -> Iterator[tuple[str, str, bytes]]:
    for n, (taken, offset) in enumerate(
        [
            ("0001:01:01 00:00:00", ""),
            ("9999:12:31 23:59:59", "-12:00"),
            ("0000:00:00 00:00:00", ""),
            ("2024:02:30 25:61:61", "+14:00"),
            ("    :  :     :  :  ", "junk"),
        ]
    ):
        exif = Image.Exif()
        details = exif.get_ifd(ExifTags.IFD.Exif)
        details[ExifTags.Base.DateTimeOriginal] = taken
        if offset:
            details[ExifTags.Base.OffsetTimeOriginal] = offset
        yield f"exif/date-{n}.jpg", GOOD, encode(picture(rng), "JPEG", exif=exif)
    for orientation in (0, 6, 9, 65535):
        exif = Image.Exif()
        exif[ExifTags.Base.Orientation] = orientation
        yield f"exif/orientation-{orientation}.jpg", GOOD, encode(picture(rng), "JPEG", exif=exif)
    body = encode(picture(rng), "JPEG")
    for n, junk in enumerate(
        [
            b"Exif\x00\x00" + bytes(rng.randrange(256) for _ in range(60)),
            b"Exif\x00\x00MM\x00*\x00\x00\xff\xff\xff\xff",
        ]
    ):
        yield f"exif/damaged-{n}.jpg", EITHER, _with_app1(body, junk)


def _with_app1(jpeg: bytes, payload: bytes) -> bytes:
    """A JPEG with an APP1 (EXIF) segment holding `payload` right after its SOI."""
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def _extreme_sizes(rng: random.Random) -> Iterator[tuple[str, str, bytes]]:
    yield "sizes/1x1.png", GOOD, encode(picture(rng, (1, 1)), "PNG")
    yield "sizes/panorama-25to1.jpg", GOOD, encode(picture(rng, (1000, 40)), "JPEG")
    yield "sizes/tall-1to40.png", GOOD, encode(picture(rng, (8, 320)), "PNG")
    yield "sizes/strip-1x100000.png", BAD, encode(Image.new("L", (1, 100_000), 90), "PNG")
    yield "sizes/strip-100000x2.png", BAD, encode(Image.new("RGB", (100_000, 2)), "PNG")
    yield "sizes/declared-huge.png", BAD, _png_header_only(200_000, 200_000)
    yield "sizes/declared-zero.png", BAD, _png_header_only(0, 0)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares a size its (absent) pixels never had."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    idat_body = zlib.compress(b"\x00" * 16)
    idat = struct.pack(">I", len(idat_body)) + b"IDAT" + idat_body
    idat += struct.pack(">I", zlib.crc32(b"IDAT" + idat_body))
    return b"\x89PNG\r\n\x1a\n" + ihdr + idat


def _damaged(rng: random.Random, truncations: int, flips: int) -> Iterator[tuple[str, str, bytes]]:
    sources = {
        "jpg": encode(picture(rng, (160, 120)), "JPEG", quality=90),
        "png": encode(picture(rng, (160, 120)), "PNG"),
        "webp": encode(picture(rng, (160, 120)), "WEBP"),
        "gif": encode(picture(rng, (160, 120)).convert("P"), "GIF"),
        "tif": encode(picture(rng, (160, 120)), "TIFF"),
    }
    for ext, data in sources.items():
        for cut in _offsets(rng, len(data), truncations):
            yield f"truncated/{ext}-{cut}.{ext}", BAD if cut < 16 else EITHER, data[:cut]
        for n in range(flips):
            yield f"flipped/{ext}-{n}.{ext}", EITHER, _flip(rng, data, n)
        header = bytearray(data)
        header[:4] = b"\x00\x00\x00\x00"  # the signature gone: no decoder claims it
        yield f"headers/{ext}-no-signature.{ext}", BAD, bytes(header)
    yield "headers/text.jpg", BAD, b"this is a text file, not a photo\n" * 4
    yield "headers/zeros.png", BAD, bytes(4096)
    yield "headers/jpeg-soi-only.jpg", BAD, b"\xff\xd8\xff"


def _offsets(rng: random.Random, size: int, count: int) -> list[int]:
    """Cuts at the very start, in the headers and anywhere later (never the whole file)."""
    fixed = [1, 2, 3, 8, 16, 33, size // 2, size - 1]
    drawn = {rng.randrange(1, size) for _ in range(max(0, count - len(fixed)))}
    return sorted(set(fixed[:count]) | drawn)


def _flip(rng: random.Random, data: bytes, n: int) -> bytes:
    """Damage a copy: a few random bytes in the header (first 64) or anywhere."""
    damaged = bytearray(data)
    span = 64 if n % 2 == 0 else len(data)
    for _ in range(1 + n % 4):
        damaged[rng.randrange(min(span, len(data)))] = rng.randrange(256)
    return bytes(damaged)


# -- names and special files -------------------------------------------------------------


def _odd_names(folder: Path, rng: random.Random) -> list[Hostile]:
    names = folder / "names"
    names.mkdir(exist_ok=True)
    made = []
    odd = [
        b"not-utf8-\xff\xfe.jpg",
        b"latin1-caf\xe9.jpg",
        b"new\nline.jpg",
        b"tab\tand space .jpg",
        "unicode-\u00e9\u0301-\U0001f4f7.jpg".encode(),
        b"x" * 246 + b".jpg",  # 250 bytes: near the 255-byte limit of most file systems
    ]
    for raw in odd:
        path = Path(os.fsdecode(os.fsencode(names) + b"/" + raw))
        path.write_bytes(encode(picture(rng), "JPEG"))
        made.append(Hostile(path, "names", GOOD))
    inside = Path(os.fsdecode(os.fsencode(names) + b"/folder-\xff"))
    inside.mkdir()
    (inside / "in-odd-folder.png").write_bytes(encode(picture(rng), "PNG"))
    made.append(Hostile(inside / "in-odd-folder.png", "names", GOOD))
    return made


def _special_files(folder: Path) -> list[Hostile]:
    special = folder / "special"
    special.mkdir(exist_ok=True)
    made = []
    for name, make in _SPECIAL.items():
        try:
            made += [Hostile(path, "special", expect) for path, expect in make(special / name)]
        except OSError:  # not on this system (a FIFO on Windows, ...)
            continue
    return made


Made = list[tuple[Path, str]]


def _fifo(path: Path) -> Made:
    os.mkfifo(path)  # opening it would block until a writer comes: forever
    return [(path, BAD)]


def _device(path: Path) -> Made:
    if not os.path.exists("/dev/zero"):
        return []
    path.symlink_to("/dev/zero")  # endless bytes
    return [(path, BAD)]


def _too_large(path: Path) -> Made:
    with path.open("wb") as file:
        file.write(b"\xff\xd8\xff\xe0")
        file.truncate(600 << 20)  # sparse: 600 MB that take no disk
    return [(path, BAD)]


def _unreadable(path: Path) -> Made:
    path.write_bytes(b"\xff\xd8\xff\xe0 secret")
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: nothing to test
        path.unlink()
        return []
    return [(path, BAD)]


def _folder_named_like_a_photo(path: Path) -> Made:
    path.mkdir()  # a folder is walked, not recorded: its photo is the one to index
    Image.new("RGB", (40, 30), (5, 120, 200)).save(path / "inside.jpg")
    return [(path / "inside.jpg", GOOD)]


def _simple(make: Callable[[Path], object], expect: str) -> Callable[[Path], Made]:
    def made(path: Path) -> Made:
        make(path)
        return [(path, expect)]

    return made


_SPECIAL: dict[str, Callable[[Path], Made]] = {
    "fifo.jpg": _fifo,
    "zero.jpg": _device,
    "sparse-600mb.jpg": _too_large,
    "empty.jpg": _simple(lambda p: p.write_bytes(b""), BAD),
    "loop.jpg": _simple(lambda p: p.symlink_to(p), BAD),
    "dangling.jpg": _simple(lambda p: p.symlink_to(p.with_name("missing.jpg")), BAD),
    "unreadable.jpg": _unreadable,
    "album.jpg": _folder_named_like_a_photo,
    # Links to the folder above the library (where PhotoClip's data may be), to the
    # library itself and to the folder holding the link: each photo is found once, by its
    # own path, and nothing outside the library comes in.
    "up": lambda p: (p.symlink_to(p.parents[2]), [])[1],
    "top": lambda p: (p.symlink_to(p.parents[1]), [])[1],
    "again": lambda p: (p.symlink_to(p.parent), [])[1],
}
