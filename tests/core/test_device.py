"""The device probe: tried, not trusted; kept in the cache folder for `photoclip doctor`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from photoclip.core import device
from photoclip.core.device import PROBE_FILE, DeviceProbe, load_probe, probe, save_probe
from photoclip.core.errors import ModelError


@pytest.fixture
def only_cpu(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every device but the CPU fails, as on a computer without a GPU; returns the tries."""
    tried: list[str] = []

    def why(name: str) -> str | None:
        tried.append(name)
        return None if name == "cpu" else f"no {name} here."

    monkeypatch.setattr(device, "why_unusable", why)
    return tried


def test_auto_takes_the_first_that_works_and_says_why_not_the_others(
    only_cpu: list[str],
) -> None:
    found = probe("auto")
    assert (found.device, found.works, found.requested) == ("cpu", ("cpu",), "auto")
    assert found.failed == {"cuda": "no cuda here.", "mps": "no mps here."}
    assert found.torch == torch.__version__ and found.name == ""


def test_auto_stops_at_the_first_that_works(monkeypatch: pytest.MonkeyPatch) -> None:
    tried: list[str] = []
    monkeypatch.setattr(device, "why_unusable", lambda name: tried.append(name))
    assert probe(None).device == "cuda" and tried == ["cuda"]


def test_every_tries_each_device_but_keeps_the_one_asked_for(only_cpu: list[str]) -> None:
    found = probe("cpu", every=True)
    assert found.device == "cpu" and only_cpu == ["cpu", "cuda", "mps"]
    assert set(found.failed) == {"cuda", "mps"}


def test_a_requested_device_that_fails_is_the_users_to_fix(only_cpu: list[str]) -> None:
    found = probe("cuda")
    assert found.device is None and only_cpu == ["cuda"]
    with pytest.raises(ModelError, match="'cuda' does not work here; try --device cpu"):
        device.chosen(found)
    with pytest.raises(ModelError):
        device.probe_device("cuda")


def test_the_cpu_really_works_and_a_missing_device_says_why() -> None:
    assert device.why_unusable("cpu") is None
    reason = device.why_unusable("not-a-device")
    assert reason and "\n" not in reason and len(reason) <= 200


def test_the_first_sentence_of_a_drivers_paragraph() -> None:
    said = "Found no NVIDIA driver on your system. Please check http://x.y/a.b\nmore"
    assert device._first_sentence(said) == "Found no NVIDIA driver on your system."
    assert device._first_sentence("") == ""


def test_a_kept_probe_reads_back_equal(tmp_path: Path, only_cpu: list[str]) -> None:
    found = probe("auto")
    save_probe(found, tmp_path / "cache")
    assert load_probe(tmp_path / "cache") == found


def test_no_probe_kept_yet(tmp_path: Path) -> None:
    assert load_probe(tmp_path) is None


def test_a_read_only_cache_keeps_nothing_and_says_so_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    with caplog.at_level("INFO", logger="photoclip.core.device"):
        save_probe(DeviceProbe("auto", "cpu", "2", ("cpu",)), blocked)
    assert "not kept" in caplog.text


JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
#: every field there, each of any JSON type
FIELDS = st.fixed_dictionaries(
    {name: JSON for name in ("requested", "device", "torch", "works", "failed", "name", "at")}
)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | st.builds(lambda v: json.dumps(v).encode(), JSON | FIELDS))
def test_a_damaged_probe_file_is_no_probe(
    tmp_path_factory: pytest.TempPathFactory, raw: bytes
) -> None:
    folder = tmp_path_factory.mktemp("cache")
    (folder / PROBE_FILE).write_bytes(raw)
    found = load_probe(folder)
    if found is not None:  # only a probe of the right types, which writes back the same
        assert all(isinstance(value, str) for value in (found.requested, found.torch))
        assert DeviceProbe.from_json(json.loads(json.dumps(found.as_json()))) == found


def test_a_probe_missing_a_field_is_no_probe(tmp_path: Path) -> None:
    data = DeviceProbe("auto", "cpu", "2", ("cpu",), at=1.0).as_json()
    del data["torch"]
    (tmp_path / PROBE_FILE).write_text(json.dumps(data))
    assert load_probe(tmp_path) is None


@pytest.mark.parametrize(
    "requested, kept, expected",
    [
        ("cpu", None, True),  # asked for: no probe needed
        ("cuda", DeviceProbe("auto", "cpu", torch.__version__, ("cpu",)), False),
        ("auto", DeviceProbe("auto", "cpu", torch.__version__, ("cpu",)), True),
        (None, DeviceProbe("auto", "cpu", torch.__version__, ("cpu",)), True),
        ("auto", DeviceProbe("auto", "cuda", torch.__version__, ("cuda",)), False),
        ("auto", DeviceProbe("cpu", "cpu", torch.__version__, ("cpu",)), False),  # forced
        ("auto", DeviceProbe("auto", "cpu", "2.0.0+cpu", ("cpu",)), False),  # another torch
        ("auto", None, False),  # never probed
    ],
)
def test_known_cpu_says_without_torch_where_the_model_would_run(
    tmp_path: Path, requested: str | None, kept: DeviceProbe | None, expected: bool
) -> None:
    if kept is not None:
        save_probe(kept, tmp_path)
    assert device.known_cpu(requested, tmp_path) is expected
