"""PhotoClip's log file: the details that messages for people leave out.

Windows and the command line say what happened and what to do, in words; the exception's
type, its text and the traceback go here (cache folder, `photoclip.log`), where a bug report
can find them. The CLI, the app and the model process all append to it.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path

LOG_NAME = "photoclip.log"
#: A log past this size is moved to photoclip.log.1 when a process starts (one generation).
MAX_BYTES = 5 << 20
FORMAT = "%(asctime)s %(process)d %(name)s %(levelname)s: %(message)s"


def _on_stderr(handler: logging.Handler) -> bool:
    return getattr(handler, "stream", None) is sys.stderr


class _PhotoClipLog(logging.FileHandler):
    """Marks the handler this module installed, so a second call replaces it."""


def start_log_file(cache: Path, level: int = logging.INFO) -> Path | None:
    """Send this process's log records at `level` and above to the log file; handlers
    already there (stderr) keep the level they showed before. None if it cannot be written."""
    path = cache / LOG_NAME
    try:
        cache.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size > MAX_BYTES:
            path.replace(path.with_name(LOG_NAME + ".1"))
        handler = _PhotoClipLog(path, encoding="utf-8", delay=True)
    except OSError:
        return None
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing, _PhotoClipLog):
            root.removeHandler(existing)
            with contextlib.suppress(OSError):
                existing.close()
        elif _on_stderr(existing) and existing.level == logging.NOTSET:
            existing.setLevel(root.level)  # the terminal stays as quiet as it was
    root.addHandler(handler)
    root.setLevel(min(root.level, level))
    return path
