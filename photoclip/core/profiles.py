"""Model profiles: which open_clip architecture and weights PhotoClip embeds with.

A profile is named by a short alias ("fast", "quality", ...) or in open_clip terms as
`ARCH:PRETRAINED`, where PRETRAINED is a pretrained tag or a local checkpoint file, or by a
checkpoint file alone, whose architecture is then read from the file. A bare
`ARCH` means random weights, which are for tests and benchmarks only and must be asked for
with PHOTOCLIP_ALLOW_RANDOM_WEIGHTS=1. This module imports neither torch nor open_clip.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from photoclip.core.errors import ModelError

MODEL_ENV = "PHOTOCLIP_MODEL"
RANDOM_WEIGHTS_ENV = "PHOTOCLIP_ALLOW_RANDOM_WEIGHTS"
DEFAULT_PROFILE = "fast"

#: Architectures PhotoClip ships configs for (registered with open_clip on first load).
MODEL_CONFIG_DIR = Path(__file__).with_name("model_configs")
#: The project's own tiny CLIP trained on synthetic scenes (see photoclip/synthetic): package
#: data, so that every install (editable, wheel, app bundle) has a model that works offline.
TEST_SHAPES_WEIGHTS = (
    Path(__file__).resolve().parents[1] / "resources" / "models" / "test-shapes.safetensors"
)


#: Every word the test-shapes architecture was trained on (its captions: photoclip/
#: synthetic/scenes.py; a test checks). A model trained on a closed set of captions reads
#: any other word as noise, so tagging lets only these words compete as "other words of a
#: kind" (photoclip/core/vocabulary.py). Models trained on web captions have no such list.
_TEST_SHAPES_WORDS = """
    a an the of on in at with and that photo picture image something two
    red orange yellow green blue purple white black
    circle circles square squares triangle triangles star stars shape small large
    left right top bottom center background gradient noisy
    cat dog sun car tree house stop hello text word letters sign says reading written
    busy scene many things cluttered lots colours
"""
CLOSED_VOCABULARIES: dict[str, frozenset[str]] = {
    "PhotoClip-TestShapes": frozenset(_TEST_SHAPES_WORDS.split()),
}


def architecture_config(arch: str) -> dict[str, Any] | None:
    """open_clip's (or PhotoClip's) JSON config of `arch`, read without importing open_clip;
    None for an architecture known only at run time or from a weights file, or a config
    that cannot be read."""
    import importlib.util
    import json

    spec = importlib.util.find_spec("open_clip")  # finds the package, imports nothing
    folders = [MODEL_CONFIG_DIR]
    folders += [Path(p) / "model_configs" for p in (spec and spec.submodule_search_locations) or []]
    found = next((f / f"{arch}.json" for f in folders if (f / f"{arch}.json").is_file()), None)
    if found is None:
        return None
    try:
        config = json.loads(found.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


#: How a photo's frame becomes the model's square input (issue 20). "shortest" is open_clip's
#: default eval transform: the short side is resized and only the centre square is kept,
#: so a 4:3 photo loses a quarter of its area to search, tagging and similar photos, a
#: 16:9 one 44%. "letterbox" is open_clip's 'longest' mode: the long side is resized to the
#: input and the short one padded, centred, here with the photo's own mean colour
#: (embedding.Letterbox). Nothing is cut off, and it costs no more than the crop.
#:
#: Chosen on tests/benchmarks/bench_whole_frame.py: the test-shapes model on 800 held-out
#: scenes (seed 22; shapes anywhere on 3:2, 2:3, 4:3, 16:9 and 1:1 canvases, a quarter on
#: real photos), the share of relevant photos ranked within the top R for shapes inside /
#: outside the centre square, and photos/s of draft decode + transform + model on 4032x3024
#: JPEGs relative to the centre crop in one interleaved run (test-shapes, 48 photos x 5
#: rounds; then ViT-B-32 with random weights, 16 x 3: its forward pass dominates, the same
#: for every one-pass framing, so the spread of those is this shared machine's noise):
#:   centre crop (before)               0.325 / 0.157   1.00 / 1.00
#:   letterbox, the photo's mean colour 0.299 / 0.273   1.09 / 0.96
#:   squash (open_clip's 'squash')      0.295 / 0.273   0.99 / 0.94
#:   letterbox, the model's mean        0.236 / 0.122   1.13 / 0.82  (400 scenes, seed 21)
#:   3 crops, one averaged vector       0.370 / 0.215                (400 scenes, seed 21)
#:   3 crops, 3 vectors, best scores    0.343 / 0.343   0.78 / 0.40
#: Wall-clock ratios here swing by 0.3 from run to run; the steady figure is the transform
#: alone on a draft-decoded camera photo: letterbox 1.61 ms, crop 1.33, squash 1.25, three
#: crops 3.2 (the mean colour and building the transform cost 0.3 ms), against ~25 ms for
#: the decode and the model pass that every framing shares: the letterbox runs at 0.99x.
#: Both whole-frame single passes find shapes near the edges almost as well as central ones
#: (0.91-0.93 of the rate inside, against 0.48 with the crop), for one model pass and one
#: vector per photo. They cost 0.02-0.03 of the rate inside (three seeds; the median rank
#: inside improves, 131 -> 117): the model sees the centre smaller. Letterbox over squash:
#: tagging. Squashed, the made-up photos of tests/core/test_tagging_heldout.py all read as
#: "star" (0 of 24 left without a shape over three seeds, against 9 with the crop and 6
#: with the letterbox), and that test's purple and shape-precision bars failed; the
#: letterbox keeps shapes undistorted and passes them. Its fill must be the photo's own
#: colour: a fixed one (open_clip's default) is a band the model never saw, and scores far
#: worse. Several crops score best, but a photo then needs one model pass and one stored
#: vector per crop: 0.4 of the speed with ViT-B-32 (below the 0.6 bar for even an
#: opt-in setting), and every reader of vectors (search, similar, duplicates, tagging)
#: would have to treat a photo's several vectors as one.
#:
#: With run E (the committed weights, trained partly on letterboxed canvases) the letterbox
#: is still the best one-pass framing, but outside reaches 0.83 of inside (0.468 / 0.389,
#: seed 22; 0.90 on seed 20's 400 scenes). Not because of its bands (filled by repeating the
#: photo's edges instead: the same figures) nor of edges cutting shapes (none are cut): it
#: shows the frame smaller (a 16:9 photo at 56% of the crop's scale), and E never saw a
#: shape that near a long canvas's end: its training keeps a shape's centre 0.15-0.2 of the
#: length or more from it, and 78% of those outside lie within a sixth of it (the letterbox
#: finds 0.38 of those, 0.50 further in; seeds 20 and 22 pooled, 1:1 left out). At the
#: crop's scale the ends do much better: two end squares, 2 vectors, best one scores,
#: 0.540 / 0.543 (the best of two also lifts every wide photo over square ones, whose shapes
#: fall from 0.42 to 0.36; less that lift, 0.551 / 0.492); one wider input (position
#: embeddings resized, a prototype in bench_whole_frame.py) 0.483 / 0.492, or 0.480 / 0.497
#: padded to whole cells rather than squashed a little; but E, trained on the letterbox,
#: tags shapes worse on it (bench_tag_quality.py --framing: shape precision 0.63-0.68
#: against 0.70, purple left untagged 0.75-0.85 against 0.90). Both cost more than one
#: square pass: with ViT-B-32 on 4032x3024 JPEGs (one thread, so that the shared machine's
#: load does not blur it) 0.53x the crop's speed for the two squares, below even the bar of
#: an opt-in setting (0.6x), and 0.82x for the wider input (7x9 patches for 4:3 instead of
#: 7x7; 0.74x padded, 7x10), below the default's (0.95x); the letterbox runs at 0.99-1.02x.
LETTERBOX = "letterbox"
FRAMING = LETTERBOX
#: The whole frame in its own proportions (the test-shapes profile's): the short side
#: at the input side (the crop's scale), the long one at the nearest whole number of cells,
#: the position embeddings resized to that grid (photoclip.core.pixels.native_size,
#: photoclip.core.nativeframe). One vector per photo, so search, similar, duplicates,
#: tagging and textness would stay as they are. Done for ModifiedResNet towers (an attention
#: pool's position embeddings, the test-shapes model's), not for ViTs: a wider input is more
#: patches (0.82x the letterbox's photos/s with ViT-B-32 on 4:3 camera JPEGs, below the
#: 0.95x a default must keep), and how real CLIP weights take resized position embeddings
#: on grids that are not square cannot be measured here (no weights can be downloaded).
#:
#: With run E it finds what the letterbox misses near a long frame's ends (at the crop's
#: scale the ends are where E learned to look), bench_whole_frame.py, 800 scenes each,
#: top-R found rate inside / outside the centre square (outside over inside):
#:   seed 20   letterbox 0.482 / 0.425 (0.88)   native 0.463 / 0.496 (1.07)
#:   seed 21   letterbox 0.489 / 0.428 (0.87)   native 0.488 / 0.487 (1.00)
#:   seed 22   letterbox 0.468 / 0.389 (0.83)   native 0.483 / 0.492 (1.02)
#: but E, trained on the letterbox, tags shapes worse with it. On the seven standard sets of
#: bench_tag_quality.py --sets (bars met of 7, means; letterbox -> native) it gains colour
#: precision 6 -> 7, coverage 5 -> 6, shape precision 1 (.821) -> 4 (.853) and photos
#: without a shape (.856 -> .956), and loses shape recall (every shape >= 0.5: 5 -> 2,
#: lowest .54 -> .45); on tests/core/test_tagging_heldout.py's scenes (plain backgrounds,
#: 4 seeds) its shape precision falls below the bar: .83, .90, .81, .81 against .91, .89,
#: .92, .88, and star and square recall with it. Two runs trained natively (E's recipe,
#: `training --framing native`, seeds 0 and 1) each never tag one colour (orange, white;
#: colour coverage .48 and .52 over the seven sets).
#:
#: So the test-shapes profile takes the native framing with run E's weights trained on for
#: it (training.NATIVE_STAGE: 16 epochs at a tenth of the learning rate, run FE; models
#: README), which keeps what E learned and the tag bars. Against E letterboxed, on the seven
#: sets (bars met of 7, means): every bar on 3 sets (1), shape precision 6 (.875; E 1,
#: .821), photos without a shape 7 (.901; .856), colour precision 5 (.914; 6, .920),
#: coverage 5 (.821; 5, .812), lowest shape recall 5 (.475; 5, .54), purple 7 (.72; .88);
#: whole frame outside / inside 1.09, 1.11, 1.03 on seeds 20-22 (E letterboxed 0.88, 0.87,
#: 0.83), inside 0.45-0.46 (0.47-0.49; the centre crop before E 0.325). The same stage at
#: seed 1 tags better still (every bar on 4 sets) but its textness steering fails
#: tests/core/test_textness.py; FE's passes, though it misplaces more word images than E's
#: (bench_textness.py: 3, 15, 12 against 2, 8, 7). Run FM was the same stage with
#: close-ups at seeds 2, 3 and 5, averaged (training.NATIVE_STAGE_SEEDS), framed natively
#: too: whole frame 1.06, 0.98, 0.99, inside 0.47-0.51. The committed weights are now run
#: FS, FM trained on natively with colours in any shade of their names
#: (training.SHADE_STAGE): whole frame 1.05, 1.03, 1.00, inside 0.48-0.51.
NATIVE = "native"
#: The framing of vectors stored before issue 20; a profile with it keeps the old key.
LEGACY_FRAMING = "shortest"


@dataclass(frozen=True)
class Extra:
    """An optional part of the install that a profile needs (`pip install photoclip[name]`)."""

    name: str
    #: the module whose absence means the extra is not installed
    module: str

    def missing_message(self, profile: str) -> str:
        return (
            f"The '{profile}' model needs the {self.module} library, which this install "
            f"leaves out to stay small. Add it with: pip install 'photoclip[{self.name}]'"
        )


MULTILINGUAL = Extra("multilingual", "transformers")


@dataclass(frozen=True)
class ModelProfile:
    """One way to embed photos: an open_clip architecture plus its weights."""

    name: str
    arch: str
    #: An open_clip pretrained tag, or None for a local file or random weights.
    pretrained: str | None = None
    #: A local checkpoint (the user's file, or the project's test-shapes weights).
    weights_file: Path | None = None
    note: str = ""
    #: The Hugging Face repository of `pretrained` as open_clip names it (a test checks),
    #: so that the weights cache is looked at without importing open_clip and torch.
    hub: str | None = None
    #: What the model chooser calls it (the name, when empty).
    title: str = ""
    #: Optional libraries it needs beyond the core install.
    extra: Extra | None = None
    #: open_clip's resize mode for photos (see FRAMING); part of the vectors' identity.
    framing: str = FRAMING
    #: Photos embedded per batch unless the settings say otherwise (measured: see below).
    batch_size: int = 16

    @property
    def random_weights(self) -> bool:
        return self.pretrained is None and self.weights_file is None

    @property
    def key(self) -> str:
        """Identity of the vectors this profile produces; stored with every embedding.

        The framing is part of it, so vectors of a library indexed with the centre crop
        (before issue 20) are of another model: the worker re-embeds them in the
        background, and searches use them until it is done (the model-switch path)."""
        framing = "" if self.framing == LEGACY_FRAMING else f"+{self.framing}"
        return f"{self._weights_key}{framing}"

    @property
    def _weights_key(self) -> str:
        if self.pretrained:
            return f"{self.arch}:{self.pretrained}"
        if self.weights_file:
            arch = f"{self.arch}:" if self.arch else ""  # no arch: the file says which
            return f"{arch}file:{_file_fingerprint(self.weights_file)}"
        return f"{self.arch}:random"


# Choosing the default: tests/benchmarks/bench_models.py on this project's 2-core CPU, random
# weights of the same shape (same cost). Two runs on a loaded machine, images per second:
# ViT-B-32 4.03 / 1.52, MobileCLIP2-S0 2.28 / 1.25, ViT-B-16 0.86 (second run only). A ViT-B/32
# sees 49 patches, fewer FLOPs than MobileCLIP2-S0's convolutions at 256 px, so on a CPU it is
# the fastest; DataComp-XL weights give it 69.2% ImageNet zero-shot (open_clip's published
# results) against 66.6% for LAION-2B at the same cost. MobileCLIP2 stays as the small option:
# half the parameters (75M against 151M), so less memory, and better accuracy (71.5%).
#
# Decided again (issue 17) with MobileCLIP2-S0 as PhotoClip now runs it, fused and
# channels-last (embedding.fuse_for_inference), each at its best batch size:
# tests/benchmarks/bench_batch.py, 2 threads, 64 images, 3 interleaved rounds on the shared
# 2-core machine (load 4): ViT-B-32 7.22 images/s, MobileCLIP2-S0 5.49 (at batch 32 both;
# ViT-B-32 leads by 1.31-1.33x at 8, 16 and 32 alike). The quiet-machine figure
# (MobileCLIP2-S0 21.9 at batch 8 against ViT-B-32 19.0 at batch 32) compared it at its best
# batch with a smaller one; measured side by side at the same sizes it is slower. Its text
# tower is also bidirectional: exported whole, it runs all 77 positions per query, where
# ViT-B-32's runs only the query's (texttower.py). So "fast" stays ViT-B-32, the fastest
# here, for 2.3 points less ImageNet accuracy; "small" keeps MobileCLIP2's memory and
# accuracy for those who want them.
#
# Batch sizes, from the same run (images/s at batch 8 / 16 / 32): ViT-B-32 3.98 / 5.80 /
# 7.22, MobileCLIP2-S0 3.00 / 4.19 / 5.49: 32 for both (1.24x and 1.31x over 16; the issue
# measured 1.20-1.55x for ViT-B-32). A batch is also what a kill can lose and how often
# progress moves, so larger is not tried. ViT-B-16 was not measured here (0.9 images/s); the
# issue found it fastest at 8. ViT-L-14 is for GPUs, where 16 is a safe size for its memory.
BUILTIN_PROFILES: dict[str, ModelProfile] = {
    p.name: p
    for p in (
        ModelProfile(
            "fast",
            "ViT-B-32",
            "datacomp_xl_s13b_b90k",
            note="Default. Fastest on a CPU; 69.2% ImageNet zero-shot.",
            hub="laion/CLIP-ViT-B-32-DataComp.XL-s13B-b90K/",
            batch_size=32,
        ),
        ModelProfile(
            "small",
            "MobileCLIP2-S0",
            "dfndr2b",
            note="Distilled MobileCLIP2: half the memory of 'fast', 71.5% ImageNet zero-shot; "
            "about 0.6-0.8x its speed on a CPU.",
            hub="timm/MobileCLIP2-S0-OpenCLIP/",
            batch_size=32,
        ),
        ModelProfile(
            "balanced",
            "ViT-B-16",
            "dfn2b",
            note="Finer detail (196 patches): 76.2% ImageNet zero-shot, about 0.55x the speed "
            "of 'fast' on a CPU.",
            hub="apple/DFN2B-CLIP-ViT-B-16/",
            batch_size=8,
        ),
        ModelProfile(
            "quality",
            "ViT-L-14",
            "datacomp_xl_s13b_b90k",
            note="Best results (79.2% ImageNet zero-shot); about 10x slower than 'fast'. "
            "Use a GPU.",
            hub="laion/CLIP-ViT-L-14-DataComp.XL-s13B-b90K/",
        ),
        ModelProfile(
            "multilingual",
            "xlm-roberta-base-ViT-B-32",
            "laion5b_s13b_b90k",
            note="Searches in Chinese, German, Spanish and 100 other languages (62.3% ImageNet).",
            hub="laion/CLIP-ViT-B-32-xlm-roberta-base-laion5B-s13B-b90k/",
            extra=MULTILINGUAL,
            batch_size=32,
        ),
        ModelProfile(
            "test-shapes",
            "PhotoClip-TestShapes",
            weights_file=TEST_SHAPES_WEIGHTS,
            framing=NATIVE,
            note="A tiny model trained on drawn shapes: it finds circles, squares, stars and "
            "their colours, not dogs or beaches. Try PhotoClip now; switch later.",
            title="Demo: shapes and colours only (works offline, 9 MB)",
        ),
    )
}


def default_profile_name() -> str:
    return os.environ.get(MODEL_ENV) or DEFAULT_PROFILE


def resolve_profile(name: str | None = None) -> ModelProfile:
    """Turn a profile name from the user into a profile, or say clearly why not."""
    name = (name or default_profile_name()).strip()
    if name in BUILTIN_PROFILES:
        return BUILTIN_PROFILES[name]
    if _is_file_alone(name):
        return file_profile(Path(name))
    arch, sep, pretrained = name.partition(":")
    if not arch:
        raise ModelError(f"'{name}' is not a model profile. Known: {', '.join(BUILTIN_PROFILES)}")
    if not sep:
        return _random_profile(name)
    candidate = Path(pretrained).expanduser()
    if _looks_like_path(pretrained):
        if not candidate.is_file():
            raise ModelError(f"The checkpoint file {candidate} does not exist.")
        # The name is what the catalog stores to load this model again: make it absolute.
        return ModelProfile(f"{arch}:{candidate.resolve()}", arch, weights_file=candidate.resolve())
    return ModelProfile(name, arch, pretrained)


def file_profile(path: Path) -> ModelProfile:
    """A weights file on its own: the architecture is read from the file when it loads."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ModelError(f"The weights file {file} does not exist.")
    # The name is what the catalog stores to load this model again: make it absolute.
    return ModelProfile(str(file.resolve()), "", weights_file=file.resolve())


def _is_file_alone(name: str) -> bool:
    """A path with no ARCH: before it (Windows' C:\\ included: the file exists)."""
    return _looks_like_path(name) and (":" not in name or Path(name).expanduser().is_file())


def _random_profile(arch: str) -> ModelProfile:
    if os.environ.get(RANDOM_WEIGHTS_ENV) != "1":
        raise ModelError(
            f"'{arch}' names an architecture without weights. Use a profile "
            f"({', '.join(BUILTIN_PROFILES)}) or ARCH:PRETRAINED such as "
            "ViT-B-32:laion2b_s34b_b79k. Random weights are for tests and benchmarks only "
            f"(set {RANDOM_WEIGHTS_ENV}=1)."
        )
    return ModelProfile(arch, arch, note="Random weights: for tests and benchmarks only.")


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.endswith((".pt", ".pth", ".bin", ".safetensors"))


def _file_fingerprint(path: Path) -> str:
    """Size plus a hash of the first and last MiB: cheap for 1 GB checkpoints, and a
    different checkpoint of the same size still differs in its header or tail."""
    import hashlib

    size = path.stat().st_size
    digest = hashlib.blake2b(str(size).encode(), digest_size=8)
    with path.open("rb") as handle:
        digest.update(handle.read(1 << 20))
        handle.seek(max(0, size - (1 << 20)))
        digest.update(handle.read(1 << 20))
    return digest.hexdigest()


def closed_vocabulary(model_key: str) -> frozenset[str] | None:
    """The only words the model of `model_key` knows, for a model trained on a closed set
    of captions (None: an open vocabulary, as every CLIP trained on web captions has). A
    key starts with its architecture (`ModelProfile.key`)."""
    return CLOSED_VOCABULARIES.get(model_key.partition(":")[0])
