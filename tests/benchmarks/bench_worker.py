"""The worker's live latency and idle cost: `python tests/benchmarks/bench_worker.py`.

Latency: a file lands in a watched folder -> its vector is in the index searches use
(median of N, the tiny random CLIP of tests/conftest.py, default settle time). Idle: process
CPU time (all threads: worker, watchdog) over 10 s with nothing to do.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.conftest import TINY_ARCH, TINY_CONFIG
from tests.photos import make_photo


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(samples: int = 10, idle_seconds: float = 10.0) -> None:
    import open_clip

    from photoclip.core.embedding import load_encoder
    from photoclip.core.paths import Locations
    from photoclip.core.profiles import RANDOM_WEIGHTS_ENV, resolve_profile
    from photoclip.core.worker import Worker

    home = Path(tempfile.mkdtemp(prefix="bench-worker-"))
    os.environ.update(PHOTOCLIP_DATA_DIR=str(home / "data"), PHOTOCLIP_CACHE_DIR=str(home / "c"))
    os.environ[RANDOM_WEIGHTS_ENV] = "1"
    (home / "configs").mkdir()
    (home / "configs" / f"{TINY_ARCH}.json").write_text(json.dumps(TINY_CONFIG))
    open_clip.add_model_config(home / "configs")
    encoder = load_encoder(resolve_profile(TINY_ARCH), device="cpu")
    album = home / "album"
    for i in range(20):
        make_photo(album / f"p{i}.jpg", (i * 10, 50, 90), pattern=i)
    worker = Worker(Locations.from_environment(), lambda name: encoder, TINY_ARCH)
    worker.start([album])
    assert worker.wait_idle(60)
    latencies = []
    with worker.searcher() as searcher:
        for i in range(samples):
            path = (album / f"new{i}.jpg").resolve()
            started = time.monotonic()
            make_photo(path, (255 - i * 20, 10, 10), pattern=100 + i)
            while True:
                photo = searcher.library.catalog.photo_by_path(path)
                if photo is not None and photo.id in searcher.library.index():
                    break
                time.sleep(0.005)
            latencies.append(time.monotonic() - started)
            assert worker.wait_idle(30)
    print(
        f"landing -> searchable: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"min {min(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
        f"(n={samples}, settle {worker.settings.settle_seconds} s)"
    )
    time.sleep(1.0)
    before, wall = cpu_seconds(), time.monotonic()
    time.sleep(idle_seconds)
    used, wall = cpu_seconds() - before, time.monotonic() - wall
    print(f"idle worker: {used * 1000:.0f} ms CPU in {wall:.1f} s ({used / wall * 100:.2f}%)")
    worker.stop()


if __name__ == "__main__":
    main()
