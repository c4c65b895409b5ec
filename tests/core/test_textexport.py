"""The ONNX text export: made from the model, equal to torch, refused when it is not."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.torch import save_file

from photoclip.core.embedding import LazyEncoder, LocalEncoder, load_encoder
from photoclip.core.exports import MIN_COSINE, TEXT_EXPORT, ExportError, weights_path
from photoclip.core.profiles import resolve_profile
from photoclip.core.textexport import FULL, PROBES, export_paths, export_text, open_export
from tests.core.exportfiles import copy_export, edit, make_nan, negated_checks, scramble
from tests.modelconfigs import register

pytestmark = pytest.mark.slow

QUERIES = ["a red circle", "a blue square on green", "star", "東京 café", "word " * 100]
TEMPLATES = ["a photo of a {}.", "a drawing of a {}, seen from far away."]


@pytest.fixture(scope="module")
def shapes() -> LocalEncoder:
    return load_encoder(resolve_profile("test-shapes"), device="cpu")


@pytest.fixture(scope="module")
def shapes_export(shapes: LocalEncoder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("cache")
    export_text(shapes, cache)
    return cache


@pytest.fixture
def cache(shapes_export: Path, tmp_path: Path) -> Path:
    """A copy of the test-shapes export that a test may damage."""
    return copy_export(TEXT_EXPORT, shapes_export, tmp_path / "cache", _key())


def _key() -> str:
    return resolve_profile("test-shapes").key


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


def test_the_export_gives_torchs_vectors(shapes: LocalEncoder, cache: Path) -> None:
    text = open_export(cache, shapes.model_key)
    assert text is not None
    assert cosines(text.encode_texts(QUERIES), shapes.encode_texts(QUERIES)).min() >= MIN_COSINE
    assert (text.dim, text.logit_scale) == (shapes.dim, pytest.approx(shapes.logit_scale))


def test_prompt_ensembles_equal_open_clips_classifier(shapes: LocalEncoder, cache: Path) -> None:
    text = open_export(cache, shapes.model_key)
    assert text is not None
    ours = text.embed_prompts(["dog", "red circle"], TEMPLATES)
    np.testing.assert_allclose(
        ours, shapes.embed_prompts(["dog", "red circle"], TEMPLATES), atol=1e-5
    )


def test_a_batch_of_one_and_of_many_agree(cache: Path) -> None:
    text = open_export(cache, _key())
    assert text is not None
    together = text.encode_texts(QUERIES)
    alone = np.concatenate([text.encode_texts([query]) for query in QUERIES])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_the_check_at_export_is_recorded(cache: Path) -> None:
    info = json.loads(export_paths(cache, _key())[1].read_text())
    assert info["min_cosine"] >= MIN_COSINE
    assert info["model_key"] == _key()


BIDIRECTIONAL = {
    "embed_dim": 16,
    "custom_text": True,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2,
                 "layers": 1, "no_causal_mask": True},
}  # fmt: skip


@pytest.fixture(scope="module")
def bidirectional_arch(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A MobileCLIP2-like text tower: no causal mask, so it cannot be trimmed."""
    register(tmp_path_factory, {"PhotoClip-Export-Bidirectional": BIDIRECTIONAL})
    return "PhotoClip-Export-Bidirectional"


@pytest.mark.parametrize("kind", ["causal", "bidirectional"])
def test_a_tiny_open_clip_config_exports(
    tiny_arch: str, bidirectional_arch: str, tmp_path: Path, kind: str
) -> None:
    """Random weights differ at every load, so the tiny model is saved to a file first."""
    import open_clip
    import torch

    arch = tiny_arch if kind == "causal" else bidirectional_arch
    torch.manual_seed(0)
    model = open_clip.create_model(arch, pretrained=None)
    checkpoint = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, checkpoint)
    encoder = load_encoder(resolve_profile(f"{arch}:{checkpoint}"), device="cpu")
    info = export_text(encoder, tmp_path / "cache")
    assert info.min_cosine >= MIN_COSINE and info.context_length == 77
    assert (info.pool_type == FULL) == (kind == "bidirectional")
    text = open_export(tmp_path / "cache", encoder.model_key)
    assert text is not None
    assert cosines(text.encode_texts(QUERIES), encoder.encode_texts(QUERIES)).min() >= MIN_COSINE
    np.testing.assert_allclose(
        text.embed_prompts(["dog"], TEMPLATES), encoder.embed_prompts(["dog"], TEMPLATES), atol=1e-5
    )


def test_random_weights_are_not_exported(tiny_encoder: LocalEncoder, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="random weights"):
        export_text(tiny_encoder, tmp_path)
    assert not (tmp_path / "text-onnx").exists() or not any((tmp_path / "text-onnx").iterdir())


def test_an_export_whose_vectors_differ_is_refused(
    shapes: LocalEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = shapes.encode_texts

    def skewed(texts: Any) -> np.ndarray:
        vectors = real(texts)
        return np.roll(vectors, 1, axis=-1)  # torch "disagrees" with the graph

    monkeypatch.setattr(shapes, "encode_texts", skewed)
    with pytest.raises(ExportError, match="differ from torch"):
        export_text(shapes, tmp_path)
    onnx_file, info_file = export_paths(tmp_path, shapes.model_key)
    assert not onnx_file.exists() and not info_file.exists()
    assert list(onnx_file.parent.iterdir()) == []  # no partial file left either


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda onnx, info: onnx.write_bytes(os.urandom(onnx.stat().st_size)), "cannot run it"),
        (lambda onnx, info: onnx.write_bytes(onnx.read_bytes()[:1000]), "bytes"),
        (lambda onnx, info: onnx.unlink(), "cannot be read"),
        (lambda onnx, info: scramble(weights_path(onnx)), "differ from torch's"),
        (lambda onnx, info: make_nan(weights_path(onnx)), "differ from torch's"),
        (lambda onnx, info: weights_path(onnx).write_bytes(b"short"), "bytes"),
        (lambda onnx, info: info.write_text("{not json"), "unreadable"),
        (lambda onnx, info: edit(info, model_key="other:model"), "stale"),
        (lambda onnx, info: edit(info, format=0), "stale"),
        (lambda onnx, info: edit(info, checks=negated_checks(info)), "differ from torch's"),
    ],
    ids=[
        "garbage",
        "truncated",
        "missing",
        "weights shuffled",
        "weights NaN",
        "weights cut",
        "bad json",
        "other model",
        "old format",
        "swapped",
    ],
)
def test_a_damaged_or_stale_export_is_refused_with_a_log_line(
    cache: Path, caplog: pytest.LogCaptureFixture, damage: Any, reason: str
) -> None:
    onnx_file, info_file = export_paths(cache, _key())
    damage(onnx_file, info_file)
    with caplog.at_level(logging.WARNING, logger="photoclip.core.exports"):
        assert open_export(cache, _key()) is None
    assert "torch answers instead" in caplog.text and reason in caplog.text
    assert not info_file.exists()  # thrown away: the next model load exports again


def test_no_export_means_none_quietly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert open_export(tmp_path, _key()) is None
    assert caplog.text == ""


def test_a_lazy_encoder_with_the_export_never_builds_the_model(cache: Path) -> None:
    text = open_export(cache, _key())
    assert text is not None

    def load() -> Any:
        raise AssertionError("the model was built")

    lazy = LazyEncoder(resolve_profile("test-shapes"), load, text=text)
    assert lazy.encode_texts(["a red circle"]).shape == (1, text.dim)
    assert lazy.embed_prompts(["dog"], TEMPLATES).shape == (1, text.dim)
    assert lazy.logit_scale == text.logit_scale and not lazy.loaded


def test_the_probes_include_text_over_the_context_length(shapes: LocalEncoder) -> None:
    assert any(len(probe.split()) > shapes.tokenizer.context_length for probe in PROBES)
