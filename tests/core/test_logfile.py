"""The log file keeps what messages for people leave out (exception types, tracebacks)."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from photoclip.core.logfile import LOG_NAME, MAX_BYTES, start_log_file


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    """The root logger as it was: this module's handlers are taken away afterwards."""
    logger = logging.getLogger()
    handlers, level = list(logger.handlers), logger.level
    yield logger
    for handler in logger.handlers:
        if handler not in handlers:
            handler.close()
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_details_go_to_the_file_and_the_terminal_stays_quiet(
    root: logging.Logger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = io.StringIO()
    monkeypatch.setattr(sys, "stderr", terminal)
    stderr = logging.StreamHandler()  # what basicConfig makes: stderr, no level of its own
    root.addHandler(stderr)
    root.setLevel(logging.WARNING)
    path = start_log_file(tmp_path)
    logging.getLogger("photoclip.core.weights").info("download failed: %r", OSError("refused"))
    assert path == tmp_path / LOG_NAME
    assert "photoclip.core.weights INFO: download failed: OSError('refused')" in path.read_text()
    assert terminal.getvalue() == ""
    logging.getLogger("photoclip").warning("seen")
    assert terminal.getvalue() == "seen\n"


def test_a_second_start_replaces_the_first(root: logging.Logger, tmp_path: Path) -> None:
    start_log_file(tmp_path / "one")
    start_log_file(tmp_path / "two")
    files = [Path(h.baseFilename) for h in root.handlers if isinstance(h, logging.FileHandler)]
    assert [f.parent.name for f in files if f.name == LOG_NAME] == ["two"]


def test_a_large_log_is_moved_aside_once(root: logging.Logger, tmp_path: Path) -> None:
    (tmp_path / LOG_NAME).write_bytes(b"x" * (MAX_BYTES + 1))
    start_log_file(tmp_path)
    assert (tmp_path / f"{LOG_NAME}.1").stat().st_size == MAX_BYTES + 1
    assert not (tmp_path / LOG_NAME).exists()  # made on the first record


def test_an_unwritable_folder_is_no_log_not_a_crash(root: logging.Logger, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    assert start_log_file(tmp_path / "file" / "cache") is None
