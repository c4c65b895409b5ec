"""What a weights file holds: its tensors' names and shapes, and the open_clip architecture
they fit.

A file the user picks need not say which model it is. The architecture is taken from the
file when it names one (safetensors metadata, a checkpoint dict's entry, an
open_clip_config.json beside it, as the hub publishes), else found by matching the tensors'
shapes against every architecture open_clip and PhotoClip know. Either way the shapes are
checked before open_clip loads the file, so a mismatch is told in words ("the file's text
width is 64; ViT-B-32 has 512"), not as an assertion from deep inside open_clip.

A safetensors header is read directly (it is JSON), so a truncated file is caught without
loading anything; other formats go through torch.load. Models are built on torch's meta
device to learn their shapes: no memory, no weights, milliseconds each.
"""

from __future__ import annotations

import contextlib
import json
import logging
import struct
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from photoclip.core.errors import ModelError

log = logging.getLogger(__name__)

Shapes = dict[str, tuple[int, ...]]

#: Metadata entries that name an open_clip architecture, and those that hold its config.
NAME_KEYS = ("arch", "model_name", "architecture", "open_clip_model")
CONFIG_KEYS = ("model_cfg", "open_clip_config")
#: The config file open_clip's hub repositories keep beside their weights.
SIDECAR = "open_clip_config.json"
#: Entries open_clip adds, drops or reshapes itself when it loads a checkpoint.
IGNORED = ("logit_scale", "logit_bias", "text.transformer.embeddings.position_ids")
#: Text-tower entries that a plain CLIP keeps at the top and a CustomTextCLIP under "text.".
TEXT_PARTS = ("positional_embedding", "token_embedding", "transformer.", "ln_final", "text_proj")
_HEADER_LIMIT = 100 << 20


@dataclass(frozen=True)
class Checkpoint:
    """A weights file's tensor shapes and what it says about itself."""

    path: Path
    shapes: Shapes
    #: an architecture the file names, and/or an open_clip model config it carries
    named: str | None = None
    config: dict[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Identified:
    """The architecture a file fits and how PhotoClip knows (recorded with the model)."""

    arch: str
    how: str

    def describe(self, path: Path) -> str:
        return f"{self.arch} weights from {path} ({self.how})"


def read_checkpoint(path: Path) -> Checkpoint:
    """The shapes and self-description of a weights file, or a plain ModelError."""
    path = Path(path)
    if path.suffix.lower() == ".safetensors":
        shapes, meta = _safetensors_header(path)
    else:
        shapes, meta = _torch_entries(path)
    shapes = normalised(shapes)
    if not shapes:
        raise ModelError(f"{path.name} holds no model weights (no tensors in it).")
    named = next((str(meta[k]) for k in NAME_KEYS if isinstance(meta.get(k), str)), None)
    return Checkpoint(path, shapes, named, _embedded_config(path, meta))


def safetensors_header(path: Path) -> tuple[dict[str, Any], int]:
    """safetensors: 8 bytes of header length, a JSON header (each tensor's dtype, shape and
    data_offsets, counted from the end of the header), then the tensors' bytes. Returns
    the header and where the tensors' bytes start."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        start = handle.read(8)
        length = struct.unpack("<Q", start)[0] if len(start) == 8 else -1
        if not 0 < length <= min(_HEADER_LIMIT, size - 8):
            raise ModelError(_damaged(path, "its header is missing or cut off"))
        try:
            header = json.loads(handle.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            log.info("%s: unreadable safetensors header: %r", path, error)
            raise ModelError(_damaged(path, "its header is not readable")) from error
    if not isinstance(header, dict):
        raise ModelError(_damaged(path, "its header is not a list of tensors"))
    return header, 8 + length


def _safetensors_header(path: Path) -> tuple[Shapes, dict[str, Any]]:
    header, data_start = safetensors_header(path)
    size = path.stat().st_size
    meta = header.pop("__metadata__", None)
    meta = meta if isinstance(meta, dict) else {}
    try:
        end = max(int(entry["data_offsets"][1]) for entry in header.values())
        shapes = {name: tuple(int(n) for n in entry["shape"]) for name, entry in header.items()}
    except (TypeError, KeyError, ValueError, IndexError, OverflowError) as error:
        raise ModelError(_damaged(path, "its list of tensors is not readable")) from error
    if data_start + end > size:
        missing = data_start + end - size
        raise ModelError(_damaged(path, f"it ends {missing:,} bytes early"))
    return shapes, meta


def _torch_entries(path: Path) -> tuple[Shapes, dict[str, Any]]:
    import torch

    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=_is_zip(path))
    except Exception as error:  # torch reports damage as RuntimeError, EOFError, pickle errors
        log.info("%s: torch.load failed: %r", path, error)
        raise ModelError(_damaged(path, "PyTorch cannot read it")) from error
    if not isinstance(loaded, Mapping):
        raise ModelError(f"{path.name} is not a file of model weights.")
    state = loaded.get("state_dict", loaded.get("model", loaded))
    if not isinstance(state, Mapping):
        state = loaded
    shapes = {str(k): tuple(v.shape) for k, v in state.items() if isinstance(v, torch.Tensor)}
    meta = {k: v for k, v in loaded.items() if k in NAME_KEYS + CONFIG_KEYS}
    return shapes, meta


def _is_zip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"PK\x03\x04"


def _damaged(path: Path, why: str) -> str:
    return (
        f"The weights file {path.name} is damaged or incomplete ({why}). "
        "Download it again, or choose another file."
    )


def _embedded_config(path: Path, meta: Mapping[str, Any]) -> dict[str, Any] | None:
    """A model config the file carries, or one in open_clip_config.json beside it."""
    for key in CONFIG_KEYS:
        config = meta.get(key)
        with contextlib.suppress(json.JSONDecodeError, TypeError):
            config = json.loads(config) if isinstance(config, str) else config
        if isinstance(config, dict):
            return dict(config.get("model_cfg", config))
    sidecar = path.with_name(SIDECAR)
    with contextlib.suppress(OSError, json.JSONDecodeError, AttributeError):
        config = json.loads(sidecar.read_text(encoding="utf-8")).get("model_cfg")
        return dict(config) if isinstance(config, dict) else None
    return None


def normalised(shapes: Mapping[str, tuple[int, ...]]) -> Shapes:
    """The names as open_clip's loader would see them: no 'module.' prefix (a
    DataParallel save), the text tower at the top, minus what the loader fixes itself."""
    found: Shapes = {}
    for name, shape in shapes.items():
        name = name.removeprefix("module.")
        if name in IGNORED:
            continue
        if name.startswith("text.") and name[5:].startswith(TEXT_PARTS):
            name = name[5:]
        found[name] = tuple(shape)
    return found


# -- architectures -------------------------------------------------------------------------


def model_shapes(arch: str) -> Shapes:
    """The tensors open_clip's `arch` has, built on the meta device (no memory, no weights)."""
    import open_clip
    import torch

    with no_random_weights_warning(), torch.device("meta"):
        model = open_clip.create_model(
            arch, pretrained=None, load_weights=False, device="meta", pretrained_text=False
        )
    return normalised({k: tuple(v.shape) for k, v in model.state_dict().items()})


@contextlib.contextmanager
def no_random_weights_warning() -> Iterator[None]:
    """open_clip warns on the root logger that a model built without `pretrained` has
    random weights; said to the user of a model whose weights come right after, it is false."""
    quiet = _Quiet()
    logging.getLogger().addFilter(quiet)
    try:
        yield
    finally:
        logging.getLogger().removeFilter(quiet)


class _Quiet(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "No pretrained weights loaded" not in record.getMessage()


def differences(found: Shapes, expected: Shapes) -> list[str]:
    """What does not fit, in words, most telling first."""
    words = [
        f"'{name}' is {_shape(found[name])} in the file, {_shape(expected[name])} in the model"
        for name in expected
        if name in found and found[name] != expected[name]
    ]
    missing = [name for name in expected if name not in found]
    extra = [name for name in found if name not in expected]
    if missing:
        words.append(f"{len(missing)} of the model's tensors are not in the file ({missing[0]}, …)")
    if extra:
        words.append(f"{len(extra)} tensors in the file are not in the model ({extra[0]}, …)")
    return words


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(str(n) for n in shape) or "a single number"


def summary(shapes: Shapes) -> str:
    """The few numbers a person can compare: text width and context, embedding size."""
    parts = []
    if "positional_embedding" in shapes and len(shapes["positional_embedding"]) == 2:
        context, width = shapes["positional_embedding"]
        parts.append(f"text width {width}, context {context}")
    if "text_projection" in shapes:
        parts.append(f"embedding size {shapes['text_projection'][-1]}")
    return ", ".join(parts) or f"{len(shapes)} tensors"


def identify(checkpoint: Checkpoint, candidates: list[str]) -> Identified:
    """The architecture the file fits: the one it names, the config it carries, else the
    known one whose every tensor shape matches. ModelError (in words) when none does."""
    if checkpoint.named and checkpoint.named in candidates:
        check_fits(checkpoint, checkpoint.named)
        return Identified(checkpoint.named, "named in the file")
    if checkpoint.config is not None:
        arch = register_config(checkpoint.config, checkpoint.path)
        check_fits(checkpoint, arch)
        return Identified(arch, "its embedded open_clip config")
    for arch in _plausible(checkpoint, candidates):
        if _fits(checkpoint, arch):
            return Identified(arch, "matched by its tensor shapes")
    raise ModelError(
        f"PhotoClip cannot tell which model {checkpoint.path.name} holds: it has "
        f"{summary(checkpoint.shapes)}, and no architecture that open_clip knows has these "
        "tensors. Choose the weights of an open_clip model."
    )


def check_fits(checkpoint: Checkpoint, arch: str) -> None:
    """Raise a ModelError that says what differs when the file does not fit `arch`."""
    expected = model_shapes(arch)
    wrong = differences(checkpoint.shapes, expected)
    if not wrong:
        return
    named = f" It names {checkpoint.named} as its model." if checkpoint.named else ""
    raise ModelError(
        f"The weights file {checkpoint.path.name} does not fit {arch}: {arch} expects "
        f"{summary(expected)}; the file has {summary(checkpoint.shapes)} "
        f"({wrong[0]}).{named}"
    )


def _fits(checkpoint: Checkpoint, arch: str) -> bool:
    try:
        return not differences(checkpoint.shapes, model_shapes(arch))
    except Exception as error:  # an architecture that cannot be built here (needs a download)
        log.info("cannot build %s to compare shapes: %r", arch, error)
        return False


def _plausible(checkpoint: Checkpoint, candidates: list[str]) -> Iterator[str]:
    """Candidates whose config does not contradict the file: its embedding size appears
    among the file's dimensions (cheap, and it rules out most)."""
    import open_clip

    dims = {n for shape in checkpoint.shapes.values() for n in shape}
    text = checkpoint.shapes.get("positional_embedding")
    for arch in sorted(candidates, key=lambda name: not name.startswith("PhotoClip")):
        config = open_clip.get_model_config(arch) or {}
        if config.get("embed_dim") in dims and _same_text(config.get("text_cfg", {}), text):
            yield arch


def _same_text(text_cfg: dict[str, Any], positional: tuple[int, ...] | None) -> bool:
    """A CLIP text tower's (context, width) is its positional embedding's shape."""
    if positional is None or "hf_model_name" in text_cfg or len(positional) != 2:
        return True
    context, width = text_cfg.get("context_length", 77), text_cfg.get("width", 512)
    return (context, width) == positional


def register_config(config: dict[str, Any], path: Path) -> str:
    """Make a config carried by a weights file known to open_clip, under a name of its own."""
    import open_clip

    name = f"PhotoClip-File-{path.stem}"
    folder = Path(tempfile.mkdtemp(prefix="photoclip-config-"))
    (folder / f"{name}.json").write_text(json.dumps(config), encoding="utf-8")
    open_clip.add_model_config(folder)
    return name
