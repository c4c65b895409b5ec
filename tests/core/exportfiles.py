"""Copies and damages of a model's ONNX export files, for the tests of each export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from photoclip.core.exports import ExportKind, weights_path


def copy_export(kind: ExportKind, cache: Path, into: Path, model_key: str) -> Path:
    """`into`, a cache folder holding a copy of the model's export of this kind."""
    onnx_file, info_file = kind.paths(cache, model_key)
    for source in (onnx_file, weights_path(onnx_file), info_file):
        target = into / source.relative_to(cache)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
    return into


def scramble(weights: Path) -> None:
    data = np.frombuffer(weights.read_bytes(), dtype=np.float32).copy()
    np.random.default_rng(0).shuffle(data)
    weights.write_bytes(data.tobytes())


def make_nan(weights: Path) -> None:
    weights.write_bytes(b"\xff" * weights.stat().st_size)


def edit(info: Path, **changes: Any) -> None:
    info.write_text(json.dumps({**json.loads(info.read_text()), **changes}))


def negated_checks(info: Path) -> list[list[float]]:
    return [[-x for x in row] for row in json.loads(info.read_text())["checks"]]


def both_exports_on_cpu(encoder: Any, cache: Path) -> Path:
    """`cache` holding both towers' exports of `encoder`'s model and the device probe of a
    CPU-only load: where the model is served from its exports (embedding.exported_towers)."""
    import torch

    from photoclip.core.device import DeviceProbe, save_probe
    from photoclip.core.imageexport import export_image
    from photoclip.core.textexport import export_text

    export_text(encoder, cache)
    export_image(encoder, cache)
    save_probe(DeviceProbe("auto", "cpu", torch.__version__, ("cpu",)), cache)
    return cache
