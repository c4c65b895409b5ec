"""Which POSIX timestamps are dates: those every time zone can show as a calendar date.

`datetime.fromtimestamp` refuses years before 1 and after 9999 in the local zone, so a
camera's placeholder (0001:01:01, 9999:12:31 at -12:00) or a file stamped in year 30000
would stop whatever formats its year (sorting's {year}). Such a time counts as no date.
"""

from __future__ import annotations

from datetime import datetime, timezone

#: A day inside each end of datetime's range: no zone (UTC-12 to UTC+14) crosses it.
EARLIEST = datetime(1, 1, 2, tzinfo=timezone.utc).timestamp()
LATEST = datetime(9999, 12, 30, tzinfo=timezone.utc).timestamp()


def usable(stamp: float | None) -> float | None:
    """`stamp` if it is a date every zone can show, else None."""
    if stamp is None or not EARLIEST <= stamp <= LATEST:  # NaN fails both comparisons
        return None
    return stamp
