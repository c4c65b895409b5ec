from __future__ import annotations

import os
from pathlib import Path

import pytest

from photoclip.core.scanning import Excluded, file_entry, is_photo_name, scan


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


# -- issue 16: PhotoClip's own folders, links above the root, special files ----------------


def test_excluded_folders_are_never_walked_however_they_are_reached(tmp_path: Path) -> None:
    keep = touch(tmp_path / "a.jpg")
    data = tmp_path / "PhotoClip"
    touch(data / "thumbnails/00/00/0000.jpg")
    (tmp_path / "also-data").symlink_to(data)  # the same folder by another name
    excluded = Excluded([data])
    assert [e.path for e in scan(tmp_path, excluded)] == [keep]
    assert data / "thumbnails/x.jpg" in excluded
    assert tmp_path / "PhotoClipX/x.jpg" not in excluded
    assert file_entry(data / "thumbnails/00/00/0000.jpg", excluded) is None


@pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges on Windows")
def test_a_link_to_a_folder_above_the_root_is_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "home/pictures"
    photo = touch(root / "a.jpg")
    touch(tmp_path / "home/documents/scan.jpg")
    (root / "home").symlink_to(tmp_path / "home")
    (root / "top").symlink_to(tmp_path)
    assert [e.path for e in scan(root)] == [photo]


@pytest.mark.skipif(os.name == "nt", reason="FIFOs and symlinks are POSIX")
def test_special_files_with_photo_names_are_offered_for_their_reason(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.jpg")
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "missing.jpg")
    (tmp_path / "loop.jpg").symlink_to(tmp_path / "loop.jpg")
    photo = touch(tmp_path / "folder.jpg/inside.jpg")  # a folder named like a photo: walked
    found = sorted(e.path.name for e in scan(tmp_path))
    assert found == ["dangling.jpg", "inside.jpg", "loop.jpg", "pipe.jpg"]
    assert file_entry(tmp_path / "folder.jpg") is None
    assert file_entry(photo) is not None


@pytest.mark.skipif(os.name == "nt", reason="symlinks need privileges on Windows")
def test_a_rescan_of_one_folder_does_not_follow_links_elsewhere_in_its_root(
    tmp_path: Path,
) -> None:
    photo = touch(tmp_path / "b/photo.jpg")
    (tmp_path / "a").mkdir()
    (tmp_path / "a/link").symlink_to(tmp_path / "b")
    assert [e.path for e in scan(tmp_path)] == [photo]  # found once, by its own path
    assert [e.path for e in scan(tmp_path / "a", within=tmp_path)] == []
