"""Trimmed text encoding equals open_clip's encode_text, on every kind of tower it takes."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from photoclip.core.texttower import TrimmedText, causal_text_tower
from tests.modelconfigs import register

#: CLIP's 80 ImageNet templates are about this long; a handful of shapes stand in for them.
TEMPLATES = [f"a {size} photo of a {{}}{tail}" for size in ("", "big ", "small ", "blurry ")
             for tail in (".", " in the wild.", ", a type of pet.", " on a sunny beach today.",
                          " drawn with crayons by a child.")] * 4  # fmt: skip
CLASSNAMES = ["dog", "red circle", "a very long label name with many words in it"]
QUERIES = ["a dog", "beach + sunset", "a photo of a red circle on a white table, seen from above"]

TEXT = {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2}
VISION = {"image_size": 32, "layers": 1, "width": 64, "patch_size": 16}
CONFIGS = {
    "PhotoClip-Trim-Causal": {"embed_dim": 16, "vision_cfg": VISION, "text_cfg": TEXT},
    # CustomTextCLIP: the text tower is a separate TextTransformer (model.text).
    "PhotoClip-Trim-Custom": {"embed_dim": 16, "custom_text": True, "vision_cfg": VISION,
                              "text_cfg": TEXT},
    "PhotoClip-Trim-Eos": {"embed_dim": 16, "custom_text": True, "vision_cfg": VISION,
                           "text_cfg": {**TEXT, "pool_type": "eos", "eos_id": 49407}},
    # Bidirectional: padding changes every position, so it must not be trimmed.
    "PhotoClip-Trim-Bidirectional": {"embed_dim": 16, "custom_text": True, "vision_cfg": VISION,
                                     "text_cfg": {**TEXT, "no_causal_mask": True}},
}  # fmt: skip


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import open_clip

    register(tmp_path_factory, CONFIGS)

    def make(name: str) -> Any:
        torch.manual_seed(0)
        model = open_clip.create_model(name, pretrained=None).eval()
        return model, open_clip.get_tokenizer(name)

    return make


def encode_both(model: Any, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.inference_mode():
        return (
            TrimmedText(model).encode_text(tokens, normalize=True),
            model.encode_text(tokens, normalize=True),
        )


@pytest.fixture(scope="module")
def shapes_model() -> tuple[Any, Any]:
    from photoclip.core.embedding import load_encoder
    from photoclip.core.profiles import resolve_profile

    encoder = load_encoder(resolve_profile("test-shapes"), device="cpu")
    return encoder.model, encoder.tokenizer


def prompts() -> list[list[str]]:
    ensemble = [t.format(c) for c in CLASSNAMES for t in TEMPLATES]
    return [[q] for q in QUERIES] + [ensemble]


@pytest.mark.parametrize("texts", prompts(), ids=lambda t: f"{len(t)} prompts")
@pytest.mark.parametrize("name", ["PhotoClip-Trim-Causal", "PhotoClip-Trim-Custom",
                                  "PhotoClip-Trim-Eos"])  # fmt: skip
def test_trimmed_equals_encode_text(build: Any, name: str, texts: list[str]) -> None:
    model, tokenizer = build(name)
    tokens = tokenizer(texts)
    assert causal_text_tower(model) is not None
    assert causal_text_tower(model).pooled_length(tokens) < tokens.shape[1]  # it does trim
    trimmed, full = encode_both(model, tokens)
    assert trimmed.shape == full.shape
    assert torch.allclose(trimmed, full, atol=1e-5)


@pytest.mark.parametrize("texts", prompts(), ids=lambda t: f"{len(t)} prompts")
def test_trimmed_equals_encode_text_on_the_test_shapes_model(
    shapes_model: tuple[Any, Any], texts: list[str]
) -> None:
    model, tokenizer = shapes_model
    assert causal_text_tower(model) is not None
    trimmed, full = encode_both(model, tokenizer(texts))
    assert torch.allclose(trimmed, full, atol=1e-5)


def test_a_bidirectional_tower_is_not_trimmed(build: Any) -> None:
    model, tokenizer = build("PhotoClip-Trim-Bidirectional")
    assert causal_text_tower(model) is None
    trimmed, full = encode_both(model, tokenizer(QUERIES))
    assert torch.equal(trimmed, full)


def test_the_encoder_uses_it_for_queries_and_prompt_ensembles(
    shapes_model: tuple[Any, Any],
) -> None:
    import open_clip

    from photoclip.core.embedding import load_encoder
    from photoclip.core.profiles import resolve_profile

    encoder = load_encoder(resolve_profile("test-shapes"), device="cpu")
    with torch.inference_mode():
        full = encoder.model.encode_text(encoder.tokenizer(QUERIES), normalize=True)
    assert abs(encoder.encode_texts(QUERIES) - full.numpy()).max() < 1e-5
    reference = open_clip.build_zero_shot_classifier(
        encoder.model, encoder.tokenizer, CLASSNAMES, TEMPLATES
    )
    assert abs(encoder.embed_prompts(CLASSNAMES, TEMPLATES) - reference.T.numpy()).max() < 1e-5


def test_loading_runs_no_image_tower(monkeypatch: pytest.MonkeyPatch) -> None:
    """A text-only search loads the model: the image tower must not run for it."""
    import open_clip

    from photoclip.core.embedding import load_encoder
    from photoclip.core.profiles import resolve_profile

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the image tower ran")

    with monkeypatch.context() as patch:
        patch.setattr(open_clip.model.CLIP, "encode_image", refuse)
        encoder = load_encoder(resolve_profile("test-shapes"), device="cpu")
    assert encoder.dim == encoder.encode_pil([_image()]).shape[1] == 64


def _image() -> Any:
    from PIL import Image

    return Image.new("RGB", (40, 30), (200, 30, 30))
