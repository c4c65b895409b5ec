"""Pick the compute device by trying it, not by trusting `is_available()`."""

from __future__ import annotations

import logging

from photoclip.core.errors import ModelError

log = logging.getLogger(__name__)

AUTO = "auto"
PREFERENCE = ("cuda", "mps", "cpu")


def probe_device(requested: str | None = None) -> str:
    """Return a device that really allocates a tensor: the requested one, or the best."""
    if requested and requested != AUTO:
        if not device_works(requested):
            raise ModelError(f"The device '{requested}' does not work here; try --device cpu.")
        return requested
    return next(device for device in PREFERENCE if device_works(device))


def device_works(device: str) -> bool:
    import torch

    try:
        torch.ones(1, device=device).add_(1).cpu()
    except (RuntimeError, AssertionError, ValueError) as error:
        # Drivers missing or mismatched surface as any of these; the CPU always remains.
        log.debug("device %s unusable: %s", device, error)
        return False
    return True
