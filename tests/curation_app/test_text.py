"""The app's text helpers: outside strings never become images, links, HTML or formatting."""

from __future__ import annotations

import pytest

from curation_app.text import WORD_JOINER, inline_code, plain, safe_link
from tests.core.test_text import HOSTILE
from tests.markup import live_markup

BARE = [
    "http://127.0.0.2:9/bare",
    "HTTPS://127.0.0.2:9/bare",
    "see www.example.org",
    "ana@example.org",
    "mailto:ana@example.org",
    ":material/pets: icon",
]


@pytest.mark.parametrize("text", HOSTILE + BARE)
def test_plain_text_has_nothing_live(text: str) -> None:
    assert live_markup(plain(text)) == []


def test_plain_text_only_adds_invisible_joiners() -> None:
    assert plain("Jo Smith") == "Jo Smith"
    assert plain("ana@example.org") == f"ana{WORD_JOINER}\\@example.org"


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "/wiki/File:Pug.jpg",
        "https://a.org/x\n![](http://127.0.0.2:9/b)",
        None,
    ],
)
def test_safe_link_gives_only_the_label_for_anything_but_http(url: str | None) -> None:
    assert safe_link("flickr [x](http://127.0.0.2:9/l)", url) == plain(
        "flickr [x](http://127.0.0.2:9/l)"
    )
    assert live_markup(safe_link("flickr", url)) == []


def test_safe_link_links_an_http_page_and_nothing_else() -> None:
    url = "https://example.org/wiki/File:Pug_(dog).jpg?a=1&copy=2"
    link = safe_link("![](http://127.0.0.2:9/label)", url)
    assert live_markup(link, allowed_links=(url,)) == []
    assert live_markup(link) == [f'<a href="{url.replace("&", "&amp;")}">']


def test_a_url_cannot_break_out_of_its_link() -> None:
    url = "https://a.org/x) ![](http://127.0.0.2:9/b) [y](javascript:alert(1)"
    link = safe_link("flickr", url)
    found = live_markup(link)
    assert len(found) == 1 and found[0].startswith('<a href="https://a.org/x)%20')  # one link


def test_inline_code_cannot_be_closed_from_inside() -> None:
    assert inline_code("tflite") == "`tflite`"
    code = inline_code("a`b ``c ![](http://127.0.0.2:9/x)")
    assert code.startswith("```") and code.endswith("```")
    assert live_markup(code) == []
