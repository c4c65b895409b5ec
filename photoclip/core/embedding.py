"""The CLIP encoder: open_clip's model, eval transform and tokenizer behind one small API.

`Encoder` is what indexing, search and tagging ask of a model; `LocalEncoder` runs it in
this process, `photoclip.core.encoderprocess.RemoteEncoder` in a child process (the GUI's,
whose process must never import torch: its C extensions hold the GIL while they load).

torch and open_clip are imported inside `load_encoder`, so importing this module is cheap
and the CLI's --help and the GUI's first paint never wait for them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from photoclip.core import footprint
from photoclip.core.device import chosen, probe, save_probe
from photoclip.core.errors import ModelError
from photoclip.core.pixels import encode_by_shape
from photoclip.core.profiles import (
    LETTERBOX,
    MODEL_CONFIG_DIR,
    NATIVE,
    ModelProfile,
    architecture_config,
)
from photoclip.core.texttower import TrimmedText
from photoclip.core.towers import BOTH, IMAGE, TEXT
from photoclip.core.weights import Progress, ensure_weights, pretrained_config

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from photoclip.core.catalog import ModelRecord

log = logging.getLogger(__name__)


class ImageSide(Protocol):
    """What embeds images: an `Encoder`, or an image half alone (a LocalEncoder built with
    its image tower alone, the tower's ONNX export: photoclip.core.imageexport.OnnxImage).

    Images go in two steps so that decoding threads can do the first: `prepare` turns a
    decoded RGB image into the model's input (any thread), `encode_prepared` embeds a batch
    of them (one caller at a time is fastest, but any thread may call)."""

    profile: ModelProfile
    device: str
    dim: int
    #: (height, width) the model's transform produces; the decoder never needs more pixels.
    input_size: tuple[int, int]
    #: the catalog records it with the model's vectors
    open_clip_version: str
    #: CLIP's softmax temperature, exp(model.logit_scale)
    logit_scale: float

    @property
    def model_key(self) -> str: ...

    @property
    def alive(self) -> bool:
        """False once the encoder can no longer answer (closed, or its process died)."""
        ...

    def prepare(self, image: Image.Image) -> Any: ...

    def encode_prepared(self, prepared: Sequence[Any]) -> np.ndarray: ...

    def close(self) -> None: ...


class Encoder(ImageSide, Protocol):
    """Embeds images and texts into one L2-normalised float32 space (rows of arrays)."""

    def encode_pil(self, images: Sequence[Image.Image]) -> np.ndarray: ...

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_prompts(self, classnames: Sequence[str], templates: Sequence[str]) -> np.ndarray:
        """One unit row per class name: its text through every template, averaged."""
        ...


@dataclass
class LocalEncoder:
    """The `Encoder` in this process: open_clip's model, transform and tokenizer."""

    profile: ModelProfile
    device: str
    model: Any
    #: open_clip's eval transform: PIL image -> CHW float tensor.
    preprocess: Callable[[Image.Image], torch.Tensor]
    #: open_clip's tokenizer of the model (None without a text tower)
    tokenizer: Any
    dim: int
    #: (height, width) the transform produces; the decoder never needs more pixels.
    input_size: tuple[int, int]
    open_clip_version: str
    #: which architecture and weights, and how the architecture was known (for the log)
    origin: str = ""
    #: CLIP's learned softmax temperature (exp of `logit_scale`): tagging turns cosines
    #: into probabilities at the scale the model was trained with.
    logit_scale: float = 100.0
    #: Images go in channels-last (NHWC) memory, which conv towers run faster on.
    channels_last: bool = False
    #: The towers the model holds (photoclip.core.towers): IMAGE, TEXT or both.
    towers: frozenset[str] = BOTH

    @property
    def model_key(self) -> str:
        return self.profile.key

    @property
    def alive(self) -> bool:
        return True  # the model lives as long as this object

    def prepare(self, image: Image.Image) -> torch.Tensor:
        """The eval transform, in the decoding threads: the model's thread only infers."""
        self._require(IMAGE)
        return self.preprocess(image)

    def encode_prepared(self, prepared: Sequence[torch.Tensor]) -> np.ndarray:
        import torch

        return encode_by_shape(prepared, lambda same: self.encode_images(torch.stack(same)))

    def encode_images(self, batch: torch.Tensor) -> np.ndarray:
        """Embed a batch of preprocessed images (N, C, H, W)."""
        import torch

        self._require(IMAGE)
        with torch.inference_mode():
            batch = batch.to(self.device, dtype=self._dtype(), non_blocking=True)
            if self.channels_last:
                batch = batch.contiguous(memory_format=torch.channels_last)
            features = self.model.encode_image(batch, normalize=True)
        return features.float().cpu().numpy()

    def encode_pil(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.encode_prepared([self.preprocess(image) for image in images])

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        self._require(TEXT)
        with torch.inference_mode():
            tokens = self.tokenizer(list(texts)).to(self.device)
            features = self.text_tower.encode_text(tokens, normalize=True)
        return features.float().cpu().numpy()

    def embed_prompts(self, classnames: Sequence[str], templates: Sequence[str]) -> np.ndarray:
        import open_clip

        self._require(TEXT)
        weights = open_clip.build_zero_shot_classifier(
            self.text_tower, self.tokenizer, list(classnames), list(templates), device=self.device
        )
        return weights.T.float().cpu().numpy()

    @cached_property
    def text_tower(self) -> TrimmedText:
        """encode_text on the positions prompts use (photoclip.core.texttower)."""
        return TrimmedText(self.model)

    def close(self) -> None:
        """Nothing to stop: the model goes with the last reference."""

    def _dtype(self) -> torch.dtype:
        return next(self.model.visual.parameters()).dtype

    def _require(self, tower: str) -> None:
        if tower not in self.towers:
            raise ModelError(
                f"This copy of {self.profile.name} was built without its {tower} tower."
            )


class TextSide(Protocol):
    """An `Encoder`'s text half on its own (photoclip.core.textexport.OnnxText)."""

    @property
    def model_key(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def logit_scale(self) -> float: ...

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_prompts(self, classnames: Sequence[str], templates: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class ModelHint:
    """What a model will say of itself, known from its open_clip config file without
    importing torch (`model_hint`): the indexer registers the model and starts decoding
    photos while the model is still being built."""

    input_size: tuple[int, int]
    dim: int
    open_clip_version: str


def model_hint(profile: ModelProfile) -> ModelHint | None:
    """The profile's hint, from open_clip's (or PhotoClip's) JSON config of its
    architecture; None when there is none to read (an architecture known only from a
    weights file, one registered at run time)."""
    import importlib.metadata

    config = architecture_config(profile.arch) if profile.arch else None
    if config is None:
        return None
    try:
        size = config["vision_cfg"]["image_size"]
        height, width = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
        version = importlib.metadata.version("open_clip_torch")
        return ModelHint((int(height), int(width)), int(config["embed_dim"]), version)
    except (ValueError, KeyError, TypeError, IndexError) as error:
        log.info("no hint for %s from its config: %r", profile.arch, error)
        return None
    except importlib.metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class Unprepared:
    """A decoded image whose model transform waits for the model (`LazyEncoder.prepare`)."""

    image: Image.Image


class LazyEncoder:
    """An `Encoder` whose model is built by `load` on the first call that needs it.

    A rescan that finds nothing new, or photos that only moved, never imports torch: the
    model key comes from the profile, and the size and open_clip version of vectors already
    stored come from the catalog's `record` of them. Given a `text` side of the same model
    (its ONNX export), texts never build the model either: a text search or a label edit
    then needs no torch. Safe to share between threads (the indexer's decoding threads ask
    for `input_size` and `prepare`); one of them builds.

    Given a `hint` (`model_hint`), photos are decoded while the model is built: the first
    `prepare` starts building it in a thread of its own and hands back the decoded image
    (`Unprepared`), which `encode_prepared` transforms once the model is there. Start-up
    to the first decoded photo then no longer waits for torch's import and the build."""

    def __init__(
        self,
        profile: ModelProfile,
        load: Callable[[], Encoder],
        record: ModelRecord | None = None,
        text: TextSide | None = None,
        hint: ModelHint | None = None,
    ) -> None:
        self.profile = profile
        self._load = load
        self._record = record if record is not None and record.key == profile.key else None
        self._text = text if text is not None and text.model_key == profile.key else None
        self._hint = hint
        self._encoder: Encoder | None = None
        self._failure: Exception | None = None
        self._lock = threading.Lock()
        self._building: threading.Thread | None = None

    @property
    def loaded(self) -> bool:
        return self._encoder is not None

    def get(self) -> Encoder:
        """The real encoder, built now if it is not yet."""
        with self._lock:
            if self._failure is not None:
                raise self._failure  # once: threads behind the first must not retry a download
            if self._encoder is None:
                try:
                    self._encoder = self._checked(self._load())
                except Exception as error:
                    self._failure = error
                    raise
            return self._encoder

    def _checked(self, encoder: Encoder) -> Encoder:
        """The model as its hint said, or a ModelError (vectors were registered by it)."""
        hint = self._hint
        if hint is None:
            return encoder
        said = (hint.input_size, hint.dim, hint.open_clip_version)
        built = (tuple(encoder.input_size), encoder.dim, encoder.open_clip_version)
        if said != built:
            encoder.close()
            raise ModelError(
                f"The model {self.profile.name} is not as its configuration said "
                f"(input, size, open_clip: {built}, not {said}). Report this, please."
            )
        return encoder

    def _build_in_background(self) -> None:
        """Start `get` in a thread of its own, once (its failure is kept for `get`)."""
        with self._lock:
            if self._building is not None or self._encoder is not None:
                return
            self._building = threading.Thread(
                target=self._build_quietly, name="model-build", daemon=True
            )
            self._building.start()

    def _build_quietly(self) -> None:
        with contextlib.suppress(Exception):  # kept in _failure; `get` raises it
            self.get()

    @property
    def model_key(self) -> str:
        return self.profile.key

    @property
    def dim(self) -> int:
        if self._record:
            return self._record.dim
        if self._hint and self._encoder is None:
            return self._hint.dim
        return self._text.dim if self._text else self.get().dim

    @property
    def open_clip_version(self) -> str:
        if self._record:
            return self._record.open_clip_version
        if self._hint and self._encoder is None:
            return self._hint.open_clip_version
        return self.get().open_clip_version

    @property
    def device(self) -> str:
        return self.get().device

    @property
    def input_size(self) -> tuple[int, int]:
        if self._hint and self._encoder is None:
            return self._hint.input_size
        return self.get().input_size

    @property
    def logit_scale(self) -> float:
        return self._text.logit_scale if self._text else self.get().logit_scale

    @property
    def alive(self) -> bool:
        """False once its model died, or could not be built (the indexer then stops)."""
        return self._failure is None and (self._encoder is None or self._encoder.alive)

    def prepare(self, image: Image.Image) -> Any:
        if self._hint and self._encoder is None and self._failure is None:
            self._build_in_background()
            return Unprepared(image)
        return self.get().prepare(image)

    def encode_prepared(self, prepared: Sequence[Any]) -> np.ndarray:
        encoder = self.get()
        return encoder.encode_prepared(
            [encoder.prepare(p.image) if isinstance(p, Unprepared) else p for p in prepared]
        )

    def encode_pil(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.get().encode_pil(images)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        return (self._text or self.get()).encode_texts(texts)

    def embed_prompts(self, classnames: Sequence[str], templates: Sequence[str]) -> np.ndarray:
        return (self._text or self.get()).embed_prompts(classnames, templates)

    def close(self) -> None:
        if self._encoder is not None:
            self._encoder.close()


class ImageFirst:
    """An `Encoder` over a model built with its image tower alone (photoclip.core.towers),
    or over that tower's ONNX export: indexing's. The text tower's weights (250 MB of
    ViT-B-32's 600) are in memory only while texts are embedded: the few an indexing run
    asks for (a label's first vectors, to tag the photos a batch added) go to a text side
    that `open_text` makes (the ONNX export, else a model with its text tower alone). It
    is kept for the texts that follow and dropped when images are embedded again; label
    vectors are cached, so a run builds it rarely, and most runs never."""

    def __init__(self, image: ImageSide, open_text: Callable[[], TextSide]) -> None:
        self.image, self._open_text = image, open_text
        self.profile, self.device, self.dim = image.profile, image.device, image.dim
        self.input_size, self.logit_scale = image.input_size, image.logit_scale
        self.open_clip_version = image.open_clip_version
        self._text_side: TextSide | None = None
        self._lock = threading.Lock()

    @property
    def model_key(self) -> str:
        return self.image.model_key

    @property
    def alive(self) -> bool:
        return self.image.alive

    @property
    def holds_text(self) -> bool:
        """Whether a text side is in memory now."""
        return self._text_side is not None

    def prepare(self, image: Image.Image) -> Any:
        return self.image.prepare(image)

    def encode_prepared(self, prepared: Sequence[Any]) -> np.ndarray:
        self._text_side = None  # its memory is the batch's now
        return self.image.encode_prepared(prepared)

    def encode_pil(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.encode_prepared([self.prepare(image) for image in images])

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self._text().encode_texts(texts)

    def embed_prompts(self, classnames: Sequence[str], templates: Sequence[str]) -> np.ndarray:
        return self._text().embed_prompts(classnames, templates)

    def close(self) -> None:
        self._text_side = None
        self.image.close()

    def _text(self) -> TextSide:
        with self._lock:
            if self._text_side is None:
                text = self._open_text()
                if text.model_key != self.model_key:  # (a loader given another profile)
                    raise ModelError(f"{text.model_key} cannot embed texts for {self.model_key}.")
                self._text_side = text
            return self._text_side


class ExportedTowers(ImageFirst):
    """Both towers' ONNX exports, kept: the model without torch, where it runs on the CPU."""

    origin = "the ONNX exports of both towers"


def exported_towers(
    profile: ModelProfile, device: str | None, cache: Path, threads: int | None = None
) -> ExportedTowers | None:
    """The model as its towers' exports in the cache folder, where torch would run it on
    the CPU too and both open (each checked against its kept vectors as it opens); None
    where it would not, or either is missing or refused (the caller loads the model). About
    a third of the model's memory with ViT-B-32, and no torch to import."""
    from photoclip.core.imageexport import image_export_on_cpu
    from photoclip.core.textexport import open_export

    image = image_export_on_cpu(cache, profile, device, threads)
    text = open_export(cache, profile.key) if image is not None else None
    if image is None or text is None:
        return None
    log.info("serving %s from its ONNX exports, without torch", profile.key)
    return ExportedTowers(image, lambda: text)


class LazyText:
    """A `TextSide` loaded on its first use and kept: `load` builds a model with its text
    tower alone, for a one-shot command with no ONNX export (a label edit, a text search)."""

    def __init__(self, profile: ModelProfile, load: Callable[[], Encoder]) -> None:
        self.profile, self._load = profile, load
        self._encoder: Encoder | None = None
        self._lock = threading.Lock()

    @property
    def model_key(self) -> str:
        return self.profile.key

    @property
    def dim(self) -> int:
        return self._get().dim

    @property
    def logit_scale(self) -> float:
        return self._get().logit_scale

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self._get().encode_texts(texts)

    def embed_prompts(self, classnames: Sequence[str], templates: Sequence[str]) -> np.ndarray:
        return self._get().embed_prompts(classnames, templates)

    def _get(self) -> Encoder:
        with self._lock:
            if self._encoder is None:
                self._encoder = self._load()
            return self._encoder


def register_model_configs() -> None:
    """Make PhotoClip's own architectures (test-shapes) known to open_clip, once."""
    import open_clip

    if "PhotoClip-TestShapes" not in open_clip.list_models():
        open_clip.add_model_config(MODEL_CONFIG_DIR)


def load_encoder(
    profile: ModelProfile,
    device: str | None = None,
    cache: Path | None = None,
    progress: Progress | None = None,
    threads: int | None = None,
    towers: frozenset[str] = BOTH,
    *,
    keep_probe: bool = True,
) -> LocalEncoder:
    """Build the profile's model on the best working device (or the one asked for), with
    both towers or only those in `towers` (photoclip.core.towers: indexing needs only the
    image tower, a label edit only the text tower; the other never takes memory).

    The device probe is kept beside the weights folder, in the cache folder, for `photoclip
    doctor` (unless not `keep_probe`: a process that asks for the CPU whatever the settings
    say would hide what the user's own runs saw)."""
    from photoclip.core import towers as building

    check_requirements(profile)
    _leave_out_unneeded_libraries(profile)
    # Weights first, before torch is imported: offline without them is known in seconds.
    weights = None if profile.random_weights else ensure_weights(profile, cache or Path(), progress)
    import open_clip
    import torch

    register_model_configs()
    if threads:
        torch.set_num_threads(threads)
    found = probe(device)
    if keep_probe and cache is not None:
        save_probe(found, cache.parent)
    device = chosen(found)
    arch, origin = _architecture(profile, weights)
    kwargs = _create_kwargs(profile, weights)
    # fp16 halves memory and doubles speed on CUDA; CPUs here lack fast half/bf16 units.
    precision = "fp16" if device == "cuda" else "fp32"
    try:
        model, preprocess = building.create(arch, towers, weights, device, precision, **kwargs)
    except (RuntimeError, AssertionError, ValueError, KeyError) as error:
        log.info("open_clip could not load %s: %r", profile.name, error)
        raise ModelError(
            f"PhotoClip could not load the model '{profile.name}': its weights do not fit "
            f"{arch} ({error})."
        ) from error
    model.eval()
    fused = IMAGE in towers and fuse_for_inference(model)
    # The tokenizer's vocabulary costs about 22 MB (ViT-B-32's): only a text tower needs it.
    tokenizer = open_clip.get_tokenizer(arch) if TEXT in towers else None
    log.info("loaded %s%s", origin, " (fused, channels-last)" if fused else "")
    return LocalEncoder(
        profile=profile,
        device=device,
        model=model,
        preprocess=framed_transform(model, profile.framing, preprocess),
        tokenizer=tokenizer,
        dim=_output_dim(model, tokenizer, towers),
        input_size=_input_size(model),
        open_clip_version=open_clip.__version__,
        origin=origin,
        logit_scale=_logit_scale(model),
        channels_last=fused,
        towers=frozenset(towers),
    )


def _leave_out_unneeded_libraries(profile: ModelProfile) -> None:
    """Before open_clip is first imported: triton never, timm and transformers when a
    process of one model does not need them (photoclip.core.footprint: 110 MB and a second
    of start-up for ViT-B-32)."""
    config = architecture_config(profile.arch) if profile.arch else None
    missing = footprint.missing_for(config, profile.arch)
    if missing:
        raise ModelError(
            f"The model '{profile.name}' needs {', '.join(sorted(missing))}, which this "
            "process left out for the model it loaded first. Run the command again."
        )
    footprint.skip_triton()
    left_out = footprint.skip_unneeded_libraries(config, profile.arch)
    if left_out:
        log.info("%s does not use %s: not imported", profile.arch, " or ".join(sorted(left_out)))


def fuse_for_inference(model: Any) -> bool:
    """Fold the train-time branches of MobileOne/FastViT blocks (MobileCLIP's image tower)
    into single convolutions, and keep that tower channels-last; returns whether it did.

    Same vectors (a test checks), less work: measured +20-26% at batch 8 for the fusing,
    up to +15% more for channels-last, on a 2-core CPU (issue 17). Towers without such
    blocks (ViTs) are left alone."""
    import torch

    if not any(_reparameterizable(module) for module in model.visual.modules()):
        return False
    from timm.utils.model import reparameterize_model

    reparameterize_model(model.visual, inplace=True)
    model.visual.to(memory_format=torch.channels_last)
    return True


def _reparameterizable(module: Any) -> bool:
    # The hooks timm's reparameterize_model calls (MobileOne, FastViT, RepVGG-style blocks).
    return any(hasattr(module, name) for name in ("reparameterize", "switch_to_deploy"))


def check_requirements(profile: ModelProfile) -> None:
    """Libraries a profile needs beyond the core install, said plainly when missing."""
    import importlib.util

    if profile.extra is None:
        return
    try:
        found = importlib.util.find_spec(profile.extra.module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a broken entry
        found = False
    if not found:
        raise ModelError(profile.extra.missing_message(profile.name))


def _architecture(profile: ModelProfile, weights: Path | None) -> tuple[str, str]:
    """The open_clip architecture to build, and where it and its weights came from.

    A local file is checked against the profile's architecture, or, when the profile names
    none (a file the user picked), the architecture is read from the file itself."""
    from photoclip.core.checkpoints import check_fits, identify, read_checkpoint

    if profile.weights_file is None or weights is None:
        source = profile.pretrained or "random weights"
        return profile.arch, f"{profile.arch} weights {source}"
    import open_clip

    checkpoint = read_checkpoint(weights)
    if profile.arch:
        check_fits(checkpoint, profile.arch)
        return profile.arch, f"{profile.arch} weights from {weights} (architecture as given)"
    found = identify(checkpoint, open_clip.list_models())
    return found.arch, found.describe(weights)


def _logit_scale(model: Any) -> float:
    """exp(logit_scale), CLIP's temperature; 100 (CLIP's ceiling) for a model without one."""
    scale = getattr(model, "logit_scale", None)
    return float(scale.exp().item()) if scale is not None else 100.0


def _create_kwargs(profile: ModelProfile, weights: Path | None) -> dict:
    # pretrained_text=False: text towers from the HF hub would otherwise download.
    kwargs: dict[str, Any] = {"pretrained_text": False}
    if weights is not None and profile.pretrained:
        kwargs.update(_preprocess_overrides(pretrained_config(profile)))
    # The profile's framing (profiles.FRAMING: the whole photo, not its centre square)
    # through open_clip's own eval transform, so the draft decode has one transform to match.
    kwargs["image_resize_mode"] = RESIZE_MODES[profile.framing]
    return kwargs


#: open_clip's resize mode of each framing (profiles.FRAMING says why letterbox).
#: The native framing's transform is ours (photoclip.core.nativeframe), at open_clip's squash.
RESIZE_MODES = {"shortest": "shortest", "squash": "squash", LETTERBOX: "longest", NATIVE: "squash"}


def framed_transform(
    model: Any, framing: str, preprocess: Callable[[Image.Image], torch.Tensor]
) -> Callable[[Image.Image], torch.Tensor]:
    """The eval transform for `framing`: open_clip's own (`preprocess`), except that a
    letterbox is padded with each photo's own mean colour (open_clip pads with one fixed
    colour, a band the model never saw in training), and that the native framing sizes
    each photo on its own (and has the model take such inputs: nativeframe.attach)."""
    if framing not in (LETTERBOX, NATIVE):
        return preprocess
    import open_clip

    config = open_clip.get_model_preprocess_cfg(model)
    if framing == LETTERBOX:
        return Letterbox(config)
    from photoclip.core import nativeframe

    return nativeframe.NativeFrame(config, nativeframe.attach(model))


class Letterbox:
    """open_clip's 'longest' eval transform (the long side resized to the input side, the
    short one padded to it, centred) with the photo's mean colour as its `fill_color`."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def __call__(self, image: Image.Image) -> torch.Tensor:
        import open_clip

        from photoclip.core.pixels import mean_colour

        rgb = image if image.mode == "RGB" else image.convert("RGB")
        fill = mean_colour(rgb)
        transform = open_clip.image_transform(
            self.config["size"],
            is_train=False,
            mean=self.config["mean"],
            std=self.config["std"],
            interpolation=self.config["interpolation"],
            resize_mode="longest",
            fill_color=fill,  # a colour: torchvision's pad takes one per channel
        )
        return transform(rgb)


def _preprocess_overrides(config: dict[str, Any]) -> dict[str, Any]:
    """Loading a tag's file by path loses the tag's preprocessing; carry it over."""
    mapping = {
        "mean": "image_mean",
        "std": "image_std",
        "interpolation": "image_interpolation",
        "resize_mode": "image_resize_mode",
        "quick_gelu": "force_quick_gelu",
    }
    return {arg: config[key] for key, arg in mapping.items() if key in config}


def _output_dim(model: Any, tokenizer: Any, towers: frozenset[str]) -> int:
    """The shared space's size, probed on the text side when the model has it (cheaper),
    else on one blank image (both towers end in the same space)."""
    import torch

    with torch.inference_mode():
        if TEXT in towers:
            probe = tokenizer(["a"]).to(_device_of(model))
            return int(TrimmedText(model).encode_text(probe).shape[-1])
        parameter = next(model.visual.parameters())
        size = _input_size(model)
        blank = torch.zeros(1, 3, *size, device=parameter.device, dtype=parameter.dtype)
        return int(model.encode_image(blank).shape[-1])


def _device_of(model: Any) -> Any:
    """The device of the model's weights (the first one not left on the meta device)."""
    return next(p.device for p in model.parameters() if not p.is_meta)


def _input_size(model: Any) -> tuple[int, int]:
    size = model.visual.image_size
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
