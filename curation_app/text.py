"""Strings from outside on the app's pages: always text, a link only to an http(s) page.

Streamlit renders Markdown in ``st.markdown``, captions, alerts, toasts, tabs, metric and widget
labels and tooltips. A creator ``![](http://tracker/x)`` would make every reviewer's browser
fetch the tracker; a crafted landing URL could break out of its link. Every title, creator,
licence, query, source, URL, breed, reviewer or model name goes through ``plain`` (or
``safe_link``) before it is put into such Markdown; dataframes, charts and select box options are
plain text already and take the strings as they are.
"""

from __future__ import annotations

import re

from core.text import md_escape, one_line, web_url

__all__ = ["inline_code", "md_escape", "plain", "safe_link", "web_url"]

WORD_JOINER = "\u2060"
# Streamlit's renderer turns a bare ``http://``, ``www.`` or e-mail address in any text into a
# link, and ``:material/name:`` into an icon, after the escapes are resolved, so escaping cannot
# stop them: an invisible word joiner inside the pattern does.
_LIVE_TEXT = re.compile(
    r"(?i)(?<=https)(?=:)|(?<=http)(?=:)|(?<=www)(?=\.)|(?=@)|(?<=:)(?=material/)"
)
# In a link destination, parentheses could end it and ``&`` start an entity: both are escaped the
# Markdown way, which gives back the same URL (``web_url`` has already refused spaces, quotes,
# backslashes and angle brackets).
_DESTINATION = {"(": "\\(", ")": "\\)", "&": "&amp;"}


def plain(value: object) -> str:
    """``value`` as Markdown that shows exactly its text: no image, link, HTML or formatting."""
    return md_escape(_LIVE_TEXT.sub(WORD_JOINER, "" if value is None else str(value)))


def safe_link(label: object, url: object) -> str:
    """A Markdown link to ``url`` labelled ``label`` when ``url`` is an http(s) URL; otherwise
    only the label, as text (``javascript:``, ``data:``, relative or malformed URLs never
    become links)."""
    target = web_url(url)
    if target is None:
        return plain(label)
    destination = "".join(_DESTINATION.get(ch, ch) for ch in target)
    return f"[{plain(label)}]({destination})"


def inline_code(value: object) -> str:
    """``value`` as a Markdown code span (shown as typed, in a monospace font): the fence is one
    backtick longer than any run of backticks inside, so none of them can close it early."""
    text = one_line(value)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"
