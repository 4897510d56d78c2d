"""Outside text escaped for Markdown renders as itself, with nothing live; only http(s) URLs may
become links."""

from __future__ import annotations

import html

import pytest
from markdown_it import MarkdownIt

from core.text import WORD_JOINER, inline_code, md_escape, one_line, plain, web_url
from tests.markup import live_markup

HOSTILE = [
    "![](http://127.0.0.2:9/beacon)",
    "[click](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "<http://127.0.0.2:9/auto>",
    "[![x](http://127.0.0.2:9/i)](http://127.0.0.2:9/)",
    "a | b | c",
    "**bold** _it_ `code` ~~gone~~ $x^2$ :red[red]",
    "# heading",
    "- item",
    "1. first",
    "> quote",
    "line one\n\n![](http://127.0.0.2:9/second-line)",
    "&lt;b&gt; &amp; &copy;",
    "back\\slash \\*",
    "[ref]: http://127.0.0.2:9/ref",
]

_TEXT = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def _rendered_text(markdown: str) -> str:
    """The text a reader sees: the rendered paragraph without its tags, entities decoded."""
    out = _TEXT.render(markdown).strip()
    assert out.startswith("<p>") and out.endswith("</p>"), out  # one paragraph, nothing else
    return html.unescape(out[3:-4])


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_renders_as_exactly_itself(text: str) -> None:
    escaped = md_escape(text)
    assert "\n" not in escaped
    assert _rendered_text(escaped) == one_line(text)
    # Bare addresses are still links to a GFM renderer (``plain`` breaks them).
    assert not [m for m in live_markup(escaped) if not m.startswith(("http", "www"))]


def test_escaped_text_is_safe_inside_a_table_cell_and_after_a_label() -> None:
    cell = md_escape("x | <img src=x> | ![](http://127.0.0.2:9/t)")
    table = f"| a | b |\n|---|---|\n| {cell} | 2 |\n"
    rendered = _TEXT.render(table)
    assert rendered.count("<td>") == 2 and "<img" not in rendered
    after_label = _rendered_text(f"**Creator** {md_escape('*not bold*')}")
    assert after_label == "<strong>Creator</strong> *not bold*"


def test_readable_text_is_left_alone() -> None:
    assert md_escape("german_shepherd") == "german_shepherd"
    assert md_escape("by-sa 4.0") == "by-sa 4.0"
    assert md_escape("100.0%") == "100.0%"
    assert md_escape("train/n02085620_7.jpg") == "train/n02085620_7.jpg"
    assert md_escape(None) == "" and md_escape(12) == "12"


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
    assert plain("see www.example.org") == f"see www{WORD_JOINER}.example.org"


@pytest.mark.parametrize("text", HOSTILE + BARE)
def test_plain_text_renders_as_itself_but_for_the_joiners(text: str) -> None:
    assert _rendered_text(plain(text)).replace(WORD_JOINER, "") == one_line(text)


def test_inline_code_cannot_be_closed_from_inside() -> None:
    assert inline_code("tflite") == "`tflite`"
    code = inline_code("a`b ``c ![](http://127.0.0.2:9/x)")
    assert code.startswith("```") and code.endswith("```")
    assert live_markup(code) == []
    # Every character is kept: the backticks inside are shown, not dropped.
    rendered = _TEXT.render(code).strip()
    assert html.unescape(rendered) == "<p><code>a`b ``c ![](http://127.0.0.2:9/x)</code></p>"
    assert _TEXT.render(inline_code("`x`")).strip() == "<p><code>`x`</code></p>"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.flickr.com/photos/1", "https://www.flickr.com/photos/1"),
        ("http://127.0.0.2:8080/p?a=1&b=(2)", "http://127.0.0.2:8080/p?a=1&b=(2)"),
        ("  HTTPS://Example.org/x  ", "HTTPS://Example.org/x"),
        (
            "//commons.wikimedia.org/wiki/File:Pug.jpg",
            "https://commons.wikimedia.org/wiki/File:Pug.jpg",
        ),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        (" javascript:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("data:text/html,<script>alert(1)</script>", None),
        ("vbscript:msgbox", None),
        ("file:///etc/passwd", None),
        ("/relative/page", None),
        ("page.html", None),
        ("https://", None),
        ("http:///no-host", None),
        ("https://host:99999/", None),
        ("https://host:port/", None),
        ("http:// a b", None),  # a space is no part of a host name, encoded or not
        ("https://exa mple.org/x", None),
        ("https://a.org<b>/x", None),
        # Characters a browser would percent-encode are encoded: still the same page.
        ("https://a.org/File:A pug.jpg", "https://a.org/File:A%20pug.jpg"),
        (
            "https://a.org/x) ![](http://127.0.0.2:9/b",
            "https://a.org/x)%20![](http://127.0.0.2:9/b",
        ),
        ('https://a.org/"onmouseover="x', "https://a.org/%22onmouseover=%22x"),
        ("https://a.org/<script>", "https://a.org/%3Cscript%3E"),
        ("https://hund.example/zürich?q=ä", "https://hund.example/zürich?q=ä"),
        ("https://a.org/\u00a0x", None),
        ("https:\\\\evil.org", None),
        ("https://a.org/\nx", None),
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_web_url_keeps_only_http_and_https(url: object, expected: str | None) -> None:
    assert web_url(url) == expected
