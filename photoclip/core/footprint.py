"""What a process does before it imports torch to build a model, so that it holds less
memory: issue 17 asks `photoclip index` with ViT-B-32 to stay under 1.2 GB, and a model's
first run (before its ONNX exports exist) goes through torch.

Measured with tests/benchmarks/bench_index_process.py (`photoclip index` of 64 camera JPEGs
through torch, a local checkpoint, medians of 2 interleaved rounds, peak RSS): ViT-B-32
1292 -> 1225 MB, ViT-B-32-256 1367 -> 1290 MB, a label edit through the text tower
1091 -> 1001 MB, in the same time (index 1.00 and 0.91 of it). What cannot go: importing
torch (its CUDA wheel) and open_clip, 680 MB, and the image tower's weights, 350 MB.

Then timm and transformers, for a process of one model that uses neither (ViT-B-32,
test-shapes; `skip_unneeded_libraries`), same benchmark, 3 interleaved rounds, medians:
`index` 1215 -> 1169 MB (0.96) in 0.86 of the time, a label edit through the text tower
1029 -> 960 MB in 0.86, the same edit with test-shapes 829 -> 789 MB.

Tried and not kept: glibc's mallopt(M_MMAP_THRESHOLD, 1 MB), so that freed activations go
back to the system at once, took another 45-80 MB off `index`'s peak, but ViT-B-32 embedded
15-25% slower on a quiet machine (12.9-15.2 against 16.6-18.6 images/s at batch 32, runs
interleaved): every batch's activations then come in fresh pages.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

#: Libraries that `import open_clip` imports whatever the model, though only some
#: architectures use them: timm builds timm image towers (MobileCLIP's, SigLIP's), and
#: transformers Hugging Face text towers and tokenizers (the multilingual models, SigLIP's
#: tokenizer). Left out, `import torch, open_clip` took 678 -> 635 MB of resident memory
#: and 4.5-5.0 -> 3.5-3.6 s here (3 runs each); open_clip treats a missing one as not
#: installed until a model needs it.
OPTIONAL_LIBRARIES = ("timm", "transformers")

#: Whether this process builds one model profile at most (`one_model_per_process`).
_one_model = False
#: What this process left out (`skip_unneeded_libraries`).
_skipped: set[str] = set()


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


def one_model_per_process() -> None:
    """Declare that this process builds the towers of one model profile at most, so that
    `skip_unneeded_libraries` may leave out what that model never uses.

    Only for a process that serves one model for its whole life: the command line run as
    a program (not `watch`, which follows a model switch), a model child of the app and a
    background export. Not for one that may build another model later (the test suite, a
    script calling `photoclip.cli.main`): open_clip keeps a library it found missing as
    missing for the rest of the process."""
    global _one_model
    _one_model = True


def skip_unneeded_libraries(config: Mapping[str, Any] | None, arch: str) -> frozenset[str]:
    """In a process of one model (`one_model_per_process`), before its first `import
    open_clip`: make the optional libraries that `arch` (whose open_clip config is
    `config`) never uses fail to import, as `skip_triton` does. Returns what is left out;
    nothing when the config is unknown (an architecture read from a weights file)."""
    if not _one_model or config is None or "open_clip" in sys.modules:
        return frozenset()
    for library in set(OPTIONAL_LIBRARIES) - libraries_needed(config, arch):
        if library not in sys.modules:
            sys.modules[library] = None  # type: ignore[assignment]
            _skipped.add(library)
    return frozenset(_skipped)


def libraries_needed(config: Mapping[str, Any], arch: str) -> set[str]:
    """Which OPTIONAL_LIBRARIES building `arch` and its tokenizer imports. Read broadly:
    any mention in the config keeps a library, since keeping one only costs memory."""
    text = json.dumps(config)
    needed = set()
    if "timm" in text:  # vision_cfg.timm_model_name (and its checkpoint conversions)
        needed.add("timm")
    if "hf_" in text or "siglip" in arch.lower():  # an HF tower or tokenizer; SigLIP's
        needed.add("transformers")
    return needed


def missing_for(config: Mapping[str, Any] | None, arch: str) -> set[str]:
    """Libraries `arch` needs that this process left out: a second model in a process
    declared to have one (a mistake that would otherwise surface as open_clip's "install
    timm")."""
    if config is None:
        return set()
    return libraries_needed(config, arch) & _skipped
