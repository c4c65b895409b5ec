"""What `photoclip doctor` reports: versions, the torch build and device, folders, and the
model with whether its weights are here.

The model is the one `photoclip status` shows: the library's own (its vectors were made
with it), else the one the next run would choose (--model, PHOTOCLIP_MODEL, settings).
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Iterator
from pathlib import Path

from photoclip import __version__
from photoclip.core.errors import KnownError
from photoclip.core.paths import Locations
from photoclip.core.profiles import MULTILINGUAL, resolve_profile

#: What a CUDA build of torch adds on Linux: a fresh `pip install .` venv measured 5.8 GB,
#: 4.6 GB of it CUDA-only (the nvidia packages, triton, libtorch_cuda), so about 1.2 GB
#: with the CPU build.
CUDA_EXTRA = "about 4.6 GB"


def diagnose(
    locations: Locations, profile_name: str | None, device: str, *, chosen: bool = False
) -> Iterator[tuple[str, str]]:
    """`profile_name` is the model asked for; unless `chosen` (--model), the library's
    own model, when it has one, comes first, as in `photoclip status`."""
    yield "photoclip", __version__
    yield "python", f"{sys.version.split()[0]} on {platform.platform()}"
    yield from _versions()
    yield from _devices(device)
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
    import hnswlib
    import open_clip
    import PIL
    import torch

    yield "torch", f"{torch.__version__} ({torch_build()})"
    yield "open_clip", open_clip.__version__
    yield "hnswlib", getattr(hnswlib, "__version__", "installed")
    yield "pillow", PIL.__version__
    yield "transformers", _transformers()


def torch_build() -> str:
    """Which build of torch is installed: for CUDA, for ROCm, or for the CPU alone."""
    import torch

    if torch.version.cuda:
        return f"CUDA {torch.version.cuda} build"
    if getattr(torch.version, "hip", None):
        return f"ROCm {torch.version.hip} build"
    return "CPU build"


def _transformers() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("transformers")
    except PackageNotFoundError:
        return (
            f"not installed (only the multilingual model needs it: "
            f"pip install 'photoclip[{MULTILINGUAL.name}]')"
        )


def _devices(requested: str) -> Iterator[tuple[str, str]]:
    from photoclip.core.device import PREFERENCE, device_works, probe_device

    works = [name for name in PREFERENCE if device_works(name)]
    yield "devices that work", ", ".join(works)
    try:
        yield "device in use", probe_device(requested)
    except KnownError as error:
        yield "device in use", f"none: {error}"
    if "CUDA" in torch_build() and "cuda" not in works:
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
