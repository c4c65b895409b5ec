"""Other words of a category's kind (photoclip/core/vocabulary.py)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from photoclip.core.categories import MULTI, Category, Label
from photoclip.core.profiles import CLOSED_VOCABULARIES, closed_vocabulary, resolve_profile
from photoclip.core.vocabulary import Kind, Word, closed, kinds, known_to, others
from photoclip.synthetic.scenes import CLUTTER_CAPTIONS, COLOURS, SHAPES, scene_series

COLOURS_KIND = next(kind for kind in kinds() if kind.name == "colours")


def _category(*names: str, counters: tuple[str, ...] = ()) -> Category:
    labels = tuple(map(Label, names)) + tuple(Label(c, counter=True) for c in counters)
    return Category("Test", labels)


def test_a_colour_category_is_compared_with_the_colours_it_lacks() -> None:
    found = others(_category("red", "orange", "yellow", "green", "blue", "white", "black"))
    assert found is not None and found.kind == "colours"
    assert found.names == ["brown", "purple", "pink", "grey"]
    assert next(w for w in found.words if w.name == "purple").texts == ("purple", "violet")


def test_a_label_said_by_any_phrasing_or_alias_or_counter_label_is_not_another_word() -> None:
    category = Category(
        "Colour",
        (Label("red"), Label("bluish", ("blue",)), Label("gray"), Label("violet", counter=True)),
    )
    found = others(category)
    assert found is not None
    assert not {"red", "blue", "grey", "purple"} & set(found.names)
    assert "black" in found.names


def test_only_single_choice_categories_of_one_kind_get_other_words() -> None:
    assert others(Category("Tint", (Label("red"), Label("blue")), MULTI)) is None
    assert others(Category("Colour", (Label("red"), Label("blue")), other_words=False)) is None
    assert others(_category("receipt", "screenshot")) is None  # of no kind we list
    assert others(_category("dog", "receipt", "screenshot")) is None  # one label of a kind
    assert others(_category("dog", "cat", "receipt", "screenshot")) is not None  # half
    assert others(_category("dog", "cat", "receipt", "screenshot", "whiteboard")) is None


def test_the_default_pets_category_is_compared_with_other_animals() -> None:
    pets = Category(
        "Pets",
        (Label("dog", ("puppy",)), Label("cat", ("kitten",)), Label("bird"), Label("rabbit"),
         Label("no animal", ("person", "landscape"), counter=True)),
    )  # fmt: skip
    found = others(pets)
    assert found is not None and found.kind == "animals"
    assert {"hamster", "guinea pig", "horse"} <= set(found.names)
    assert not {"dog", "cat", "bird", "rabbit"} & set(found.names)


def test_a_closed_vocabulary_keeps_only_the_words_the_model_learned() -> None:
    known = closed(["red", "green", "blue", "purple", "guinea"])
    found = others(_category("red", "green"), known)
    assert found is not None and found.names == ["blue", "purple"]
    # an alias it knows stands for the word; a word of two needs both
    assert others(_category("red", "green"), closed(["red", "green", "violet"])) is not None
    assert others(_category("dog", "cat"), closed(["dog", "cat", "guinea"])) is None
    assert others(_category("red", "green"), closed(["red", "green"])) is None


def test_the_test_shapes_model_knows_exactly_the_words_of_its_training_captions() -> None:
    captions = [c for scene in scene_series(3000, 7, word_share=0.3) for c in scene.captions()]
    words = {w for c in [*captions, *CLUTTER_CAPTIONS] for w in re.findall(r"[a-z]+", c.lower())}
    key = resolve_profile("test-shapes").key
    assert closed_vocabulary(key) == words == CLOSED_VOCABULARIES["PhotoClip-TestShapes"]
    assert set(COLOURS) | set(SHAPES) <= words
    assert closed_vocabulary("ViT-B-32:laion2b_s34b_b79k") is None  # web captions: open
    known = known_to(key)
    assert known is not None and known("purple") and not known("pink")
    assert known_to("ViT-B-32:laion2b_s34b_b79k") is None


def test_no_word_of_the_vocabulary_is_listed_twice() -> None:
    texts = [text for kind in kinds() for word in kind.words for text in word.texts]
    assert len(texts) == len(set(texts))
    assert all(text == " ".join(text.lower().split()) for text in texts)


def test_kinds_read_a_vocabulary_file(tmp_path: Path) -> None:
    path = tmp_path / "vocabulary.toml"
    path.write_text('[[kind]]\nname = "fruit"\nwords = ["apple", "pear|perry pear"]\n')
    assert kinds(path) == (Kind("fruit", (Word(("apple",)), Word(("pear", "perry pear")))),)


@settings(max_examples=100, deadline=None)
@given(
    chosen=st.sets(st.sampled_from([w.name for w in COLOURS_KIND.words]), min_size=2),
    strangers=st.lists(st.text(alphabet="xyz ", min_size=1, max_size=8), max_size=3),
)
def test_other_words_and_the_labels_split_the_kind(chosen: set[str], strangers: list[str]) -> None:
    """Whatever colours a category holds (and labels of no kind beside them), its other
    words are exactly the colours it lacks, while colours are at least half its labels."""
    names = sorted(chosen) + [s for s in strangers if s.strip()]
    found = others(_category(*names))
    lacking = [w.name for w in COLOURS_KIND.words if w.name not in chosen]
    if not lacking or len(chosen) < 0.5 * len(names):
        assert found is None
    else:
        assert found is not None and found.names == lacking


def test_a_text_model_without_knows_is_judged_by_its_model_key(tmp_path: Path) -> None:
    """A TextVectors written before `knows` (a harness of its own) still tags: the model
    key says which words the model knows."""
    from photoclip.core.tagging import Tagger
    from tests.core.tagvectors import catalog_with_vectors

    class OldTexts:
        model_key = resolve_profile("test-shapes").key
        logit_scale = 10.0

        def embed_labels(self, texts: object, templates: object) -> None:
            raise AssertionError("not needed here")

    catalog, _ = catalog_with_vectors(tmp_path, np.eye(3, dtype=np.float32), OldTexts.model_key)
    tagger = Tagger(catalog, OldTexts())  # type: ignore[arg-type]
    found = tagger.other_words(_category("red", "green", "blue"))
    assert found is not None and found.names == ["black", "white", "yellow", "purple", "orange"]
