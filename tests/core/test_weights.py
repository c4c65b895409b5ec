"""The weights path up to the network boundary: hub download, progress, offline, local file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from photoclip.core import weights
from photoclip.core.errors import ModelError, WeightsUnavailableError
from photoclip.core.profiles import resolve_profile


def test_offline_without_weights_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(WeightsUnavailableError) as caught:
        weights.ensure_weights(resolve_profile("ViT-B-32:laion2b_s34b_b79k"), tmp_path)
    message = str(caught.value)
    assert "Connect to the internet once" in message and "local weights file" in message
    assert not weights.weights_present(resolve_profile("ViT-B-32:laion2b_s34b_b79k"), tmp_path)


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
