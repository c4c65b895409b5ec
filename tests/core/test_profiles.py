from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from photoclip.core.errors import ModelError
from photoclip.core.profiles import (
    BUILTIN_PROFILES,
    DEFAULT_PROFILE,
    FRAMING,
    LEGACY_FRAMING,
    NATIVE,
    RANDOM_WEIGHTS_ENV,
    resolve_profile,
)


def test_the_default_profile_is_builtin_and_has_real_weights() -> None:
    profile = resolve_profile(None)
    assert profile.name == DEFAULT_PROFILE
    assert profile.pretrained and not profile.random_weights


def test_the_environment_picks_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHOTOCLIP_MODEL", "quality")
    assert resolve_profile(None) is BUILTIN_PROFILES["quality"]


def test_arch_and_tag_name_any_open_clip_weights() -> None:
    profile = resolve_profile("ViT-B-32:laion2b_s34b_b79k")
    assert (profile.arch, profile.pretrained) == ("ViT-B-32", "laion2b_s34b_b79k")
    assert profile.key == f"ViT-B-32:laion2b_s34b_b79k+{FRAMING}"


def test_the_framing_is_part_of_the_vectors_identity() -> None:
    """Vectors of a centre-cropped library (before issue 20) keep their old key, so the
    whole-frame ones are recognised as another model's and re-embedded."""
    profile = BUILTIN_PROFILES["fast"]
    legacy = dataclasses.replace(profile, framing=LEGACY_FRAMING)
    assert profile.framing == FRAMING != LEGACY_FRAMING
    assert legacy.key == "ViT-B-32:datacomp_xl_s13b_b90k"
    assert profile.key == f"{legacy.key}+{FRAMING}"
    assert BUILTIN_PROFILES["test-shapes"].key.endswith(f"+{NATIVE}")  # its own framing
    native = dataclasses.replace(profile, framing=NATIVE)
    assert native.key == f"{legacy.key}+{NATIVE}"


def test_a_bare_architecture_needs_the_random_weights_switch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ModelError, match=RANDOM_WEIGHTS_ENV):
        resolve_profile("ViT-B-32")
    monkeypatch.setenv(RANDOM_WEIGHTS_ENV, "1")
    profile = resolve_profile("ViT-B-32")
    assert profile.random_weights and profile.key == f"ViT-B-32:random+{FRAMING}"


def test_a_local_checkpoint_is_keyed_by_its_content(tmp_path: Path) -> None:
    first = tmp_path / "a.safetensors"
    first.write_bytes(b"1" * 5000)
    second = tmp_path / "b.safetensors"
    second.write_bytes(b"1" * 4999 + b"2")
    one, other = resolve_profile(f"ViT-B-32:{first}"), resolve_profile(f"ViT-B-32:{second}")
    assert one.weights_file == first and one.name == f"ViT-B-32:{first}"
    assert one.key != other.key


def test_a_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        resolve_profile(f"ViT-B-32:{tmp_path / 'nope.pt'}")


def test_profiles_cover_fast_quality_small_and_multilingual() -> None:
    archs = {p.arch for p in BUILTIN_PROFILES.values()}
    assert any(a.startswith("MobileCLIP") for a in archs)
    assert any("xlm-roberta" in a or "nllb" in a for a in archs)
    assert "test-shapes" in BUILTIN_PROFILES


def test_builtin_tags_exist_in_open_clip() -> None:
    import open_clip

    for profile in BUILTIN_PROFILES.values():
        if profile.pretrained:
            assert open_clip.get_pretrained_cfg(profile.arch, profile.pretrained), profile.name


def test_builtin_hub_names_are_open_clips_own() -> None:
    """Recorded so the cache is looked at without importing open_clip; must not drift."""
    import open_clip

    for profile in BUILTIN_PROFILES.values():
        if profile.pretrained:
            config = open_clip.get_pretrained_cfg(profile.arch, profile.pretrained)
            assert profile.hub == config["hf_hub"], profile.name


def test_a_weights_file_alone_is_a_profile_whose_file_names_the_model(tmp_path: Path) -> None:
    weights = tmp_path / "mine.safetensors"
    weights.write_bytes(b"1" * 100)
    profile = resolve_profile(str(weights))
    assert (profile.name, profile.arch, profile.weights_file) == (str(weights), "", weights)
    assert profile.key.startswith("file:") and not profile.random_weights
    with pytest.raises(ModelError, match="does not exist"):
        resolve_profile(str(tmp_path / "gone.safetensors"))


def test_the_demo_model_ships_with_the_package() -> None:
    import photoclip

    demo = BUILTIN_PROFILES["test-shapes"]
    assert demo.weights_file is not None and demo.weights_file.is_file()
    assert demo.weights_file.is_relative_to(Path(photoclip.__file__).parent)
    assert demo.title == "Demo: shapes and colours only (works offline, 9 MB)"
    assert round(demo.weights_file.stat().st_size / 1e6) == 9


def test_the_multilingual_profile_says_how_to_add_what_it_needs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from photoclip.core.embedding import check_requirements, load_encoder

    monkeypatch.setitem(sys.modules, "transformers", None)  # as if not installed
    with pytest.raises(ModelError) as caught:
        load_encoder(BUILTIN_PROFILES["multilingual"], device="cpu")
    assert str(caught.value) == (
        "The 'multilingual' model needs the transformers library, which this install leaves "
        "out to stay small. Add it with: pip install 'photoclip[multilingual]'"
    )
    check_requirements(BUILTIN_PROFILES["fast"])  # the others need nothing more
