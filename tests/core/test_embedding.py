"""The encoder's inference preparations (fusing MobileCLIP-style towers) and LazyEncoder."""

from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from photoclip.core.embedding import LazyEncoder, fuse_for_inference
from tests.modelconfigs import register

#: A MobileCLIP-shaped model, tiny: a FastViT image tower of MobileOne/RepMixer blocks (the
#: blocks MobileCLIP's fastvit_mci towers are made of) and a small text tower.
FASTVIT = "PhotoClip-Tiny-FastViT"
FASTVIT_CONFIG = {
    "embed_dim": 32,
    "custom_text": True,
    "vision_cfg": {"timm_model_name": "fastvit_t8", "timm_model_pretrained": False,
                   "timm_pool": "avg", "timm_proj": None, "image_size": 64},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2,
                 "layers": 1, "no_causal_mask": True},
}  # fmt: skip


@pytest.fixture(scope="module")
def fastvit(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import open_clip

    register(tmp_path_factory, {FASTVIT: FASTVIT_CONFIG})
    torch.manual_seed(0)
    model = open_clip.create_model(FASTVIT, pretrained=None).eval()
    # Fresh batch norms are identities; trained ones are not, and fusing must fold them in.
    for module in model.visual.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
    return model


def image_vectors(model: Any, images: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return model.encode_image(images, normalize=True)


def test_fused_vectors_equal_unfused(fastvit: Any) -> None:
    images = torch.randn(8, 3, 64, 64)
    fused = copy.deepcopy(fastvit)
    assert fuse_for_inference(fused)
    # The train-time branches are gone: fewer modules do the same work.
    assert len(list(fused.visual.modules())) < len(list(fastvit.visual.modules()))
    before = image_vectors(fastvit, images)
    after = image_vectors(fused, images.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(before, after, atol=1e-4)


def test_a_vit_is_left_alone(tiny_encoder: Any) -> None:
    model = copy.deepcopy(tiny_encoder.model)
    modules = len(list(model.modules()))
    assert not fuse_for_inference(model)
    assert len(list(model.modules())) == modules
    assert not tiny_encoder.channels_last


# -- LazyEncoder ---------------------------------------------------------------------------


def test_lazy_encoder_builds_once_for_many_threads(tiny_encoder: Any) -> None:
    calls = []

    def load() -> Any:
        calls.append(1)
        return tiny_encoder

    lazy = LazyEncoder(tiny_encoder.profile, load)
    assert lazy.model_key == tiny_encoder.model_key and not lazy.loaded
    threads = [threading.Thread(target=lambda: lazy.input_size) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [1] and lazy.loaded
    np.testing.assert_allclose(lazy.encode_texts(["a"]), tiny_encoder.encode_texts(["a"]))


def test_lazy_encoder_remembers_a_failed_build(tiny_encoder: Any) -> None:
    calls = []

    def load() -> Any:
        calls.append(1)
        raise RuntimeError("no weights")

    lazy = LazyEncoder(tiny_encoder.profile, load)
    for _ in range(3):
        with pytest.raises(RuntimeError, match="no weights"):
            lazy.get()
    assert calls == [1]


@pytest.mark.slow
def test_mobileclip2_s0_fused_equals_unfused() -> None:
    """The real architecture of the 'small' profile (random weights, trained-like norms)."""
    import open_clip

    torch.manual_seed(0)
    model = open_clip.create_model("MobileCLIP2-S0", pretrained=None, pretrained_text=False)
    model.eval()
    for module in model.visual.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    images = torch.randn(2, 3, 256, 256)
    before = image_vectors(model, images)
    assert fuse_for_inference(model)
    after = image_vectors(model, images.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(before, after, atol=1e-4)


def test_load_encoder_fuses_and_feeds_channels_last(
    fastvit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from photoclip.core.embedding import load_encoder
    from photoclip.core.profiles import RANDOM_WEIGHTS_ENV, resolve_profile

    monkeypatch.setenv(RANDOM_WEIGHTS_ENV, "1")
    encoder = load_encoder(resolve_profile(FASTVIT), device="cpu")
    assert encoder.channels_last
    assert len(list(encoder.model.visual.modules())) < len(list(fastvit.visual.modules()))
    images = torch.randn(3, 3, 64, 64)  # NCHW, as the transform makes them
    expected = image_vectors(encoder.model, images).numpy()
    np.testing.assert_allclose(encoder.encode_images(images), expected, atol=1e-5)


def test_the_encoder_embeds_the_whole_frame_with_open_clips_own_transform(
    tiny_encoder: Any,
) -> None:
    """Issue 20: the profile's framing (a letterbox padded with the photo's mean colour)
    is open_clip's 'longest' eval transform, so a mark at a wide photo's edge reaches the
    model (the default centre crop cut it off)."""
    import open_clip
    from PIL import Image

    from photoclip.core.profiles import FRAMING, LETTERBOX

    assert FRAMING == LETTERBOX
    wide = Image.new("RGB", (300, 100), (255, 255, 255))
    wide.paste((255, 0, 0), (0, 0, 30, 100))  # red down the left edge only
    mean = (255, 230, 230)  # a tenth red, the rest white
    theirs = open_clip.image_transform(
        tiny_encoder.input_size, is_train=False, resize_mode="longest", fill_color=mean
    )
    ours = tiny_encoder.prepare(wide)
    assert torch.equal(ours, theirs(wide))
    red_minus_green = ours[0] - ours[1]  # normalised channels: white is near 0 in both
    assert float(red_minus_green[32, 0]) > 2  # the red edge is in the model's input
    cropped = open_clip.image_transform(tiny_encoder.input_size, is_train=False)(wide)
    assert float((cropped[0] - cropped[1])[32, 0]) < 0.5  # it was not


def test_the_letterbox_pads_with_the_photo_s_own_mean_colour(tiny_encoder: Any) -> None:
    from PIL import Image

    tall = Image.new("RGB", (50, 100), (40, 200, 90))
    padded = tiny_encoder.prepare(tall)
    inside = tiny_encoder.prepare(Image.new("RGB", (100, 100), (40, 200, 90)))
    assert torch.allclose(padded, inside, atol=1e-5)  # the bands are the photo's colour
    assert padded.shape == (3, *tiny_encoder.input_size)
    grey = tiny_encoder.prepare(Image.new("L", (90, 30), 128))  # any mode: RGB first
    assert grey.shape == padded.shape and float(grey.std(dim=(1, 2)).max()) < 1e-5  # bands too


def test_load_encoder_keeps_its_device_probe_beside_the_weights_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For `photoclip doctor`, which reads it without torch; the text export, which asks
    for the CPU whatever the settings say, keeps none."""
    from photoclip.core.device import load_probe
    from photoclip.core.embedding import load_encoder
    from photoclip.core.profiles import resolve_profile

    profile = resolve_profile("test-shapes")
    load_encoder(profile, device="cpu", cache=tmp_path / "export" / "weights", keep_probe=False)
    assert load_probe(tmp_path / "export") is None
    encoder = load_encoder(profile, device="auto", cache=tmp_path / "cache" / "weights")
    kept = load_probe(tmp_path / "cache")
    assert kept is not None and kept.requested == "auto" and kept.device == encoder.device
    assert kept.torch == torch.__version__ and encoder.device in kept.works


# -- the hint: what a model will say of itself, read without torch ------------------------


@pytest.mark.parametrize("name", ["fast", "small", "balanced", "quality"])
def test_the_hint_of_each_profile_is_what_its_model_says(name: str) -> None:
    """Built on the meta device (no weights): the input size and the vector size."""
    import open_clip

    from photoclip.core.embedding import _input_size, model_hint
    from photoclip.core.profiles import resolve_profile

    profile = resolve_profile(name)
    hint = model_hint(profile)
    assert hint is not None
    with torch.device("meta"):
        model = open_clip.create_model(
            profile.arch, pretrained=None, load_weights=False, device="meta", pretrained_text=False
        )
        image = torch.zeros(1, 3, *hint.input_size)
        dim = model.encode_image(image).shape[-1]
    assert (hint.input_size, hint.dim) == (_input_size(model), dim)
    assert hint.open_clip_version == open_clip.__version__


def test_the_hint_of_test_shapes_is_what_its_loaded_model_says() -> None:
    from photoclip.core.embedding import load_encoder, model_hint
    from photoclip.core.profiles import resolve_profile

    encoder = load_encoder(resolve_profile("test-shapes"), device="cpu")
    hint = model_hint(encoder.profile)
    assert hint is not None
    said = (hint.input_size, hint.dim, hint.open_clip_version)
    assert said == (encoder.input_size, encoder.dim, encoder.open_clip_version)


def test_no_hint_for_an_architecture_without_a_config_file(tiny_encoder: Any) -> None:
    """A tiny config registered at run time, or a file whose architecture is read from it."""
    from photoclip.core.embedding import model_hint
    from photoclip.core.profiles import ModelProfile

    assert model_hint(tiny_encoder.profile) is None
    assert model_hint(ModelProfile("/some/file.safetensors", "")) is None


def test_a_model_unlike_its_hint_is_refused(tiny_encoder: Any) -> None:
    from photoclip.core.embedding import ModelHint
    from photoclip.core.errors import ModelError

    wrong = ModelHint(tuple(tiny_encoder.input_size), tiny_encoder.dim + 1, "3.3.0")
    lazy = LazyEncoder(tiny_encoder.profile, lambda: tiny_encoder, hint=wrong)
    assert lazy.dim == tiny_encoder.dim + 1  # before the build: the hint
    with pytest.raises(ModelError, match="not as its configuration said"):
        lazy.get()
    assert not lazy.alive
