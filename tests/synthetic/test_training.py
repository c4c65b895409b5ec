"""The training script: a tiny run writes weights the product loads like any checkpoint, and
the committed weights are what the script's defaults make (the README's one line)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from photoclip.core.embedding import load_encoder
from photoclip.core.profiles import ModelProfile, resolve_profile
from photoclip.synthetic import training
from photoclip.synthetic.training import ARCH, TrainingConfig

TINY = TrainingConfig(scenes=96, epochs=1, batch_size=8, warmup_steps=2, reading_epochs=1)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], float]:
    out = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    lines: list[str] = []
    loss = training.train(TINY, out, report=lines.append)
    return out, lines, loss


def test_a_tiny_run_writes_weights_that_load_through_the_product(
    tiny_weights: tuple[Path, list[str], float],
) -> None:
    out, _, loss = tiny_weights
    assert np.isfinite(loss)
    encoder = load_encoder(ModelProfile("tiny", ARCH, weights_file=out), device="cpu")
    vectors = encoder.encode_texts(["a red circle", "the word 'star'"])
    assert vectors.shape == (2, encoder.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_reading_epochs_come_first_and_are_reported(
    tiny_weights: tuple[Path, list[str], float],
) -> None:
    _, lines, _ = tiny_weights
    epochs = [line for line in lines if line.startswith("epoch")]
    assert ["words only" in line for line in epochs] == [True, False]


def test_reading_epochs_go_over_word_scenes_only() -> None:
    config = replace(TINY, scenes=400, reading_epochs=2, epochs=3)
    assert training._epoch_plan(config) == [True, True, False, False, False]
    data = training.render_training_scenes(config, preprocess=lambda image: torch.zeros(1))
    assert 0 < int(data.words_only.sum()) < len(data.captions)
    for captions, words_only in zip(data.all_captions, data.words_only.tolist(), strict=True):
        assert captions[0].startswith("the word ") == words_only


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
