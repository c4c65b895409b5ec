"""The training script: a tiny run writes weights the product loads like any checkpoint, and
the committed weights are what the script's defaults make (the README's one line)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from photoclip.core.embedding import load_encoder
from photoclip.core.profiles import ModelProfile, resolve_profile
from photoclip.synthetic import training
from photoclip.synthetic.training import ARCH, TrainingConfig


def test_a_tiny_run_writes_weights_that_load_through_the_product(tmp_path: Path) -> None:
    out = tmp_path / "tiny.safetensors"
    lines: list[str] = []
    config = TrainingConfig(scenes=32, epochs=2, batch_size=16, warmup_steps=2, threads=1)
    loss = training.train(config, out, report=lines.append)
    assert np.isfinite(loss) and [line.split(":")[0] for line in lines[1:]] == [
        "epoch 1/2",
        "epoch 2/2",
    ]
    encoder = load_encoder(ModelProfile("tiny", ARCH, weights_file=out), device="cpu")
    vectors = encoder.encode_texts(["a red circle", "the word 'star'"])
    assert vectors.shape == (2, encoder.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


@pytest.mark.parametrize("field", ["arch", "training_config"])
def test_the_committed_weights_record_the_script_defaults(field: str) -> None:
    """A change of defaults without retraining (or the reverse) fails here."""
    weights = resolve_profile("test-shapes").weights_file
    assert weights is not None
    with safe_open(str(weights), framework="pt") as file:
        metadata = file.metadata()
    expected = {"arch": ARCH, "training_config": asdict(TrainingConfig())}[field]
    found = metadata["arch"] if field == "arch" else json.loads(metadata[field])
    assert found == json.loads(json.dumps(expected))
