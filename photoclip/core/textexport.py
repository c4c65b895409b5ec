"""The active model's text tower as ONNX: cold text searches and label edits without torch.

Made and opened with photoclip.core.exports (where, when, the background process, the
checks every export gets); this module holds what is the text tower's own.

The graph is the trimmed text path of photoclip.core.texttower (token embedding through the
final projection, normalised) with the batch and the sequence length dynamic, so that a
query runs on the positions it uses. A bidirectional open_clip tower (MobileCLIP2's), which
trimming would change, is exported whole and runs on the full context (FULL).

Each export is checked against torch when made (cosine >= MIN_COSINE on PROBES, and equal
token ids from photoclip.core.tokenizer), and again each time it is opened (its vectors of
CHECKS against torch's, kept beside it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from photoclip.core.exports import (
    TEXT_EXPORT,
    ExportError,
    ExportFacts,
    agreement,
    check_exportable,
    checked_side,
    described,
    draft_facts,
    open_checked,
    release_weights,
    save_export,
    session,
    write_onnx,
)
from photoclip.core.tokenizer import ClipTokenizer

if TYPE_CHECKING:
    from photoclip.core.embedding import LocalEncoder

log = logging.getLogger(__name__)

#: The pool type recorded for a tower that runs on the whole context, untrimmed.
FULL = "full context"
#: The fixed prompt set of the export's check: short and long, punctuation, unicode, and
#: a text over the context length.
PROBES = (
    "a dog",
    "a photo of a red circle on a white table, seen from above",
    "beach + sunset - people",
    "café crème brûlée",
    "東京の夜景",
    "x",
    "a photo of " + "many " * 90 + "words",
)
#: Embedded again at each open and compared with torch's vectors stored at export: a file
#: damaged or swapped since is refused (one short inference, not a hash of 250 MB).
CHECKS = ("a dog", "a photo of a red circle")


@dataclass(frozen=True)
class ExportInfo(ExportFacts):
    """The text export's description: ExportFacts (checks: torch's vectors of CHECKS,
    min_cosine: over PROBES) and how to run it."""

    context_length: int
    pool_type: str
    eos_id: int | None
    dim: int
    logit_scale: float


def export_paths(cache: Path, model_key: str) -> tuple[Path, Path]:
    """(model.onnx, info.json) of a model key's text export, in the cache folder."""
    return TEXT_EXPORT.paths(cache, model_key)


# -- using an export (no torch) ----------------------------------------------------------------


class OnnxText:
    """The text side of an `Encoder`, from an export: encode_texts and embed_prompts."""

    def __init__(self, session: Any, info: ExportInfo) -> None:
        self.session, self.info = session, info
        self.tokenizer = ClipTokenizer(info.context_length)

    @property
    def model_key(self) -> str:
        return self.info.model_key

    @property
    def dim(self) -> int:
        return self.info.dim

    @property
    def logit_scale(self) -> float:
        return self.info.logit_scale

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        tokens = self.tokenizer(list(texts))
        tokens = tokens[:, : pooled_length(tokens, self.info.pool_type, self.info.eos_id)]
        (vectors,) = self.session.run(None, {"tokens": tokens})
        return np.asarray(vectors, dtype=np.float32)

    def embed_prompts(self, classnames: Sequence[str], templates: Sequence[str]) -> np.ndarray:
        """open_clip's build_zero_shot_classifier: each class's templates, normalised,
        averaged and normalised again; one row per class."""
        rows = []
        for name in classnames:
            vectors = self.encode_texts([template.format(name) for template in templates])
            mean = vectors.mean(axis=0)
            rows.append(mean / np.linalg.norm(mean))
        return np.stack(rows).astype(np.float32)


def pooled_length(tokens: np.ndarray, pool_type: str, eos_id: int | None) -> int:
    """texttower.CausalTextTower.pooled_length on numpy tokens (all of them for FULL)."""
    if pool_type == FULL:
        return int(tokens.shape[1])
    if pool_type == "first":
        return 1
    if pool_type == "eos" and eos_id is not None:
        return int((tokens == eos_id).argmax(axis=-1).max()) + 1
    return int(tokens.argmax(axis=-1).max()) + 1


def open_export(cache: Path, model_key: str) -> OnnxText | None:
    """The model's text export if there is a usable one; else None, with the reason logged."""
    return open_checked(TEXT_EXPORT, cache, model_key, _checked)


def _checked(onnx_file: Path, fields: dict[str, Any]) -> OnnxText:
    info = described(ExportInfo, fields)
    return checked_side(
        onnx_file, info, lambda run: OnnxText(run, info), lambda text: text.encode_texts(CHECKS)
    )


# -- making an export (torch) ------------------------------------------------------------------


def export_text(encoder: LocalEncoder, cache: Path, *, last_use: bool = False) -> ExportInfo:
    """Export the encoder's text tower, check it against torch, keep it; ExportError if it
    cannot be exported or its vectors are not torch's. `last_use`: the encoder is not used
    after this, and its weights are freed before the check loads the export's own copy."""
    from photoclip.core.texttower import causal_text_tower

    tower = causal_text_tower(encoder.model)
    _check_exportable(encoder, tower)
    pool = (tower.pool_type, tower.eos_id) if tower is not None else (FULL, None)
    info: ExportInfo = save_export(
        TEXT_EXPORT,
        cache,
        encoder.model_key,
        lambda draft: _write_onnx(_graph(encoder.model, tower), encoder, draft, pool),
        lambda draft: _verified(draft, pool, encoder, last_use),
    )
    log.info("exported the text tower of %s (cosine to torch >= %.6f)", info.model_key,
             info.min_cosine)  # fmt: skip
    return info


def _check_exportable(encoder: LocalEncoder, tower: Any) -> None:
    check_exportable(encoder)
    if tower is None and not _whole_tower(encoder.model):
        raise ExportError("its text tower is not one of open_clip's own transformers")
    tokenizer = encoder.tokenizer
    plain = (
        type(tokenizer).__name__ == "SimpleTokenizer"
        and getattr(tokenizer.clean_fn, "__name__", "") == "_clean_lower"
        and tokenizer.reduction_fn is None
        and tokenizer.vocab_size == 49408
    )
    if not plain:
        raise ExportError(f"its tokenizer ({type(tokenizer).__name__}) is not CLIP's plain one")
    ours = ClipTokenizer(tokenizer.context_length)(list(PROBES))
    if not np.array_equal(ours, tokenizer(list(PROBES)).numpy()):
        raise ExportError("photoclip's tokenizer does not give open_clip's token ids")


def _whole_tower(model: Any) -> bool:
    """A CustomTextCLIP's TextTransformer, whose forward is encode_text's whole path."""
    from open_clip.transformer import TextTransformer

    return isinstance(getattr(model, "text", None), TextTransformer)


def _write_onnx(graph: Any, encoder: LocalEncoder, path: Path, pool: tuple[str, Any]) -> None:
    import torch

    tokens = torch.from_numpy(_trimmed(encoder, PROBES[:2], pool))
    dims = {0: torch.export.Dim("batch")}
    if pool[0] != FULL:  # the query's own length
        dims[1] = torch.export.Dim("length", max=encoder.tokenizer.context_length)
    write_onnx(graph, tokens, "tokens", dims, path)


def _graph(model: Any, tower: Any) -> Any:
    """The tower as one module whose parameters are its own (torch.export lifts those)."""
    import torch
    import torch.nn.functional as F

    class WholeTextGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.text = model.text

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            return F.normalize(self.text(tokens), dim=-1)

    class TextGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.token_embedding = tower.token_embedding
            self.transformer = tower.transformer
            self.ln_final = tower.ln_final
            self.positional_embedding = tower.positional_embedding
            self.register_buffer("attn_mask", tower.attn_mask, persistent=False)
            self.text_projection = tower.text_projection

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            return F.normalize(tower.encode_trimmed(tokens), dim=-1)

    return (WholeTextGraph() if tower is None else TextGraph()).eval()


def _trimmed(encoder: LocalEncoder, texts: Sequence[str], pool: tuple[str, Any]) -> np.ndarray:
    tokens = encoder.tokenizer(list(texts)).numpy()
    return tokens[:, : pooled_length(tokens, *pool)]


def _verified(
    path: Path, pool: tuple[str, Any], encoder: LocalEncoder, last_use: bool
) -> ExportInfo:
    draft = ExportInfo(
        **draft_facts(TEXT_EXPORT, encoder.model_key, path),
        context_length=encoder.tokenizer.context_length, pool_type=pool[0], eos_id=pool[1],
        dim=encoder.dim, logit_scale=encoder.logit_scale,
    )  # fmt: skip
    torchs = encoder.encode_texts(PROBES)
    checks = encoder.encode_texts(CHECKS).tolist()
    if last_use:
        release_weights(encoder)
    lowest = agreement(OnnxText(session(path), draft).encode_texts(PROBES), torchs)
    return replace(draft, min_cosine=lowest, checks=checks)
