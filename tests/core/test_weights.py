"""The weights path up to the network boundary: hub download, progress, offline, local file."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from photoclip.core import weights
from photoclip.core.errors import ModelError, WeightsUnavailableError
from photoclip.core.profiles import resolve_profile

OFFLINE = (
    "PhotoClip cannot download the 'fast' model's weights: this computer is offline. "
    "Connect to the internet once, or choose a weights file you already have."
)


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe says the hub answers (downloads themselves are faked in each test)."""
    monkeypatch.setattr(weights, "network_available", lambda timeout=0: True)


@pytest.fixture
def no_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("offline, nothing may be downloaded")

    monkeypatch.setattr("huggingface_hub.hf_hub_download", refuse)
    monkeypatch.setattr("open_clip.download_pretrained", refuse)


def _offline_failure(profile: str, cache: Path) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(WeightsUnavailableError) as caught:
        weights.ensure_weights(resolve_profile(profile), cache)
    return str(caught.value), time.monotonic() - started


@pytest.mark.usefixtures("no_downloads")
def test_hf_hub_offline_fails_at_once_with_the_two_ways_forward(tmp_path: Path) -> None:
    """HF_HUB_OFFLINE=1 (set for every test) is honoured without a probe or a retry."""
    message, seconds = _offline_failure("fast", tmp_path)
    assert message == OFFLINE
    assert seconds < 5
    assert not weights.weights_present(resolve_profile("fast"), tmp_path)


@pytest.mark.usefixtures("no_downloads")
def test_no_network_found_by_the_probe_fails_in_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    probed: list[tuple[str, int]] = []

    def unreachable(address: tuple[str, int], timeout: float) -> None:
        probed.append(address)
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    message, seconds = _offline_failure("fast", tmp_path)
    assert message == OFFLINE and "Error" not in message
    assert seconds < 5
    assert probed == [("huggingface.co", 443)]  # one probe, no retries


def test_a_probe_that_hangs_ends_after_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name server that never answers ignores socket timeouts; the probe does not wait."""
    import huggingface_hub.constants

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    release = threading.Event()

    def hang(*args: Any, **kwargs: Any) -> None:
        release.wait(10)
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(socket, "create_connection", hang)
    started = time.monotonic()
    assert not weights.network_available(timeout=0.2)
    assert time.monotonic() - started < 1
    release.set()


@pytest.mark.usefixtures("no_downloads")
def test_weights_in_the_cache_load_offline(tmp_path: Path) -> None:
    """The cache is looked at first: offline, cached weights are found, not refused."""
    repo = tmp_path / "models--laion--CLIP-ViT-B-32-DataComp.XL-s13B-b90K"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "open_clip_model.safetensors").write_bytes(b"weights")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    found = weights.ensure_weights(resolve_profile("fast"), tmp_path)
    assert found == snapshot / "open_clip_model.safetensors"
    assert weights.weights_present(resolve_profile("fast"), tmp_path)


def test_a_profile_without_a_hub_name_asks_open_clip(tmp_path: Path) -> None:
    """ARCH:TAG profiles (no hub name recorded) take open_clip's, and fail as plainly."""
    message, _ = _offline_failure("ViT-B-32:laion2b_s34b_b79k", tmp_path)
    assert "'ViT-B-32:laion2b_s34b_b79k' model's weights: this computer is offline" in message


@pytest.mark.usefixtures("online")
def test_a_failed_download_names_no_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub.errors import LocalEntryNotFoundError

    def interrupted(*args: Any, **kwargs: Any) -> str:
        raise LocalEntryNotFoundError("Connection reset by peer")

    monkeypatch.setattr("huggingface_hub.hf_hub_download", interrupted)
    with pytest.raises(WeightsUnavailableError) as caught:
        weights.ensure_weights(resolve_profile("fast"), tmp_path)
    message = str(caught.value)
    assert "could not download the 'fast' model's weights" in message
    assert "LocalEntryNotFoundError" not in message and "Connection reset" not in message


@pytest.mark.usefixtures("online")
def test_hub_download_goes_to_the_cache_and_reports_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_hub_download(repo_id: str, filename: str, **kwargs: Any) -> str:
        calls.append({"repo_id": repo_id, "filename": filename, **kwargs})
        bar = kwargs["tqdm_class"](total=300)
        for _ in range(3):
            bar.update(100)
        bar.close()
        target = Path(kwargs["cache_dir"]) / filename
        target.write_bytes(b"weights")
        return str(target)

    monkeypatch.setattr("huggingface_hub.hf_hub_download", fake_hub_download)
    seen: list[tuple[int, int]] = []
    path = weights.ensure_weights(
        resolve_profile("ViT-B-32:laion2b_s34b_b79k"),
        tmp_path,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert path == tmp_path / "open_clip_model.safetensors"
    assert calls[0]["repo_id"] == "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"
    assert calls[0]["cache_dir"] == tmp_path
    assert seen == [(100, 300), (200, 300), (300, 300)]


@pytest.mark.usefixtures("online")
def test_a_repository_with_only_the_bin_format_is_still_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub.errors import EntryNotFoundError

    def fake_hub_download(repo_id: str, filename: str, **kwargs: Any) -> str:
        if filename.endswith(".safetensors"):
            raise EntryNotFoundError("no such file")
        return str(tmp_path / filename)

    monkeypatch.setattr("huggingface_hub.hf_hub_download", fake_hub_download)
    path = weights.ensure_weights(resolve_profile("small"), tmp_path)
    assert path.name == "open_clip_pytorch_model.bin"


def test_an_unknown_tag_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="laion2b_s34b_b79k"):
        weights.ensure_weights(resolve_profile("ViT-B-32:no_such_tag"), tmp_path)


def test_a_local_checkpoint_loads_through_open_clip(
    tiny_arch: str, tiny_encoder: Any, tmp_path: Path
) -> None:
    """A user-picked file gives the same vectors as the model it was saved from."""
    from safetensors.torch import save_file

    from photoclip.core.embedding import load_encoder

    checkpoint = tmp_path / "mine.safetensors"
    save_file({k: v.contiguous() for k, v in tiny_encoder.model.state_dict().items()}, checkpoint)
    loaded = load_encoder(resolve_profile(f"{tiny_arch}:{checkpoint}"), device="cpu")
    texts = ["a red square", "a dog"]
    assert loaded.encode_texts(texts) == pytest.approx(tiny_encoder.encode_texts(texts), abs=1e-6)
    assert loaded.model_key.startswith(f"{tiny_arch}:file:")
