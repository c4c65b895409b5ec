"""The torch-free tokenizer gives open_clip's token ids, exactly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from photoclip.core.tokenizer import ClipTokenizer

PROMPTS = [
    "a dog",
    "",
    "   A  DOG   on a\tbeach\n",
    "beach + sunset - people",
    "café crème brûlée",
    "東京の夜景",
    "emoji 🐶🏖️ party",
    "don't we've they'll I'm it's",
    "&amp;lt;b&amp;gt; html &quot;entities&quot;",
    "mojibake: Ã©tÃ©",
    "<start_of_text> inside <end_of_text>",
    "1234567890 3.14 pi",
    "a photo of a " + "very " * 100 + "long prompt",  # over the context length
]


@pytest.fixture(scope="module")
def open_clip_tokenizer() -> Any:
    import open_clip

    return open_clip.get_tokenizer("ViT-B-32")


@pytest.fixture(scope="module")
def ours() -> ClipTokenizer:
    return ClipTokenizer(77)


def test_token_ids_equal_open_clips(open_clip_tokenizer: Any, ours: ClipTokenizer) -> None:
    expected = open_clip_tokenizer(PROMPTS).numpy()
    found = ours(PROMPTS)
    assert found.dtype == np.int64
    np.testing.assert_array_equal(found, expected)


def test_over_long_text_is_cut_and_ends_with_end_of_text(ours: ClipTokenizer) -> None:
    tokens = ours(["word " * 200])[0]
    assert tokens[0] == ours.sot_id and tokens[-1] == ours.eot_id
    assert (tokens != 0).all()


def test_a_shorter_context_is_padded_with_zeros() -> None:
    tokens = ClipTokenizer(8)(["a dog"])[0]
    assert list(tokens[3:]) == [ClipTokenizer(8).eot_id, 0, 0, 0, 0]


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=120))
def test_any_text_tokenizes_as_open_clip_does(
    open_clip_tokenizer: Any,
    ours: ClipTokenizer,
    text: str,
) -> None:
    np.testing.assert_array_equal(ours([text]), open_clip_tokenizer([text]).numpy())
