"""Pick the compute device by trying it, not by trusting `is_available()`; keep what the
probe saw, so that `photoclip doctor` can tell which device is used, and why, without
importing torch (seconds) itself.

The probe is kept in the cache folder (PROBE_FILE), not in the library: it describes this
computer and this torch, and the cache folder is this computer's own.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from photoclip.core.errors import ModelError

log = logging.getLogger(__name__)

AUTO = "auto"
PREFERENCE = ("cuda", "mps", "cpu")
PROBE_FILE = "device-probe.json"
#: A driver's error can run over many lines; the first of them, this long, says enough.
_REASON_CHARS = 200


@dataclass(frozen=True)
class DeviceProbe:
    """What one probe found: the device chosen for `requested`, and why the others were not."""

    requested: str
    #: None when the requested device does not work
    device: str | None
    #: torch.__version__ of the probing process (a later torch may see other devices)
    torch: str
    #: devices that allocated a tensor, in PREFERENCE order
    works: tuple[str, ...]
    #: device -> why it failed, for each device tried that failed
    failed: dict[str, str] = field(default_factory=dict)
    #: the GPU's name when the device is one
    name: str = ""
    #: when, in seconds since the epoch
    at: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "works": list(self.works)}

    @classmethod
    def from_json(cls, data: Any) -> DeviceProbe:
        """Raises ValueError for anything that is not a probe this module wrote."""
        try:
            device = data["device"]
            return cls(
                requested=_text(data["requested"]),
                device=None if device is None else _text(device),
                torch=_text(data["torch"]),
                works=tuple(_text(name) for name in _of(list, data["works"])),
                failed={_text(k): _text(v) for k, v in _of(dict, data["failed"]).items()},
                name=_text(data.get("name", "")),
                at=float(_of((int, float), data["at"])),
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a device probe: {error!r}") from error


def _of(kind: type | tuple[type, ...], value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"{value!r} is not a {kind}")
    return value


def _text(value: Any) -> str:
    return str(_of(str, value))


def probe_device(requested: str | None = None) -> str:
    """Return a device that really allocates a tensor: the requested one, or the best."""
    return chosen(probe(requested))


def chosen(found: DeviceProbe) -> str:
    """The probe's device; a requested device that does not work is the user's to fix."""
    if found.device is None:
        raise ModelError(f"The device '{found.requested}' does not work here; try --device cpu.")
    return found.device


def probe(requested: str | None = None, *, every: bool = False) -> DeviceProbe:
    """Try the requested device (AUTO: each of PREFERENCE until one works); `every` tries
    all of PREFERENCE, to say which work. Imports torch."""
    import torch

    asked = requested or AUTO
    order = PREFERENCE if asked == AUTO else (asked,)
    tried = tuple(dict.fromkeys((*order, *PREFERENCE))) if every else order
    works: list[str] = []
    failed: dict[str, str] = {}
    for name in tried:
        reason = why_unusable(name)
        if reason is not None:
            failed[name] = reason
            continue
        works.append(name)
        if not every and asked == AUTO:
            break
    device = next((name for name in order if name in works), None)
    return DeviceProbe(
        asked, device, torch.__version__, tuple(works), failed, _gpu_name(device), time.time()
    )


def why_unusable(device: str) -> str | None:
    """None when the device allocates a tensor; else the first line of the error."""
    import torch

    if device == "mps" and not torch.backends.mps.is_built():
        return "this torch has no MPS support (Macs only)"  # (torch's own error is long)
    try:
        torch.ones(1, device=device).add_(1).cpu()
    except (RuntimeError, AssertionError, ValueError) as error:
        # Drivers missing or mismatched surface as any of these; the CPU always remains.
        log.debug("device %s unusable: %s", device, error)
        return _first_sentence(str(error)) or type(error).__name__
    return None


def _first_sentence(text: str) -> str:
    """The first sentence of a line: a driver says why, then goes on to a URL."""
    line = (text.strip().splitlines() or [""])[0]
    end = line.find(". ")
    return (line if end < 0 else line[: end + 1])[:_REASON_CHARS]


def _gpu_name(device: str | None) -> str:
    import torch

    if device is None or not device.startswith("cuda"):
        return ""
    try:
        return str(torch.cuda.get_device_name(torch.device(device)))
    except (RuntimeError, AssertionError, ValueError) as error:
        log.debug("no name for %s: %s", device, error)
        return ""


# -- kept for `photoclip doctor` ---------------------------------------------------------------


def save_probe(found: DeviceProbe, cache: Path) -> None:
    """Keep the probe in the cache folder (a read-only one keeps nothing: then `photoclip
    doctor` cannot say which device is used, and indexing does not use the image tower's
    ONNX export, which only a probe that found the CPU alone allows: `known_cpu`)."""
    path = cache / PROBE_FILE
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        cache.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(found.as_json(), indent=1), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as error:
        log.info("the device probe is not kept: %s", error)


def load_probe(cache: Path) -> DeviceProbe | None:
    """The last probe kept in the cache folder; None when there is none, or it is damaged."""
    try:
        data = json.loads((cache / PROBE_FILE).read_bytes())
        return DeviceProbe.from_json(data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as error:  # (json's are ValueErrors)
        log.info("the kept device probe is unreadable: %s", error)
        return None


def last_device(cache: Path) -> str | None:
    """The device the kept probe chose; None when there is none (or it chose none)."""
    found = load_probe(cache)
    return found.device if found is not None else None


def known_cpu(requested: str | None, cache: Path) -> bool:
    """Whether torch would run the model on the CPU, known without importing it: the CPU
    was asked for, or the kept probe of an automatic choice, by the torch installed now,
    found no accelerator. (After a GPU is added under the same torch, `photoclip doctor
    --probe`, or the app's next model load, finds it.)"""
    if requested == "cpu":
        return True
    if (requested or AUTO) != AUTO:
        return False
    found = load_probe(cache)
    if found is None or (found.requested, found.device) != (AUTO, "cpu"):
        return False
    return found.torch == _installed_torch()


def _installed_torch() -> str | None:
    """torch.__version__ of the installed torch (its build too: "2.14.1+cpu"), read from
    its version.py: the package metadata lacks the build, and importing takes seconds."""
    import importlib.util
    import re

    try:
        spec = importlib.util.find_spec("torch")  # finds the package, imports nothing
        folders = list((spec and spec.submodule_search_locations) or [])
        text = (Path(folders[0]) / "version.py").read_text(encoding="utf-8")
    except (ImportError, ValueError, IndexError, OSError):
        return None
    found = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", text, re.MULTILINE)
    return found.group(1) if found else None
