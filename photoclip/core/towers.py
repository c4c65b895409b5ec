"""A CLIP model with one tower only: the other tower's weights never reach memory.

Indexing runs only the image tower, a label edit or a text search only the text tower.
Built whole, ViT-B-32 holds 350 MB of image and 250 MB of text weights, and open_clip's
loader held the whole checkpoint beside the model while it copied it in: `photoclip index`
peaked at 1.54 GB (issue 17). Here the model is built with its parameters on torch's meta
device (shapes and dtypes: no memory, no random initialisation), and only the kept
tower's tensors are read from the checkpoint, each straight into the memory it keeps
(safetensors: read at its offsets; a zip checkpoint: memory-mapped), cast to the dtype
open_clip gave the parameter, and assigned. Buffers are built as usual, so those that no
checkpoint holds (the text tower's causal mask, rotary tables) are computed as ever.

A checkpoint whose names or shapes are not the model's own (a third-party layout that
open_clip converts while loading, a position embedding it resizes) goes through open_clip's
own loader, and the other tower is dropped after: the same vectors either way.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

IMAGE, TEXT = "image", "text"
BOTH: frozenset[str] = frozenset({IMAGE, TEXT})

#: safetensors' dtype names
_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
    "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8",
    "BOOL": "bool",
}  # fmt: skip


def tower_of(name: str) -> str | None:
    """Which tower a state-dict entry belongs to: IMAGE for `visual.*`, None for what
    both use (the logit scale and bias), TEXT for the rest (a CLIP's text modules sit at
    the top, a CustomTextCLIP's under `text.`, a CoCa's decoder beside them)."""
    if name.startswith("visual."):
        return IMAGE
    if name in ("logit_scale", "logit_bias"):
        return None
    return TEXT


def kept(name: str, towers: Collection[str]) -> bool:
    tower = tower_of(name)
    return tower is None or tower in towers


def create(
    arch: str,
    towers: Collection[str],
    checkpoint: Path | None,
    device: str,
    precision: str,
    **kwargs: Any,
) -> tuple[Any, Any]:
    """open_clip's (model, eval transform) for `arch` with `towers` only, weights from
    `checkpoint` (None: random weights). The dropped tower's parameters stay on the meta
    device: a call that needs them fails loudly rather than computing garbage."""
    if checkpoint is not None and set(towers) != BOTH:
        built = _create_partial(arch, towers, checkpoint, device, precision, **kwargs)
        if built is not None:
            return built
    import open_clip

    pretrained = str(checkpoint) if checkpoint is not None else None
    model, _, preprocess = open_clip.create_model_and_transforms(
        arch, device=device, precision=precision, pretrained=pretrained, **kwargs
    )
    if set(towers) != BOTH:
        drop_others(model, towers)
    return model, preprocess


def drop_others(model: Any, towers: Collection[str]) -> None:
    """Move every parameter and saved buffer outside `towers` to the meta device (their
    memory is freed with the last reference)."""
    dropped = {
        name: value.to("meta")
        for name, value in model.state_dict(keep_vars=True).items()
        if not kept(name, towers)
    }
    model.load_state_dict(dropped, strict=False, assign=True)


def _create_partial(
    arch: str,
    towers: Collection[str],
    checkpoint: Path,
    device: str,
    precision: str,
    **kwargs: Any,
) -> tuple[Any, Any] | None:
    """`create` by reading the kept tower alone; None when this checkpoint needs
    open_clip's own loader (or the architecture cannot be built on the meta device)."""
    import open_clip

    from photoclip.core.checkpoints import no_random_weights_warning

    try:
        with parameters_on_meta(), no_random_weights_warning():
            # device=None: open_clip's closing .to() then leaves the meta parameters be
            # (and still casts for `precision`); they get their device as they are read.
            model, _, preprocess = open_clip.create_model_and_transforms(
                arch, device=None, precision=precision, pretrained=None, **kwargs
            )
    except Exception as error:  # an architecture whose constructor reads its weights
        log.info("cannot build %s without its weights: %r", arch, error)
        return None
    expected = {
        name: value
        for name, value in model.state_dict(keep_vars=True).items()
        if kept(name, towers)
    }
    tensors = read_tensors(checkpoint, expected, device)
    if tensors is None:
        log.info("%s is not in %s's own layout: open_clip loads it whole", checkpoint, arch)
        return None
    model.load_state_dict(tensors, strict=False, assign=True)
    _place_buffers(model, towers, device)
    left = [name for name, value in _tensors(model) if kept(name, towers) and value.is_meta]
    if left:  # a kept tensor no checkpoint holds and no constructor computed
        log.info("%s: %s has no weights for %s; open_clip loads it whole", arch, checkpoint, left)
        return None
    log.info("built the %s tower(s) of %s alone", "+".join(sorted(towers)), arch)
    return model, preprocess


@contextlib.contextmanager
def parameters_on_meta() -> Iterator[None]:
    """Modules built inside register their parameters on the meta device; buffers are
    made as usual (the same idea as Hugging Face accelerate's init_empty_weights with
    include_buffers=False). Each parameter is made on the CPU first, uninitialised, and
    freed at once; its initialisation then runs on the meta device, which costs nothing."""
    import torch

    register = torch.nn.Module.register_parameter

    def on_meta(module: torch.nn.Module, name: str, param: torch.nn.Parameter | None) -> None:
        if param is not None and not param.is_meta:
            param = type(param)(param.to("meta"), requires_grad=param.requires_grad)
        register(module, name, param)

    torch.nn.Module.register_parameter = on_meta  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        torch.nn.Module.register_parameter = register  # type: ignore[method-assign]


def read_tensors(
    checkpoint: Path, expected: dict[str, torch.Tensor], device: str
) -> dict[str, torch.Tensor] | None:
    """The `expected` entries of a checkpoint, each with the expected shape, in the
    expected dtype and on `device`; None if one is missing or has another shape."""
    if checkpoint.suffix.lower() == ".safetensors":
        found = _safetensors_tensors(checkpoint, expected)
    else:
        found = _torch_tensors(checkpoint, expected)
    if found is None:
        return None
    return {
        name: tensor.to(device=device, dtype=expected[name].dtype) for name, tensor in found.items()
    }


def _safetensors_tensors(
    path: Path, expected: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor] | None:
    """Each wanted tensor read from its offsets into memory of its own: no mapping of
    the file, whose pages would count in this process's memory beside the copy."""
    import torch

    from photoclip.core.checkpoints import safetensors_header

    header, data_start = safetensors_header(path)
    names = _names_in(header, expected)
    if names is None:
        return None
    found = {}
    with path.open("rb") as handle:
        for name, key in names.items():
            entry = header[key]
            dtype = getattr(torch, _DTYPES.get(entry["dtype"], ""), None)
            if dtype is None or tuple(entry["shape"]) != tuple(expected[name].shape):
                return None
            begin, end = (int(n) for n in entry["data_offsets"])
            tensor = torch.empty(tuple(entry["shape"]), dtype=dtype)
            handle.seek(data_start + begin)
            memory: Any = tensor.reshape(-1).view(torch.uint8).numpy()  # the tensor's bytes
            if handle.readinto(memory) != end - begin:
                return None  # (a file cut short: open_clip's loader says so in its words)
            found[name] = tensor
    return found


def _torch_tensors(path: Path, expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
    import torch

    with path.open("rb") as handle:
        zipped = handle.read(4) == b"PK\x03\x04"  # torch.save's format, which maps
    loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=zipped)
    state = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict):
        return None
    names = _names_in(state, expected)
    if names is None:
        return None
    found = {name: state[key] for name, key in names.items()}
    if any(tuple(found[n].shape) != tuple(expected[n].shape) for n in found):
        return None
    return found


def _names_in(stored: dict[str, Any], expected: dict[str, Any]) -> dict[str, str] | None:
    """The stored key of each expected name (as saved, or with DataParallel's 'module.'
    prefix, which open_clip strips); None if one is not there."""
    names = {}
    for name in expected:
        key = name if name in stored else f"module.{name}"
        if key not in stored:
            return None
        names[name] = key
    return names


def _place_buffers(model: Any, towers: Collection[str], device: str) -> None:
    """The constructor's buffers of the kept towers, on the model's device."""
    for name, buffer in list(model.named_buffers()):
        if kept(name, towers) and not buffer.is_meta and buffer.device.type != device:
            owner, _, leaf = name.rpartition(".")
            setattr(model.get_submodule(owner), leaf, buffer.to(device))


def _tensors(model: Any) -> Iterator[tuple[str, Any]]:
    yield from model.named_parameters()
    yield from model.named_buffers()
