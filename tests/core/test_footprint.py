"""photoclip.core.footprint: what a model process does before it imports torch. Each check
runs in a fresh interpreter: both settings are for the whole process, and this one has
long since imported torch."""

from __future__ import annotations

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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_a_freed_large_block_goes_back_to_the_system() -> None:
    """Two 16 MB blocks, the first freed while the second is in use: with glibc's default
    the first stays in the process (the heap cannot shrink past the second)."""
    code = (
        "import ctypes, json, sys\n"
        "from photoclip.core.footprint import hand_back_large_blocks\n"
        "applied = hand_back_large_blocks() if sys.argv[1] == 'on' else False\n"
        "libc = ctypes.CDLL('libc.so.6')\n"
        "libc.malloc.restype = ctypes.c_void_p\n"
        "libc.free.argtypes = [ctypes.c_void_p]\n"
        "size = 16 << 20\n"
        "def rss():\n"
        "    return int(open('/proc/self/statm').read().split()[1]) * 4096 >> 20\n"
        "def block():\n"
        "    address = libc.malloc(size)\n"
        "    ctypes.memset(address, 1, size)\n"
        "    return address\n"
        "libc.free(block())  # glibc's default raises its threshold here\n"
        "first, second = block(), block()\n"
        "held = rss()\n"
        "libc.free(first)\n"
        "print(json.dumps({'applied': applied, 'returned_mb': held - rss()}))\n"
    )
    on = run_python(code.replace("sys.argv[1]", "'on'"))
    off = run_python(code.replace("sys.argv[1]", "'off'"))
    assert on["applied"] is True
    assert on["returned_mb"] >= 15
    assert off["returned_mb"] < 2  # the setting is what hands it back


def test_prepare_runs_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(footprint, "_prepared", False)
    monkeypatch.setattr(footprint, "skip_triton", lambda: calls.append("triton"))
    monkeypatch.setattr(footprint, "hand_back_large_blocks", lambda: calls.append("blocks"))
    footprint.prepare_for_torch()
    footprint.prepare_for_torch()
    assert calls == ["triton", "blocks"]


def test_a_model_loads_and_embeds_without_triton(tmp_path: Path) -> None:
    """load_encoder prepares the process: torch._dynamo is still imported (torchvision asks
    for it) and goes on without triton; the model embeds."""
    pytest.importorskip("triton")  # (on a machine without it there is nothing to skip)
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
