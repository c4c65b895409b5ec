"""Sizes as people read them."""

from __future__ import annotations

from photoclip.gui.formatting import counted, human_size


def test_human_sizes() -> None:
    assert [human_size(n) for n in (0, 999, 1000, 2_345_678, 5 * 10**12)] == [
        "0 bytes", "999 bytes", "1.0 KB", "2.3 MB", "5.0 TB",
    ]  # fmt: skip


def test_counted_says_one_photo_and_many_photos() -> None:
    assert [counted(n, "photo") for n in (0, 1, 1200)] == ["0 photos", "1 photo", "1,200 photos"]
