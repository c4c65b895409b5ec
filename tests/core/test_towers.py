"""One tower of a CLIP model built alone: the same vectors, the other tower never loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from photoclip.core.embedding import ImageFirst, LazyText, LocalEncoder, load_encoder
from photoclip.core.errors import ModelError
from photoclip.core.profiles import resolve_profile
from photoclip.core.towers import IMAGE, TEXT, create, tower_of

IMAGE_ONLY, TEXT_ONLY = frozenset({IMAGE}), frozenset({TEXT})
TEXTS = ["a dog on a beach", "two cats", "a red circle", "night sky over a city"]


@pytest.fixture(scope="module")
def weights(tiny_arch: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny architecture's random weights as a user's checkpoint file."""
    import open_clip

    torch.manual_seed(3)
    model = open_clip.create_model(tiny_arch, pretrained=None)
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def encoder(arch: str, path: Path, towers: frozenset[str] | None = None) -> LocalEncoder:
    profile = resolve_profile(f"{arch}:{path}")
    if towers is None:
        return load_encoder(profile, device="cpu")
    return load_encoder(profile, device="cpu", towers=towers)


@pytest.fixture(scope="module")
def full(tiny_arch: str, weights: Path) -> LocalEncoder:
    return encoder(tiny_arch, weights)


@pytest.fixture(scope="module")
def images(full: LocalEncoder) -> torch.Tensor:
    torch.manual_seed(4)
    return torch.randn(5, 3, *full.input_size)


def meta_towers(model: Any) -> set[str | None]:
    """The towers of the parameters that were never given memory."""
    return {tower_of(name) for name, p in model.named_parameters() if p.is_meta}


def test_image_tower_alone_gives_the_full_models_vectors(
    tiny_arch: str, weights: Path, full: LocalEncoder, images: torch.Tensor
) -> None:
    alone = encoder(tiny_arch, weights, IMAGE_ONLY)
    np.testing.assert_allclose(alone.encode_images(images), full.encode_images(images), atol=1e-6)
    assert (alone.dim, alone.input_size) == (full.dim, full.input_size)
    assert alone.logit_scale == pytest.approx(full.logit_scale)
    assert meta_towers(alone.model) == {TEXT}
    assert all(not p.is_meta for p in alone.model.visual.parameters())
    assert alone.tokenizer is None and full.tokenizer is not None  # (its 22 MB vocabulary)


def test_text_tower_alone_gives_the_full_models_vectors(
    tiny_arch: str, weights: Path, full: LocalEncoder
) -> None:
    alone = encoder(tiny_arch, weights, TEXT_ONLY)
    np.testing.assert_allclose(alone.encode_texts(TEXTS), full.encode_texts(TEXTS), atol=1e-6)
    prompts = (["dog", "cat"], ["a photo of a {}.", "a drawing of a {}."])
    np.testing.assert_allclose(
        alone.embed_prompts(*prompts), full.embed_prompts(*prompts), atol=1e-6
    )
    # The image tower was never materialised: every one of its parameters is on meta.
    assert meta_towers(alone.model) == {IMAGE}
    assert alone.dim == full.dim


def test_a_tower_not_built_refuses_plainly(tiny_arch: str, weights: Path) -> None:
    image_only = encoder(tiny_arch, weights, IMAGE_ONLY)
    text_only = encoder(tiny_arch, weights, TEXT_ONLY)
    with pytest.raises(ModelError, match="without its text tower"):
        image_only.encode_texts(["a dog"])
    with pytest.raises(ModelError, match="without its image tower"):
        text_only.encode_images(torch.zeros(1, 3, *text_only.input_size))


def test_the_text_towers_causal_mask_is_computed_not_loaded(tiny_arch: str, weights: Path) -> None:
    """No checkpoint holds the mask (a non-persistent buffer): the constructor's is kept."""
    alone = encoder(tiny_arch, weights, TEXT_ONLY)
    mask = alone.model.attn_mask
    assert not mask.is_meta
    assert torch.equal(mask, torch.full_like(mask, float("-inf")).triu(1))


@pytest.mark.parametrize("layout", ["module-prefix", "torch-zip"])
def test_other_saved_layouts_load_the_same(
    tiny_arch: str,
    weights: Path,
    full: LocalEncoder,
    images: torch.Tensor,
    tmp_path: Path,
    layout: str,
) -> None:
    from safetensors.torch import load_file

    state = load_file(str(weights))
    if layout == "module-prefix":  # a DataParallel save
        path = tmp_path / "prefixed.safetensors"
        save_file({f"module.{k}": v for k, v in state.items()}, str(path))
    else:
        path = tmp_path / "tiny.pt"
        torch.save({"state_dict": state}, path)
    alone = encoder(tiny_arch, path, IMAGE_ONLY)
    np.testing.assert_allclose(alone.encode_images(images), full.encode_images(images), atol=1e-6)
    assert meta_towers(alone.model) == {TEXT}


def test_a_checkpoint_open_clip_must_convert_is_loaded_whole_then_trimmed(
    tiny_arch: str, weights: Path, tmp_path: Path
) -> None:
    """A text position embedding of another length (open_clip resizes it while loading)
    is not the model's own layout: open_clip's loader takes the file, and the image tower
    is dropped after. The same vectors as open_clip's whole model from that file."""
    from safetensors.torch import load_file

    from photoclip.core.towers import BOTH

    state = load_file(str(weights))
    name = "positional_embedding"
    state[name] = torch.cat([state[name], state[name][-1:]])
    path = tmp_path / "longer.safetensors"
    save_file(state, str(path))
    alone, _ = create(tiny_arch, TEXT_ONLY, path, "cpu", "fp32")
    whole, _ = create(tiny_arch, BOTH, path, "cpu", "fp32")
    assert meta_towers(alone) == {IMAGE}
    tokens = torch.randint(1, 400, (2, 77))
    with torch.inference_mode():
        assert torch.allclose(alone.encode_text(tokens), whole.encode_text(tokens), atol=1e-6)


def test_random_weights_build_whole_then_drop_the_other_tower(tiny_arch: str) -> None:
    model, _ = create(tiny_arch, IMAGE_ONLY, None, "cpu", "fp32")
    assert meta_towers(model) == {TEXT}


def test_image_first_keeps_a_text_side_only_between_image_batches(
    tiny_arch: str, weights: Path, full: LocalEncoder, images: torch.Tensor
) -> None:
    opened: list[LocalEncoder] = []

    def open_text() -> LocalEncoder:
        opened.append(encoder(tiny_arch, weights, TEXT_ONLY))
        return opened[-1]

    both = ImageFirst(encoder(tiny_arch, weights, IMAGE_ONLY), open_text)
    np.testing.assert_allclose(
        both.encode_prepared(list(images)), full.encode_images(images), atol=1e-6
    )
    assert (both.dim, both.logit_scale, both.model_key) == (
        full.dim,
        full.logit_scale,
        full.model_key,
    )
    assert opened == []  # images, and what the encoder says of itself, need no text tower
    np.testing.assert_allclose(both.encode_texts(TEXTS), full.encode_texts(TEXTS), atol=1e-6)
    both.embed_prompts(["dog"], ["a photo of a {}."])
    assert len(opened) == 1 and both.holds_text  # kept for the texts that follow
    both.encode_prepared(list(images))
    assert not both.holds_text  # dropped when images come again
    both.encode_texts(TEXTS[:1])
    assert len(opened) == 2


def test_lazy_text_loads_once_on_first_use(
    tiny_arch: str, weights: Path, full: LocalEncoder
) -> None:
    loads: list[int] = []

    def load() -> LocalEncoder:
        loads.append(1)
        return encoder(tiny_arch, weights, TEXT_ONLY)

    text = LazyText(full.profile, load)
    assert text.model_key == full.model_key and loads == []
    np.testing.assert_allclose(text.encode_texts(TEXTS), full.encode_texts(TEXTS), atol=1e-6)
    assert text.logit_scale == pytest.approx(full.logit_scale)
    assert loads == [1]
