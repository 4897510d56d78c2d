"""What a Markdown text would make live when rendered: tags that fetch, run or link, and bare
addresses that a GitHub-flavoured renderer turns into links.

An independent parser (markdown-it, with raw HTML on, as the most permissive renderer) renders the
text; the tests then look at the HTML it gives, not at the escaping that produced it.
"""

from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt

_RENDERER = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
# Elements that fetch something, run something or take the reader elsewhere.
_LIVE_TAG = re.compile(
    r"<(a|img|script|iframe|svg|object|embed|video|audio|source|link|style|form|base|meta)\b",
    re.IGNORECASE,
)
_EVENT_ATTRIBUTE = re.compile(r"<[^>]*\son\w+\s*=", re.IGNORECASE)
# The patterns Streamlit's renderer (and GitHub's) make links of in plain text.
_BARE_URL = re.compile(r"(?i)(?:https?://|www\.)[-.\w]+")
_BARE_EMAIL = re.compile(r"[-.\w+]+@[-\w]+(?:\.[-\w]+)+")
_TAG = re.compile(r"<[^>]+>")
_CODE = re.compile(r"<code>.*?</code>", re.DOTALL)  # no renderer makes links inside code


def live_markup(text: str, *, allowed_links: tuple[str, ...] = ()) -> list[str]:
    """Every live element or bare link in ``text`` rendered as Markdown; links whose ``href`` is
    in ``allowed_links`` are expected (an http(s) landing page) and not reported."""
    rendered = _RENDERER.render(text)
    found: list[str] = []
    for match in _LIVE_TAG.finditer(rendered):
        tag = rendered[match.start() : rendered.find(">", match.start()) + 1]
        href = re.search(r'href="([^"]*)"', tag)
        if match.group(1).lower() == "a" and href and html.unescape(href.group(1)) in allowed_links:
            continue
        found.append(tag)
    found += [m.group(0) for m in _EVENT_ATTRIBUTE.finditer(rendered)]
    shown = html.unescape(_TAG.sub(" ", _CODE.sub(" ", rendered)))
    found += [m.group(0) for m in _BARE_URL.finditer(shown)]
    found += [m.group(0) for m in _BARE_EMAIL.finditer(shown)]
    return found
