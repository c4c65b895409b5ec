"""Runs that stopped early: `index` and `watch` leave a marker in the catalog while they
run, so that `photoclip status` can say that one did not finish, when it started and, if
known, why (a kill or a power cut leaves no reason; an error does).

A marker is a row of the catalog's meta table, `run:<pid>` -> JSON. A clean end removes
it, with the markers of earlier runs of the same command that stopped early: the library
has been brought up to date since.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime

from photoclip.core.catalog import Catalog
from photoclip.core.workerstatus import process_alive

_PREFIX = "run:"


@dataclass(frozen=True)
class Run:
    command: str
    pid: int
    started_at: float
    #: why it stopped, when it said so before it ended (None: still running, or killed)
    reason: str | None = None

    @property
    def running(self) -> bool:
        return self.reason is None and process_alive(self.pid)


@contextmanager
def recorded(catalog: Catalog, command: str) -> Iterator[Run]:
    """Mark `command` as running for the block: a clean end clears the mark, an error
    leaves it with its reason, a kill leaves it as it is."""
    run = begin(catalog, command)
    try:
        yield run
    except BaseException as error:
        why = "interrupted (Ctrl-C)" if isinstance(error, KeyboardInterrupt) else None
        # Best effort: the run's own error (a full disk, say) is what must get out.
        with contextlib.suppress(Exception):
            end(catalog, run, reason=why or f"{type(error).__name__}: {error}")
        raise
    end(catalog, run)


def begin(catalog: Catalog, command: str) -> Run:
    run = Run(command, os.getpid(), time.time())
    _write(catalog, run)
    return run


def end(catalog: Catalog, run: Run, reason: str | None = None) -> None:
    """A clean end (no reason) forgets this run and the earlier ones of its command
    that stopped early; an error keeps this run's marker with the reason."""
    if reason is not None:
        _write(catalog, Run(run.command, run.pid, run.started_at, reason[:500]))
        return
    stale = [r for r in markers(catalog) if r.command == run.command and not r.running]
    with catalog.transaction() as db:
        for old in [*stale, run]:
            db.execute("DELETE FROM meta WHERE key = ?", (_key(old.pid),))


def markers(catalog: Catalog) -> list[Run]:
    rows = catalog.read("SELECT value FROM meta WHERE key LIKE ? ORDER BY key", (_PREFIX + "%",))
    found = []
    for (value,) in rows:
        try:
            found.append(_run(json.loads(value)))
        except (ValueError, TypeError, KeyError, OverflowError):  # not a marker we wrote
            continue
    return found


def _run(data: dict[str, object]) -> Run:
    started_at = float(data["started_at"])  # type: ignore[arg-type]
    datetime.fromtimestamp(started_at)  # one a calendar holds (status shows it)
    reason = data.get("reason")
    pid = data["pid"]
    if not isinstance(pid, int):
        raise TypeError("pid")
    return Run(str(data["command"]), pid, started_at, None if reason is None else str(reason))


def unfinished(catalog: Catalog) -> list[Run]:
    """Runs that stopped before their end: killed, crashed, or ended by an error."""
    return [run for run in markers(catalog) if not run.running]


def _write(catalog: Catalog, run: Run) -> None:
    with catalog.transaction():
        catalog.set_meta(_key(run.pid), json.dumps(asdict(run)))


def _key(pid: int) -> str:
    return f"{_PREFIX}{pid}"
