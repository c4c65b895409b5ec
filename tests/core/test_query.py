from __future__ import annotations

from pathlib import Path

import pytest

from photoclip.core.errors import QueryError
from photoclip.core.query import Term, parse_query
from tests.photos import make_photo


def test_a_plain_query_is_one_text_term() -> None:
    assert parse_query("kids on a beach at sunset") == [Term(1.0, text="kids on a beach at sunset")]


def test_plus_and_minus_combine_terms() -> None:
    assert parse_query("beach + sunset - people") == [
        Term(1.0, text="beach"),
        Term(1.0, text="sunset"),
        Term(-1.0, text="people"),
    ]


def test_weights_prefix_a_term() -> None:
    assert parse_query("2:dog + 0.5:cat - 1.5:snow") == [
        Term(2.0, text="dog"),
        Term(0.5, text="cat"),
        Term(-1.5, text="snow"),
    ]


def test_hyphens_inside_words_are_not_operators() -> None:
    assert parse_query("a t-shirt with a cat") == [Term(1.0, text="a t-shirt with a cat")]


def test_an_existing_image_path_is_an_image_term(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "beach.jpg")
    assert parse_query(f"{photo} - people") == [
        Term(1.0, image=photo),
        Term(-1.0, text="people"),
    ]


def test_a_missing_image_path_stays_text(tmp_path: Path) -> None:
    assert parse_query(str(tmp_path / "nope.jpg"))[0].image is None


@pytest.mark.parametrize("query", ["", "   ", "- people", "- a - b"])
def test_a_query_without_a_positive_term_is_refused(query: str) -> None:
    with pytest.raises(QueryError):
        parse_query(query)
