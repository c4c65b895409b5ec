"""Numbers, sizes and file names as people read them."""

from __future__ import annotations

import os


def human_size(size: int) -> str:
    """1234567 -> '1.2 MB' (decimal units, as file managers show them)."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def counted(n: int, noun: str) -> str:
    """(1, 'photo') -> '1 photo'; (1200, 'photo') -> '1,200 photos'."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def shown(name: str | os.PathLike[str]) -> str:
    """A file name or path as Qt can show it. A name whose bytes are not UTF-8 reaches
    Python with each odd byte as a lone surrogate (surrogateescape), and Qt silently drops
    those, so two names would read alike: each odd byte is shown as \\xNN instead, as
    `ls -b` does. (Paths themselves never pass through Qt: see the dialogs' signals.)"""
    text = os.fspath(name)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
