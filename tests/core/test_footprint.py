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
