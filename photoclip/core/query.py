"""The search query language: `beach + sunset - people`, `2:dog + cat`, an image as a term.

Terms are joined by ` + ` or ` - ` (spaces around the sign, so "t-shirt" stays one word);
a term may start with a weight, any decimal number (`2:dog`, `0.5:snow`, `1e-3:cat`,
`-1:rain`), which must be finite; a term naming an existing image file stands for that
image. Anything that cannot be searched for is a QueryError, never another exception.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from photoclip.core.errors import QueryError

_OPERATOR = re.compile(r"(?:^|\s+)([+-])\s+")
_WEIGHT = re.compile(
    r"^([+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)):(.+)$",
    re.IGNORECASE,
)


RELEVANCE = "relevance"
DATE = "date"
#: The textness slider's range: beyond +-2 the direction drowns the query.
MAX_SCALE = 2.0


@dataclass(frozen=True)
class SearchOptions:
    """What to search among, and how to order it (photoclip.core.search)."""

    limit: int = 50
    #: drop results whose cosine score is below this
    min_score: float | None = None
    #: drop results scoring below this fraction of the best hit (0..1)
    relative: float | None = None
    folder: Path | None = None
    since: float | None = None
    until: float | None = None
    #: only photos carrying this (category, label) tag
    tag: tuple[str, str] | None = None
    sort: str = RELEVANCE
    #: -2 (ignore text written in photos) .. +2 (favour it); 0 leaves the query alone
    textness: float = 0.0

    def __post_init__(self) -> None:
        check_scale(self.textness)

    @property
    def filtered(self) -> bool:
        return any(v is not None for v in (self.folder, self.since, self.until, self.tag))


def check_scale(scale: float) -> float:
    if not -MAX_SCALE <= scale <= MAX_SCALE:
        raise QueryError(f"Textness must be between -{MAX_SCALE:g} and {MAX_SCALE:g}, not {scale}.")
    return scale


@dataclass(frozen=True)
class Term:
    """One part of a query: text or an image file, with a signed weight."""

    weight: float
    text: str | None = None
    image: Path | None = None


def parse_query(query: str) -> list[Term]:
    """Split a query into weighted terms; raises QueryError when nothing is left."""
    parts = _OPERATOR.split(" " + query.strip())
    terms, sign = [], 1.0
    for part in parts:
        if part in ("+", "-"):
            sign = -1.0 if part == "-" else 1.0
        elif part.strip():
            terms.append(_term(part.strip(), sign))
            sign = 1.0
    if not terms or all(t.weight <= 0 for t in terms):
        raise QueryError("Type something to search for (a query needs at least one + term).")
    return terms


def _term(text: str, sign: float) -> Term:
    weight = 1.0
    match = _WEIGHT.match(text)
    if match:
        weight, text = _weight(match.group(1)), match.group(2).strip()
    path = _image_path(text)
    if path is not None:
        return Term(sign * weight, image=path)
    return Term(sign * weight, text=text)


def _weight(text: str) -> float:
    weight = float(text)  # the pattern admits only what float() reads
    if not math.isfinite(weight):
        raise QueryError(f"The weight '{text}' is not a finite number; try 2:dog or 0.5:snow.")
    return weight


def _image_path(text: str) -> Path | None:
    """The image file `text` names, if it names one (a name no file can have is text)."""
    try:
        path = Path(text.strip("'\"")).expanduser()
        if not path.is_file():
            return None
    except (OSError, ValueError, RuntimeError):  # too long, NUL, ~unknown-user
        return None
    # Only now: the name check imports imageio (numpy, Pillow), which a text query that a
    # running worker answers never needs.
    from photoclip.core.scanning import is_photo_name

    return path if is_photo_name(path.name) else None
