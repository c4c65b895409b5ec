"""Helpers for tagging tests: a catalog holding given photo vectors, and a fake text model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from photoclip.core.catalog import Catalog, ModelRecord
from photoclip.core.tagging import BACKGROUND_PROMPTS

MODEL_KEY = "fake:model"


def catalog_with_vectors(
    path: Path, vectors: np.ndarray, model_key: str = MODEL_KEY, names: Sequence[str] = ()
) -> tuple[Catalog, list[int]]:
    """A catalog whose photos (one per row, named photo-<i>.png or `names`) have these
    vectors, as if they had been indexed with `model_key`."""
    catalog = Catalog.open(path / "catalog.sqlite3")
    vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = []
    with catalog.transaction():
        catalog.register_model(ModelRecord(model_key, "fake", "fake", vectors.shape[1], "0", True))
        root = catalog.add_root(path / "photos")
        for i, vector in enumerate(vectors):
            name = names[i] if names else f"photo-{i}.png"
            ids.append(
                catalog.upsert_photo(
                    path / "photos" / name, root.id, size=1, mtime_ns=1, content_hash=f"h{i}"
                )
            )
            catalog.put_embedding(model_key, f"h{i}", vector)
        catalog.set_meta("active_model", model_key)
    return catalog, ids


class FakeTexts:
    """Each text is a fixed vector; a label is the mean of its phrasings (templates ignored).
    Counts how many texts it was asked to embed, to check the cache."""

    def __init__(
        self, vectors: dict[str, np.ndarray], model_key: str = MODEL_KEY, logit_scale: float = 10.0
    ) -> None:
        # The background prompts ("a photo", ...), where a test gives none: one direction
        # shared by all of them, away from every basis vector.
        width = len(next(iter(vectors.values())))
        background = np.ones(width, dtype=np.float32) / np.sqrt(width)
        self.vectors = {**{p: background for p in BACKGROUND_PROMPTS}, **vectors}
        self.embedded = 0
        self._key = model_key
        self.logit_scale = logit_scale

    @property
    def model_key(self) -> str:
        return self._key

    def knows(self, text: str) -> bool:
        """Only its own texts: every other word of a kind is unknown to it."""
        return text in self.vectors

    def embed_labels(self, texts: Sequence[Sequence[str]], templates: Sequence[str]) -> np.ndarray:
        self.embedded += sum(len(t) for t in texts)
        rows = np.stack(
            [np.mean([self.vectors[t] for t in phrasings], axis=0) for phrasings in texts]
        )
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
