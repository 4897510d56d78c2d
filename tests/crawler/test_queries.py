"""The dog-keyword policy as plain functions."""

from __future__ import annotations

import pytest

from core.errors import BreedbenchError
from crawler.queries import AMBIGUOUS, DogKeywordMode, choose_query, fallback, parse_mode, with_dog
from db.breeds import stanford_breeds

AUTO, ALWAYS, NEVER = DogKeywordMode.AUTO, DogKeywordMode.ALWAYS, DogKeywordMode.NEVER


def test_ambiguous_list_names_only_real_breeds() -> None:
    slugs = {b.slug for b in stanford_breeds()}
    assert set(AMBIGUOUS) <= slugs
    for slug in ("boxer", "papillon", "pug", "chow", "cardigan", "pembroke", "kelpie"):
        assert slug in AMBIGUOUS
    for slug in ("golden_retriever", "german_short-haired_pointer", "siberian_husky"):
        assert slug not in AMBIGUOUS


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("boxer", "boxer dog"),
        ("maltese dog", "maltese dog"),
        ("afghan hound", "afghan hound"),
        ("greater swiss mountain dog", "greater swiss mountain dog"),
    ],
)
def test_with_dog_never_doubles(query: str, expected: str) -> None:
    assert with_dog(query) == expected


@pytest.mark.parametrize(
    ("slug", "mode", "dog_keyword", "flagged", "query", "reason"),
    [
        ("saluki", AUTO, False, False, "saluki", "plain"),
        ("boxer", AUTO, False, False, "boxer dog", "ambiguous"),
        ("saluki", AUTO, True, False, "saluki dog", "dog_keyword"),
        ("saluki", AUTO, False, True, "saluki dog", "flagged"),
        ("saluki", ALWAYS, False, False, "saluki dog", "always"),
        ("boxer", NEVER, True, True, "boxer", "plain"),
    ],
)
def test_choose_query(
    slug: str, mode: DogKeywordMode, dog_keyword: bool, flagged: bool, query: str, reason: str
) -> None:
    choice = choose_query(
        slug, slug.replace("_", " "), mode=mode, dog_keyword=dog_keyword, flagged=flagged
    )
    assert (choice.query, choice.reason) == (query, reason)


def test_fallback_only_in_auto_and_only_once() -> None:
    plain = choose_query("saluki", "saluki", mode=AUTO)
    nxt = fallback(plain, AUTO)
    assert nxt is not None and nxt.query == "saluki dog" and nxt.reason == "fallback"
    assert fallback(nxt, AUTO) is None
    assert fallback(choose_query("saluki", "saluki", mode=NEVER), NEVER) is None
    assert fallback(choose_query("maltese_dog", "maltese dog", mode=AUTO), AUTO) is None


def test_parse_mode_names_the_choices() -> None:
    assert parse_mode(" Always ") is ALWAYS
    with pytest.raises(BreedbenchError, match="auto, always, never"):
        parse_mode("sometimes")
