"""Show photos in the platform's file manager: selected in their folder where the platform
can (macOS Finder, Windows Explorer), else their folder opened. Nothing here waits: the
file manager is started detached."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QProcess, QUrl
from PySide6.QtGui import QDesktopServices

#: at most this many folders open for one request (a selection may span hundreds)
MAX_FOLDERS = 10


def reveal_commands(path: Path, platform: str = sys.platform) -> list[tuple[str, list[str]]]:
    """The program and arguments that show `path` selected, or none for this platform."""
    if platform == "darwin":
        return [("open", ["-R", str(path)])]
    if platform.startswith("win"):
        return [("explorer", [f"/select,{path}"])]
    return []


def start_detached(program: str, arguments: list[str]) -> bool:
    """Start a program that outlives the app; False when it could not be started."""
    started = QProcess.startDetached(program, arguments)
    return bool(started[0] if isinstance(started, tuple) else started)  # (ok, pid) in PySide6


def reveal(
    paths: Sequence[Path],
    platform: str = sys.platform,
    start: Callable[[str, list[str]], bool] = start_detached,
    open_url: Callable[[QUrl], bool] = QDesktopServices.openUrl,
) -> int:
    """Show each photo's folder (the first MAX_FOLDERS folders, one photo selected in each
    where the platform can); returns how many folders it opened."""
    first: dict[Path, Path] = {}
    for path in paths:
        first.setdefault(Path(path).parent, Path(path))
    opened = 0
    for folder, path in list(first.items())[:MAX_FOLDERS]:
        commands = reveal_commands(path, platform)
        selected = any(start(program, arguments) for program, arguments in commands)
        if selected or open_url(QUrl.fromLocalFile(str(folder))):
            opened += 1
    return opened
