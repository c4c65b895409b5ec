"""CLIP's byte-pair tokenizer without torch: open_clip's `SimpleTokenizer`, returning numpy.

open_clip's tokenizer module imports torch (its tokenizers return tensors), which costs a
cold search seconds. This is the same algorithm (OpenAI CLIP's, which open_clip copied) on
the same merges file, read from open_clip's package folder without importing open_clip;
a test checks that its token ids equal open_clip's, unicode and over-long texts included.
Only the default configuration is covered: "lower" cleaning, no extra special tokens, no
reduction (what `get_tokenizer` builds for the OpenAI-style towers PhotoClip exports).
"""

from __future__ import annotations

import gzip
import html
import importlib.util
import itertools
from functools import lru_cache
from pathlib import Path

import ftfy
import numpy as np
import regex

#: CLIP's merges file keeps its first 49152 - 256 - 2 lines (after a version line).
MERGES = 49152 - 256 - 2
SPECIAL = ("<start_of_text>", "<end_of_text>")
#: Contractions, letter runs, single digits, other runs: CLIP's pre-tokenizer.
PATTERN = regex.compile(
    "|".join(SPECIAL) + r"""|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)


def merges_file() -> Path:
    """open_clip's bpe_simple_vocab_16e6.txt.gz, found without importing open_clip."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("open_clip is not installed; its vocabulary file is needed")
    return Path(next(iter(spec.submodule_search_locations))) / "bpe_simple_vocab_16e6.txt.gz"


@lru_cache(maxsize=1)
def byte_symbols() -> dict[int, str]:
    """Every byte as a printable character, so that BPE never sees whitespace or controls."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    others = [b for b in range(256) if b not in printable]
    codes = printable + [256 + n for n in range(len(others))]
    return dict(zip(printable + others, map(chr, codes), strict=True))


class ClipTokenizer:
    """Texts to (N, context_length) int64 token ids, as open_clip's SimpleTokenizer does."""

    def __init__(self, context_length: int = 77, merges: Path | None = None) -> None:
        self.context_length = context_length
        pairs = _read_merges(merges or merges_file())
        symbols = list(byte_symbols().values())
        vocab = [*symbols, *(s + "</w>" for s in symbols), *("".join(p) for p in pairs), *SPECIAL]
        self.ids = {token: i for i, token in enumerate(vocab)}
        self.ranks = {pair: i for i, pair in enumerate(pairs)}
        self.sot_id, self.eot_id = self.ids[SPECIAL[0]], self.ids[SPECIAL[1]]
        self._words: dict[str, list[str]] = {s: [s] for s in SPECIAL}

    def __call__(self, texts: list[str]) -> np.ndarray:
        result = np.zeros((len(texts), self.context_length), dtype=np.int64)
        for row, text in enumerate(texts):
            tokens = [self.sot_id, *self.encode(text), self.eot_id]
            if len(tokens) > self.context_length:  # cut, but always end with end-of-text
                tokens = [*tokens[: self.context_length - 1], self.eot_id]
            result[row, : len(tokens)] = tokens
        return result

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for word in PATTERN.findall(_clean(text)):
            symbols = "".join(byte_symbols()[b] for b in word.encode("utf-8"))
            ids.extend(self.ids[part] for part in self._bpe(symbols))
        return ids

    def _bpe(self, word: str) -> list[str]:
        """Merge the word's symbols, lowest-ranked pair first, until no known pair is left."""
        if word in self._words:
            return self._words[word]
        parts = [*word[:-1], word[-1] + "</w>"]
        while len(parts) > 1:
            pair = min(itertools.pairwise(parts), key=lambda p: self.ranks.get(p, MERGES))
            if pair not in self.ranks:
                break
            parts = _merged(parts, pair)
        self._words[word] = parts
        return parts


def _merged(parts: list[str], pair: tuple[str, str]) -> list[str]:
    merged: list[str] = []
    i = 0
    while i < len(parts):
        if i < len(parts) - 1 and (parts[i], parts[i + 1]) == pair:
            merged.append(parts[i] + parts[i + 1])
            i += 2
        else:
            merged.append(parts[i])
            i += 1
    return merged


def _read_merges(path: Path) -> list[tuple[str, str]]:
    with gzip.open(path) as merges:
        lines = merges.read().decode("utf-8").split("\n")[1 : MERGES + 1]
    return [(a, b) for a, b in (line.split() for line in lines)]


def _clean(text: str) -> str:
    """open_clip's "lower" cleaning: ftfy, HTML entities twice, whitespace runs, lower case."""
    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return " ".join(text.split()).lower()
