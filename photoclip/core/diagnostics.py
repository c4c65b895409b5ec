"""What `photoclip doctor` reports: versions, the torch build and device, folders, and the
model with whether its weights are here. Without torch: versions come from the packages'
metadata, the torch build from torch/version.py as a file, and the device from the last
probe kept (photoclip.core.device); `--probe` (`fresh`) probes now, with torch.

The model is the one `photoclip status` shows: the library's own (its vectors were made
with it), else the one the next run would choose (--model, PHOTOCLIP_MODEL, settings).
"""

from __future__ import annotations

import ast
import importlib.util
import platform
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from photoclip import __version__
from photoclip.core.errors import KnownError
from photoclip.core.paths import Locations
from photoclip.core.profiles import MULTILINGUAL, ModelProfile, resolve_profile

if TYPE_CHECKING:
    from photoclip.core.device import DeviceProbe

#: What a CUDA build of torch adds on Linux: a fresh `pip install .` venv measured 5.8 GB,
#: 4.6 GB of it CUDA-only (the nvidia packages, triton, libtorch_cuda), so about 1.2 GB
#: with the CPU build.
CUDA_EXTRA = "about 4.6 GB"
#: (shown as, distribution name) of the other libraries whose versions are reported
PACKAGES = (
    ("open_clip", "open_clip_torch"),
    ("hnswlib", "hnswlib"),
    ("pillow", "pillow"),
    ("onnxruntime", "onnxruntime"),
)
#: What to say when no probe is kept yet.
NO_PROBE = "PhotoClip probes when it first loads the model; `photoclip doctor --probe` probes now"


def diagnose(
    locations: Locations,
    profile_name: str | None,
    device: str,
    *,
    chosen: bool = False,
    fresh: bool = False,
) -> Iterator[tuple[str, str]]:
    """`profile_name` is the model asked for; unless `chosen` (--model), the library's
    own model, when it has one, comes first, as in `photoclip status`. The device is the
    last probe kept (photoclip.core.device), or with `fresh` a probe made now, which
    imports torch (and is kept in its turn)."""
    yield "photoclip", __version__
    yield "python", f"{sys.version.split()[0]} on {platform.platform()}"
    yield from _versions()
    yield "device setting", device
    yield from _fresh_probe(locations, device) if fresh else _kept_probe(locations, device)
    yield "data folder", str(locations.data)
    yield (
        "catalog",
        f"{locations.catalog} ({'present' if locations.catalog.exists() else 'none yet'})",
    )
    yield "thumbnails", str(_thumbnail_folder(locations))
    yield "weights cache", str(locations.weights)
    library = None if chosen else library_model(locations)
    yield from _weights(locations, library or profile_name, "the library's" if library else "")


def library_model(locations: Locations) -> str | None:
    """The profile the library's vectors were made with (read-only: creates nothing)."""
    from photoclip.core.catalog import Catalog

    if not locations.catalog.exists():
        return None
    try:
        with Catalog.open(locations.catalog, readonly=True) as catalog:
            key = catalog.active_model
            record = catalog.model(key) if key else None
    except KnownError:
        return None
    return record.profile if record else None


def _thumbnail_folder(locations: Locations) -> Path:
    from photoclip.core.library import thumbnail_store
    from photoclip.core.settings import Settings

    return thumbnail_store(locations, Settings.load(locations.settings)).folder


def _versions() -> Iterator[tuple[str, str]]:
    """From the installed packages' metadata: importing them would cost seconds (torch)."""
    torch = torch_files()
    yield "torch", f"{torch['__version__']} ({torch_build(torch)})" if torch else "not installed"
    for shown, package in PACKAGES:
        yield shown, installed_version(package) or "not installed"
    extra = f"pip install 'photoclip[{MULTILINGUAL.name}]'"
    missing = f"not installed (only the multilingual model needs it: {extra})"
    yield "transformers", installed_version("transformers") or missing


def installed_version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def torch_files() -> dict[str, str | None] | None:
    """torch/version.py's names (__version__, cuda, hip), read without importing torch;
    None when torch is not installed. (pip's metadata lacks the build: a CUDA wheel's
    version there is '2.14.1' where torch says '2.14.1+cu130'.)"""
    spec = importlib.util.find_spec("torch")  # finds the package, runs none of it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "version.py"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return {"__version__": installed_version("torch") or "unknown version"}
    return dict(_literals(tree))


def _literals(tree: ast.Module) -> Iterator[tuple[str, str | None]]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and isinstance(value, ast.Constant):
            constant = value.value
            yield target.id, None if constant is None else str(constant)


def torch_build(torch: dict[str, str | None]) -> str:
    """Which build of torch is installed: for CUDA, for ROCm, or for the CPU alone."""
    if torch.get("cuda"):
        return f"CUDA {torch['cuda']} build"
    if torch.get("hip"):
        return f"ROCm {torch['hip']} build"
    return "CPU build"


def _kept_probe(locations: Locations, setting: str) -> Iterator[tuple[str, str]]:
    from photoclip.core.device import load_probe

    found = load_probe(locations.cache)
    if found is None:
        yield "device in use", f"not probed yet ({NO_PROBE})"
        return
    yield "device in use", _device_text(found)
    yield "device probe", _probe_text(found, setting)
    yield from _cuda_note(found)


def _fresh_probe(locations: Locations, setting: str) -> Iterator[tuple[str, str]]:
    from photoclip.core.device import probe, save_probe

    found = probe(setting, every=True)
    save_probe(found, locations.cache)
    yield "devices that work", ", ".join(found.works)
    for name, reason in found.failed.items():
        yield f"{name} fails", reason
    yield "device in use", _device_text(found)
    yield from _cuda_note(found)


def _device_text(found: DeviceProbe) -> str:
    if found.device is None:
        return f"none: '{found.requested}' does not work here (settings, or --device cpu)"
    return f"{found.device} ({found.name})" if found.name else found.device


def _probe_text(found: DeviceProbe, setting: str) -> str:
    """When and with what the kept probe was made, why its device, and whether it still
    stands (torch or the setting changed since)."""
    parts = [f"{_age(time.time() - found.at)}, torch {found.torch}, asked for {found.requested}"]
    parts += [f"{name} failed: {reason.rstrip('.')}" for name, reason in found.failed.items()]
    torch = torch_files()
    installed = torch["__version__"] if torch else None
    if installed != found.torch:
        parts.append(f"torch is {installed} now: `photoclip doctor --probe` probes again")
    elif setting != found.requested:
        parts.append(f"the setting asks for {setting}: `photoclip doctor --probe` probes it")
    return "; ".join(parts)


def _age(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "just now"


def _cuda_note(found: DeviceProbe) -> Iterator[tuple[str, str]]:
    torch = torch_files()
    if torch and "CUDA" in torch_build(torch) and "cuda" in found.failed:
        yield (
            "note",
            (
                f"this torch carries CUDA libraries ({CUDA_EXTRA}) but no GPU works here; the CPU "
                "build is much smaller (README, 'Smaller installs')"
            ),
        )


def _weights(
    locations: Locations, profile_name: str | None, whose: str
) -> Iterator[tuple[str, str]]:
    from photoclip.core.weights import weights_present

    try:
        profile = resolve_profile(profile_name)
        present = weights_present(profile, locations.weights)
    except KnownError as error:
        yield "model", f"unusable: {error}"
        return
    yield "model", f"{profile.name} ({whose + ' model, ' if whose else ''}{profile.key})"
    yield "weights", "present" if present else "not downloaded yet (needs internet once)"
    yield "onnx exports", _exports(profile, locations)


def _exports(profile: ModelProfile, locations: Locations) -> str:
    from photoclip.core.exports import export_state

    return export_state(profile, locations.cache)
