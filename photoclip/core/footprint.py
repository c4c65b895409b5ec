"""What a process does before it imports torch to build a model, so that it holds less
memory: issue 17 asks `photoclip index` with ViT-B-32 to stay under 1.2 GB, and a model's
first run (before its ONNX exports exist) goes through torch.

Measured with tests/benchmarks/bench_index_process.py (`photoclip index` of 64 camera JPEGs
through torch, a local checkpoint, medians of 2 interleaved rounds, peak RSS): ViT-B-32
1315 -> 1185 MB, ViT-B-32-256 1366 -> 1218 MB; a label edit through the text tower
1089 -> 994 MB. Single runs apart: 1331 MB as it was, 1266 MB without triton, 1286 MB with
the allocation threshold, 1207 MB with both. What cannot go: importing torch (the CUDA
wheel) and open_clip, 680 MB, and the image tower's weights, 350 MB.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

#: glibc's mallopt parameter (malloc.h): requests of at least this many bytes get pages of
#: their own, handed back to the system when freed.
M_MMAP_THRESHOLD = -3
#: Blocks from 1 MB up: a batch's activations (ViT-B-32 at batch 32: 20 MB a layer) and
#: decoded photos, not the many small objects Python makes.
OWN_PAGES_FROM = 1 << 20

_prepared = False


def prepare_for_torch() -> None:
    """Call before the first `import torch` or `import open_clip` of a process that builds
    a model (load_encoder does); idempotent."""
    global _prepared
    if _prepared:
        return
    _prepared = True
    skip_triton()
    hand_back_large_blocks()


def skip_triton() -> None:
    """Make `import triton` fail in this process, unless it has already been imported.

    open_clip imports torchvision.ops, which imports torch._dynamo, which loads triton when
    it is installed (the CUDA wheels of torch bring it): 70 MB of a shared library and
    0.1 s, for torch.compile's GPU kernels. PhotoClip never compiles a model, and torch
    treats triton as not installed when its import fails (None in sys.modules makes
    `import triton` raise ModuleNotFoundError, the documented way to block an import)."""
    if "triton" not in sys.modules:
        sys.modules["triton"] = None  # type: ignore[assignment]


def hand_back_large_blocks() -> bool:
    """Give blocks of 1 MB and more pages of their own, returned to the system when freed
    (glibc only; returns whether it applied).

    glibc's default raises that threshold each time such a block is freed, so later batches
    take their activations from the heap, which cannot shrink past a block still in use:
    the process keeps its highest batch on top of the model (45-80 MB more at the peak for
    `index` with ViT-B-32). Speed did not change: ViT-B-32, 3 interleaved runs each, 5.67
    against 5.84 images/s at batch 32, and 0.112 against 0.108 ensembles of 80 prompts a
    second (a loaded machine); fresh pages cost a few ms a batch against seconds of compute."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other libcs: nothing to tune
        return False
    applied = bool(mallopt(M_MMAP_THRESHOLD, OWN_PAGES_FROM))
    if not applied:
        log.info("mallopt(M_MMAP_THRESHOLD) was refused; the allocator keeps its default")
    return applied
