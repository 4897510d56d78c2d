"""Links on the app's pages: a link only to an http(s) page, its label always text.

Streamlit renders Markdown in ``st.markdown``, captions, alerts, toasts, tabs, metric and widget
labels and tooltips. A creator ``![](http://tracker/x)`` would make every reviewer's browser
fetch the tracker; a crafted landing URL could break out of its link. Every title, creator,
licence, query, source, URL, breed, reviewer or model name goes through ``core.text.plain`` (or
``safe_link``) before it is put into such Markdown; dataframes, charts and select box options are
plain text already and take the strings as they are.
"""

from __future__ import annotations

from core.text import plain, web_url

# In a link destination, parentheses could end it and ``&`` start an entity: both are escaped the
# Markdown way, which gives back the same URL (``web_url`` has already refused spaces, quotes,
# backslashes and angle brackets).
_DESTINATION = {"(": "\\(", ")": "\\)", "&": "&amp;"}


def safe_link(label: object, url: object) -> str:
    """A Markdown link to ``url`` labelled ``label`` when ``url`` is an http(s) URL; otherwise
    only the label, as text (``javascript:``, ``data:``, relative or malformed URLs never
    become links)."""
    target = web_url(url)
    if target is None:
        return plain(label)
    destination = "".join(_DESTINATION.get(ch, ch) for ch in target)
    return f"[{plain(label)}]({destination})"
