"""User settings: a small JSON file in the data folder.

Older files load: a missing field takes its default, an unknown one is ignored, and a value
of the wrong type (or out of range) is replaced by the default with a warning, so one bad
entry never costs the others.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda", "mps")
TEXTNESS_RANGE = (-2.0, 2.0)
#: the results grid's thumbnail sizes (px)
THUMBNAIL_RANGE = (96, 400)


@dataclass
class Settings:
    #: model profile name; PHOTOCLIP_MODEL and --model override it
    model: str | None = None
    #: "auto" probes cuda, mps, cpu in that order
    device: str = "auto"
    #: CPU threads for the model; 0 lets torch decide
    threads: int = 0
    #: photos larger than this are skipped (decompression-bomb guard)
    max_megapixels: int = 200
    #: photos embedded per batch; 0 takes the model profile's, measured (profiles.py)
    batch_size: int = 0
    #: where thumbnails are cached; "" means the data folder's thumbnails/
    thumbnail_cache: str = ""
    #: the search bar's starting textness (-2 avoids photos of text, 2 seeks them)
    textness: float = 0.0
    #: photos per second measured with each profile on this machine (name -> speed)
    speeds: dict[str, float] = field(default_factory=dict)
    #: the results grid's thumbnail size (px), as the user last left it
    thumbnail_size: int = 160

    @classmethod
    def load(cls, path: Path) -> Settings:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as error:
            log.warning("ignoring unreadable settings %s: %s", path, error)
            return cls()
        if not isinstance(raw, dict):
            log.warning("ignoring settings %s: not a JSON object", path)
            return cls()
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Settings:
        """Known fields of `raw` that have a sensible value; defaults for the rest."""
        chosen = {}
        for f in fields(cls):
            if f.name in raw and _valid(f.name, raw[f.name]):
                chosen[f.name] = _normalised(f.name, raw[f.name])
            elif f.name in raw:
                log.warning("ignoring setting %s=%r: %s", f.name, raw[f.name], _EXPECTED[f.name])
        return cls(**chosen)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        os.replace(temporary, path)

    def thumbnail_folder(self, default: Path) -> Path:
        """The thumbnail cache: the user's choice, else `default` (Locations.thumbnails)."""
        return Path(self.thumbnail_cache).expanduser() if self.thumbnail_cache else default


_EXPECTED = {
    "model": "a profile name",
    "device": f"one of {', '.join(DEVICES)}",
    "threads": "a whole number, 0 or more",
    "max_megapixels": "a whole number above 0",
    "batch_size": "a whole number, 0 (the model's) or more",
    "thumbnail_cache": "a folder path",
    "textness": f"a number from {TEXTNESS_RANGE[0]:g} to {TEXTNESS_RANGE[1]:g}",
    "speeds": "an object of profile names and photos per second",
    "thumbnail_size": f"a whole number from {THUMBNAIL_RANGE[0]} to {THUMBNAIL_RANGE[1]}",
}


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_whole(value: object, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _valid(name: str, value: object) -> bool:
    checks = {
        "model": lambda v: v is None or (isinstance(v, str) and bool(v.strip())),
        "device": lambda v: v in DEVICES,
        "threads": lambda v: _is_whole(v, 0),
        "max_megapixels": lambda v: _is_whole(v, 1),
        "batch_size": lambda v: _is_whole(v, 0),
        "thumbnail_cache": lambda v: isinstance(v, str),
        "textness": lambda v: _is_number(v) and TEXTNESS_RANGE[0] <= v <= TEXTNESS_RANGE[1],
        "speeds": lambda v: isinstance(v, dict) and all(_is_number(s) for s in v.values()),
        "thumbnail_size": lambda v: _is_whole(v, THUMBNAIL_RANGE[0]) and v <= THUMBNAIL_RANGE[1],
    }
    return bool(checks[name](value))


def _normalised(name: str, value: Any) -> Any:
    if name == "textness":
        return float(value)
    if name == "speeds":
        return {str(k): float(v) for k, v in value.items()}
    return value
