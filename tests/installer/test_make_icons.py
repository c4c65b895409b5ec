"""installer/make_icons.py's output in resources/icons: every size, square, legible."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from installer import make_icons


@pytest.mark.parametrize("size", make_icons.SIZES)
def test_a_square_rgba_png_at_each_size(size):
    with Image.open(make_icons.png_path(size)) as image:
        assert image.format == "PNG"
        assert image.size == (size, size)
        assert image.mode == "RGBA"


@pytest.mark.parametrize("size", [16, 256])
def test_the_mark_fills_its_tile_and_uses_several_colours(size):
    with Image.open(make_icons.png_path(size)) as image:
        opaque = image.getchannel("A").histogram()[255] / size**2
        colours = image.convert("RGB").getcolors(maxcolors=size**2)
    assert opaque > 0.7  # a tile, not a thin glyph lost in transparency
    assert colours is not None and len(colours) >= 6  # tile, print, sky, sun, hills, lens


def test_windows_ico_holds_each_size_unscaled():
    with Image.open(make_icons.ICONS / "photoclip.ico") as ico:
        assert ico.info["sizes"] == {(s, s) for s in make_icons.ICO_SIZES}
        ico.size = (16, 16)
        ico.load()
        with Image.open(make_icons.png_path(16)) as png:
            assert ico.convert("RGBA").tobytes() == png.convert("RGBA").tobytes()


def test_macos_icns_holds_the_large_sizes():
    with Image.open(make_icons.ICONS / "photoclip.icns") as icns:
        sizes = {w * scale for w, _, scale in icns.info["sizes"]}
    assert {32, 64, 128, 256, 512, 1024} <= sizes


@pytest.mark.parametrize("size", [16, 24, 32, 48, 1024])
def test_small_sizes_come_from_their_own_drawings(size):
    source = make_icons.source_for(size)
    assert source.is_file()
    root = ET.parse(source).getroot()
    _, _, width, height = (float(v) for v in root.attrib["viewBox"].split())
    assert width == height
    assert (size <= make_icons.SMALL_MAX) == (source != make_icons.SOURCE)


@pytest.mark.skipif(shutil.which("rsvg-convert") is None, reason="librsvg2-bin")
def test_rendering_writes_a_png_of_the_asked_size(tmp_path):
    out = tmp_path / "icon.png"
    make_icons.render(make_icons.SOURCE, 40, out)
    with Image.open(out) as image:
        assert image.size == (40, 40)
