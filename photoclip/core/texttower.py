"""The text tower run on the tokens a prompt has, not on the whole context.

open_clip's `encode_text` runs all 77 positions for prompts of about ten tokens. In a
causal text tower no position sees a later one, so the pooled (end-of-text) position is
the same whether the padding after it runs or not: running tokens[:, :L], with
positional_embedding[:L] and attn_mask[:L, :L], L = the last pooled position + 1, gives
the same vectors (up to float rounding) several times faster.

This uses the model's own modules, the way `encode_text` does. Towers it does not apply to
(bidirectional, a class token, padding masks, pooling the last position, Hugging Face
towers) go through `encode_text` unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

#: Pool types whose pooled position is known from the tokens (see open_clip's
#: text_global_pool); "last" and "none" depend on the context length itself.
TRIMMABLE_POOLS = ("argmax", "eos", "first")


@dataclass(frozen=True)
class CausalTextTower:
    """The parts of a causal open_clip text tower that `encode_text` uses."""

    token_embedding: Any
    positional_embedding: Any
    transformer: Any
    ln_final: Any
    attn_mask: Any
    text_projection: Any
    pool_type: str
    eos_id: int | None

    def pooled_length(self, tokens: torch.Tensor) -> int:
        """How many leading positions hold every row's pooled position."""
        if self.pool_type == "first":
            return 1
        if self.pool_type == "eos" and self.eos_id is not None:  # (never None: see _tower)
            last = tokens.eq(self.eos_id).int().argmax(dim=-1).max()
        else:
            last = tokens.argmax(dim=-1).max()
        return int(last) + 1

    def encode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Unnormalised text features, as `encode_text` gives them."""
        return self.encode_trimmed(tokens[:, : self.pooled_length(tokens)])

    def encode_trimmed(self, tokens: torch.Tensor) -> torch.Tensor:
        """`encode` of tokens cut to their pooled length already (the ONNX export's graph:
        the cut itself depends on the tokens' values, which an exported graph cannot)."""
        import torch
        from open_clip.transformer import text_global_pool

        length = tokens.shape[1]
        cast_dtype = self.transformer.get_cast_dtype()
        x = self.token_embedding(tokens).to(cast_dtype)
        x = x + self.positional_embedding[:length].to(cast_dtype)
        x = self.transformer(x, attn_mask=self.attn_mask[:length, :length])
        x = self.ln_final(x)
        x = text_global_pool(x, tokens, self.pool_type, eos_token_id=self.eos_id)
        if self.text_projection is None:
            return x
        if isinstance(self.text_projection, torch.nn.Linear):
            return self.text_projection(x)
        return x @ self.text_projection


def causal_text_tower(model: Any) -> CausalTextTower | None:
    """The model's text tower if trimming is exact for it, else None."""
    from open_clip.transformer import TextTransformer

    text = getattr(model, "text", None)
    if isinstance(text, TextTransformer):  # CustomTextCLIP: the tower is its own module
        if text.cls_emb is not None or text.use_pad_mask:
            return None
        return _tower(text, text.pool_type, getattr(text, "eos_id", None))
    if text is not None or not hasattr(model, "token_embedding"):
        return None  # a Hugging Face tower, or no text tower open_clip builds itself
    pool_type = getattr(model, "text_pool_type", "argmax")  # older open_clip: argmax
    return _tower(model, pool_type, getattr(model, "text_eos_id", None))


def _tower(owner: Any, pool_type: str, eos_id: int | None) -> CausalTextTower | None:
    if owner.attn_mask is None or pool_type not in TRIMMABLE_POOLS:
        return None  # bidirectional: padding changes every position
    if pool_type == "eos" and eos_id is None:
        return None
    return CausalTextTower(
        owner.token_embedding,
        owner.positional_embedding,
        owner.transformer,
        owner.ln_final,
        owner.attn_mask,
        owner.text_projection,
        pool_type,
        eos_id,
    )


class TrimmedText:
    """A model's `encode_text`, trimmed where that is exact: hand it to open_clip helpers
    that call `model.encode_text` (build_zero_shot_classifier)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.tower = causal_text_tower(model)

    def encode_text(self, tokens: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        import torch.nn.functional as F

        if self.tower is None:
            return self.model.encode_text(tokens, normalize=normalize)
        features = self.tower.encode(tokens)
        return F.normalize(features, dim=-1) if normalize else features
