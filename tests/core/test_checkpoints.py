"""A weights file the app reads for itself: its architecture found from the file, and what
does not fit said in words."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from photoclip.core.checkpoints import identify, read_checkpoint
from photoclip.core.embedding import load_encoder
from photoclip.core.errors import ModelError
from photoclip.core.profiles import BUILTIN_PROFILES, TEST_SHAPES_WEIGHTS, resolve_profile

TEXTS = ["a red circle", "a blue square"]
#: An exception's class name, as repr() would show it: never in a message for the user.
EXCEPTION_NAME = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b")


@pytest.fixture(scope="module")
def test_shapes_vectors() -> Any:
    return load_encoder(BUILTIN_PROFILES["test-shapes"], device="cpu").encode_texts(TEXTS)


def _state(encoder: Any) -> dict[str, Any]:
    return {k: v.contiguous() for k, v in encoder.model.state_dict().items()}


def _plain_error(profile: str) -> str:
    with pytest.raises(ModelError) as caught:
        load_encoder(resolve_profile(profile), device="cpu")
    message = str(caught.value)
    assert not EXCEPTION_NAME.search(message), message
    return message


def test_the_test_shapes_file_loads_as_a_weights_file_with_no_architecture_given(
    test_shapes_vectors: Any,
) -> None:
    profile = resolve_profile(str(TEST_SHAPES_WEIGHTS))
    assert profile.arch == "" and profile.weights_file == TEST_SHAPES_WEIGHTS
    encoder = load_encoder(profile, device="cpu")
    assert encoder.encode_texts(TEXTS) == pytest.approx(test_shapes_vectors, abs=1e-6)
    assert encoder.origin == (
        f"PhotoClip-TestShapes weights from {TEST_SHAPES_WEIGHTS} (named in the file)"
    )
    assert encoder.model_key.startswith("file:")


def test_a_file_that_names_nothing_is_matched_by_its_tensor_shapes(
    tmp_path: Path, test_shapes_vectors: Any
) -> None:
    from safetensors.torch import load_file, save_file

    bare = tmp_path / "no-metadata.safetensors"
    save_file(load_file(TEST_SHAPES_WEIGHTS), bare)
    assert read_checkpoint(bare).named is None
    encoder = load_encoder(resolve_profile(str(bare)), device="cpu")
    assert encoder.origin.endswith("(matched by its tensor shapes)")
    assert encoder.encode_texts(TEXTS) == pytest.approx(test_shapes_vectors, abs=1e-6)


def test_a_pytorch_checkpoint_dict_is_read_like_open_clip_reads_it(
    tiny_arch: str, tiny_encoder: Any, tmp_path: Path
) -> None:
    """A training checkpoint: {'state_dict': ...} saved from DataParallel ('module.')."""
    import torch

    state = {f"module.{k}": v for k, v in _state(tiny_encoder).items()}
    checkpoint = tmp_path / "epoch_3.pt"
    torch.save({"epoch": 3, "state_dict": state}, checkpoint)
    encoder = load_encoder(resolve_profile(str(checkpoint)), device="cpu")
    assert encoder.origin.startswith(f"{tiny_arch} weights from")
    assert encoder.encode_texts(TEXTS) == pytest.approx(tiny_encoder.encode_texts(TEXTS), abs=1e-6)


def test_a_file_of_another_architecture_says_what_was_expected_and_found(
    tiny_arch: str, tiny_encoder: Any, tmp_path: Path
) -> None:
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file(_state(tiny_encoder), other)
    message = _plain_error(f"PhotoClip-TestShapes:{other}")
    assert message.startswith("The weights file other.safetensors does not fit PhotoClip-Test")
    assert "PhotoClip-TestShapes expects text width 64, context 32, embedding size 64" in message
    assert "the file has text width 32, context 77, embedding size 32" in message
    # Alone, the same file is recognised as what it is.
    assert identify(read_checkpoint(other), [tiny_arch, "ViT-B-32"]).arch == tiny_arch


def test_test_shapes_chosen_for_another_architecture_is_told_in_words() -> None:
    """What the welcome page used to send: the selected row's ViT-B-32 with this file
    (it failed with "AssertionError('text pos_embed width changed!')")."""
    message = _plain_error(f"ViT-B-32:{TEST_SHAPES_WEIGHTS}")
    assert "does not fit ViT-B-32: ViT-B-32 expects text width 512" in message
    assert "It names PhotoClip-TestShapes as its model." in message


@pytest.mark.parametrize("keep", [0.5, 0.001])
def test_a_truncated_file_is_damaged_in_plain_words(tmp_path: Path, keep: float) -> None:
    data = TEST_SHAPES_WEIGHTS.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: int(len(data) * keep)])
    message = _plain_error(str(cut))
    assert message.startswith("The weights file cut.safetensors is damaged or incomplete")
    assert "Download it again, or choose another file." in message


def test_a_truncated_pytorch_file_is_damaged_in_plain_words(
    tiny_encoder: Any, tmp_path: Path
) -> None:
    import torch

    whole = tmp_path / "whole.pt"
    torch.save(_state(tiny_encoder), whole)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(whole.read_bytes()[:5000])
    assert "cut.pt is damaged or incomplete (PyTorch cannot read it)" in _plain_error(str(cut))


def test_tensors_of_no_known_model_say_so(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    odd = tmp_path / "odd.safetensors"
    save_file({"positional_embedding": torch.zeros(7, 24), "head": torch.zeros(3)}, odd)
    message = _plain_error(str(odd))
    assert message.startswith("PhotoClip cannot tell which model odd.safetensors holds")
    assert "text width 24, context 7" in message


def test_an_embedded_config_is_used(tiny_arch: str, tiny_encoder: Any, tmp_path: Path) -> None:
    """A hub download keeps open_clip_config.json beside the weights: its model_cfg wins."""
    import json

    import open_clip
    from safetensors.torch import save_file

    folder = tmp_path / "snapshot"
    folder.mkdir()
    save_file(_state(tiny_encoder), folder / "open_clip_model.safetensors")
    config = open_clip.get_model_config(tiny_arch)
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": config}))
    found = identify(read_checkpoint(folder / "open_clip_model.safetensors"), ["ViT-B-32"])
    assert found.how == "its embedded open_clip config"
    assert open_clip.get_model_config(found.arch) == config


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=12,
)
TENSOR = st.fixed_dictionaries(
    {"dtype": st.just("F16"), "shape": st.lists(JSON, max_size=3), "data_offsets": JSON}
)
HEADER = st.dictionaries(st.text(max_size=6), TENSOR | JSON, max_size=4)


def _safetensors(header: object, tail: bytes) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + tail


@settings(max_examples=150, deadline=None)
@given(
    content=st.binary(max_size=300) | st.builds(_safetensors, HEADER | JSON, st.binary(max_size=64))
)
def test_any_bytes_read_as_weights_or_fail_in_words(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    path = tmp_path_factory.mktemp("hostile") / "weights.safetensors"
    path.write_bytes(content)
    try:
        checkpoint = read_checkpoint(path)
    except ModelError as error:
        assert "weights.safetensors" in str(error)
        assert not EXCEPTION_NAME.search(str(error)), error
    else:
        assert checkpoint.shapes and all(isinstance(s, tuple) for s in checkpoint.shapes.values())
