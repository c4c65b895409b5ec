"""Average the weights of runs that went on from one checkpoint: a uniform "model soup"
(Wortsman et al. 2022, "Model soups: averaging weights of multiple fine-tuned models improves
accuracy without increasing inference time").

Runs fine-tuned from the same weights with different seeds tend to stay in one basin of the
loss, so their mean is a model too, one that keeps what every run learned and evens out what
one seed's scene draws taught it alone (models README, run FM). It costs nothing at
inference: the result is one checkpoint of the same architecture.

    python -m photoclip.synthetic.averaging --out averaged.safetensors a.safetensors b.safetensors

The output records each input's provenance (name, digest, training config and what it went
on from), so the average can be remade and checked like a trained file.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch

from photoclip.synthetic.training import provenance, save_tensors


class AveragingError(ValueError):
    """The checkpoints cannot be averaged (say why, naming the file)."""


def average_checkpoints(paths: Sequence[Path], out: Path) -> None:
    """Write the mean of `paths`' weights to `out`, with each input's provenance."""
    if len(paths) < 2:
        raise AveragingError("averaging needs at least two checkpoints")
    origins = [provenance(path) for path in paths]
    _check_one_start(paths, origins)
    save_tensors(mean_weights(paths), out, {"averaged": origins})


def mean_weights(paths: Sequence[Path]) -> dict[str, torch.Tensor]:
    """Each floating-point tensor's mean, summed in float32 in the order given. Integer
    tensors (BatchNorm's count of batches seen, which inference never reads) are the first
    checkpoint's."""
    from safetensors.torch import load_file

    first = load_file(str(paths[0]))
    total = {name: _share_of_mean(tensor, len(paths)) for name, tensor in first.items()}
    for path in paths[1:]:
        weights = load_file(str(path))
        _check_same_tensors(first, weights, path)
        for name, tensor in weights.items():
            if tensor.is_floating_point():
                total[name] += _share_of_mean(tensor, len(paths))
    return total


def _share_of_mean(tensor: torch.Tensor, count: int) -> torch.Tensor:
    """A float tensor's share of the mean; an integer tensor as it is (kept, not summed)."""
    return tensor.float() / count if tensor.is_floating_point() else tensor


def _check_same_tensors(
    first: dict[str, torch.Tensor], other: dict[str, torch.Tensor], path: Path
) -> None:
    if first.keys() != other.keys():
        raise AveragingError(f"{path.name} holds other tensors than the first checkpoint")
    for name, tensor in other.items():
        if tensor.shape != first[name].shape:
            raise AveragingError(f"{path.name}: {name} has shape {tuple(tensor.shape)}")


def _check_one_start(paths: Sequence[Path], origins: list[dict[str, object]]) -> None:
    """Only runs that went on from the same weights share a basin; the mean of unrelated
    models (or of a run and its own start) is not what a soup means."""
    starts = {_start_digest(origin) for origin in origins}
    if None in starts or len(starts) != 1:
        names = ", ".join(path.name for path in paths)
        raise AveragingError(f"{names}: not all went on from the same recorded checkpoint")


def _start_digest(origin: dict[str, object]) -> str | None:
    start = origin.get("started_from")
    return str(start["sha256"]) if isinstance(start, dict) and "sha256" in start else None


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("checkpoints", type=Path, nargs="+")
    args = parser.parse_args(argv)
    try:
        average_checkpoints(args.checkpoints, args.out)
    except AveragingError as error:
        parser.error(str(error))
    names = ", ".join(path.name for path in args.checkpoints)
    print(f"saved {args.out}: the mean of {names}")


if __name__ == "__main__":
    main()
