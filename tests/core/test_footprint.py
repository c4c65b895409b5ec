"""photoclip.core.footprint: what a model process does before it imports torch. The model
is loaded in a fresh interpreter: what footprint does holds for the whole process, and this
one has long since imported torch."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from photoclip.core import footprint


def run_python(code: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_triton_already_imported_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    present = object()
    monkeypatch.setitem(sys.modules, "triton", present)
    footprint.skip_triton()
    assert sys.modules["triton"] is present


def test_a_model_loads_and_embeds_without_triton(tmp_path: Path) -> None:
    """load_encoder prepares the process: torch._dynamo is still imported (torchvision asks
    for it) and goes on without triton; the model embeds."""
    if importlib.util.find_spec("triton") is None:  # (not imported here: it is 70 MB)
        pytest.skip("triton is not installed: there is nothing to skip")
    found = run_python(
        "import json, sys\n"
        "from pathlib import Path\n"
        "from PIL import Image\n"
        "from photoclip.core.embedding import load_encoder\n"
        "from photoclip.core.profiles import resolve_profile\n"
        f"encoder = load_encoder(resolve_profile('test-shapes'), 'cpu', Path({str(tmp_path)!r}))\n"
        "vectors = encoder.encode_pil([Image.new('RGB', (90, 60), 'red')])\n"
        "print(json.dumps({'triton': sys.modules.get('triton') is not None,\n"
        "                  'dynamo': 'torch._dynamo' in sys.modules,\n"
        "                  'norm': float((vectors[0] ** 2).sum() ** 0.5)}))\n"
    )
    assert found == {"triton": False, "dynamo": True, "norm": pytest.approx(1.0, abs=1e-5)}


# -- timm and transformers: left out by a process of one model that never uses them ---------


def load_test_shapes(cache: Path, *, one_model: bool) -> str:
    """Code that loads test-shapes in a fresh interpreter, embeds a photo (`vector`) and
    lists the optional libraries imported (`loaded`)."""
    return (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from PIL import Image\n"
        "from photoclip.core import footprint\n"
        "from photoclip.core.embedding import load_encoder\n"
        "from photoclip.core.errors import ModelError\n"
        "from photoclip.core.profiles import resolve_profile\n"
        + ("footprint.one_model_per_process()\n" if one_model else "")
        + f"encoder = load_encoder(resolve_profile('test-shapes'), 'cpu', Path({str(cache)!r}))\n"
        "vector = encoder.encode_pil([Image.new('RGB', (90, 60), 'red')])[0]\n"
        "loaded = [n for n in footprint.OPTIONAL_LIBRARIES if sys.modules.get(n) is not None]\n"
    )


def test_a_process_of_one_model_leaves_out_what_the_model_never_uses(tmp_path: Path) -> None:
    """test-shapes (a ModifiedResNet and open_clip's own text tower) needs neither library;
    its vectors are those of a process that imported both."""
    report = "print(json.dumps({'loaded': loaded, 'vector': vector.tolist()}))\n"
    lean = run_python(load_test_shapes(tmp_path, one_model=True) + report)
    usual = run_python(load_test_shapes(tmp_path, one_model=False) + report)
    assert lean["loaded"] == []
    installed = [n for n in footprint.OPTIONAL_LIBRARIES if importlib.util.find_spec(n)]
    assert usual["loaded"] == installed
    assert lean["vector"] == usual["vector"]


def test_a_second_model_that_needs_a_library_left_out_is_refused_in_words(
    tmp_path: Path,
) -> None:
    """A process declared to have one model that loads a second (a mistake) is told so,
    not left to fail inside open_clip; MobileCLIP2's image tower is timm's."""
    second = (
        "try:\n"
        f"    load_encoder(resolve_profile('small'), 'cpu', Path({str(tmp_path)!r}))\n"
        "except ModelError as error:\n"
        "    print(json.dumps({'refused': str(error)}))\n"
    )
    refused = run_python(load_test_shapes(tmp_path, one_model=True) + second)["refused"]
    assert "needs timm" in refused and "Run the command again" in refused


@pytest.mark.parametrize(
    ("arch", "needed"),
    [
        ("ViT-B-32", set()),
        ("PhotoClip-TestShapes", set()),
        ("MobileCLIP2-S0", {"timm"}),
        ("xlm-roberta-base-ViT-B-32", {"transformers"}),
        ("ViT-B-16-SigLIP", {"timm", "transformers"}),
    ],
)
def test_the_libraries_an_architecture_needs_are_read_from_its_config(
    arch: str, needed: set[str]
) -> None:
    from photoclip.core.profiles import architecture_config

    config = architecture_config(arch)
    assert config is not None
    assert footprint.libraries_needed(config, arch) == needed


def test_nothing_is_left_out_unless_the_process_has_one_model() -> None:
    code = (
        "import json, sys\n"
        "from photoclip.core import footprint\n"
        "from photoclip.core.profiles import architecture_config\n"
        "config = architecture_config('ViT-B-32')\n"
        "before = footprint.skip_unneeded_libraries(config, 'ViT-B-32')\n"
        "footprint.one_model_per_process()\n"
        "unknown = footprint.skip_unneeded_libraries(None, 'from-a-file')\n"
        "after = footprint.skip_unneeded_libraries(config, 'ViT-B-32')\n"
        "print(json.dumps([sorted(before), sorted(unknown), sorted(after)]))\n"
    )
    assert run_python(code) == [[], [], ["timm", "transformers"]]
