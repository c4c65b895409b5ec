"""The training script: a tiny run writes weights the product loads like any checkpoint, and
the committed weights are what the script's recipe makes (the defaults, then NATIVE_STAGE at
each of NATIVE_STAGE_SEEDS, averaged, then SHADE_STAGE at each of SHADE_STAGE_SEEDS,
averaged: the models README's lines)."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open

from photoclip.core.embedding import load_encoder
from photoclip.core.profiles import LETTERBOX, NATIVE, ModelProfile, resolve_profile
from photoclip.synthetic import training
from photoclip.synthetic.scenes import BUSY, SCENERY, Scene, clutter_scene, random_object_scene
from photoclip.synthetic.training import ARCH, TrainingConfig

TINY = TrainingConfig(scenes=96, epochs=1, batch_size=8, warmup_steps=2, reading_epochs=1)


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], float]:
    out = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    lines: list[str] = []
    loss = training.train(TINY, out, report=lines.append)
    return out, lines, loss


def test_a_tiny_run_writes_weights_that_load_through_the_product(
    tiny_weights: tuple[Path, list[str], float],
) -> None:
    out, _, loss = tiny_weights
    assert np.isfinite(loss)
    encoder = load_encoder(ModelProfile("tiny", ARCH, weights_file=out), device="cpu")
    vectors = encoder.encode_texts(["a red circle", "the word 'star'"])
    assert vectors.shape == (2, encoder.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_reading_epochs_come_first_and_are_reported(
    tiny_weights: tuple[Path, list[str], float],
) -> None:
    _, lines, _ = tiny_weights
    epochs = [line for line in lines if line.startswith("epoch")]
    assert ["words only" in line for line in epochs] == [True, False]


def test_reading_epochs_go_over_word_scenes_only() -> None:
    config = replace(TINY, scenes=400, reading_epochs=2, epochs=3)
    assert training._epoch_plan(config) == [True, True, False, False, False]
    data = training.render_training_scenes(config, preprocess=lambda image: torch.zeros(1))
    assert 0 < int(data.words_only.sum()) < len(data.captions)
    for captions, words_only in zip(data.all_captions, data.words_only.tolist(), strict=True):
        assert captions[0].startswith("the word ") == words_only


@pytest.mark.parametrize("framing", [LETTERBOX, NATIVE])
def test_training_frames_images_as_the_app_does(framing: str) -> None:
    """A 16:9 image becomes the same tensor (letterbox bands included, or its own
    proportions) in training as in load_encoder, so the model learns on what it is shown."""
    _, preprocess, _ = training._build_model(framing)
    profile = replace(resolve_profile("test-shapes"), framing=framing)
    encoder = load_encoder(profile, device="cpu")
    image = Image.new("RGB", (160, 90), (200, 40, 40))
    image.paste((20, 20, 220), (0, 0, 40, 90))
    assert torch.equal(preprocess(image), encoder.preprocess(image))
    banded = not torch.equal(preprocess(image)[:, 0], preprocess(image)[:, 32])
    assert banded == (framing == LETTERBOX)
    assert tuple(preprocess(image).shape) == ((3, 64, 64) if banded else (3, 64, 128))


def test_a_run_can_go_on_from_a_checkpoint_and_records_it(
    tiny_weights: tuple[Path, list[str], float], tmp_path: Path
) -> None:
    """With no epochs to run, going on from a checkpoint saves its weights unchanged; the
    file says what it went on from (name, digest and that run's own config)."""
    start, _, _ = tiny_weights
    out = tmp_path / "again.safetensors"
    config = replace(TINY, epochs=0, reading_epochs=0, start_from=str(start))
    training.train(config, out, report=lambda line: None)
    with safe_open(str(start), "pt") as before, safe_open(str(out), "pt") as after:
        assert sorted(before.keys()) == sorted(after.keys())
        for name in before.keys():  # noqa: SIM118 (safe_open is not a mapping)
            assert torch.equal(before.get_tensor(name), after.get_tensor(name)), name
        recorded = json.loads(after.metadata()["started_from"])
    assert recorded["sha256"] == hashlib.sha256(start.read_bytes()).hexdigest()
    assert recorded["training_config"] == json.loads(json.dumps(asdict(TINY)))


def test_a_native_run_batches_by_size_and_saves_open_clips_names(tmp_path: Path) -> None:
    """Natively framed canvases differ in size: each batch runs one pass per size, and the
    checkpoint names the attention pool's weights as open_clip does (the product loads it)."""
    config = replace(TINY, framing=NATIVE, canvas_share=0.5, reading_epochs=0)
    out = tmp_path / "native.safetensors"
    assert np.isfinite(training.train(config, out, report=lambda line: None))
    with safe_open(str(out), framework="pt") as file:
        names = set(file.keys())
    assert "visual.attnpool.positional_embedding" in names
    assert not any(".pool." in name for name in names)
    profile = ModelProfile("tiny", ARCH, weights_file=out, framing=NATIVE)
    encoder = load_encoder(profile, device="cpu")
    assert encoder.encode_pil([Image.new("RGB", (160, 90), "red")]).shape == (1, encoder.dim)


def test_image_features_of_several_sizes_are_each_one_s_own() -> None:
    model, preprocess, _ = training._build_model(NATIVE)
    model.eval()
    sizes = [(160, 90), (64, 64), (90, 160), (160, 90), (120, 80)]
    images = [preprocess(Image.new("RGB", size, (40 * n, 90, 200))) for n, size in enumerate(sizes)]
    batch = [4, 0, 2, 1, 3]
    with torch.no_grad():
        together = training._image_features(model, images, batch)
        alone = torch.cat([training._encoded(model, images[i][None]) for i in batch])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)


#: Photo-like variation at the shares of the README's runs "C" and "E" (the defaults), and none.
VARIED = replace(TINY, tilt_share=0.3, canvas_share=0.3, busy_share=0.1, clutter_share=0.06)
PLAIN = replace(TINY, tilt_share=0.0, canvas_share=0.0, busy_share=0.0, clutter_share=0.0)


def test_training_scenes_vary_as_photos_do() -> None:
    """Tilted shapes, other canvases, busy backgrounds and clutter, at the config's shares;
    words stay upright on 1:1 canvases."""
    config = replace(VARIED, scenes=2000)
    sizes: list[tuple[int, int]] = []

    def record(image: Image.Image) -> torch.Tensor:
        sizes.append(image.size)
        return torch.zeros(1)

    data = training.render_training_scenes(config, preprocess=record)
    words = [captions[0].startswith("the word ") for captions in data.all_captions]
    clutter = [captions[0] == "a photo" for captions in data.all_captions]
    square = [width == height for width, height in sizes]
    objects = [not (w or c) for w, c in zip(words, clutter, strict=True)]
    assert all(s for s, w in zip(square, words, strict=True) if w)
    share = np.mean([not s for s, o in zip(square, objects, strict=True) if o])
    assert abs(share - config.canvas_share) < 0.1
    groups = np.mean(clutter[:: config.group_size])
    assert abs(groups - config.clutter_share) < 0.04
    assert any("busy" in captions[0] for captions in data.all_captions)


def test_scenery_puts_shapes_on_photo_like_backdrops_at_its_share() -> None:
    config = replace(VARIED, scenes=2000, scenery_share=0.3)
    data = training.render_training_scenes(config, preprocess=lambda image: torch.zeros(1))
    objects = [
        captions[0]
        for captions in data.all_captions
        if not captions[0].startswith("the word ") and captions[0] != "a photo"
    ]
    share = np.mean(["busy scene" in caption for caption in objects])
    # Of the scenes that are not busy already (busy_share of them).
    assert abs(share - config.scenery_share * (1 - config.busy_share)) < 0.06


def test_with_scenery_on_half_the_clutter_is_a_bare_backdrop() -> None:
    """A photo-like backdrop with no shape is "a photo" as well, so that a backdrop does
    not come to mean "a shape is here"."""
    config = replace(VARIED, clutter_share=1.0, scenery_share=0.1)
    rng = random.Random(3)
    scenes = [training.varied(random_object_scene(rng), config, rng) for _ in range(400)]
    assert all(scene.clutter and not scene.objects for scene in scenes)
    bare = np.mean([scene.background.kind == SCENERY for scene in scenes])
    assert abs(bare - training.SCENERY_CLUTTER_SHARE) < 0.08
    without = training.varied(random_object_scene(rng), replace(config, scenery_share=0), rng)
    assert without.background.kind != SCENERY


def test_close_ups_come_at_their_share_on_one_object_scenes_only() -> None:
    """Two objects on opposite sides have no room to grow."""
    config = replace(VARIED, clutter_share=0.0, close_up_share=0.3)
    rng = random.Random(5)
    scenes = [
        training.varied(random_object_scene(rng, rng.choice([1, 2])), config, rng)
        for _ in range(1000)
    ]
    one = [scene.close_up for scene in scenes if len(scene.objects) == 1]
    assert abs(np.mean(one) - config.close_up_share) < 0.05
    assert not any(scene.close_up for scene in scenes if len(scene.objects) == 2)
    plain = training.varied(random_object_scene(rng), replace(config, close_up_share=0), rng)
    assert not plain.close_up


def test_wide_shades_come_at_their_share_on_object_scenes() -> None:
    config = replace(VARIED, clutter_share=0.0, shade_share=0.4)
    rng = random.Random(6)
    scenes = [training.varied(random_object_scene(rng), config, rng) for _ in range(1000)]
    assert abs(np.mean([scene.wide_shades for scene in scenes]) - config.shade_share) < 0.05
    plain = training.varied(random_object_scene(rng), replace(config, shade_share=0), rng)
    assert not plain.wide_shades


def test_without_variation_the_training_scenes_are_the_plain_series(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Shares of 0 draw nothing: the scenes are those made before the options existed (what
    the weights before run E were trained on), not merely scenes of the same kinds."""
    config = replace(PLAIN, scenes=400)

    def record(image: Image.Image) -> torch.Tensor:
        return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy())

    data = training.render_training_scenes(config, preprocess=record)
    monkeypatch.setattr(training, "varied", lambda scene, config, rng: scene)
    plain = training.render_training_scenes(config, preprocess=record)
    assert torch.equal(data.images, plain.images)
    assert data.captions == plain.captions
    assert all(image.shape == (64, 64, 3) for image in data.images)


#: Options added after run E was trained, at the value that reproduces it: scenery,
#: close-ups and wide shades off draw nothing (the series E was trained on:
#: test_scenery_off_leaves_run_e_series_as_it_was), E was framed by the letterbox and
#: started from random weights. A recording that predates an option is read with it at this
#: value.
OPTIONS_SINCE_THE_WEIGHTS = {
    "scenery_share": 0.0,
    "close_up_share": 0.0,
    "shade_share": 0.0,
    "framing": LETTERBOX,
    "start_from": "",
}
#: sha256 of run E's weights, which the committed ones went on from
#: (`git show be4908a:photoclip/resources/models/test-shapes.safetensors`).
RUN_E_SHA256 = "ddb6045008f46302a345b861a2cfd702324580005e4a9fbb4880e0b1ce290a7c"
#: sha256 of run FM's weights, the second stage's average, which the third went on from
#: (`git show c2edad4:photoclip/resources/models/test-shapes.safetensors`).
RUN_FM_SHA256 = "e925e5a8a4454ad7e6765b37739514a5374fa0c3c1a88c66cf6a96f1f2e665ca"


def _committed_metadata() -> dict[str, str]:
    weights = resolve_profile("test-shapes").weights_file
    assert weights is not None
    with safe_open(str(weights), framework="pt") as file:
        return dict(file.metadata())


def _recorded(config: dict[str, object]) -> dict[str, object]:
    """A recorded config as today's script reads it; where it started is checked by digest."""
    return {**OPTIONS_SINCE_THE_WEIGHTS, **config, "start_from": ""}


def test_the_committed_weights_record_the_script_recipe() -> None:
    """A change of defaults, of a stage or of its seeds without retraining (or the reverse)
    fails here: run E is the defaults, run FM averages runs that went on from it by
    NATIVE_STAGE, one for each of NATIVE_STAGE_SEEDS, and the committed weights average runs
    that went on from FM by SHADE_STAGE, one for each of SHADE_STAGE_SEEDS."""
    metadata = _committed_metadata()
    assert metadata["arch"] == ARCH
    shade_runs = json.loads(metadata["averaged"])
    _assert_stage(shade_runs, training.SHADE_STAGE, training.SHADE_STAGE_SEEDS)
    assert {run["started_from"]["sha256"] for run in shade_runs} == {RUN_FM_SHA256}
    native_runs = shade_runs[0]["started_from"]["averaged"]
    _assert_stage(native_runs, training.NATIVE_STAGE, training.NATIVE_STAGE_SEEDS)
    for run in native_runs:
        first = run["started_from"]
        assert _recorded(first["training_config"]) == json.loads(
            json.dumps(asdict(TrainingConfig()))
        )
        # Run E's own file (the committed weights before the second stage), by its digest.
        assert first["sha256"] == RUN_E_SHA256
        assert first["final_loss"] == pytest.approx(1.0862, 1e-4)


def _assert_stage(
    runs: list[dict[str, Any]], stage: dict[str, Any], seeds: tuple[int, ...]
) -> None:
    """`runs` are one run of `stage` for each of `seeds`, each going on from the file its
    provenance names."""
    assert [run["training_config"]["seed"] for run in runs] == list(seeds)
    for run in runs:
        config = run["training_config"]
        expected = replace(TrainingConfig(), **stage, seed=config["seed"])
        assert _recorded(config) == _recorded(json.loads(json.dumps(asdict(expected))))
        assert config["start_from"].endswith(run["started_from"]["file"])


def test_scenery_off_leaves_run_e_series_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    """With scenery and close-ups at their off values and E's other shares, the scenes are
    exactly those drawn before the options existed (the RNG draws nothing for them)."""
    config = replace(VARIED, scenes=400, **OPTIONS_SINCE_THE_WEIGHTS)

    def record(image: Image.Image) -> torch.Tensor:  # canvases differ in size: a digest
        digest = hashlib.sha256(repr(image.size).encode() + image.tobytes()).digest()
        return torch.tensor(list(digest), dtype=torch.uint8)

    data = training.render_training_scenes(config, preprocess=record)

    def before_scenery(scene: Scene, config: TrainingConfig, rng: random.Random) -> Scene:
        # `varied` as it was before scenery: the same draws in the same order.
        if rng.random() < config.clutter_share:
            return replace(clutter_scene(rng), canvas=training._random_canvas(config, rng))
        if not scene.objects:
            return scene
        tilted = rng.random() < config.tilt_share
        canvas = training._random_canvas(config, rng)
        if rng.random() < config.busy_share:
            scene = replace(scene, background=replace(scene.background, kind=BUSY))
        return replace(scene, tilted=tilted, canvas=canvas)

    monkeypatch.setattr(training, "varied", before_scenery)
    before = training.render_training_scenes(config, preprocess=record)
    assert data.captions == before.captions
    assert torch.equal(data.images, before.images)
