"""Loaders for tests of core.encoderprocess: its child process runs one of these by name
(a spawned child unpickles its target's arguments, so they live in an importable module)."""

from __future__ import annotations

import os
from typing import Any, NoReturn

from photoclip.core.errors import WeightsUnavailableError

OFFLINE = "The weights for test are not on this computer; connect once."


class StrangeError(Exception):
    """An exception type the parent does not rebuild (like one of torch's)."""


def offline_after_progress(
    profile: Any, device: Any, cache: Any, progress: Any, threads: Any
) -> NoReturn:
    progress(1, 4)
    progress(4, 4)
    raise WeightsUnavailableError(OFFLINE)


def strange_failure(profile: Any, device: Any, cache: Any, progress: Any, threads: Any) -> NoReturn:
    raise StrangeError("the library broke")


def crash(profile: Any, device: Any, cache: Any, progress: Any, threads: Any) -> NoReturn:
    os._exit(3)
