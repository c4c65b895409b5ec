"""The towers' exports in the background: started once per model and tower, each tower's
failure kept apart, and what `photoclip doctor` says of them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from photoclip.core import exports
from photoclip.core.embedding import LocalEncoder, load_encoder
from photoclip.core.exports import (
    EXPORT_ENV,
    IMAGE_EXPORT,
    KINDS,
    TEXT_EXPORT,
    ExportError,
    export_state,
    start_export,
)
from photoclip.core.imageexport import export_image
from photoclip.core.profiles import resolve_profile
from photoclip.core.textexport import export_text
from tests.core.exportfiles import copy_export

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder with both exports of test-shapes."""
    cache = tmp_path_factory.mktemp("cache")
    encoder = load_encoder(resolve_profile("test-shapes"), device="cpu")
    export_text(encoder, cache)
    export_image(encoder, cache)
    return cache


def ran_on(device: str, cache: Path) -> Path:
    """`cache` with the device probe that a model load on `device` keeps."""
    import torch

    from photoclip.core.device import DeviceProbe, save_probe

    save_probe(DeviceProbe("auto", device, torch.__version__, (device,)), cache)
    return cache


@pytest.fixture
def children(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The commands start_export runs, none of them started."""
    import subprocess

    started: list[list[str]] = []

    class Child:
        pid = os.getpid()

        def __init__(self, command: list[str], **_: Any) -> None:
            started.append(command)

    monkeypatch.setenv(EXPORT_ENV, "1")
    monkeypatch.setattr(subprocess, "Popen", Child)
    return started


def test_start_export_runs_once_per_model_and_tower(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, made: Path, children: list[list[str]]
) -> None:
    profile = resolve_profile("test-shapes")
    monkeypatch.setenv(EXPORT_ENV, "0")
    assert not start_export(profile, tmp_path)  # turned off
    monkeypatch.setenv(EXPORT_ENV, "1")
    assert not start_export(profile, made)  # both made already
    for kind in KINDS:
        onnx_file = kind.paths(tmp_path, profile.key)[0]
        onnx_file.parent.mkdir(parents=True)
        kind.failure(onnx_file).write_text("ExportError: no")
    assert not start_export(profile, tmp_path)  # failed before: not tried at every load
    assert children == []


def test_a_text_export_alone_starts_the_image_export(
    tmp_path: Path, made: Path, children: list[list[str]]
) -> None:
    """A cache from before the image export: the next model load makes that one."""
    profile = resolve_profile("test-shapes")
    cache = ran_on("cpu", copy_export(TEXT_EXPORT, made, tmp_path / "cache", _key()))
    assert start_export(profile, cache)
    assert len(children) == 1
    image_lock = IMAGE_EXPORT.lock(IMAGE_EXPORT.paths(cache, profile.key)[0])
    text_lock = TEXT_EXPORT.lock(TEXT_EXPORT.paths(cache, profile.key)[0])
    assert image_lock.exists() and not text_lock.exists()


def test_where_a_gpu_runs_the_model_no_image_export_is_made(
    tmp_path: Path, made: Path, children: list[list[str]]
) -> None:
    """Indexing on a GPU uses torch: an image export would only cost time and disk."""
    profile = resolve_profile("test-shapes")
    cache = ran_on("cuda", copy_export(TEXT_EXPORT, made, tmp_path / "cache", _key()))
    assert not start_export(profile, cache) and children == []
    said = export_state(profile, cache).split("; ")[1]
    assert said == "image: not made (the model's last load ran on cuda), indexing uses torch"
    assert start_export(profile, ran_on("cpu", cache))  # the CPU after all (no GPU now)


def test_a_frozen_app_exports_by_running_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, children: list[list[str]]
) -> None:
    """A frozen app has no `python -m`: it used to make no export at all."""
    import sys

    from photoclip.core.internal import FLAG

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert start_export(resolve_profile("test-shapes"), tmp_path)
    assert children == [[sys.executable, FLAG, "export", "test-shapes", str(tmp_path)]]


def test_the_export_command_asks_for_its_two_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert exports.main(["test-shapes"]) == 2
    assert "PROFILE CACHE" in capsys.readouterr().err


def test_one_towers_failure_is_kept_and_the_other_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = exports._exporter

    def text_fails(kind: exports.ExportKind) -> Any:
        if kind is TEXT_EXPORT:
            raise ExportError("an operator onnx lacks")
        return real(kind)

    monkeypatch.setattr(exports, "_exporter", text_fails)
    monkeypatch.setattr(os, "nice", lambda _: 0)  # (the command lowers its own priority)
    assert exports.main(["test-shapes", str(ran_on("cpu", tmp_path))]) == 1
    key = resolve_profile("test-shapes").key
    text_onnx = TEXT_EXPORT.paths(tmp_path, key)[0]
    assert TEXT_EXPORT.failure(text_onnx).read_text() == "ExportError: an operator onnx lacks\n"
    assert IMAGE_EXPORT.paths(tmp_path, key)[1].is_file()
    assert not any(kind.lock(kind.paths(tmp_path, key)[0]).exists() for kind in KINDS)


def test_start_export_skips_random_weights(tiny_encoder: LocalEncoder, tmp_path: Path) -> None:
    assert not start_export(tiny_encoder.profile, tmp_path)


def test_doctor_says_what_starts_without_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, made: Path, tiny_encoder: LocalEncoder
) -> None:
    profile = resolve_profile("test-shapes")
    monkeypatch.setenv(EXPORT_ENV, "1")
    text, image = export_state(profile, made).split("; ")
    assert text.startswith("text: present, text searches start without torch")
    assert image.startswith("image: present, indexing on the CPU runs without torch")
    only_text = ran_on("cpu", copy_export(TEXT_EXPORT, made, tmp_path / "only-text", _key()))
    assert export_state(profile, only_text).split("; ")[1].startswith("image: not made yet")
    monkeypatch.setenv(EXPORT_ENV, "0")
    assert export_state(profile, tmp_path) == (
        f"text: off ({EXPORT_ENV}=0), text searches use torch; "
        f"image: off ({EXPORT_ENV}=0), indexing uses torch"
    )
    onnx_file = IMAGE_EXPORT.paths(tmp_path, profile.key)[0]
    onnx_file.parent.mkdir(parents=True)
    IMAGE_EXPORT.failure(onnx_file).write_text("ExportError: an operator onnx lacks\ntraceback")
    said = export_state(profile, tmp_path).split("; ")[1]
    assert said == "image: failed (ExportError: an operator onnx lacks), indexing uses torch"
    assert export_state(tiny_encoder.profile, tmp_path).startswith("none (a model with random")


def _key() -> str:
    return resolve_profile("test-shapes").key


@pytest.mark.parametrize("export", [export_text, export_image])
def test_an_export_that_is_the_models_last_use_frees_its_weights(
    export: Any, tmp_path: Path
) -> None:
    """The background export frees torch's copy of the weights before onnxruntime loads
    its own: the export is still checked against torch's vectors."""
    encoder = load_encoder(resolve_profile("test-shapes"), device="cpu")
    info = export(encoder, tmp_path, last_use=True)
    assert info.min_cosine >= exports.MIN_COSINE
    weights = dict(encoder.model.named_parameters())
    assert [name for name, value in weights.items() if not value.is_meta] == ["logit_scale"]
