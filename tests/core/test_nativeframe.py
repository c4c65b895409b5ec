"""The native framing in torch (issue 20): each photo whole, in its own proportions, through
the test-shapes model's attention pool with its position embeddings resized."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from photoclip.core.errors import ModelError
from photoclip.core.nativeframe import NativePool, attach
from photoclip.core.profiles import NATIVE


@pytest.fixture(scope="module")
def shapes_encoder() -> Any:
    """The test-shapes model, framed natively (its profile's framing)."""
    from photoclip.core.embedding import load_encoder
    from photoclip.core.profiles import resolve_profile

    profile = resolve_profile("test-shapes")
    assert profile.framing == NATIVE
    return load_encoder(profile, device="cpu")


def _photo(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def test_a_natively_framed_model_takes_each_photo_in_its_proportions(
    shapes_encoder: Any,
) -> None:
    assert isinstance(shapes_encoder.model.visual.attnpool, NativePool)
    assert tuple(shapes_encoder.prepare(_photo(640, 480, 0)).shape) == (3, 64, 96)
    assert tuple(shapes_encoder.prepare(_photo(480, 640, 0)).shape) == (3, 96, 64)
    assert tuple(shapes_encoder.prepare(_photo(500, 500, 0)).shape) == (3, 64, 64)


def test_a_square_input_is_pooled_exactly_as_open_clip_pools_it(shapes_encoder: Any) -> None:
    pool = shapes_encoder.model.visual.attnpool
    features = torch.randn(3, pool.pool.k_proj.in_features, 2, 2)
    with torch.inference_mode():
        torch.testing.assert_close(pool(features), pool.pool(features), rtol=0, atol=0)


def test_a_wide_input_is_pooled_with_positions_of_its_own_grid(shapes_encoder: Any) -> None:
    pool = shapes_encoder.model.visual.attnpool
    table = pool.pool.positional_embedding
    with torch.inference_mode():
        wide = pool.positions(2, 3)
        assert wide.shape == (1 + 2 * 3, table.shape[1])
        torch.testing.assert_close(wide[0], table[0])  # the pooled token keeps its own
        # The grid's corners stay near the square's (bicubic, half-pixel): not a copy.
        cells = wide[1:].reshape(2, 3, -1)
        assert not torch.equal(cells[:, 1], table[1:].reshape(2, 2, -1)[:, 0])
        features = torch.randn(2, pool.pool.k_proj.in_features, 2, 3)
        assert pool(features).shape == (2, shapes_encoder.dim)


def test_photos_of_several_proportions_embed_in_one_batch_as_one_by_one(
    shapes_encoder: Any,
) -> None:
    photos = [_photo(w, h, n) for n, (w, h) in enumerate([(640, 480), (300, 800), (500, 500),
                                                           (1600, 900), (640, 480)])]  # fmt: skip
    together = shapes_encoder.encode_pil(photos)
    alone = np.concatenate([shapes_encoder.encode_pil([photo]) for photo in photos])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_a_shape_at_a_wide_photo_s_end_reaches_the_model(shapes_encoder: Any) -> None:
    """Unlike the centre crop, which cuts it off: the vector changes with what is there."""
    plain = Image.new("RGB", (1600, 900), (128, 128, 128))
    marked = plain.copy()
    ImageDraw.Draw(marked).ellipse((20, 350, 220, 550), fill=(220, 20, 20))
    a, b = shapes_encoder.encode_pil([plain, marked])
    assert float(a @ b) < 0.99


def test_attaching_twice_changes_nothing(shapes_encoder: Any) -> None:
    model = copy.deepcopy(shapes_encoder.model)
    assert attach(model) == 32
    pool = model.visual.attnpool
    assert attach(model) == 32 and model.visual.attnpool is pool


def test_a_tower_without_an_attention_pool_is_refused_with_a_reason(tiny_encoder: Any) -> None:
    with pytest.raises(ModelError, match="native framing needs a ModifiedResNet"):
        attach(tiny_encoder.model)
