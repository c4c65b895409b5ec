"""Sizes and file names as people read them."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from photoclip.gui.formatting import counted, human_size, shown


def test_human_sizes() -> None:
    assert [human_size(n) for n in (0, 999, 1000, 2_345_678, 5 * 10**12)] == [
        "0 bytes", "999 bytes", "1.0 KB", "2.3 MB", "5.0 TB",
    ]  # fmt: skip


def test_counted_says_one_photo_and_many_photos() -> None:
    assert [counted(n, "photo") for n in (0, 1, 1200)] == ["0 photos", "1 photo", "1,200 photos"]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_any_file_name_is_shown_in_text_qt_keeps_and_a_utf8_one_as_it_is(raw: bytes) -> None:
    name = os.fsdecode(raw)
    text = shown(name)
    text.encode("utf-8")  # no lone surrogate left for Qt to drop
    try:
        assert text == raw.decode("utf-8")
    except UnicodeDecodeError:
        assert "\\x" in text


def test_an_odd_byte_reads_as_its_hex_code() -> None:
    assert shown(Path(os.fsdecode(b"/photos/caf\xe9.jpg"))) == "/photos/caf\\xe9.jpg"
