"""What a process does before it imports torch to build a model, so that it holds less
memory: issue 17 asks `photoclip index` with ViT-B-32 to stay under 1.2 GB, and a model's
first run (before its ONNX exports exist) goes through torch.

Measured with tests/benchmarks/bench_index_process.py (`photoclip index` of 64 camera JPEGs
through torch, a local checkpoint, medians of 2 interleaved rounds, peak RSS): ViT-B-32
1292 -> 1225 MB, ViT-B-32-256 1367 -> 1290 MB, a label edit through the text tower
1091 -> 1001 MB, in the same time (index 1.00 and 0.91 of it). What cannot go: importing
torch (its CUDA wheel) and open_clip, 680 MB, and the image tower's weights, 350 MB.

Tried and not kept: glibc's mallopt(M_MMAP_THRESHOLD, 1 MB), so that freed activations go
back to the system at once, took another 45-80 MB off `index`'s peak, but ViT-B-32 embedded
15-25% slower on a quiet machine (12.9-15.2 against 16.6-18.6 images/s at batch 32, runs
interleaved): every batch's activations then come in fresh pages.
"""

from __future__ import annotations

import sys


def skip_triton() -> None:
    """Make `import triton` fail in this process, unless it has already been imported. Call
    before the first `import open_clip` of a process that builds a model (load_encoder
    does); calling it again does nothing more.

    open_clip imports torchvision.ops, which imports torch._dynamo, which loads triton when
    it is installed (the CUDA wheels of torch bring it): 70 MB of a shared library and
    0.1 s, for torch.compile's GPU kernels. PhotoClip never compiles a model, and torch
    treats triton as not installed when its import fails (None in sys.modules makes
    `import triton` raise ModuleNotFoundError, the documented way to block an import)."""
    if "triton" not in sys.modules:
        sys.modules["triton"] = None  # type: ignore[assignment]
