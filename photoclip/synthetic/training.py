"""Train the tiny `PhotoClip-TestShapes` CLIP on generated scenes, on a CPU, in minutes.

    python -m photoclip.synthetic.training --out tests/models/test-shapes.safetensors

The model is open_clip's own CLIP built from photoclip/core/model_configs with random
weights, trained with open_clip's contrastive loss on `scene_series` scenes, and saved as a
float16 safetensors state dict that the `test-shapes` profile loads like any checkpoint.
Images go through the very eval transform that `load_encoder` applies at inference, so
training and inference see identically normalised pixels. The run is deterministic by seed.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import open_clip
import torch

from photoclip.core.embedding import register_model_configs
from photoclip.synthetic.scenes import HELD_OUT_SEED, Scene, counterpart, scene_series

ARCH = "PhotoClip-TestShapes"
DEFAULT_OUT = Path("tests/models/test-shapes.safetensors")
#: open_clip's ceiling for the learned temperature (CLIP's paper clips at 100 too).
MAX_LOGIT_SCALE = math.log(100.0)


@dataclass(frozen=True)
class TrainingConfig:
    seed: int = 0
    #: Distinct scenes rendered once; every epoch revisits them with fresh captions.
    #: (The committed weights were made with these defaults: tests/synthetic/test_training.py.)
    scenes: int = 16_000
    epochs: int = 4
    batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay: float = 0.1
    warmup_steps: int = 150
    #: Share of captions that end in a full stop, so "a photo of a {}." prompts are familiar.
    full_stop_share: float = 0.5
    threads: int = 2


@dataclass
class SceneTensors:
    """Preprocessed images (float16 to halve memory) and each image's caption choices."""

    images: torch.Tensor
    captions: list[list[str]]


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(argv)
    config = TrainingConfig(seed=args.seed, scenes=args.scenes, epochs=args.epochs)
    started = time.monotonic()
    final_loss = train(config, args.out, report=_report)
    _report(f"saved {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    _report(f"final loss {final_loss:.4f}, total time {time.monotonic() - started:.0f} s")


def _report(line: str) -> None:
    print(line, flush=True)  # flushed: progress shows while piped into a log


def train(config: TrainingConfig, out: Path, report: Callable[[str], None]) -> float:
    """Train from scratch, save to `out` and return the last epoch's mean loss."""
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model, preprocess, tokenizer = _build_model()
    started = time.monotonic()
    data = render_training_scenes(config, preprocess)
    report(f"rendered {len(data.captions)} scenes in {time.monotonic() - started:.0f} s")
    optimiser, schedule = _optimiser(model, config)
    loss = math.nan
    for epoch in range(config.epochs):
        loss = _train_epoch(model, tokenizer, data, optimiser, schedule, config, epoch)
        elapsed = time.monotonic() - started
        report(f"epoch {epoch + 1}/{config.epochs}: loss {loss:.4f}, {elapsed:.0f} s")
    save_weights(model, out, {"training_config": asdict(config), "final_loss": loss})
    return loss


def _build_model() -> tuple[Any, Callable[..., torch.Tensor], Any]:
    register_model_configs()
    model, _, preprocess = open_clip.create_model_and_transforms(
        ARCH, pretrained=None, pretrained_text=False, output_dict=True
    )
    return model.train(), preprocess, open_clip.get_tokenizer(ARCH)


def render_training_scenes(config: TrainingConfig, preprocess: Callable[..., Any]) -> SceneTensors:
    """Scenes in minimal pairs (a scene, then its `counterpart`), rendered and preprocessed."""
    pair_rng = random.Random(config.seed)
    scenes: list[Scene] = []
    captions: list[list[str]] = []
    for scene in scene_series(config.scenes // 2, seed=_series_seed(config)):
        pair = (scene, counterpart(scene, pair_rng))
        scenes += pair
        captions += [_telling_apart(*pair), _telling_apart(*reversed(pair))]
    images = torch.stack([preprocess(scene.render()).half() for scene in scenes])
    return SceneTensors(images, captions)


def _telling_apart(scene: Scene, other: Scene) -> list[str]:
    """The scene's captions that do not also fit the other one of its pair ("a red circle"
    versus "a red square", never "something red" for both): only those teach the difference."""
    shared = set(other.captions())
    return [caption for caption in scene.captions() if caption not in shared]


def _series_seed(config: TrainingConfig) -> int:
    # Held-out evaluation uses seeds from HELD_OUT_SEED up; training must never reach them.
    if not 0 <= config.seed < HELD_OUT_SEED:
        raise ValueError(f"Training seeds lie in [0, {HELD_OUT_SEED}); got {config.seed}.")
    return config.seed


def _optimiser(
    model: torch.nn.Module, config: TrainingConfig
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    decayed: list[torch.nn.Parameter] = []
    kept: list[torch.nn.Parameter] = []
    for name, parameter in model.named_parameters():
        # As open_clip's trainer: no decay on gains, biases, embeddings' scale or temperature.
        exempt = parameter.ndim < 2 or "ln" in name or "bias" in name or "logit_scale" in name
        (kept if exempt else decayed).append(parameter)
    groups = [
        {"params": decayed, "weight_decay": config.weight_decay},
        {"params": kept, "weight_decay": 0.0},
    ]
    optimiser = torch.optim.AdamW(groups, lr=config.learning_rate, betas=(0.9, 0.98), eps=1e-6)
    total_steps = config.epochs * (config.scenes // config.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: _warmup_cosine(step, config.warmup_steps, total_steps)
    )
    return optimiser, schedule


def _warmup_cosine(step: int, warmup: int, total: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _train_epoch(
    model: Any,
    tokenizer: Any,
    data: SceneTensors,
    optimiser: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LambdaLR,
    config: TrainingConfig,
    epoch: int,
) -> float:
    loss_fn = open_clip.ClipLoss()
    captions = random.Random(f"{config.seed}/{epoch}")
    order = _paired_order(len(data.captions), epoch)
    losses = []
    for start in range(0, len(order) - config.batch_size + 1, config.batch_size):
        batch = order[start : start + config.batch_size].tolist()
        texts = [_pick_caption(data.captions[index], captions, config) for index in batch]
        output = model(data.images[batch].float(), tokenizer(texts))
        loss = loss_fn(output["image_features"], output["text_features"], output["logit_scale"])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, MAX_LOGIT_SCALE)
        losses.append(loss.item())
    return sum(losses) / len(losses)


def _paired_order(n_scenes: int, epoch: int) -> torch.Tensor:
    """A shuffle that keeps each minimal pair side by side, so both land in one batch."""
    pairs = torch.randperm(n_scenes // 2, generator=torch.Generator().manual_seed(epoch))
    return torch.stack([2 * pairs, 2 * pairs + 1], dim=1).flatten()


def _pick_caption(captions: list[str], rng: random.Random, config: TrainingConfig) -> str:
    caption = rng.choice(captions)
    return caption + "." if rng.random() < config.full_stop_share else caption


def save_weights(model: torch.nn.Module, out: Path, metadata: dict[str, Any]) -> None:
    """Save the state dict in float16: half the size, and open_clip's `load_checkpoint`
    copies it into the float32 model (load_state_dict casts on copy)."""
    from safetensors.torch import save_file

    tensors = {
        name: (tensor.half() if tensor.is_floating_point() else tensor).contiguous()
        for name, tensor in model.state_dict().items()
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out), metadata={"arch": ARCH, **_as_strings(metadata)})


def _as_strings(metadata: dict[str, Any]) -> dict[str, str]:
    return {key: json.dumps(value) for key, value in metadata.items()}


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    defaults = TrainingConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--scenes", type=int, default=defaults.scenes)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
