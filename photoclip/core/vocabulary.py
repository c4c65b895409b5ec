"""Other words of a category's kind: counter-labels the user did not have to write.

A single-choice category asks "which of these is the photo?". When its labels are colours
and the photo is purple, a category without purple still has to pick among its labels, and
CLIP's softmax over them alone hands the photo to the nearest one ("black", "blue"). So a
single-choice category whose labels are mostly words of one kind of photoclip/resources/
vocabulary.toml (colours, shapes, animals, foods, vehicles) is also compared with the
kind's other words, the way the background prompts ("a photo") stand for "none of these":
their share of the softmax is "none of these", and a photo that looks more like one of
them than like any label gets no tag, with that word as the reason.

Measured (tests/benchmarks/bench_tag_quality.py, test-shapes, a 7-colour category without
purple, 31 held-out sets): see the models README, "Other words of a kind". A multi-label
category is left alone: there each label asks "is it in the photo?" on its own, and a
purple shape beside a red one does not make the photo less red.

A model trained on a closed set of captions (the test-shapes model) knows only its
training words: any other word gives it a vector of noise, and such vectors took shapes
from the labels when heart, hexagon, crescent, cross and arrow competed (lowest shape recall
.23 on held-out sets 41-48). So with a closed vocabulary (`profiles.closed_vocabulary`)
only the words the model knows compete.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from photoclip.core.categories import SINGLE, Category
from photoclip.core.profiles import closed_vocabulary

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

VOCABULARY = Path(__file__).resolve().parents[1] / "resources" / "vocabulary.toml"
#: A category is of a kind when at least this many of its labels are the kind's words...
MIN_MATCHED = 2
#: ...and at least this share of them.
MIN_MATCHED_SHARE = 0.5


@dataclass(frozen=True)
class Word:
    """One word of a kind, with its aliases ("grey", "gray"): the first is its name."""

    texts: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.texts[0]


@dataclass(frozen=True)
class Kind:
    name: str
    words: tuple[Word, ...]


@dataclass(frozen=True)
class Others:
    """The kind a category's labels are of, and the kind's words the category lacks."""

    kind: str
    words: tuple[Word, ...]

    @property
    def names(self) -> list[str]:
        return [word.name for word in self.words]


@functools.cache
def kinds(path: Path = VOCABULARY) -> tuple[Kind, ...]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return tuple(
        Kind(entry["name"], tuple(Word(tuple(w.split("|"))) for w in entry["words"]))
        for entry in data["kind"]
    )


def others(
    category: Category,
    known: Callable[[str], bool] | None = None,
    vocabulary: Collection[Kind] | None = None,
) -> Others | None:
    """The words of `category`'s kind that none of its labels says (None: a multi-label
    category, or labels of no one kind). With `known`, only the words (and aliases) it
    accepts: those a closed-vocabulary model learned. None too where the user turned
    them off (`Category.other_words`)."""
    if category.kind != SINGLE or not category.other_words:
        return None
    said = {_plain(text) for label in category.labels for text in label.texts}
    labels = [{_plain(t) for t in label.texts} for label in category.labels if not label.counter]
    best = max(
        vocabulary if vocabulary is not None else kinds(),
        key=lambda kind: _matched(kind, labels),
        default=None,
    )
    if best is None or not _of_kind(_matched(best, labels), len(labels)):
        return None
    lacking = [word for word in best.words if not said & set(word.texts)]
    if known is not None:
        lacking = [Word(kept) for word in lacking if (kept := tuple(filter(known, word.texts)))]
    return Others(best.name, tuple(lacking)) if lacking else None


def _matched(kind: Kind, labels: list[set[str]]) -> int:
    """How many labels say one of the kind's words (by any phrasing)."""
    texts = {text for word in kind.words for text in word.texts}
    return sum(1 for phrasings in labels if phrasings & texts)


def _of_kind(matched: int, labels: int) -> bool:
    return matched >= MIN_MATCHED and matched >= MIN_MATCHED_SHARE * labels


def _plain(text: str) -> str:
    return " ".join(text.lower().split())


@functools.cache
def known_to(model_key: str) -> Callable[[str], bool] | None:
    """`known` for the model of `model_key`: None (any word) unless its vocabulary is
    closed (`profiles.closed_vocabulary`). Cached: `TextVectors.knows` asks for each word
    of each re-tag."""
    vocabulary = closed_vocabulary(model_key)
    return closed(vocabulary) if vocabulary is not None else None


def closed(words: Collection[str]) -> Callable[[str], bool]:
    """`known` for a model that learned only `words`: a text it knows is made of them."""
    vocabulary = frozenset(words)
    return lambda text: all(part in vocabulary for part in _plain(text).split())
