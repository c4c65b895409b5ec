"""The worker's status file: how a `photoclip status` in another terminal sees the worker.

The worker rewrites a small JSON file in the data folder atomically on each state change;
a reader trusts it only while the process that wrote it is alive.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from photoclip.core.paths import Locations

STOPPED = "stopped"


def status_path(locations: Locations) -> Path:
    return locations.data / "worker.json"


def write_status(locations: Locations, state: str, queue: int, **extra: Any) -> None:
    """Replace the status file atomically (a reader never sees half of it)."""
    path = status_path(locations)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"pid": os.getpid(), "worker": state, "queue": queue, **extra}
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(payload), encoding="utf-8")
    os.replace(temporary, path)


def read_status(locations: Locations) -> dict[str, Any]:
    """{"worker": state, "queue": n, ...}; "stopped" when no live worker wrote it."""
    try:
        raw = json.loads(status_path(locations).read_text(encoding="utf-8"))
        alive = process_alive(int(raw["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        alive, raw = False, {}
    if not alive or raw.get("worker") == STOPPED:
        return {"worker": STOPPED, "queue": 0}
    return {k: v for k, v in raw.items() if k != "pid"} | {"worker_pid": raw["pid"]}


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but someone else's
        return True
    return True
