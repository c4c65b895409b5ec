"""Render PhotoClip's icon set from its SVG sources into resources/icons/.

    python installer/make_icons.py

The SVGs are the sources (drawn by hand); everything else here is generated and committed:
png/photoclip-N.png for each size in SIZES, photoclip.ico (Windows) and photoclip.icns
(macOS). Small sizes have their own drawings of the same mark, fewer and bolder shapes
that keep whole pixels: 16 px comes from photoclip-16.svg (drawn on the pixel grid), 24 and
32 px from photoclip-small.svg, the rest from photoclip.svg.

Rasterising uses `rsvg-convert` (librsvg, the renderer Linux desktops use for hicolor SVG
icons: `apt-get install librsvg2-bin`, `brew install librsvg`); packing ICO and ICNS uses
Pillow, which writes both formats on every platform (its ICNS writer stores the retina
entries, so macOS draws 16 px from the 32 px image).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from PIL import Image

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"
SOURCE = ICONS / "photoclip.svg"
SMALL_SOURCE = ICONS / "photoclip-small.svg"
TINY_SOURCE = ICONS / "photoclip-16.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)
SMALL_MAX = 32
#: Windows reads up to 256 px from an .ico; macOS wants these in an .icns.
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)


def png_path(size: int, icons: Path = ICONS) -> Path:
    return icons / "png" / f"photoclip-{size}.png"


def render(source: Path, size: int, out: Path) -> None:
    """Rasterise one SVG to a square RGBA PNG of `size` pixels."""
    out.parent.mkdir(parents=True, exist_ok=True)
    command = ["rsvg-convert", "-w", str(size), "-h", str(size), "-o", str(out), str(source)]
    subprocess.run(command, check=True)


def source_for(size: int) -> Path:
    if size <= 16:
        return TINY_SOURCE
    return SMALL_SOURCE if size <= SMALL_MAX else SOURCE


def render_all(icons: Path = ICONS) -> dict[int, Path]:
    paths = {}
    for size in SIZES:
        render(source_for(size), size, png_path(size, icons))
        paths[size] = png_path(size, icons)
    return paths


def pack(paths: dict[int, Path], sizes: tuple[int, ...], out: Path) -> None:
    """Write an .ico or .icns holding the rendered image of each size (no resampling)."""
    images = [Image.open(paths[size]).convert("RGBA") for size in sizes]
    largest = images[-1]
    extra: dict[str, Any] = {"sizes": [(s, s) for s in sizes]} if out.suffix == ".ico" else {}
    largest.save(out, append_images=images[:-1], **extra)


def main() -> int:
    if shutil.which("rsvg-convert") is None:
        print("make_icons: rsvg-convert not found (apt-get install librsvg2-bin)", file=sys.stderr)
        return 1
    paths = render_all()
    pack(paths, ICO_SIZES, ICONS / "photoclip.ico")
    pack(paths, ICNS_SIZES, ICONS / "photoclip.icns")
    print(f"make_icons: {len(paths)} PNGs, photoclip.ico, photoclip.icns in {ICONS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
