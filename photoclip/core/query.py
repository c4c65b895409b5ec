"""The search query language: `beach + sunset - people`, `2:dog + cat`, an image as a term.

Terms are joined by ` + ` or ` - ` (spaces around the sign, so "t-shirt" stays one word);
a term may start with a weight (`2:dog`, `0.5:snow`); a term naming an existing image file
stands for that image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from photoclip.core.errors import QueryError
from photoclip.core.scanning import is_photo_name

_OPERATOR = re.compile(r"(?:^|\s+)([+-])\s+")
_WEIGHT = re.compile(r"^(\d+(?:\.\d+)?|\.\d+):(.+)$")


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
        weight, text = float(match.group(1)), match.group(2).strip()
    path = Path(text.strip("'\"")).expanduser()
    if is_photo_name(path.name) and path.is_file():
        return Term(sign * weight, image=path)
    return Term(sign * weight, text=text)
