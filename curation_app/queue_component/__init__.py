"""The queue component: plain JavaScript and CSS files mounted with Streamlit's components v2
(no build step, no iframe: keys reach it from the whole page and it preloads into the page)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

HERE = Path(__file__).parent

review_queue = st.components.v2.component(
    "breedbench_review_queue",
    html='<div class="bbq-mount"></div>',
    js=(HERE / "queue.js").read_text(encoding="utf-8"),
    css=(HERE / "queue.css").read_text(encoding="utf-8"),
    isolate_styles=False,
)


def mount(data: dict[str, Any], *, key: str) -> Any:
    """The component with this payload; its ``outbox`` state is the browser's unsent batch."""
    return review_queue(data=data, key=key, default={"outbox": None}, on_outbox_change=_noop)


def _noop() -> None:
    """State values reach Python only when a callback is declared; the page reads them itself."""
