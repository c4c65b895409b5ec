from __future__ import annotations

import math
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


@pytest.mark.parametrize(
    ("query", "weight"),
    [("1e308:dog", 1e308), ("2.5e-3:dog", 2.5e-3), ("3.:dog", 3.0), ("1E2:dog", 100.0),
     ("+2:dog", 2.0), (".5:dog", 0.5)],
)  # fmt: skip
def test_every_decimal_number_form_is_a_weight(query: str, weight: float) -> None:
    """Reported: `1e308:dog` was silently searched for as the text '1e308:dog'."""
    assert parse_query(query) == [Term(weight, text="dog")]


def test_a_negative_weight_counts_against_like_a_minus() -> None:
    assert parse_query("cat + -2:dog") == [Term(1.0, text="cat"), Term(-2.0, text="dog")]


@pytest.mark.parametrize(
    "query", ["1e999:dog", "1" + "0" * 400 + ":dog", "inf:dog", "nan:dog", "cat + -inf:dog"]
)
def test_a_weight_that_is_not_a_finite_number_is_a_usage_error(query: str) -> None:
    """Reported: `search "1000…0:dog"` ended in `ValueError: the query vector must be
    finite` with a traceback."""
    with pytest.raises(QueryError, match="weight"):
        parse_query(query)


def test_a_term_too_long_for_a_file_name_is_text() -> None:
    long = "x" * 5000 + ".jpg"
    assert parse_query(long) == [Term(1.0, text=long)]
    assert parse_query("~no-such-user-here/a.jpg")[0].text == "~no-such-user-here/a.jpg"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_parses_or_is_a_query_error(query: str) -> None:
    try:
        terms = parse_query(query)
    except QueryError:
        return
    assert terms and any(t.weight > 0 for t in terms)
    assert all(math.isfinite(t.weight) for t in terms)
    assert all((t.text is None) != (t.image is None) for t in terms)


_WORDS = st.text(alphabet=string.ascii_lowercase + " ,'", min_size=1).filter(
    lambda text: text.strip() == text and text.strip(" '")
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([" + ", " - "]),
            st.floats(min_value=0.001, max_value=1e300, allow_nan=False),
            _WORDS,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_weighted_terms_written_out_parse_back(terms: list[tuple[str, float, str]]) -> None:
    terms[0] = (" + ", *terms[0][1:])
    query = "".join(f"{sign}{weight!r}:{text}" for sign, weight, text in terms)
    expected = [Term((-1 if s == " - " else 1) * w, text=t) for s, w, t in terms]
    assert parse_query(query.removeprefix(" + ")) == expected
