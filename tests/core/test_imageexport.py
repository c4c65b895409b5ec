"""The ONNX image export: made from the model, torch's vectors from numpy pixels, refused
when it is not."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from photoclip.core.embedding import ImageFirst, LazyEncoder, LocalEncoder, load_encoder
from photoclip.core.exports import IMAGE_EXPORT, MIN_COSINE, ExportError, weights_path
from photoclip.core.imageexport import (
    OnnxImage,
    export_image,
    export_paths,
    open_image_export,
)
from photoclip.core.profiles import LETTERBOX, NATIVE, resolve_profile
from photoclip.core.towers import IMAGE
from photoclip.synthetic.scenes import single_object_scene
from tests.core.exportfiles import copy_export, edit, make_nan, negated_checks

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shapes() -> LocalEncoder:
    """As indexing builds it: the image tower alone."""
    return load_encoder(resolve_profile("test-shapes"), device="cpu", towers=frozenset({IMAGE}))


@pytest.fixture(scope="module")
def shapes_export(shapes: LocalEncoder, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("cache")
    export_image(shapes, cache)
    return cache


@pytest.fixture
def cache(shapes_export: Path, tmp_path: Path) -> Path:
    """A copy of the test-shapes export that a test may damage."""
    return copy_export(IMAGE_EXPORT, shapes_export, tmp_path / "cache", _key())


def _key() -> str:
    return resolve_profile("test-shapes").key


def _opened(cache: Path) -> OnnxImage:
    image = open_image_export(cache, resolve_profile("test-shapes"))
    assert image is not None
    return image


def photos() -> list[Any]:
    """Scenes of the shapes the model knows, at camera-like and odd sizes."""
    sizes = [(640, 480), (480, 640), (256, 256), (1000, 300), (50, 90)]
    scenes = [("red", "circle"), ("blue", "square"), ("green", "triangle"), ("yellow", "star")]
    made = []
    for n, (width, height) in enumerate(sizes):
        colour, shape = scenes[n % len(scenes)]
        made.append(single_object_scene(colour, shape).render().resize((width, height)))
    return made


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


def test_the_export_gives_torchs_vectors_from_its_own_pixels(
    shapes: LocalEncoder, cache: Path
) -> None:
    image = _opened(cache)
    found = image.encode_pil(photos())
    assert found.dtype == np.float32 and found.shape == (5, shapes.dim)
    assert cosines(found, shapes.encode_pil(photos())).min() >= MIN_COSINE
    said = (image.dim, image.input_size, image.open_clip_version, image.device)
    assert said == (shapes.dim, shapes.input_size, shapes.open_clip_version, "cpu")
    assert image.logit_scale == pytest.approx(shapes.logit_scale)


def test_its_pixels_are_open_clips(shapes: LocalEncoder, cache: Path) -> None:
    image = _opened(cache)
    for photo in photos():
        np.testing.assert_allclose(image.prepare(photo), shapes.prepare(photo).numpy(), atol=1e-6)


def test_a_batch_of_one_and_of_many_agree(cache: Path) -> None:
    image = _opened(cache)
    together = image.encode_pil(photos())
    alone = np.concatenate([image.encode_pil([photo]) for photo in photos()])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_the_check_at_export_is_recorded(cache: Path) -> None:
    info = json.loads(export_paths(cache, _key())[1].read_text())
    assert info["min_cosine"] >= MIN_COSINE and info["model_key"] == _key()
    # The test-shapes profile's framing: each photo in its own proportions, in 32-px cells.
    assert info["pixels"]["resize_mode"] == "native" and info["pixels"]["cell"] == 32


def test_a_natively_framed_model_exports_with_any_height_and_width(
    shapes: LocalEncoder, cache: Path
) -> None:
    """profiles.NATIVE (the test-shapes profile's framing): one graph for every proportion
    (the position embeddings are resized inside it)."""
    assert resolve_profile("test-shapes").framing == NATIVE
    image = _opened(cache)
    assert {tuple(image.prepare(photo).shape) for photo in photos()} == {
        (3, 64, 96), (3, 96, 64), (3, 64, 64), (3, 64, 192), (3, 128, 64)
    }  # fmt: skip
    np.testing.assert_allclose(image.encode_pil(photos()), shapes.encode_pil(photos()), atol=1e-4)


def test_a_letterboxed_model_exports_its_square_padded_pixels(tmp_path: Path) -> None:
    """profiles.LETTERBOX, every other profile's framing: the photo's mean colour pads each
    photo to the model's square, and pixels and vectors are checked against torch's."""
    profile = dataclasses.replace(resolve_profile("test-shapes"), framing=LETTERBOX)
    letterboxed = load_encoder(profile, device="cpu", towers=frozenset({IMAGE}))
    info = export_image(letterboxed, tmp_path)
    assert info.pixels["resize_mode"] == "longest" and info.pixels["fill"] == "mean"
    assert info.min_cosine >= MIN_COSINE
    image = open_image_export(tmp_path, profile)
    assert image is not None
    for photo in photos():
        pixels = image.prepare(photo)
        assert pixels.shape == (3, 64, 64)
        np.testing.assert_allclose(pixels, letterboxed.prepare(photo).numpy(), atol=1e-6)
    found = image.encode_pil(photos())
    assert cosines(found, letterboxed.encode_pil(photos())).min() >= MIN_COSINE


def test_indexing_embeds_through_it_with_no_text_tower_built(cache: Path) -> None:
    """ImageFirst over the export, behind the LazyEncoder that `index` uses."""

    def no_text() -> Any:
        raise AssertionError("the text tower was built")

    profile = resolve_profile("test-shapes")
    lazy = LazyEncoder(profile, lambda: ImageFirst(_opened(cache), no_text))
    vectors = lazy.encode_prepared([lazy.prepare(photo) for photo in photos()])
    assert vectors.shape == (5, lazy.dim) and lazy.device == "cpu"


def test_random_weights_are_not_exported(tiny_encoder: LocalEncoder, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="random weights"):
        export_image(tiny_encoder, tmp_path)


def test_an_export_whose_pixels_differ_is_refused(
    shapes: LocalEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = shapes.prepare
    monkeypatch.setattr(shapes, "prepare", lambda image: real(image.rotate(180)))
    with pytest.raises(ExportError, match="pixels differ from open_clip's transform"):
        export_image(shapes, tmp_path)
    onnx_file, info_file = export_paths(tmp_path, shapes.model_key)
    assert not info_file.exists() and list(onnx_file.parent.iterdir()) == []


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda onnx, info: onnx.write_bytes(os.urandom(onnx.stat().st_size)), "cannot run it"),
        (lambda onnx, info: make_nan(weights_path(onnx)), "differ from torch's"),
        (lambda onnx, info: weights_path(onnx).write_bytes(b"short"), "bytes"),
        (lambda onnx, info: edit(info, open_clip_version="0.1"), "stale"),
        (lambda onnx, info: edit(info, pixels={"size": [64, 64]}), "unreadable"),
        (lambda onnx, info: edit(info, checks=negated_checks(info)), "differ from torch's"),
    ],
    ids=["garbage", "weights NaN", "weights cut", "other open_clip", "bad pixels", "swapped"],
)
def test_a_damaged_or_stale_export_is_refused_with_a_log_line(
    cache: Path, caplog: pytest.LogCaptureFixture, damage: Any, reason: str
) -> None:
    onnx_file, info_file = export_paths(cache, _key())
    damage(onnx_file, info_file)
    with caplog.at_level(logging.WARNING):
        assert open_image_export(cache, resolve_profile("test-shapes")) is None
    assert "image export" in caplog.text and "torch answers instead" in caplog.text
    assert reason in caplog.text
    assert not info_file.exists()  # thrown away: the next model load exports again


def test_no_export_means_none_quietly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert open_image_export(tmp_path, resolve_profile("test-shapes")) is None
    assert caplog.text == ""
