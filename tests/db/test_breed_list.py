"""Breed lists from CSV: every field checked, every problem named with its line, nothing written
from a bad list; and the class-name key labels and breeds are compared by."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from core.errors import BreedbenchError
from core.settings import Settings
from crawler.queries import DogKeywordMode, choose_query
from db.breed_list import add_entries, is_empty, parse_breed_csv
from db.breeds import match_key, with_dog
from db.database import open_database
from db.models import Breed

CATS = """slug,name,synset,ambiguous,target
persian,Persian,n02123394,,20
maine_coon,Maine Coon,,yes,
sphynx,Sphynx,,no,5
"""


def test_a_list_gives_its_breeds_with_their_optional_fields() -> None:
    entries = parse_breed_csv(CATS, "cats.csv", keyword="cat")
    assert [e.slug for e in entries] == ["persian", "maine_coon", "sphynx"]
    persian, coon, sphynx = entries
    assert (persian.synset, persian.target, persian.ambiguous) == ("n02123394", 20, None)
    assert (coon.ambiguous, coon.target, coon.search_query) == (True, 50, "Maine Coon")
    assert sphynx.ambiguous is False and all(e.keyword == "cat" for e in entries)


def test_the_keyword_column_wins_over_the_list_keyword() -> None:
    text = "slug,name,keyword,ambiguous\ntabby,Tabby,kitten,yes\nsiamese,Siamese,,yes\n"
    tabby, siamese = parse_breed_csv(text, keyword="cat")
    assert (tabby.keyword, siamese.keyword) == ("kitten", "cat")
    q = choose_query(
        "siamese", siamese.search_query, mode=DogKeywordMode.AUTO,
        ambiguous=siamese.ambiguous, keyword=siamese.keyword,
    )  # fmt: skip
    assert (q.query, q.reason) == ("Siamese cat", "ambiguous")


@pytest.mark.parametrize(
    ("slug", "why"),
    [
        ("a/b", "may hold only"),
        ("..", "may hold only"),
        ("../etc", "may hold only"),
        ("has space", "may hold only"),
        ("dot.ted", "may hold only"),
        ("-leading", "may hold only"),
        ("back\\slash", "may hold only"),
        ("Persian", "has capitals"),
        ("con", "Windows reserves"),
        ("x" * 81, "longer than 80"),
        ("", "slug is empty"),
    ],
)
def test_bad_slugs_are_refused_naming_the_line(slug: str, why: str) -> None:
    text = f"slug,name\nfine,Fine\n{slug},Bad One\n"
    with pytest.raises(BreedbenchError, match=f"cats.csv line 3: .*{why}") as err:
        parse_breed_csv(text, "cats.csv")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("a,Alpha\na,Beta\n", "line 3: slug 'a' repeats line 2"),
        ("a,Maltese\nb,maltese-DOG\n", "line 3: name 'maltese-DOG' repeats line 2"),
        ("a,St. Bernard\nb,st bernard\n", "line 3: name 'st bernard' repeats line 2"),
        ("a,Alpha,n01234567\nb,Beta,n01234567\n", "line 3: synset 'n01234567' repeats line 2"),
        ("a,Alpha,n0123\n", "line 2: synset 'n0123' is not a WordNet id"),
        ("a,\n", "line 2: the name is empty"),
        ("a,Alpha,,maybe\n", "line 2: ambiguous 'maybe' is not yes or no"),
        ("a,Alpha,,,,-3\n", "line 2: target -3 must be between"),
        ("a,Alpha,,,,many\n", "line 2: target 'many' is not a number"),
        ("a,Alpha,,,two words\n", "line 2: keyword 'two words' must be one word"),
        ("a,Alpha,,,,,extra\n", "line 2: more values than columns"),
    ],
)
def test_bad_rows_are_refused_with_a_one_line_error(rows: str, message: str) -> None:
    text = "slug,name,synset,ambiguous,keyword,target\n" + rows
    with pytest.raises(BreedbenchError, match=message.replace(".", r"\.")):
        parse_breed_csv(text, "b.csv")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ("slug,name\n", "no breeds"),
        ("name,query\nA,a\n", "line 1: no 'slug' column"),
        ("slug,name,colour\na,A,red\n", "line 1: unknown column"),
        ("slug,name,slug\na,A,b\n", "named twice"),
    ],
)
def test_bad_headers_are_refused(text: str, message: str) -> None:
    with pytest.raises(BreedbenchError, match=message):
        parse_breed_csv(text, "b.csv")


def test_a_bom_and_blank_lines_are_fine() -> None:
    assert [e.slug for e in parse_breed_csv("\ufeffslug,name\n\na,A\n,\n")] == ["a"]


def test_a_list_that_clashes_with_stored_breeds_writes_nothing(settings: Settings) -> None:
    db = open_database(settings)
    with db.session() as s:
        s.execute(delete(Breed))  # a new database (the PostgreSQL copies come seeded)
        add_entries(s, parse_breed_csv(CATS))
    clash = "slug,name\nbengal,Bengal\nmaine_coon_2,maine coon\n"
    with (
        pytest.raises(BreedbenchError, match="same class name as breed 'maine_coon'"),
        db.session() as s,
    ):
        add_entries(s, parse_breed_csv(clash))
    with db.session() as s:
        assert sorted(s.scalars(select(Breed.slug))) == ["maine_coon", "persian", "sphynx"]
        assert not is_empty(s)  # a plain init will not add the 120 dogs
        # Running the same list again adds nothing and changes nothing.
        assert add_entries(s, parse_breed_csv(CATS)) == 0
    db.dispose()


@pytest.mark.parametrize(
    ("label", "key"),
    [
        ("German_Short-Haired_Pointer", "german short haired pointer"),
        ("Maltese dog", "maltese"),
        ("Eskimo Dogs", "eskimo"),
        ("St. Bernard's", "st bernards"),
        ("Löwchen", "lowchen"),
        ("dog", "dog"),  # nothing left to be a name: kept
    ],
)
def test_match_key_ignores_case_punctuation_and_dog(label: str, key: str) -> None:
    assert match_key(label) == key


def test_match_key_and_queries_use_the_list_keyword() -> None:
    assert (
        match_key("Persian_Cat", "cat") == "persian" and match_key("Persian Cat") == "persian cat"
    )
    assert with_dog("Persian", "cat") == "Persian cat"
    assert with_dog("Persian cat", "cat") == "Persian cat"
    assert with_dog("boxer") == "boxer dog"
