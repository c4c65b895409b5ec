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
from photoclip.core.scanning import is_photo_name

_OPERATOR = re.compile(r"(?:^|\s+)([+-])\s+")
_WEIGHT = re.compile(
    r"^([+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)):(.+)$",
    re.IGNORECASE,
)


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
        return path if is_photo_name(path.name) and path.is_file() else None
    except (OSError, ValueError, RuntimeError):  # too long, NUL, ~unknown-user
        return None
