"""The 120 Stanford Dogs breeds: slugs as in breeds.csv, synset ids, idempotent seeding."""

from __future__ import annotations

from sqlalchemy import func, select, update

from db.breeds import default_query, parse_stanford_folder, stanford_breeds
from db.database import Database
from db.models import Breed
from db.seed import seed_breeds


def test_seed_list_is_the_120_stanford_breeds() -> None:
    seeds = stanford_breeds()
    assert len(seeds) == 120
    assert len({s.slug for s in seeds}) == 120
    assert len({s.synset for s in seeds}) == 120
    by_slug = {s.slug: s for s in seeds}
    assert by_slug["german_short-haired_pointer"].synset == "n02100236"
    assert by_slug["shih-tzu"].synset == "n02086240"
    assert by_slug["chihuahua"].synset == "n02085620"
    assert by_slug["african_hunting_dog"].synset == "n02116738"
    assert by_slug["entlebucher"].name == "EntleBucher"
    assert "boxer" in by_slug and "papillon" in by_slug


def test_default_query_turns_separators_into_spaces() -> None:
    assert default_query("german_short-haired_pointer") == "german short haired pointer"
    assert default_query("shih-tzu") == "shih tzu"


def test_stanford_folder_names() -> None:
    assert parse_stanford_folder("n02085620-Chihuahua") == ("n02085620", "chihuahua")
    assert parse_stanford_folder("shih-tzu") == (None, "shih-tzu")


def test_seeding_is_idempotent_and_keeps_user_changes(any_database: Database) -> None:
    with any_database.session() as s:
        assert s.scalar(select(func.count()).select_from(Breed)) == 120
        s.execute(update(Breed).where(Breed.slug == "boxer").values(dog_keyword=True, target=80))
    with any_database.session() as s:
        assert seed_breeds(s) == 0
    with any_database.session() as s:
        assert s.scalar(select(func.count()).select_from(Breed)) == 120
        boxer = s.scalar(select(Breed).where(Breed.slug == "boxer"))
        assert boxer is not None and boxer.dog_keyword and boxer.target == 80
        pointer = s.scalar(select(Breed).where(Breed.slug == "german_short-haired_pointer"))
        assert pointer is not None
        assert (pointer.synset, pointer.query, pointer.target) == (
            "n02100236",
            "german short haired pointer",
            50,
        )
