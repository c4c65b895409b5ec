"""What `photoclip doctor` reports: versions, device, folders, and whether weights are here."""

from __future__ import annotations

import platform
import sys
from collections.abc import Iterator
from pathlib import Path

from photoclip import __version__
from photoclip.core.errors import KnownError
from photoclip.core.paths import Locations
from photoclip.core.profiles import resolve_profile


def diagnose(
    locations: Locations, profile_name: str | None, device: str
) -> Iterator[tuple[str, str]]:
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
    yield from _weights(locations, profile_name)


def _thumbnail_folder(locations: Locations) -> Path:
    from photoclip.core.library import thumbnail_store
    from photoclip.core.settings import Settings

    return thumbnail_store(locations, Settings.load(locations.settings)).folder


def _versions() -> Iterator[tuple[str, str]]:
    import hnswlib
    import open_clip
    import PIL
    import torch

    yield "torch", torch.__version__
    yield "open_clip", open_clip.__version__
    yield "hnswlib", getattr(hnswlib, "__version__", "installed")
    yield "pillow", PIL.__version__


def _devices(requested: str) -> Iterator[tuple[str, str]]:
    from photoclip.core.device import PREFERENCE, device_works, probe_device

    works = [name for name in PREFERENCE if device_works(name)]
    yield "devices that work", ", ".join(works)
    try:
        yield "device in use", probe_device(requested)
    except KnownError as error:
        yield "device in use", f"none: {error}"


def _weights(locations: Locations, profile_name: str | None) -> Iterator[tuple[str, str]]:
    from photoclip.core.weights import weights_present

    try:
        profile = resolve_profile(profile_name)
        present = weights_present(profile, locations.weights)
    except KnownError as error:
        yield "model", f"unusable: {error}"
        return
    yield "model", f"{profile.name} ({profile.key})"
    yield "weights", "present" if present else "not downloaded yet (needs internet once)"
