"""Tiny open_clip architectures for tests, registered the way open_clip's own tests do:
a JSON config per model in a folder handed to `open_clip.add_model_config`."""

from __future__ import annotations

import json
from typing import Any

import pytest


def register(factory: pytest.TempPathFactory, configs: dict[str, dict[str, Any]]) -> None:
    """Make each of `configs` (name -> open_clip model config) known to open_clip."""
    import open_clip

    folder = factory.mktemp("model_configs")
    for name, config in configs.items():
        (folder / f"{name}.json").write_text(json.dumps(config))
    open_clip.add_model_config(folder)
