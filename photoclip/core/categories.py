"""Tag categories: named lists of labels the user writes, read from and written to TOML or
JSON. Pure data: the catalog stores them (tagstore.py), tagging.py scores them.

A file holds `[[category]]` tables: `name`, `kind` ("single" or "multi"), optional
`context`, `margin` and `other_words` (false: no other words of the labels' kind compete),
and `labels`, each a name or a table with `name`, `phrasings`, `counter` and `threshold`.
photoclip/resources/categories.toml is the default set.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from photoclip.core.errors import KnownError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SINGLE = "single"
MULTI = "multi"
KINDS = (SINGLE, MULTI)

#: The shipped defaults: package data, so an installed wheel and the app bundle carry them.
DEFAULT_CATEGORIES = Path(__file__).resolve().parents[1] / "resources" / "categories.toml"


class CategoryFileError(KnownError):
    """A categories file cannot be read; the message says where and why."""


@dataclass(frozen=True)
class Label:
    name: str
    #: Other ways to say the same thing; every phrasing is prompted and averaged.
    phrasings: tuple[str, ...] = ()
    #: Competes for photos but never tags one (how "not X" is said).
    counter: bool = False
    #: The user's threshold; None means the model's calibrated one.
    threshold: float | None = None
    id: int | None = field(default=None, compare=False)

    @property
    def texts(self) -> tuple[str, ...]:
        return (self.name, *(p for p in self.phrasings if p != self.name))


@dataclass(frozen=True)
class Category:
    name: str
    labels: tuple[Label, ...]
    kind: str = SINGLE
    #: Appended to each prompt: "a photo of a {}, <context>."
    context: str = ""
    #: Single-choice: the best label must lead the runner-up by this much.
    margin: float = 0.0
    #: Single-choice: also compete with the other words of the labels' kind ("purple" in
    #: a colour category without it: photoclip/core/vocabulary.py).
    other_words: bool = True
    id: int | None = field(default=None, compare=False)

    def label(self, name: str) -> Label | None:
        return next((lab for lab in self.labels if lab.name.lower() == name.lower()), None)

    def with_labels(self, labels: tuple[Label, ...]) -> Category:
        return replace(self, labels=labels)


def name_problems(category: Category) -> list[str]:
    """Names that must never be stored, in words a person can act on: a blank category or
    label name (it would tag photos and become a nameless sort folder) and two labels of one
    name (the catalog tells labels apart by name, without case)."""
    found: list[str] = []
    title = category.name.strip()
    if not title:
        found.append("A category has no name: give it one.")
    seen: set[str] = set()
    for label in category.labels:
        if not label.name.strip():
            found.append(f"A label of '{title or 'the unnamed category'}' has no name.")
        elif label.name.lower() in seen:
            found.append(f"'{title}' has two labels called '{label.name}'.")
        seen.add(label.name.lower())
    return found


# -- reading ---------------------------------------------------------------------------------


def load_categories(path: Path) -> list[Category]:
    """Read a .toml or .json categories file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CategoryFileError(f"Cannot read {path}: {error.strerror or error}") from error
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as error:
        raise CategoryFileError(f"{path} is not valid {_format(path)}: {error}") from error
    return parse_categories(data, str(path))


def default_categories() -> list[Category]:
    return load_categories(DEFAULT_CATEGORIES)


def parse_categories(data: Any, origin: str = "the file") -> list[Category]:
    tables = data.get("category") if isinstance(data, dict) else None
    if not isinstance(tables, list):
        raise CategoryFileError(f"{origin} has no [[category]] tables.")
    return [_category(table, origin) for table in tables]


def _category(table: Any, origin: str) -> Category:
    if not isinstance(table, dict) or not isinstance(table.get("name"), str):
        raise CategoryFileError(f"A category in {origin} has no name.")
    name = table["name"]
    kind = table.get("kind", SINGLE)
    if kind not in KINDS:
        raise CategoryFileError(f"Category '{name}' in {origin}: kind must be single or multi.")
    labels = tuple(_label(item, name, origin) for item in table.get("labels", []))
    if not labels:
        raise CategoryFileError(f"Category '{name}' in {origin} has no labels.")
    context, margin = str(table.get("context", "")), float(table.get("margin", 0.0))
    other_words = table.get("other_words", True)
    if not isinstance(other_words, bool):
        raise CategoryFileError(
            f"Category '{name}' in {origin}: other_words must be true or false."
        )
    return Category(name, labels, kind, context, margin, other_words)


def _label(item: Any, category: str, origin: str) -> Label:
    if isinstance(item, str):
        return Label(item)
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise CategoryFileError(f"A label of '{category}' in {origin} has no name.")
    threshold = item.get("threshold")
    return Label(
        item["name"],
        tuple(str(p) for p in item.get("phrasings", [])),
        bool(item.get("counter", False)),
        None if threshold is None else float(threshold),
    )


# -- writing ---------------------------------------------------------------------------------


def dump_categories(categories: list[Category], path: Path) -> None:
    """Write .toml or .json, chosen by the file's suffix; read back by `load_categories`."""
    data = {"category": [_category_table(c) for c in categories]}
    if path.suffix.lower() == ".json":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        import tomli_w

        text = tomli_w.dumps(data)
    path.write_text(text, encoding="utf-8")


def _category_table(category: Category) -> dict[str, Any]:
    table: dict[str, Any] = {"name": category.name, "kind": category.kind}
    if category.context:
        table["context"] = category.context
    if category.margin:
        table["margin"] = category.margin
    if not category.other_words:
        table["other_words"] = False
    table["labels"] = [_label_item(label) for label in category.labels]
    return table


def _label_item(label: Label) -> str | dict[str, Any]:
    item: dict[str, Any] = {"name": label.name}
    if label.phrasings:
        item["phrasings"] = list(label.phrasings)
    if label.counter:
        item["counter"] = True
    if label.threshold is not None:
        item["threshold"] = label.threshold
    return label.name if len(item) == 1 else item


def _format(path: Path) -> str:
    return "JSON" if path.suffix.lower() == ".json" else "TOML"


# -- editing (what `photoclip tags add/edit/remove` do) ----------------------------------------


def with_added_labels(
    category: Category | None,
    name: str,
    labels: list[str],
    *,
    multi: bool = False,
    counter: bool = False,
) -> Category:
    """A new category of these labels (single-choice unless `multi`), or `category` with
    the labels it lacks appended."""
    fresh = tuple(Label(text, counter=counter) for text in labels)
    if category is None:
        return Category(name, fresh, MULTI if multi else SINGLE)
    known = {label.name.lower() for label in category.labels}
    added = tuple(label for label in fresh if label.name.lower() not in known)
    return category.with_labels(category.labels + added)


def with_edited_label(
    category: Category,
    name: str,
    *,
    phrasings: list[str] | None = None,
    threshold: float | None = None,
    auto_threshold: bool = False,
    counter: bool | None = None,
) -> Category:
    label = category.label(name)
    if label is None:
        raise KnownError(f"'{category.name}' has no label '{name}'.")
    changed = replace(
        label,
        phrasings=label.phrasings if phrasings is None else tuple(phrasings),
        threshold=None
        if auto_threshold
        else threshold
        if threshold is not None
        else label.threshold,
        counter=label.counter if counter is None else counter,
    )
    return category.with_labels(tuple(changed if lab is label else lab for lab in category.labels))


def without_labels(category: Category, names: list[str]) -> Category:
    gone = {name.lower() for name in names}
    missing = gone - {label.name.lower() for label in category.labels}
    if missing:
        raise KnownError(f"'{category.name}' has no label {', '.join(sorted(missing))}.")
    kept = tuple(label for label in category.labels if label.name.lower() not in gone)
    if not kept:
        raise KnownError(f"'{category.name}' would have no labels; remove the category instead.")
    return category.with_labels(kept)
