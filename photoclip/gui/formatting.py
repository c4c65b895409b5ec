"""Numbers and sizes as people read them."""

from __future__ import annotations


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
