"""Train the tiny `PhotoClip-TestShapes` CLIP on generated scenes, on a CPU, in minutes.

The committed weights (models README: run FS) are run E, then three runs of a second stage
that go on from it natively with close-ups (seeds 2, 3 and 5), averaged (run FM), then four
runs of a third stage that go on from FM with colours in any of their names' shades (seeds
11-14), averaged:

    python -m photoclip.synthetic.training --out run-e.safetensors
    python -m photoclip.synthetic.training --start-from run-e.safetensors --framing native \
        --epochs 16 --learning-rate 2e-4 --close-up-share 0.35 --seed 2 --out fe-seed2.safetensors
    (the same with --seed 3 --out fe-seed3.safetensors, and --seed 5 --out fe-seed5.safetensors)
    python -m photoclip.synthetic.averaging fe-seed2.safetensors fe-seed3.safetensors \
        fe-seed5.safetensors --out run-fm.safetensors
    python -m photoclip.synthetic.training --start-from run-fm.safetensors --framing native \
        --epochs 8 --learning-rate 2e-4 --close-up-share 0.35 --shade-share 0.7 --seed 11 \
        --out fs-seed11.safetensors
    (the same with --seed 12, 13 and 14, each to its own file)
    python -m photoclip.synthetic.averaging fs-seed11.safetensors fs-seed12.safetensors \
        fs-seed13.safetensors fs-seed14.safetensors \
        --out photoclip/resources/models/test-shapes.safetensors

The model is open_clip's own CLIP built from photoclip/core/model_configs with random
weights, trained with open_clip's contrastive loss on `scene_series` scenes, and saved as a
float16 safetensors state dict that the `test-shapes` profile loads like any checkpoint.
Images go through the very eval transform that `load_encoder` applies at inference for the
framing asked for (the letterbox, padded with the photo's mean colour, or the native
framing, each canvas in its own proportions), so training and inference see identically
framed and normalised pixels, padding bands included. The run is deterministic by seed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import open_clip
import torch

from photoclip.core.embedding import framed_transform, register_model_configs
from photoclip.core.pixels import shape_groups
from photoclip.core.profiles import FRAMING, NATIVE
from photoclip.synthetic.scenes import (
    BUSY,
    HELD_OUT_SEED,
    SCENERY,
    Scene,
    canvas_of,
    clutter_scene,
    counterpart,
    figure_ground_swap,
    random_object_scene,
    scene_series,
    siblings,
)

ARCH = "PhotoClip-TestShapes"


@dataclass(frozen=True)
class TrainingConfig:
    seed: int = 0
    #: Distinct scenes rendered once; every epoch revisits them with fresh captions.
    #: (The committed weights were made with these defaults: tests/synthetic/test_training.py.)
    scenes: int = 16_000
    #: 32: run E (models README); with its photo-like variation 16-24 left shapes unlearned.
    epochs: int = 32
    batch_size: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 0.1
    warmup_steps: int = 100
    #: Share of captions that end in a full stop, so "a photo of a {}." prompts are familiar.
    full_stop_share: float = 0.5
    #: One thread: on the shared 2-core machine, two threads spent most of a step waiting
    #: for each other (a step took about 5x longer than with one).
    threads: int = 1
    #: Scenes per group (a batch holds whole groups) and how often a group varies each
    #: attribute ("any": a scene and its one-change counterparts, whatever they change).
    group_size: int = 4
    group_attributes: dict[str, float] = field(
        default_factory=lambda: {"shape": 6.0, "colour": 5.0, "any": 1.0}
    )
    #: Share of captions drawn from all of a scene's captions rather than from those that
    #: tell it apart from its group, so that "something red" is still heard in shape groups.
    any_caption_share: float = 0.0
    #: Share of word scenes: twice a test folder's. Reading is the slowest skill to learn
    #: (0.2 left it at chance; 0.4 reads 83% of held-out words).
    word_share: float = 0.4
    #: Epochs over the word scenes alone before the mixed ones: reading is the slowest
    #: skill, and while neither tower tells words apart neither gets a gradient to start.
    reading_epochs: int = 0
    #: Colour groups of one object also hold the scene with object and background colours
    #: swapped: black on white against white on black, which the model otherwise confuses.
    figure_ground: bool = True
    #: Ceiling of the softmax's inverse temperature. A low one makes the loss ask for wide
    #: cosine gaps, so that a label's score means the same for every photo (calibration).
    max_logit_scale: float = 10.0
    #: What photos hold and the 1:1 upright scenes do not, at run E's shares (models README:
    #: with them held-out colour and shape tags and whole-frame search all gained; 0 for all
    #: four renders exactly the scenes of the weights made before them):
    #: share of object scenes whose shapes are tilted at a random angle,
    tilt_share: float = 0.3
    #: share of object scenes on a canvas of another aspect ratio (width:height), which
    #: the letterbox shrinks and pads as it does a photo,
    canvas_share: float = 0.3
    aspects: tuple[tuple[int, int], ...] = ((3, 2), (2, 3), (4, 3), (3, 4), (16, 9), (9, 16))
    #: share of object scenes on a busy background (faint blobs and lines, like a photo's),
    busy_share: float = 0.1
    #: and share of groups led by a cluttered scene of no shape ("a photo", "a busy scene"),
    #: so that a photo of no shape has somewhere to go but a shape's name.
    clutter_share: float = 0.06
    #: share of the other object scenes on a full-contrast, photo-like backdrop (scenes.py's
    #: SCENERY), like a shape on a real photo.
    scenery_share: float = 0.0
    #: share of one-object scenes seen close up (`Scene.close_up`: a large shape up to most
    #: of the frame, as photos show them; run FE misread large stars beyond its 15 px).
    close_up_share: float = 0.0
    #: share of object scenes whose colours are drawn from the whole range of their names
    #: (`Scene.wide_shades`: any orange from amber to pumpkin, not one shade of it).
    shade_share: float = 0.0
    #: How canvases reach the model (profiles: FRAMING, the letterbox; or NATIVE, each in
    #: its own proportions). Run E was trained letterboxed; NATIVE_STAGE goes on natively.
    framing: str = FRAMING
    #: A checkpoint to go on training (fine-tune) instead of random weights, e.g. to adapt a
    #: model to another framing at a lower learning rate; "" trains from scratch.
    start_from: str = ""


#: The committed weights' second stage (models README, runs FE and FM): run E's weights (the
#: defaults above) trained on for the native framing that the test-shapes profile uses,
#: at a tenth of the learning rate, so that it keeps what E learned (a run of E's recipe
#: trained natively from random weights never learned one colour: runs N0 and N1), with
#: close-ups so that large shapes are learned (FE, without them, misread large stars).
NATIVE_STAGE: dict[str, Any] = {
    "framing": NATIVE,
    "epochs": 16,
    "learning_rate": 2e-4,
    "close_up_share": 0.35,
}
#: The stage's seeds whose runs the committed weights average (averaging.py). Which scenes
#: a seed draws decides which colours and shapes its run reads best; their mean keeps the
#: strengths of each (models README, run FM: every bar on 11 of 15 sets, against 10, 4 and
#: 7 for the three runs alone).
NATIVE_STAGE_SEEDS = (2, 3, 5)
#: The committed weights' third stage (models README, run FS): run FM (the average above)
#: trained on with most object scenes in any shade of their colours' names, so that the
#: model reads "orange" for other people's orange too (FM, shown one shade of each name,
#: read CSS orange as yellow on busy backgrounds, and failed colour precision on every
#: set drawn in CSS or Material shades).
SHADE_STAGE: dict[str, Any] = {**NATIVE_STAGE, "epochs": 8, "shade_share": 0.7}
#: The third stage's seeds, averaged as the second stage's are.
SHADE_STAGE_SEEDS = (11, 12, 13, 14)

#: With scenery on, this share of the cluttered scenes is a scenery backdrop with no shape.
SCENERY_CLUTTER_SHARE = 0.5


@dataclass
class SceneTensors:
    """Preprocessed images (float16 to halve memory) and each image's caption choices."""

    #: one (N, 3, H, W) tensor, or one (3, H, W) tensor per scene where sizes differ (the
    #: native framing)
    images: torch.Tensor | list[torch.Tensor]
    captions: list[list[str]]
    all_captions: list[list[str]]
    #: Which scenes show a word and nothing else (the reading epochs' scenes).
    words_only: torch.Tensor


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(argv)
    config = TrainingConfig(
        seed=args.seed,
        scenes=args.scenes,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        threads=args.threads,
        any_caption_share=args.any_caption_share,
        tilt_share=args.tilt_share,
        canvas_share=args.canvas_share,
        busy_share=args.busy_share,
        clutter_share=args.clutter_share,
        scenery_share=args.scenery_share,
        close_up_share=args.close_up_share,
        shade_share=args.shade_share,
        framing=args.framing,
        start_from=str(args.start_from or ""),
    )
    started = time.monotonic()
    final_loss = train(config, args.out, report=_report)
    _report(f"saved {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    _report(f"final loss {final_loss:.4f}, total time {time.monotonic() - started:.0f} s")


def _report(line: str) -> None:
    print(line, flush=True)  # flushed: progress shows while piped into a log


def train(config: TrainingConfig, out: Path, report: Callable[[str], None]) -> float:
    """Train from scratch (or from `config.start_from`), save to `out` and return the last
    epoch's mean loss."""
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    start = Path(config.start_from) if config.start_from else None
    model, preprocess, tokenizer = _build_model(config.framing, start)
    started = time.monotonic()
    data = render_training_scenes(config, preprocess)
    report(f"rendered {len(data.captions)} scenes in {time.monotonic() - started:.0f} s")
    optimiser, schedule = _optimiser(model, config, _total_steps(config, data))
    loss = math.nan
    for epoch, reading in enumerate(_epoch_plan(config)):
        loss = _train_epoch(model, tokenizer, data, optimiser, schedule, config, epoch, reading)
        elapsed = time.monotonic() - started
        what = "words only" if reading else "all scenes"
        report(f"epoch {epoch + 1} ({what}): loss {loss:.4f}, {elapsed:.0f} s")
    metadata = {"training_config": asdict(config), "final_loss": loss}
    if start is not None:  # what the run went on from, so that the weights can be remade
        metadata["started_from"] = provenance(start)
    with _plain_pool(model):  # the checkpoint's names are open_clip's
        save_weights(model, out, metadata)
    return loss


def _build_model(
    framing: str = FRAMING, start: Path | None = None
) -> tuple[Any, Callable[..., torch.Tensor], Any]:
    register_model_configs()
    model, _, preprocess = open_clip.create_model_and_transforms(
        ARCH, pretrained=None, pretrained_text=False, output_dict=True
    )
    if start is not None:  # open_clip's names, before the framing changes any module
        open_clip.load_checkpoint(model, str(start))
    # Channels-last convolutions run about 1.3x faster on the CPU (oneDNN's own layout).
    model.visual.to(memory_format=torch.channels_last)
    # The app's framing, so that training sees photos as the app shows them.
    framed = framed_transform(model, framing, preprocess)
    return model.train(), framed, open_clip.get_tokenizer(ARCH)


def _epoch_plan(config: TrainingConfig) -> list[bool]:
    """For each epoch, whether it goes over the word scenes only."""
    return [True] * config.reading_epochs + [False] * config.epochs


def render_training_scenes(config: TrainingConfig, preprocess: Callable[..., Any]) -> SceneTensors:
    """Scenes in groups of `group_size` that differ in one thing only (see `scene_group`),
    rendered and preprocessed."""
    group_rng = random.Random(config.seed)
    scenes: list[Scene] = []
    captions: list[list[str]] = []
    for scene in scene_series(
        config.scenes // config.group_size, _series_seed(config), config.word_share
    ):
        group = scene_group(varied(scene, config, group_rng), config, group_rng)
        scenes += group
        captions += [_telling_apart(member, group) for member in group]
    tensors = [preprocess(scene.render()).half() for scene in scenes]
    same = len({tensor.shape for tensor in tensors}) == 1
    images = torch.stack(tensors) if same else tensors
    words_only = torch.tensor([scene.word is not None and not scene.objects for scene in scenes])
    return SceneTensors(images, captions, [scene.captions() for scene in scenes], words_only)


def varied(scene: Scene, config: TrainingConfig, rng: random.Random) -> Scene:
    """`scene`, or a cluttered scene in its place (`clutter_share`); an object scene tilted,
    on another canvas and on a busy background by the config's shares. Words stay upright
    on 1:1 canvases: letterboxed, their letters would shrink below legibility at 64 px."""
    if not _varies(config):
        return scene  # and draws nothing: the series is the one made before these options
    if rng.random() < config.clutter_share:
        clutter = replace(clutter_scene(rng), canvas=_random_canvas(config, rng))
        if config.scenery_share and rng.random() < SCENERY_CLUTTER_SHARE:
            # The backdrop alone is "a photo" too: else a photo-like backdrop would always
            # come with a shape, and real photos would be read as shapes.
            clutter = replace(clutter, background=replace(clutter.background, kind=SCENERY))
        return clutter
    if not scene.objects:
        return scene
    tilted = rng.random() < config.tilt_share
    canvas = _random_canvas(config, rng)
    if rng.random() < config.busy_share:
        scene = replace(scene, background=replace(scene.background, kind=BUSY))
    # Drawn only when asked for, so that a share of 0 leaves the series as it was.
    elif config.scenery_share and rng.random() < config.scenery_share:
        scene = replace(scene, background=replace(scene.background, kind=SCENERY))
    # Two objects sit too close to grow; the draw is made only when asked for, as above.
    if config.close_up_share and len(scene.objects) == 1:
        scene = replace(scene, close_up=rng.random() < config.close_up_share)
    if config.shade_share:
        scene = replace(scene, wide_shades=rng.random() < config.shade_share)
    return replace(scene, tilted=tilted, canvas=canvas)


def _varies(config: TrainingConfig) -> bool:
    shares = (config.clutter_share, config.tilt_share, config.canvas_share, config.busy_share)
    return any((*shares, config.scenery_share, config.close_up_share, config.shade_share))


def _random_canvas(config: TrainingConfig, rng: random.Random) -> tuple[int, int]:
    if rng.random() >= config.canvas_share:
        return canvas_of((1, 1))
    return canvas_of(rng.choice(config.aspects))


def scene_group(scene: Scene, config: TrainingConfig, rng: random.Random) -> list[Scene]:
    """`scene` and its siblings along one attribute (mostly shape: colour alone tells most
    scenes apart, so without shape-only differences a small model never learns shapes),
    topped up with one-change `counterpart`s to `group_size`. A cluttered scene has no
    siblings: the rest of its group is the group of a fresh object scene."""
    if scene.clutter:
        rest = varied(
            random_object_scene(rng, rng.choice([1, 2])), replace(config, clutter_share=0), rng
        )
        return [scene, *scene_group(rest, replace(config, group_size=config.group_size - 1), rng)]
    attributes = list(config.group_attributes)
    attribute = rng.choices(attributes, [config.group_attributes[a] for a in attributes])[0]
    group = [scene] if attribute == "any" else siblings(scene, attribute, config.group_size, rng)
    swapped = figure_ground_swap(scene) if attribute == "colour" else None
    if config.figure_ground and swapped is not None:
        group = [*group[: config.group_size - 1], swapped]
    while len(group) < config.group_size:
        group.append(counterpart(scene, rng))
    return group


def _telling_apart(scene: Scene, group: Sequence[Scene]) -> list[str]:
    """The scene's captions that fit no other scene of its group ("a red circle" versus
    "a red square", never "something red" for both): only those teach the difference."""
    shared = {caption for other in group if other != scene for caption in other.captions()}
    return [caption for caption in scene.captions() if caption not in shared] or [scene.description]


def _series_seed(config: TrainingConfig) -> int:
    # Held-out evaluation uses seeds from HELD_OUT_SEED up; training must never reach them.
    if not 0 <= config.seed < HELD_OUT_SEED:
        raise ValueError(f"Training seeds lie in [0, {HELD_OUT_SEED}); got {config.seed}.")
    return config.seed


def _total_steps(config: TrainingConfig, data: SceneTensors) -> int:
    words = int(data.words_only.sum())
    return sum(
        (words if reading else len(data.captions)) // config.batch_size
        for reading in _epoch_plan(config)
    )


def _optimiser(
    model: torch.nn.Module, config: TrainingConfig, total_steps: int
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
    reading: bool = False,
) -> float:
    loss_fn = open_clip.ClipLoss()
    captions = random.Random(f"{config.seed}/{epoch}")
    order = _grouped_order(len(data.captions), config.group_size, epoch)
    if reading:
        order = order[data.words_only[order]]
    losses = []
    for start in range(0, len(order) - config.batch_size + 1, config.batch_size):
        batch = order[start : start + config.batch_size].tolist()
        texts = [_pick_caption(data, index, captions, config) for index in batch]
        features = _image_features(model, data.images, batch)
        text_features = model.encode_text(tokenizer(texts), normalize=True)
        loss = loss_fn(features, text_features, model.logit_scale.exp())
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(config.max_logit_scale))
        losses.append(loss.item())
    if not losses:
        raise ValueError(f"Fewer scenes than one batch of {config.batch_size}: nothing to learn.")
    return sum(losses) / len(losses)


def _image_features(
    model: Any, images: torch.Tensor | list[torch.Tensor], batch: list[int]
) -> torch.Tensor:
    """The batch's normalised image features, one model pass per input size."""
    if isinstance(images, torch.Tensor):
        return _encoded(model, images[batch])
    members = [images[index] for index in batch]
    groups = shape_groups(members)
    positions = [p for group in groups for p in group]
    parts = [_encoded(model, torch.stack([members[p] for p in group])) for group in groups]
    order = torch.empty(len(batch), dtype=torch.long)
    order[torch.tensor(positions)] = torch.arange(len(batch))
    return torch.cat(parts)[order]


def _encoded(model: Any, images: torch.Tensor) -> torch.Tensor:
    pixels = images.float().contiguous(memory_format=torch.channels_last)
    return model.encode_image(pixels, normalize=True)


@contextlib.contextmanager
def _plain_pool(model: Any) -> Iterator[None]:
    """open_clip's own attention pool in place of the native framing's wrapper, whose
    weights are the same tensors under longer names."""
    from photoclip.core.nativeframe import NativePool

    wrapper = getattr(model.visual, "attnpool", None)
    if not isinstance(wrapper, NativePool):
        yield
        return
    model.visual.attnpool = wrapper.pool
    try:
        yield
    finally:
        model.visual.attnpool = wrapper


def _grouped_order(n_scenes: int, group_size: int, epoch: int) -> torch.Tensor:
    """A shuffle that keeps each group together, so all its scenes land in one batch."""
    groups = torch.randperm(n_scenes // group_size, generator=torch.Generator().manual_seed(epoch))
    return (groups[:, None] * group_size + torch.arange(group_size)).flatten()


def _pick_caption(
    data: SceneTensors, index: int, rng: random.Random, config: TrainingConfig
) -> str:
    any_caption = rng.random() < config.any_caption_share
    caption = rng.choice((data.all_captions if any_caption else data.captions)[index])
    return caption + "." if rng.random() < config.full_stop_share else caption


def save_weights(model: torch.nn.Module, out: Path, metadata: dict[str, Any]) -> None:
    save_tensors(model.state_dict(), out, metadata)


def save_tensors(state: Mapping[str, torch.Tensor], out: Path, metadata: dict[str, Any]) -> None:
    """Save a state dict in float16: half the size, and open_clip's `load_checkpoint`
    copies it into the float32 model (load_state_dict casts on copy)."""
    from safetensors.torch import save_file

    tensors = {
        name: (tensor.half() if tensor.is_floating_point() else tensor).contiguous()
        for name, tensor in state.items()
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out), metadata={"arch": ARCH, **_as_strings(metadata)})


def provenance(weights: Path) -> dict[str, Any]:
    """A checkpoint's file name, digest and own metadata (its training config)."""
    import hashlib

    from safetensors import safe_open

    with safe_open(str(weights), "pt") as opened:
        metadata = opened.metadata() or {}
    return {
        "file": weights.name,
        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        **{key: json.loads(value) for key, value in metadata.items() if key != "arch"},
    }


def _as_strings(metadata: dict[str, Any]) -> dict[str, str]:
    return {key: json.dumps(value) for key, value in metadata.items()}


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    defaults = TrainingConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    # Required: the committed weights are a third stage, which a plain run must not replace.
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--scenes", type=int, default=defaults.scenes)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--any-caption-share", type=float, default=defaults.any_caption_share)
    parser.add_argument("--tilt-share", type=float, default=defaults.tilt_share)
    parser.add_argument("--canvas-share", type=float, default=defaults.canvas_share)
    parser.add_argument("--busy-share", type=float, default=defaults.busy_share)
    parser.add_argument("--clutter-share", type=float, default=defaults.clutter_share)
    parser.add_argument("--scenery-share", type=float, default=defaults.scenery_share)
    parser.add_argument("--close-up-share", type=float, default=defaults.close_up_share)
    parser.add_argument("--shade-share", type=float, default=defaults.shade_share)
    parser.add_argument("--framing", choices=(FRAMING, NATIVE), default=defaults.framing)
    parser.add_argument(
        "--start-from", type=Path, help="go on training these weights (fine-tune) instead"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
