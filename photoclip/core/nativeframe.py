"""The native framing (profiles.NATIVE) in torch: each photo whole, in its own proportions.

A square model sees a photo of another shape through a crop (loses its ends) or a
letterbox (shows it small, and far from the middle where the model learned to look). The
native framing squashes the photo only to the nearest whole number of cells
(photoclip.core.pixels.native_size: 64x96 for a 4:3 photo and a 64-px model), and the
model's position embeddings, learned for a square grid of cells, are resized (bicubic) to
the photo's grid, inside the forward pass so that an ONNX export keeps both sides dynamic.

That is done here for a ModifiedResNet's attention pool, the one place such a tower knows
positions (profiles.NATIVE says why only this tower): the pool's own computation, with
the resized embeddings, and the very same result on a square input (a test checks).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from photoclip.core.errors import ModelError
from photoclip.core.pixels import native_size


def attach(model: Any) -> int:
    """Let the model's image tower take native inputs; returns its cell in pixels.

    ModelError for a tower without an attention pool (ViTs, timm towers): their position
    embeddings are not resized here."""
    visual = model.visual
    pool = getattr(visual, "attnpool", None)
    if isinstance(pool, NativePool):  # (attached already)
        return pool.cell(_input_side(visual))
    if pool is None or not hasattr(pool, "positional_embedding"):
        raise ModelError(
            "The native framing needs a ModifiedResNet image tower (an attention pool); "
            f"{type(visual).__name__} has none."
        )
    visual.attnpool = NativePool(pool)
    return visual.attnpool.cell(_input_side(visual))


class NativePool(torch.nn.Module):
    """open_clip's AttentionPool2d, on a feature map of any height and width."""

    def __init__(self, pool: Any) -> None:
        super().__init__()
        self.pool = pool
        self.side = round((pool.positional_embedding.shape[0] - 1) ** 0.5)

    def cell(self, input_side: int) -> int:
        """Input pixels per feature-map cell (a ModifiedResNet's stride, 32)."""
        return input_side // self.side

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # As AttentionPool2d.forward, with the positions of this map's grid.
        pool, (batch, channels, height, width) = self.pool, x.shape
        x = x.reshape(batch, channels, height * width).permute(2, 0, 1)  # NCHW -> (HW)NC
        x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)  # (HW+1)NC
        x = x + self.positions(height, width)[:, None, :].to(x.dtype)
        x, _ = F.multi_head_attention_forward(
            query=x, key=x, value=x,
            embed_dim_to_check=x.shape[-1],
            num_heads=pool.num_heads,
            q_proj_weight=pool.q_proj.weight,
            k_proj_weight=pool.k_proj.weight,
            v_proj_weight=pool.v_proj.weight,
            in_proj_weight=None,
            in_proj_bias=torch.cat([pool.q_proj.bias, pool.k_proj.bias, pool.v_proj.bias]),
            bias_k=None,
            bias_v=None,
            add_zero_attn=False,
            dropout_p=0.0,
            out_proj_weight=pool.c_proj.weight,
            out_proj_bias=pool.c_proj.bias,
            use_separate_proj_weight=True,
            training=self.training,
            need_weights=False,
        )  # fmt: skip
        return x[0]

    def positions(self, height: int, width: int) -> torch.Tensor:
        """The pooled token's embedding, then the square grid's resized to height x width
        (bicubic to the same size changes nothing: a square photo is embedded as before)."""
        table = self.pool.positional_embedding
        first, cells = table[:1], table[1:]
        square = cells.reshape(1, self.side, self.side, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(square, size=(height, width), mode="bicubic", align_corners=False)
        return torch.cat([first, grid.permute(0, 2, 3, 1).reshape(height * width, -1)])


class NativeFrame:
    """The native framing's eval transform: open_clip's own (squash) at the photo's
    native size, so that its pixels are those of photoclip.core.pixels (a test checks)."""

    def __init__(self, config: dict[str, Any], cell: int) -> None:
        self.config, self.cell = config, cell
        size = config["size"]
        self.side = size if isinstance(size, int) else int(size[0])

    def __call__(self, image: Image.Image) -> torch.Tensor:
        import open_clip

        rgb = image if image.mode == "RGB" else image.convert("RGB")
        transform = open_clip.image_transform(
            native_size(rgb.size, self.side, self.cell),
            is_train=False,
            mean=self.config["mean"],
            std=self.config["std"],
            interpolation=self.config["interpolation"],
            resize_mode="squash",
        )
        return transform(rgb)


def _input_side(visual: Any) -> int:
    size = visual.image_size
    return size if isinstance(size, int) else int(size[0])
