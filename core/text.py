"""Text from outside, shown as text: Markdown escaping, and which URLs may become links.

Titles, creators, licences, queries, breed names, reviewer names and model names come from
search APIs, files and people. The review app and the export's datasheet render Markdown
(GitHub-flavoured, in the app with Streamlit's extensions), where such a string could otherwise
become an image the reader's browser fetches, a link, raw HTML, a table or emphasis.
``md_escape`` turns it into Markdown that renders as the very characters it holds; ``web_url``
says whether a URL may be a link at all (only ``http``/``https``: never ``javascript:``,
``data:``, a relative path or something malformed).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Characters that start inline Markdown anywhere on a line: code, emphasis, strikethrough,
# links and images, tables, maths ($), Streamlit's :directives[...] and :emoji:, e-mail
# autolinks (@) and headings (#).
_INLINE = frozenset("\\`*~[]!|$:@#")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Line breaks would start new blocks (lists, quotes, headings, tables); other control
# characters have no business on screen.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# An underscore between two letters or digits is never emphasis (``german_shepherd``); any other
# one may be.
_LOOSE_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
# ``www.`` becomes a link in GitHub-flavoured Markdown without any markup.
_WWW = re.compile(r"(?i)(www)\.")
# Block markers that only count at the start of a line: a list item, a setext underline, an
# ordered list item.
_LEADING_MARKER = re.compile(r"^(\s*)([-+=]|\d{1,9}(?=[.)](?:\s|$)))")

WEB_SCHEMES = frozenset({"http", "https"})
# A browser drops tabs and line breaks inside a URL and reads a backslash as a slash, so a URL
# holding them is not the one this check would see: refused.
_URL_AMBIGUOUS = frozenset("\\")
# What a URL may not hold as it is (a space, quotes, angle brackets, ...): percent-encoded, as a
# browser does before it sends the request. Letters beyond ASCII stay (an IRI, as browsers take).
_URL_ENCODE = str.maketrans({ch: f"%{ord(ch):02X}" for ch in ' "<>`{}|^'})


def md_escape(value: object) -> str:
    """``value`` as Markdown (and HTML) that renders as exactly its text, on one line.

    Inline syntax is backslash-escaped, ``& < >`` become entities (no HTML, no ``<http://...>``
    autolink), line breaks and other control characters become spaces. Letters, digits, and the
    punctuation that cannot start anything in the middle of a line are left as they are, so a
    raw datasheet stays readable.
    """
    out: list[str] = []
    for ch in one_line(value):
        if ch in _ENTITIES:
            out.append(_ENTITIES[ch])
        elif ch in _INLINE:
            out.append("\\" + ch)
        else:
            out.append(ch)
    escaped = _LOOSE_UNDERSCORE.sub(r"\\_", "".join(out))
    escaped = _WWW.sub(r"\1\\.", escaped)
    return _LEADING_MARKER.sub(lambda m: m.group(1) + _escape_marker(m.group(2)), escaped, count=1)


def one_line(value: object) -> str:
    """``value`` as text on one line: line breaks and other control characters become spaces."""
    return _CONTROL.sub(" ", "" if value is None else str(value))


def _escape_marker(marker: str) -> str:
    return "\\" + marker if not marker.isdigit() else marker + "\\"


def web_url(url: object) -> str | None:
    """``url`` if it is an absolute ``http``/``https`` URL with a host, else ``None``.

    Surrounding whitespace is dropped, a scheme-relative ``//host/...`` is read as https and
    characters a URL may not hold as they are (spaces, quotes, ``<``) are percent-encoded, as a
    browser would send them. Anything else (``javascript:``, ``data:``, a relative path, control
    characters or a backslash inside, no host, a bad port) is refused rather than repaired,
    since a repaired URL may not be the one the reader's browser would open.
    """
    if not isinstance(url, str):
        return None
    text = url.strip()
    if text.startswith("//"):
        text = "https:" + text
    if not text or not text.isprintable() or any(ch in _URL_AMBIGUOUS for ch in text):
        return None
    text = text.translate(_URL_ENCODE)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError:
        return None
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.hostname:
        return None
    return text
