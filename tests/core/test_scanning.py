from __future__ import annotations

import os
from pathlib import Path

import pytest

from photoclip.core.scanning import is_photo_name, scan


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_finds_photos_by_extension_in_any_case_and_depth(tmp_path: Path) -> None:
    expected = {touch(tmp_path / "a.JPG"), touch(tmp_path / "deep/er/b.heic")}
    touch(tmp_path / "notes.txt")
    assert {entry.path for entry in scan(tmp_path)} == expected


def test_skips_hidden_files_hidden_folders_and_appledouble(tmp_path: Path) -> None:
    keep = touch(tmp_path / "keep.jpg")
    touch(tmp_path / "._keep.jpg")
    touch(tmp_path / ".hidden.jpg")
    touch(tmp_path / ".thumbnails/t.jpg")
    assert [entry.path for entry in scan(tmp_path)] == [keep]


def test_reports_size_and_mtime(tmp_path: Path) -> None:
    photo = touch(tmp_path / "a.png", b"12345")
    os.utime(photo, ns=(1_000_000_000, 2_000_000_000))
    (entry,) = scan(tmp_path)
    assert (entry.size, entry.mtime_ns) == (5, 2_000_000_000)


@pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges on Windows")
def test_follows_symlinked_folders_but_not_around_a_loop(tmp_path: Path) -> None:
    photo = touch(tmp_path / "album/a.jpg")
    (tmp_path / "album/loop").symlink_to(tmp_path)
    outside = touch(tmp_path.parent / f"{tmp_path.name}-elsewhere/b.jpg")
    (tmp_path / "linked").symlink_to(outside.parent)
    found = sorted(entry.path for entry in scan(tmp_path))
    assert found == sorted([photo, tmp_path / "linked/b.jpg"])


def test_an_unreadable_folder_is_skipped_not_fatal(tmp_path: Path) -> None:
    keep = touch(tmp_path / "a.jpg")
    assert [e.path for e in scan(tmp_path / "missing")] == []
    assert [e.path for e in scan(tmp_path)] == [keep]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("IMG_1.jpeg", True), ("x.WebP", True), ("._IMG_1.jpg", False), ("a.raw", False)],
)
def test_photo_names(name: str, expected: bool) -> None:
    assert is_photo_name(name) is expected
