"""Append-only journals: one JSON record a line, each made durable before the change it
announces, so that the cost of journaling one step is the same in a batch of ten files
or of 100k (a journal rewritten whole at every step grows with the batch).

A kill can cut the last record short. Every record starts with its own line break, so a
record appended by the next process never joins the fragment, and `records` skips a line
that does not parse: the journal stays as the record before it says.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append one record and fsync it."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("\n" + json.dumps(record))
        handle.flush()
        os.fsync(handle.fileno())


def records(path: Path) -> Iterator[dict[str, Any]]:
    """The whole records of the journal at `path`, oldest first (none when it is absent)."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except FileNotFoundError:
        return
    for line in filter(None, lines):
        try:
            record = json.loads(line)
        except ValueError:
            continue  # cut short by a kill
        if isinstance(record, dict):
            yield record
