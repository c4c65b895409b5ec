"""Show in folder: selected in the file manager where the platform can, else the folder."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl

from photoclip.gui.reveal import MAX_FOLDERS, reveal, reveal_commands


def _recorded(platform: str, paths: list[Path], starts: bool = True) -> tuple[list, list]:
    started: list[tuple[str, list[str]]] = []
    opened: list[QUrl] = []

    def start(program: str, arguments: list[str]) -> bool:
        started.append((program, arguments))
        return starts

    reveal(paths, platform, start, lambda url: opened.append(url) or True)
    return started, opened


def test_macos_and_windows_select_the_photo_in_its_folder() -> None:
    photo = Path("/photos/a/one.jpg")
    assert _recorded("darwin", [photo]) == ([("open", ["-R", str(photo)])], [])
    assert _recorded("win32", [photo])[0] == [("explorer", [f"/select,{photo}"])]


def test_elsewhere_or_when_the_file_manager_cannot_start_the_folder_opens() -> None:
    photo = Path("/photos/a/one.jpg")
    started, opened = _recorded("linux", [photo])
    assert started == [] and [u.toLocalFile() for u in opened] == ["/photos/a"]
    started, opened = _recorded("darwin", [photo], starts=False)
    assert len(started) == 1 and [u.toLocalFile() for u in opened] == ["/photos/a"]


def test_each_folder_opens_once_and_at_most_a_few() -> None:
    paths = [Path(f"/photos/{n}/{m}.jpg") for n in range(MAX_FOLDERS + 5) for m in range(3)]
    _, opened = _recorded("linux", paths)
    assert [u.toLocalFile() for u in opened] == [f"/photos/{n}" for n in range(MAX_FOLDERS)]
    assert reveal_commands(Path("/x.jpg"), "linux") == []
