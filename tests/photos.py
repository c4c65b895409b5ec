"""Photos made by the tests themselves (tests never depend on ../shared)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image


def make_photo(
    path: Path,
    colour: tuple[int, int, int] = (200, 40, 40),
    size: tuple[int, int] = (160, 120),
    pattern: int = 0,
) -> Path:
    """Write a small JPEG whose content depends on `colour` and `pattern` (distinct bytes)."""
    image = Image.new("RGB", size, colour)
    for x in range(pattern % size[0]):
        image.putpixel((x, (x * 7) % size[1]), (255 - colour[0], 255 - colour[1], 255))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=92)
    return path
