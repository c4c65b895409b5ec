"""`photoclip index` on a computer that is offline, in a subprocess: a plain answer in
seconds (issue 18), never a minute of retries. No test here touches the real network."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.photos import make_photo

pytestmark = pytest.mark.slow

OFFLINE = (
    "photoclip: PhotoClip cannot download the 'fast' model's weights: this computer is "
    "offline. Connect to the internet once, or choose a weights file you already have.\n"
)
EXCEPTION_NAME = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b")


def index_offline(folder: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    # A photo to embed: a folder with none needs no model, and so no weights (issue 17).
    make_photo(folder / "photo.jpg", (200, 30, 30))
    environment = {k: v for k, v in os.environ.items() if k not in ("PHOTOCLIP_MODEL", *env)}
    environment.update({k: v for k, v in env.items() if v})
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "photoclip", "index", str(folder)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    return done, time.monotonic() - started


def closed_port() -> int:
    """A local port nothing listens on: a connect is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def check_plain_failure(done: subprocess.CompletedProcess[str], seconds: float) -> None:
    assert done.returncode == 1, done.stderr
    assert done.stderr == OFFLINE
    assert not EXCEPTION_NAME.search(done.stdout + done.stderr)
    assert seconds < 5, seconds


def test_index_with_hf_hub_offline_fails_in_seconds(tmp_path: Path) -> None:
    check_plain_failure(*index_offline(tmp_path, HF_HUB_OFFLINE="1"))
    log = Path(os.environ["PHOTOCLIP_CACHE_DIR"]) / "photoclip.log"
    assert "WeightsUnavailableError" in log.read_text()  # the type: in the log, not the output


def test_index_with_the_hub_unreachable_fails_in_seconds(tmp_path: Path) -> None:
    """No HF_HUB_OFFLINE: the one probe finds the hub's host refusing (a local closed port
    stands in for it through HF_ENDPOINT)."""
    endpoint = f"http://127.0.0.1:{closed_port()}"
    check_plain_failure(*index_offline(tmp_path, HF_HUB_OFFLINE="", HF_ENDPOINT=endpoint))
