"""Averaging runs that went on from one checkpoint (a uniform model soup): the mean of each
weight, a file the product loads, a record of what went in, and a clear refusal otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from photoclip.core.embedding import load_encoder, register_model_configs
from photoclip.core.profiles import NATIVE, ModelProfile
from photoclip.synthetic import averaging, training
from photoclip.synthetic.averaging import AveragingError, average_checkpoints
from photoclip.synthetic.training import ARCH

START = {"file": "start.safetensors", "sha256": "5" * 64}


def _checkpoint(
    path: Path, seed: int, started_from: dict[str, str] | None = START, steps: int = 0
) -> Path:
    """A randomly initialised test-shapes model saved as training saves a run of `seed`."""
    register_model_configs()
    torch.manual_seed(seed)
    model = open_clip.create_model(ARCH, pretrained=None)
    model.visual.bn1.num_batches_tracked.fill_(steps)
    metadata: dict[str, object] = {"training_config": {"seed": seed}}
    if started_from is not None:
        metadata["started_from"] = started_from
    training.save_weights(model, path, metadata)
    return path


@pytest.fixture
def runs(tmp_path: Path) -> list[Path]:
    return [
        _checkpoint(tmp_path / "seed2.safetensors", 2, steps=70),
        _checkpoint(tmp_path / "seed3.safetensors", 3, steps=80),
    ]


def test_each_weight_is_the_mean_of_the_runs(runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "mean.safetensors"
    average_checkpoints(runs, out)
    first, second, mean = (load_file(str(path)) for path in (*runs, out))
    assert mean.keys() == first.keys()
    floats = [name for name, tensor in mean.items() if tensor.is_floating_point()]
    for name in floats:
        expected = (first[name].float() / 2 + second[name].float() / 2).half()
        assert torch.equal(mean[name], expected), name
    differs = [name for name in floats if not torch.equal(first[name], second[name])]
    assert differs and all(not torch.equal(mean[name], first[name]) for name in differs)
    # BatchNorm's step count is not a weight: the first run's, not a mean.
    assert int(mean["visual.bn1.num_batches_tracked"]) == 70


def test_the_average_loads_through_the_product(runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "mean.safetensors"
    average_checkpoints(runs, out)
    encoder = load_encoder(ModelProfile("mean", ARCH, weights_file=out, framing=NATIVE), "cpu")
    vectors = encoder.encode_texts(["a red circle", "a blue star"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_the_average_records_what_went_in(runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "mean.safetensors"
    average_checkpoints(runs, out)
    with safe_open(str(out), "pt") as file:
        metadata = file.metadata()
    assert metadata["arch"] == ARCH
    origins = json.loads(metadata["averaged"])
    assert [origin["file"] for origin in origins] == ["seed2.safetensors", "seed3.safetensors"]
    assert [origin["training_config"]["seed"] for origin in origins] == [2, 3]
    assert all(origin["started_from"] == START for origin in origins)
    assert origins[0]["sha256"] == training.provenance(runs[0])["sha256"]


def test_runs_from_different_starts_are_refused(runs: list[Path], tmp_path: Path) -> None:
    other = _checkpoint(tmp_path / "other.safetensors", 4, {"file": "b", "sha256": "6" * 64})
    with pytest.raises(AveragingError, match="same recorded checkpoint"):
        average_checkpoints([runs[0], other], tmp_path / "mean.safetensors")
    assert not (tmp_path / "mean.safetensors").exists()


def test_a_run_with_no_recorded_start_is_refused(runs: list[Path], tmp_path: Path) -> None:
    scratch = _checkpoint(tmp_path / "scratch.safetensors", 4, started_from=None)
    with pytest.raises(AveragingError, match="same recorded checkpoint"):
        average_checkpoints([runs[0], scratch], tmp_path / "mean.safetensors")


def test_checkpoints_of_other_tensors_are_refused(runs: list[Path], tmp_path: Path) -> None:
    from safetensors.torch import save_file

    tensors = load_file(str(runs[1]))
    tensors.pop("logit_scale")
    with safe_open(str(runs[1]), "pt") as file:
        metadata = file.metadata()
    save_file(tensors, str(runs[1]), metadata=metadata)
    with pytest.raises(AveragingError, match=r"seed3\.safetensors holds other tensors"):
        average_checkpoints(runs, tmp_path / "mean.safetensors")


def test_one_checkpoint_is_not_an_average(runs: list[Path], tmp_path: Path) -> None:
    with pytest.raises(AveragingError, match="at least two"):
        average_checkpoints(runs[:1], tmp_path / "mean.safetensors")


def test_the_command_says_why_it_refuses(
    runs: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        averaging.main(["--out", str(tmp_path / "mean.safetensors"), str(runs[0])])
    assert exit_.value.code == 2
    assert "at least two checkpoints" in capsys.readouterr().err
    averaging.main(["--out", str(tmp_path / "mean.safetensors"), *map(str, runs)])
    assert "the mean of seed2.safetensors, seed3.safetensors" in capsys.readouterr().out
