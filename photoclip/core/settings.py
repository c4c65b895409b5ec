"""User settings: a small JSON file in the data folder."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

log = logging.getLogger(__name__)


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
    batch_size: int = 16
    #: searches' default textness, -2 (ignore text in photos) .. +2 (favour it)
    textness: float = 0.0

    @classmethod
    def load(cls, path: Path) -> Settings:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as error:
            log.warning("ignoring unreadable settings %s: %s", path, error)
            return cls()
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        os.replace(temporary, path)
