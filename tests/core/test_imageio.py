"""Tests for photoclip.core.imageio; every image is generated here, in tmp_path."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageFile

from photoclip.core import imageio
from photoclip.core.errors import ImageError
from photoclip.core.imageio import ThumbnailStore, decode_image, read_photo

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


@pytest.fixture(scope="module")
def transform() -> Callable[[Image.Image], Any]:
    """open_clip's real eval transform (shortest side to 32, center crop, normalise)."""
    import open_clip

    return open_clip.image_transform(32, is_train=False)


def save(image: Image.Image, path: Path, **kwargs: Any) -> Path:
    image.save(path, **kwargs)
    return path


def encode(image: Image.Image, fmt: str = "JPEG", **kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def halves(size: tuple[int, int], left: tuple[int, int, int], right: tuple[int, int, int]):
    image = Image.new("RGB", size, right)
    image.paste(left, (0, 0, size[0] // 2, size[1]))
    return image


def textured(size: tuple[int, int]) -> Image.Image:
    """Gradients plus a 40 px checkerboard: real JPEG work and a clear picture to compare."""
    width, height = size
    x, y = np.meshgrid(np.linspace(0, 1, width), np.linspace(0, 1, height))
    grid = ((np.arange(width)[None, :] // 40 + np.arange(height)[:, None] // 40) % 2) * 60
    channels = [200 * x + grid, 200 * y + grid, 100 * (x + y) + grid / 2]
    return Image.fromarray(np.clip(np.dstack(channels), 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    """1600x1200: large enough for every draft scale."""
    return encode(textured((1600, 1200)), quality=90)


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    return tuple(image.getpixel(xy))  # type: ignore[arg-type]


def near(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 30) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def exif_with(orientation: int | None = None, taken: str | None = None, offset: str = ""):
    exif = Image.Exif()
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    details = exif.get_ifd(ExifTags.IFD.Exif)
    if taken:
        details[ExifTags.Base.DateTimeOriginal] = taken
    if offset:
        details[ExifTags.Base.OffsetTimeOriginal] = offset
    return exif


# -- orientation and metadata ------------------------------------------------------------------


@pytest.mark.parametrize(("orientation", "red_at"), [(6, "top"), (8, "bottom")])
def test_exif_orientation_turns_the_photo_upright(tmp_path: Path, orientation: int, red_at: str):
    # Stored 80x40 with a red left half; 6 turns it clockwise (left -> top), 8 the other way.
    stored = halves((80, 40), RED, BLUE)
    path = save(stored, tmp_path / "turned.jpg", exif=exif_with(orientation), quality=95)

    photo = read_photo(path, target=None)
    image = decode_image(path.read_bytes()).image

    assert (photo.width, photo.height) == (40, 80)
    assert image.size == (40, 80)
    top, bottom = pixel(image, (20, 10)), pixel(image, (20, 70))
    assert near(top, RED if red_at == "top" else BLUE)
    assert near(bottom, BLUE if red_at == "top" else RED)


def test_photo_without_orientation_keeps_its_layout(tmp_path: Path):
    path = save(halves((80, 40), RED, BLUE), tmp_path / "plain.jpg", quality=95)

    image = decode_image(path.read_bytes()).image

    assert image.size == (80, 40)
    assert near(pixel(image, (10, 20)), RED)
    assert near(pixel(image, (70, 20)), BLUE)


@pytest.fixture
def kathmandu_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[timezone]:
    """Local time at UTC+05:45 (a POSIX TZ rule, no tz database needed): unlike UTC, a
    timestamp read as UTC or any whole-hour zone would not match."""
    monkeypatch.setenv("TZ", "NPT-05:45")
    time.tzset()
    yield timezone(timedelta(hours=5, minutes=45))
    monkeypatch.undo()
    time.tzset()


def test_exif_date_taken_is_local_time(tmp_path: Path, kathmandu_time: timezone):
    exif = exif_with(taken="2021:07:04 15:30:00")
    path = save(Image.new("RGB", (16, 16)), tmp_path / "dated.jpg", exif=exif)

    expected = datetime(2021, 7, 4, 15, 30, tzinfo=kathmandu_time).timestamp()
    assert read_photo(path, target=None).taken_at == expected


def test_exif_date_taken_uses_its_offset_when_given(tmp_path: Path, kathmandu_time: timezone):
    exif = exif_with(taken="2021:07:04 15:30:00", offset="+02:00")
    path = save(Image.new("RGB", (16, 16)), tmp_path / "dated.jpg", exif=exif)

    expected = datetime(2021, 7, 4, 13, 30, tzinfo=timezone.utc).timestamp()
    assert read_photo(path, target=None).taken_at == expected


@pytest.mark.parametrize("exif", [None, exif_with(taken="0000:00:00 00:00:00")])
def test_photo_without_a_usable_date_has_none(tmp_path: Path, exif: Image.Exif | None):
    kwargs = {"exif": exif} if exif is not None else {}
    path = save(Image.new("RGB", (16, 16)), tmp_path / "undated.jpg", **kwargs)

    assert read_photo(path, target=None).taken_at is None


@pytest.mark.parametrize(
    ("text", "offset", "expected"),
    [
        (b"2020:01:02 03:04:05\x00", None, datetime(2020, 1, 2, 3, 4, 5).timestamp()),
        ("2020-01-02 03:04:05", "-05:30", datetime(2020, 1, 2, 8, 34, 5, tzinfo=timezone.utc)),
        ("    :  :     :  :  ", None, None),
        ("2020:13:45 99:00:00", None, None),
        (12345, None, None),
    ],
)
def test_parse_exif_datetime(text: object, offset: object, expected: object):
    if isinstance(expected, datetime):
        expected = expected.timestamp()
    assert imageio.parse_exif_datetime(text, offset) == expected


# -- colour modes --------------------------------------------------------------------------


def test_png_alpha_is_composited_over_white(tmp_path: Path):
    image = Image.new("RGBA", (20, 10), (255, 0, 0, 255))
    image.paste((0, 0, 255, 0), (10, 0, 20, 10))  # right half fully transparent
    path = save(image, tmp_path / "alpha.png")

    decoded = decode_image(path.read_bytes()).image

    assert decoded.mode == "RGB"
    assert pixel(decoded, (2, 5)) == RED
    assert pixel(decoded, (15, 5)) == WHITE


def test_palette_gif_with_transparency(tmp_path: Path):
    image = Image.new("P", (20, 10), 1)
    image.putpalette([0, 0, 0, 0, 200, 0] + [0] * (254 * 3))
    image.paste(0, (10, 0, 20, 10))
    path = save(image, tmp_path / "palette.gif", transparency=0)

    decoded = decode_image(path.read_bytes()).image

    assert decoded.mode == "RGB"
    assert pixel(decoded, (2, 5)) == (0, 200, 0)
    assert pixel(decoded, (15, 5)) == WHITE


def test_grayscale_becomes_three_equal_channels(tmp_path: Path):
    path = save(Image.new("L", (16, 16), 90), tmp_path / "gray.png")

    decoded = decode_image(path.read_bytes()).image

    assert decoded.mode == "RGB"
    assert pixel(decoded, (3, 3)) == (90, 90, 90)


def test_16_bit_png_is_scaled_not_clipped(tmp_path: Path):
    # Pillow's own conversion would turn every value above 255 into white.
    values = np.array([[0, 256 * 60, 256 * 156, 65535]], dtype=np.uint16).repeat(4, axis=0)
    path = save(Image.fromarray(values), tmp_path / "deep.png")
    with Image.open(path) as stored:
        assert stored.mode == "I;16"

    decoded = decode_image(path.read_bytes()).image

    assert [pixel(decoded, (x, 0))[0] for x in range(4)] == [0, 60, 156, 255]


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path):
    path = save(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), tmp_path / "cmyk.jpg")

    decoded = decode_image(path.read_bytes()).image

    assert decoded.mode == "RGB"
    assert near(pixel(decoded, (8, 8)), RED)


def test_heic_is_read_and_its_rotation_not_applied_twice(tmp_path: Path):
    import pillow_heif

    pillow_heif.register_heif_opener()  # to write one
    path = tmp_path / "phone.heic"
    # Given EXIF bytes, pillow-heif stores orientation 6 as the container's rotation (irot),
    # which libheif applies on reading; the EXIF orientation then reads 1.
    halves((64, 32), RED, BLUE).save(path, format="HEIF", quality=95, exif=exif_with(6).tobytes())

    photo = read_photo(path, target=None)
    image = decode_image(path.read_bytes()).image

    assert (photo.width, photo.height) == (32, 64) == image.size
    assert near(pixel(image, (16, 8)), RED)
    assert near(pixel(image, (16, 56)), BLUE)


# -- failures --------------------------------------------------------------------------------


def reason(path: Path, target: int | None = None, **kwargs: Any) -> str:
    with pytest.raises(ImageError) as caught:
        read_photo(path, target=target, **kwargs)
    return str(caught.value)


def test_random_bytes_are_not_an_image(tmp_path: Path):
    path = tmp_path / "noise.jpg"
    path.write_bytes(np.random.default_rng(1).bytes(5000))

    assert "not an image" in reason(path)


def test_corrupt_pixel_data(tmp_path: Path):
    data = encode(textured((64, 64)), "PNG")
    pixels = data.index(b"IDAT") + 4
    path = tmp_path / "corrupt.png"
    path.write_bytes(data[:pixels] + bytes(200) + data[pixels + 200 :])

    assert reason(path).startswith("corrupt image data (")


def test_photo_cut_before_its_pixels_is_named_by_its_signature(tmp_path: Path):
    data = encode(textured((64, 64)), "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(data[: data.index(b"IDAT")])

    assert reason(path) == "damaged PNG file (truncated or corrupt)"


@pytest.mark.parametrize("progressive", [False, True])
@pytest.mark.parametrize("cut", [1000, 2])
@pytest.mark.parametrize("reduce_to", [None, (64, 0)])
def test_truncated_jpeg_is_an_error_not_grey_pixels(
    progressive: bool, cut: int, reduce_to: tuple[int, int] | None
):
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    data = encode(textured((800, 600)), quality=90, progressive=progressive)

    # Also at 1/8 scale (reduce_to), and when only the end-of-image marker is missing.
    with pytest.raises(ImageError, match="truncated"):
        decode_image(data[:-cut], reduce_to)


def test_truncated_heic_is_an_error(tmp_path: Path):
    import pillow_heif

    pillow_heif.register_heif_opener()
    data = encode(textured((128, 128)), "HEIF")
    path = tmp_path / "cut.heic"
    path.write_bytes(data[: len(data) // 2])

    assert "truncated" in reason(path)


def test_empty_file(tmp_path: Path):
    path = tmp_path / "empty.jpg"
    path.touch()

    assert "empty file" in reason(path)


def test_missing_file(tmp_path: Path):
    path = tmp_path / "gone.jpg"

    assert "not found" in reason(path)
    with pytest.raises(ImageError, match="not found"):
        imageio.content_hash(path)


def test_folder_instead_of_file(tmp_path: Path):
    assert "folder" in reason(tmp_path)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # chmod cannot lock out root, who runs CI; a refusing open() stands in for it.
    path = save(Image.new("RGB", (8, 8)), tmp_path / "locked.jpg")

    real_open = imageio.os.open

    def refuse(name: Any, *args: Any, **kwargs: Any):
        if Path(name) == path:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(imageio.os, "open", refuse)

    assert reason(path) == "permission denied"


def test_files_pillow_could_open_but_we_do_not_trust_are_refused(tmp_path: Path):
    # EPS would run Ghostscript; a .jpg name must not get it there.
    path = save(Image.new("RGB", (8, 8)), tmp_path / "vector.jpg", format="EPS")

    assert "not an image" in reason(path)


def png_declaring(width: int, height: int) -> bytes:
    """A PNG that declares a size and holds almost no pixels: a bomb costs nothing to make."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(bytes(100))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)


def test_too_large_image_is_refused_before_decoding(tmp_path: Path):
    # 400 MP: past Pillow's own bomb limit too, whose error or warning must not come first.
    path = tmp_path / "bomb.png"
    path.write_bytes(png_declaring(20000, 20000))

    assert reason(path) == (
        "image too large (20000x20000 = 400 MP > 100 MP limit); raise the limit in Settings"
    )


def test_pixel_limit_is_the_callers(tmp_path: Path):
    path = save(Image.new("RGB", (40, 30)), tmp_path / "big.png")

    text = reason(path, max_pixels=1000)

    assert text.startswith("image too large (40x30 = ")
    assert text.endswith("limit); raise the limit in Settings")
    assert read_photo(path, target=None, max_pixels=1200).width == 40


def test_too_large_message_in_megapixels():
    with pytest.raises(ImageError) as caught:
        imageio.check_pixels((12000, 12000), 100_000_000)

    assert str(caught.value) == (
        "image too large (12000x12000 = 144 MP > 100 MP limit); raise the limit in Settings"
    )


# -- draft mode ------------------------------------------------------------------------------


def test_draft_decodes_big_jpegs_at_a_reduced_scale(big_jpeg: bytes):
    decoded = decode_image(big_jpeg, (100, 0))

    assert (decoded.width, decoded.height) == (1600, 1200)
    assert decoded.image.size == (200, 150)  # 1/8 scale, short side still >= 100


@pytest.mark.parametrize(
    ("min_short", "min_long", "size"),
    [
        (150, 200, (200, 150)),  # each need on its own side: 1/8 is enough for both
        (150, 400, (400, 300)),  # the long side's need wins
        (300, 0, (400, 300)),
        (301, 0, (800, 600)),  # 1/4 would leave 300 < 301
        (700, 0, (1600, 1200)),  # any reduction would undershoot: full decode
    ],
)
def test_draft_never_goes_below_either_need(
    big_jpeg: bytes, min_short: int, min_long: int, size: tuple
):
    assert decode_image(big_jpeg, (min_short, min_long)).image.size == size


def test_draft_needs_follow_the_long_side_of_a_portrait_photo():
    data = encode(textured((1200, 1600)), quality=90)

    assert decode_image(data, (150, 200)).image.size == (150, 200)


def test_draft_then_orientation(big_jpeg: bytes):
    exif = exif_with(6).tobytes()
    turned = encode(Image.open(io.BytesIO(big_jpeg)), quality=90, exif=exif)

    decoded = decode_image(turned, (150, 200))

    assert (decoded.width, decoded.height) == (1200, 1600)
    assert decoded.image.size == (150, 200)


def test_model_needs_a_margin_over_its_input_size():
    # Twice the input side (see DRAFT_MARGIN), on the larger side of a non-square input.
    assert imageio.model_min_short(224) == 448
    assert imageio.model_min_short((224, 320)) == 640


def test_draft_tensor_matches_the_full_decode(tmp_path: Path, big_jpeg: bytes, transform: Callable):
    path = tmp_path / "big.jpg"
    path.write_bytes(big_jpeg)
    full = transform(decode_image(path.read_bytes()).image)

    photo = read_photo(path, target=32, preprocess=transform)

    assert photo.tensor is not None
    assert photo.tensor.shape == (3, 32, 32)
    cosine = float((photo.tensor.flatten() @ full.flatten()) / (photo.tensor.norm() * full.norm()))
    assert cosine > 0.999


@pytest.mark.parametrize("size", [(1600, 1200), (2560, 1440), (1000, 1500)])
@pytest.mark.parametrize("framing", ["shortest", "squash", "letterbox", "native"])
def test_draft_tensor_matches_the_full_decode_in_every_framing(
    tmp_path: Path, size: tuple[int, int], framing: str
):
    """Issue 20: the whole-frame framings shrink the long side further than the short one
    (the letterbox, PhotoClip's, also takes its padding from the photo's mean colour); the
    draft decode's margin on the short side still serves them."""
    import open_clip

    from photoclip.core.embedding import Letterbox
    from photoclip.core.nativeframe import NativeFrame
    from photoclip.core.pixels import native_size

    config = {"size": 32, "mean": None, "std": None, "interpolation": "bicubic"}
    if framing == "letterbox":
        transform: Callable = Letterbox(config)
    elif framing == "native":
        transform = NativeFrame(config, cell=8)
    else:
        transform = open_clip.image_transform(32, is_train=False, resize_mode=framing)
    path = tmp_path / "big.jpg"
    path.write_bytes(encode(textured(size), quality=90))
    full = transform(decode_image(path.read_bytes()).image)

    photo = read_photo(path, target=32, preprocess=transform)

    expected = native_size(size, 32, 8) if framing == "native" else (32, 32)
    assert photo.tensor.shape == (3, *expected)
    assert min(decode_image(path.read_bytes(), (64, 256)).image.size) < min(size)  # a draft
    cosine = float((photo.tensor.flatten() @ full.flatten()) / (photo.tensor.norm() * full.norm()))
    assert cosine > 0.999


def test_preprocess_needs_a_target(tmp_path: Path):
    path = save(Image.new("RGB", (8, 8)), tmp_path / "a.jpg")

    with pytest.raises(ValueError, match="target"):
        read_photo(path, target=None, preprocess=lambda image: image)


# -- thumbnails ------------------------------------------------------------------------------


def test_thumbnail_is_cached_by_content_hash(tmp_path: Path, big_jpeg: bytes, transform: Callable):
    store = ThumbnailStore(tmp_path / "thumbs")
    path = tmp_path / "a.jpg"
    path.write_bytes(big_jpeg)

    photo = read_photo(path, target=32, preprocess=transform, thumbnails=store)

    digest = photo.content_hash
    expected = tmp_path / "thumbs" / digest[:2] / digest[2:4] / f"{digest}.jpg"
    assert photo.thumbnail_path == expected == store.path_for(digest)
    with Image.open(expected) as thumbnail:
        # The model needs only 64 px; the decode still kept enough for a full thumbnail.
        assert thumbnail.size == (256, 192)
        assert thumbnail.format == "JPEG"
    assert not list(expected.parent.glob(".*"))  # no temporary file left behind


def test_existing_thumbnail_is_reused_for_a_copy(tmp_path: Path):
    store = ThumbnailStore(tmp_path / "thumbs")
    original = save(textured((300, 200)), tmp_path / "a.jpg")
    first = read_photo(original, target=None, thumbnails=store).thumbnail_path
    assert first is not None
    first.write_bytes(b"marker")  # were it made again, the marker would be gone
    copy = Path(shutil.copy(original, tmp_path / "copy.jpg"))

    second = read_photo(copy, target=None, thumbnails=store).thumbnail_path

    assert second == first
    assert first.read_bytes() == b"marker"


def test_empty_thumbnail_is_made_again(tmp_path: Path):
    store = ThumbnailStore(tmp_path / "thumbs")
    path = save(textured((300, 200)), tmp_path / "a.jpg")
    thumbnail = read_photo(path, target=None, thumbnails=store).thumbnail_path
    assert thumbnail is not None
    thumbnail.write_bytes(b"")

    read_photo(path, target=None, thumbnails=store)

    with Image.open(thumbnail) as image:
        assert image.size == (256, 171)


def test_small_photo_thumbnail_is_not_enlarged(tmp_path: Path):
    store = ThumbnailStore(tmp_path / "thumbs")
    path = save(Image.new("RGB", (100, 60), RED), tmp_path / "small.png")

    thumbnail = read_photo(path, target=None, thumbnails=store).thumbnail_path

    assert thumbnail is not None
    with Image.open(thumbnail) as image:
        assert image.size == (100, 60)


def test_a_thumbnail_that_cannot_be_written_costs_only_the_thumbnail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    # A cache folder under a file stands in for a read-only one (chmod does not stop root).
    (tmp_path / "a-file").write_text("not a folder")
    store = ThumbnailStore(tmp_path / "a-file" / "thumbs")
    paths = [save(textured((300, 200 + i)), tmp_path / f"{i}.jpg") for i in range(2)]

    photos = [read_photo(path, target=None, thumbnails=store) for path in paths]

    assert [p.thumbnail_path for p in photos] == [None, None]
    assert all(p.width == 300 for p in photos)
    warned = [r for r in caplog.records if "thumbnails are not saved" in r.getMessage()]
    assert len(warned) == 1  # once for the folder, not once per photo


def test_thumbnail_store_refuses_what_is_not_a_hash(tmp_path: Path):
    with pytest.raises(ValueError, match="not a content hash"):
        ThumbnailStore(tmp_path).path_for("../../etc/passwd")


# -- hashing and the rest --------------------------------------------------------------------


def test_content_hash_follows_content_not_path(tmp_path: Path):
    path = save(textured((64, 48)), tmp_path / "a.jpg")
    copy = Path(shutil.copy(path, tmp_path / "b.jpg"))
    changed = tmp_path / "c.jpg"
    data = bytearray(path.read_bytes())
    data[-3] ^= 1
    changed.write_bytes(bytes(data))

    assert imageio.content_hash(copy) == imageio.content_hash(path)
    assert imageio.content_hash(changed) != imageio.content_hash(path)


def test_streamed_hash_equals_the_hash_of_the_decoded_photo(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(imageio, "_CHUNK", 1000)  # several chunks even for a small file
    path = save(textured((300, 200)), tmp_path / "a.jpg")

    photo = read_photo(path, target=None)

    assert photo.content_hash == imageio.content_hash(path)
    assert photo.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert photo.size_bytes == path.stat().st_size


def test_supported_extensions():
    supported = ("a.jpg", "b.JPEG", "c.png", "d.webp", "e.HEIC", "f.heif", "g.tif", "h.tiff")
    for name in (*supported, "i.bmp", "j.gif"):
        assert imageio.is_supported(Path(name))
    for name in ("notes.txt", "movie.mp4", "raw.cr2", "jpg"):
        assert not imageio.is_supported(Path(name))


# -- hostile input (issue 16) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("taken", "offset"),
    [
        ("0001:01:01 00:00:00", ""),  # year 0 in UTC from UTC+5:45: crashed with ValueError
        ("0001:01:01 00:00:00", "+12:00"),
        ("9999:12:31 23:59:59", "-12:00"),  # year 10000 in UTC
        ("9999:12:31 23:59:59", ""),
        ("2020:01:01 00:00:00", "+99:99"),  # an offset timezone() refuses
    ],
)
def test_placeholder_and_out_of_range_dates_give_no_date(
    tmp_path: Path, kathmandu_time: timezone, taken: str, offset: str
):
    exif = exif_with(taken=taken, offset=offset)
    path = save(Image.new("RGB", (16, 16)), tmp_path / "odd-date.jpg", exif=exif)

    taken_at = read_photo(path, target=None).taken_at

    # None, or a time every zone can show: sorting formats its year with fromtimestamp.
    assert taken_at is None or datetime.fromtimestamp(taken_at).year == 2020


def test_a_fifo_is_refused_without_opening_it(tmp_path: Path):
    fifo = tmp_path / "x.jpg"
    os.mkfifo(fifo)  # open() of a FIFO with no writer blocks forever
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(reason(fifo)), daemon=True)
    reader.start()
    reader.join(10)
    assert result and "FIFO" in result[0]


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.mkdir(), "a folder"),
        (lambda p: p.symlink_to("/dev/zero"), "a device"),
        (lambda p: p.symlink_to(p.with_name("missing.jpg")), "broken symbolic link"),
        (lambda p: p.symlink_to(p), "symbolic link loop"),
        (lambda p: p.write_bytes(b""), "empty file"),
    ],
    ids=["folder", "device", "dangling-link", "link-loop", "empty"],
)
def test_special_files_are_refused_with_their_kind(
    tmp_path: Path, make: Callable[[Path], Any], expected: str
):
    path = tmp_path / "x.jpg"
    make(path)
    assert expected in reason(path)
    assert imageio.file_problem(path) in (None, reason(path))


def test_a_socket_is_refused(tmp_path: Path):
    import socket

    path = tmp_path / "s.jpg"
    with socket.socket(socket.AF_UNIX) as server:
        try:
            server.bind(str(path))
        except OSError:
            pytest.skip("the temporary folder's path is too long for a socket")
        assert "a socket" in reason(path)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path):
    path = tmp_path / "huge.jpg"
    with path.open("wb") as file:
        file.write(encode(Image.new("RGB", (8, 8))))
        file.truncate(2 << 30)  # sparse: 2 GiB that take no disk
    started = time.perf_counter()
    message = reason(path)
    assert message.startswith("file too large (2.0 GB), the limit is 512 MB")
    assert time.perf_counter() - started < 1.0  # refused from stat, not read
    with pytest.raises(ImageError, match="file too large"):
        imageio.read_file(path, max_bytes=1000)


def test_an_extreme_strip_is_refused_and_a_panorama_is_not(tmp_path: Path, transform):
    strip = save(Image.new("L", (1, 100_000), 128), tmp_path / "strip.png")
    assert "image too narrow (1x100000" in reason(strip, target=32, preprocess=transform)
    panorama = save(textured((1000, 40)), tmp_path / "panorama.png")  # 25:1
    assert read_photo(panorama, target=32, preprocess=transform).tensor.shape == (3, 32, 32)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_the_same_bytes_give_the_same_pixels_whether_or_not_a_thumbnail_is_cached(
    tmp_path: Path, big_jpeg: bytes, transform, fmt: str
):
    data = big_jpeg if fmt == "JPEG" else encode(textured((1600, 1200)), "PNG")
    store = ThumbnailStore(tmp_path / "thumbs")
    first = imageio.decode_photo(data, target=32, preprocess=transform, thumbnails=store)
    cached = imageio.decode_photo(data, target=32, preprocess=transform, thumbnails=store)
    alone = imageio.decode_photo(data, target=32, preprocess=transform)  # a query image
    assert first.thumbnail_path == cached.thumbnail_path
    assert np.array_equal(first.tensor, cached.tensor)
    assert np.array_equal(first.tensor, alone.tensor)


def test_decoding_reduces_every_format_as_far_as_the_model_allows(big_jpeg: bytes):
    # What RemoteEncoder.prepare used to do alone, so the GUI's model and the CLI's get the
    # same pixels: both sides keep their minimum, and one more halving would break one.
    need, long = imageio.model_min_short(32), imageio.THUMBNAIL_SIZE
    png = encode(textured((1600, 1200)), "PNG")
    for data, expected in ((big_jpeg, (400, 300)), (png, (267, 200))):  # 1/4 draft; 1/6 box
        image = decode_image(data, reduce_to=(need, long)).image
        short_side, long_side = sorted(image.size)
        assert short_side >= need and long_side >= long
        assert short_side < 2 * need or long_side < 2 * long
        assert image.size == expected


def test_the_decoding_budget_keeps_two_large_photos_apart():
    budget = imageio.MemoryBudget(100)
    inside: list[int] = []
    most = [0]

    def decode(amount: int) -> None:
        with budget.hold(amount):
            inside.append(min(amount, 100))  # more than the budget is charged as all of it
            most[0] = max(most[0], sum(inside))
            time.sleep(0.05)
            inside.remove(min(amount, 100))

    threads = [threading.Thread(target=decode, args=(n,)) for n in (80, 80, 500, 10, 10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads)  # more than the budget: alone
    assert most[0] <= 100  # two of 80 never together, nor anything beside the 500
    assert budget._free == 100
