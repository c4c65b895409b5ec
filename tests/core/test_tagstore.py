"""Saving categories: a category or label that carries its stored id is that row, so a
rename keeps its corrections and calibration; edits land in one transaction."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from photoclip.core.categories import Category, Label
from photoclip.core.errors import KnownError
from photoclip.core.tagstore import CONFIRMED, REJECTED, Calibration, TagRow, TagStore
from tests.core.tagvectors import MODEL_KEY, catalog_with_vectors

PETS = Category("Pets", (Label("dog", ("a puppy",)), Label("cat")), context="a type of pet")
SCENE = Category("Scene", (Label("beach"),))


@pytest.fixture
def store(tmp_path: Path) -> TagStore:
    catalog, _ = catalog_with_vectors(tmp_path, np.eye(3, dtype=np.float32))
    return TagStore(catalog)


def corrected(store: TagStore, category: Category) -> tuple[int, int]:
    """Confirm `category`'s first label on photo 1, calibrate it; returns (photo, label id)."""
    label = category.labels[0]
    assert label.id is not None
    store.correct(1, label.id, CONFIRMED, TagRow(1, label.id, 0.3, 0.25))
    store.put_calibration(MODEL_KEY, [Calibration(label.id, 0.27, 3, 0.3)])
    return 1, label.id


def relabelled(category: Category, old: str, new: str) -> Category:
    labels = tuple(replace(lab, name=new) if lab.name == old else lab for lab in category.labels)
    return category.with_labels(labels)


def test_a_renamed_label_keeps_its_row_corrections_and_calibration(store: TagStore) -> None:
    pets = store.save_category(PETS)
    photo, label_id = corrected(store, pets)
    saved = store.save_categories([relabelled(pets, "dog", "puppy")])[0]
    assert [(lab.name, lab.phrasings) for lab in saved.labels] == [
        ("puppy", ("a puppy",)),
        ("cat", ()),
    ]
    assert saved.labels[0].id == label_id
    assert store.corrections([label_id]) == {label_id: {CONFIRMED: [photo], REJECTED: []}}
    assert store.calibration(MODEL_KEY)[label_id].threshold == 0.27
    assert [(t.label, t.source) for t in store.tags([photo])] == [("puppy", CONFIRMED)]


def test_a_renamed_category_keeps_its_labels(store: TagStore) -> None:
    pets = store.save_category(PETS)
    photo, label_id = corrected(store, pets)
    saved = store.save_categories([replace(pets, name="Animals")])[0]
    assert (saved.id, saved.labels[0].id) == (pets.id, label_id)
    assert [c.name for c in store.categories()] == ["Animals"]
    assert [(t.category, t.label) for t in store.tags([photo])] == [("Animals", "dog")]


def test_names_swapped_between_two_labels_never_collide(store: TagStore) -> None:
    pets = store.save_category(PETS)
    dog, cat = pets.labels
    swapped = pets.with_labels((replace(dog, name="cat"), replace(cat, name="dog")))
    saved = store.save_categories([swapped])[0]
    assert [(lab.name, lab.id) for lab in saved.labels] == [("cat", dog.id), ("dog", cat.id)]


def test_names_swapped_between_two_categories_never_collide(store: TagStore) -> None:
    pets, scene = store.save_categories([PETS, SCENE])
    saved = store.save_categories([replace(pets, name="Scene"), replace(scene, name="Pets")])
    assert [(c.name, c.id) for c in saved] == [("Scene", pets.id), ("Pets", scene.id)]


def test_a_removed_category_s_name_can_go_to_a_renamed_one(store: TagStore) -> None:
    pets, _ = store.save_categories([PETS, SCENE])
    saved = store.save_categories([replace(pets, name="Scene")], removed=["Scene"])
    assert [(c.name, c.id) for c in store.categories()] == [("Scene", pets.id)]
    assert saved[0].labels == PETS.labels


def test_without_ids_a_label_is_its_name_s_row_and_others_go(store: TagStore) -> None:
    pets = store.save_category(PETS)
    edited = Category("Pets", (Label("cat", ("a kitten",)), Label("bird")))
    saved = store.save_category(edited)
    assert saved.id == pets.id
    assert [(lab.name, lab.id == pets.labels[1].id) for lab in saved.labels] == [
        ("cat", True),
        ("bird", False),
    ]


def test_an_id_of_no_row_falls_back_to_the_name(store: TagStore) -> None:
    pets = store.save_category(PETS)
    cat = pets.labels[1]
    assert cat.id is not None
    store.correct(1, cat.id, REJECTED, TagRow(1, cat.id, 0.1, 0.25))
    stale = replace(pets, id=999).with_labels(
        (replace(pets.labels[0], id=998), replace(cat, name="kitten", id=997))
    )
    saved = store.save_category(stale)
    assert saved.id == pets.id and saved.labels[0].id == pets.labels[0].id
    kitten = saved.labels[1]
    assert kitten.name == "kitten" and kitten.id is not None
    assert store.corrections([kitten.id]) == {}  # a new label: cat's rejection went with it


def test_a_failed_save_changes_nothing(store: TagStore) -> None:
    pets, scene = store.save_categories([PETS, SCENE])
    broken = Category("Broken", (Label("x"),), kind="neither")  # the catalog refuses the kind
    with pytest.raises(sqlite3.IntegrityError):
        store.save_categories([replace(pets, name="Animals"), broken], removed=["Scene"])
    assert [(c.name, c.id) for c in store.categories()] == [("Pets", pets.id), ("Scene", scene.id)]


@pytest.mark.parametrize(
    ("category", "said"),
    [
        (Category("", (Label("dog"), Label("cat"))), "A category has no name"),
        (Category("  ", (Label("dog"), Label("cat"))), "A category has no name"),
        (Category("Pets", (Label("dog"), Label(" "))), "A label of 'Pets' has no name"),
        (Category("Pets", (Label("dog"), Label("Dog"))), "two labels called 'Dog'"),
    ],
)
def test_a_category_with_a_blank_or_doubled_name_is_refused_and_nothing_is_stored(
    store: TagStore, category: Category, said: str
) -> None:
    (pets,) = store.save_categories([PETS])
    with pytest.raises(KnownError, match=said):
        store.save_categories([category], removed=["Pets"])
    assert [(c.name, c.id) for c in store.categories()] == [("Pets", pets.id)]


def test_category_labels_are_one_category_s_tags_by_photo(store: TagStore) -> None:
    pets, scene = store.save_categories([PETS, SCENE])
    dog, cat = (label.id or 0 for label in pets.labels)
    beach = scene.labels[0].id or 0
    rows = [TagRow(1, dog, 0.9, 0.5), TagRow(1, cat, 0.8, 0.5), TagRow(2, cat, 0.7, 0.5)]
    store.replace_auto_tags([dog, cat], rows, None)
    store.replace_auto_tags([beach], [TagRow(3, beach, 0.9, 0.5)], None)
    assert store.category_labels(pets.id or 0) == {1: {"dog", "cat"}, 2: {"cat"}}
    assert store.category_labels(scene.id or 0) == {3: {"beach"}}


def test_a_category_keeps_whether_other_words_compete(store: TagStore) -> None:
    saved = store.save_category(replace(PETS, other_words=False))
    assert not saved.other_words and not store.categories()[0].other_words
    assert store.save_category(replace(saved, other_words=True)).other_words


def test_categories_of_a_catalog_before_other_words_compare_with_them(tmp_path: Path) -> None:
    """Migration 6: a category stored before (schema 5) meets other words, as new ones do."""
    from photoclip.core.catalog import MIGRATIONS, Catalog

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        for migration in MIGRATIONS[:5]:
            db.executescript(migration)
        db.execute("INSERT INTO tag_categories(name, kind) VALUES ('Colour', 'single')")
        db.execute("PRAGMA user_version = 5")
    catalog = Catalog.open(path)
    try:
        [colour] = TagStore(catalog).categories()
        assert colour.name == "Colour" and colour.other_words
    finally:
        catalog.close()
