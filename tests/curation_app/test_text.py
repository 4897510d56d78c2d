"""The app's links: only to http(s) pages, with outside labels that never become images, links,
HTML or formatting."""

from __future__ import annotations

import pytest

from core.text import plain
from curation_app.text import safe_link
from tests.markup import live_markup


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
