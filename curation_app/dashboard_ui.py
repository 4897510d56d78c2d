"""Streamlit pieces shared by the "Models & evaluations" pages: charts, formatting, pickers.

The numbers come from ``evaluator.dashboard`` (plain data); this module only draws them.
Charts are Altair specs rendered by Streamlit's bundled Vega: nothing is fetched from the web.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st
from PIL import Image as PILImage
from PIL import ImageDraw

from core.text import plain
from curation_app.state import get_database
from curation_app.ui import REVIEWER_KEY
from db.database import Database
from evaluator import dashboard as ev
from evaluator.dashboard import BreedResult, HistoryPoint, RunSummary, TradeoffRow
from evaluator.detection import box_on

RUN_PARAM = "run"


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def pct_ci(value: float | None, ci: tuple[float, float] | None) -> str:
    if value is None or ci is None:
        return "–"
    return f"{value:.1%} [{ci[0]:.1%}, {ci[1]:.1%}]"


def megabytes(n: int | None) -> str:
    """A file size people read at a glance: 96.3 MB, 412 kB, 900 B."""
    if n is None:
        return "–"
    if n >= 1e6:
        return f"{n / 1e6:.1f} MB"
    if n >= 1e3:
        return f"{n / 1e3:.0f} kB"
    return f"{n} B"


def ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f} ms" if value >= 1 else f"{value:.3f} ms"


def when(iso_or_dt: object) -> str:
    """``2026-11-27T23:53:12+00:00`` → ``2026-11-27 23:53 UTC``."""
    text = str(iso_or_dt).replace("T", " ")
    return text[:16] + " UTC"


def history_frame(points: Sequence[HistoryPoint]) -> pd.DataFrame:
    """Long format: one row per (run, metric), for a line per version."""
    return pd.DataFrame(
        [
            {
                "run": p.run_id,
                "version": p.version,
                "started": pd.Timestamp(p.started_at),
                "metric": f"top-{p.k}",
                "accuracy": p.rate,
                "ci_low": p.ci_low,
                "ci_high": p.ci_high,
                "images": p.n_images,
            }
            for p in points
        ]
    )


def history_chart(frame: pd.DataFrame, metric: str) -> alt.LayerChart:
    data = frame[frame["metric"] == metric]
    base = alt.Chart(data).encode(
        x=alt.X("started:T", title="run started", axis=alt.Axis(format="%Y-%m-%d %H:%M")),
        color=alt.Color("version:N", title="version"),
    )
    band = base.mark_errorbar(ticks=True).encode(
        y=alt.Y("ci_low:Q", title=f"{metric} accuracy", axis=alt.Axis(format="%")),
        y2="ci_high:Q",
    )
    line = base.mark_line(point=alt.OverlayMarkDef(size=70)).encode(
        y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1])),
        tooltip=[
            alt.Tooltip("run:Q", title="run"),
            "version:N",
            alt.Tooltip("started:T", format="%Y-%m-%d %H:%M"),
            alt.Tooltip("accuracy:Q", format=".1%"),
            alt.Tooltip("ci_low:Q", title="95% CI low", format=".1%"),
            alt.Tooltip("ci_high:Q", title="95% CI high", format=".1%"),
            "images:Q",
        ],
    )
    return (band + line).properties(height=320)


def _rate(row: TradeoffRow, k: int, with_ci: bool = True) -> str:
    r = row.top.get(k)
    if r is None:
        return "not evaluated" if k == 1 else ""
    return pct_ci(r.rate, (r.lo, r.hi)) if with_ci else pct(r.rate)


def trade_off_frame(rows: Sequence[TradeoffRow], depth: dict[int, int]) -> pd.DataFrame:
    deltas = ev.top1_delta_vs_parent(rows)
    out = []
    for t in rows:
        delta = None if t.crop is not None else deltas.get(t.version.id)
        out.append(
            {
                "version": ("↳ " * depth.get(t.version.id, 0)) + t.label,
                "format": t.version.format,
                "quantization": t.quantization,
                "size": megabytes(t.size_bytes),
                "size vs parent": "–" if t.size_ratio is None else f"{t.size_ratio:.0%}",
                "latency p50": ms(t.latency_p50_ms),
                "top-1 [95% CI]": _rate(t, 1),
                "top-3": _rate(t, 3, with_ci=False),
                "top-5 [95% CI]": _rate(t, 5),
                "top-1 vs parent": "–" if delta is None else f"{delta * 100:+.1f} pts",
                "agrees with parent": "–"
                if t.parity_agreement is None
                else f"{t.parity_agreement:.1%}",
                "images": t.n_images or 0,
                "run": f"#{t.run_id}" if t.run_id else "",
            }
        )
    return pd.DataFrame(out)


def trade_off_chart(rows: Sequence[TradeoffRow]) -> alt.LayerChart | None:
    data = [
        {
            "version": t.label,
            "size (MB)": t.size_bytes / 1e6,
            "top-1": t.top[1].rate,
            "low": t.top[1].lo,
            "high": t.top[1].hi,
            "latency p50 (ms)": t.latency_p50_ms,
        }
        for t in rows
        if 1 in t.top
    ]
    if not data:
        return None
    base = alt.Chart(pd.DataFrame(data)).encode(
        x=alt.X("size (MB):Q", scale=alt.Scale(zero=True)),
        color=alt.Color("version:N", legend=None),
    )
    bars = base.mark_errorbar(ticks=True).encode(
        y=alt.Y("low:Q", title="top-1", axis=alt.Axis(format="%")), y2="high:Q"
    )
    dots = base.mark_circle(size=160).encode(
        y=alt.Y("top-1:Q", scale=alt.Scale(domain=[0, 1])),
        tooltip=["version", "size (MB)", alt.Tooltip("top-1", format=".1%"), "latency p50 (ms)"],
    )
    labels = base.mark_text(align="left", dx=10, dy=-8).encode(y="top-1:Q", text="version:N")
    return (bars + dots + labels).properties(height=260)


SORTS = ("worst first", "best first", "breed name")


def per_breed_chart(rows: Sequence[BreedResult], metric: str, order: str) -> alt.Chart:
    frame = pd.DataFrame(
        [{"breed": r.slug, "top-1": r.top1_rate, "top-5": r.top5_rate, "images": r.n} for r in rows]
    )
    if order == "breed name":
        frame = frame.sort_values("breed")
    else:
        frame = frame.sort_values([metric, "breed"], ascending=[order == "worst first", True])
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y(
                "breed:N", sort=list(frame["breed"]), title=None, axis=alt.Axis(labelOverlap=False)
            ),
            x=alt.X(f"{metric}:Q", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
            color=alt.Color(
                f"{metric}:Q", scale=alt.Scale(scheme="redyellowgreen", domain=[0, 1]), legend=None
            ),
            tooltip=[
                "breed",
                alt.Tooltip("top-1:Q", format=".0%"),
                alt.Tooltip("top-5:Q", format=".0%"),
                "images",
            ],
        )
        .properties(height=BAR_STEP)
    )


BAR_STEP = alt.Step(22)  # pixels per breed: every label readable, however many breeds


def run_picker(runs: Sequence[RunSummary], label: str, key: str, default_id: int | None) -> int:
    """A select box of runs (newest first); remembers the choice in the URL for links."""
    ids = [r.id for r in runs]
    labels = {r.id: run_label(r) for r in runs}
    index = ids.index(default_id) if default_id in ids else 0
    return int(
        st.selectbox(label, ids, index=index, format_func=lambda i: labels[i], key=key)  # type: ignore[arg-type]
    )


def run_label(r: RunSummary) -> str:
    when = r.started_at.strftime("%Y-%m-%d %H:%M")
    top1 = f" · top-1 {pct(r.top1)}" if r.status == "finished" else ""
    return f"#{r.id} {r.ref} ({when}) · {r.status}{top1}"


def query_run_id() -> int | None:
    raw = st.query_params.get(RUN_PARAM)
    return int(raw) if raw and str(raw).isdigit() else None


def show_thumbnail(
    db: Database,
    thumb_path: str | None,
    caption: str | None = None,
    crop: dict[str, Any] | None = None,
) -> None:
    """The stored thumbnail; with ``crop`` (a cropped run's prediction) the box the
    classifier was given drawn on it."""
    if thumb_path and db.store.exists(thumb_path):
        shown = None if caption is None else plain(caption)
        path = str(db.store.absolute(thumb_path))
        st.image(path if crop is None else boxed(path, crop), caption=shown, width="stretch")
    else:
        st.caption("(no thumbnail in the store)")


def boxed(path: str, crop: dict[str, Any]) -> PILImage.Image:
    """The picture at ``path`` with a crop's box drawn on it (the thumbnail is upright, as the
    box's pixels are)."""
    img = PILImage.open(path).convert("RGB")
    box = box_on(crop, img.width, img.height)
    width = max(2, round(min(img.size) / 80))
    ImageDraw.Draw(img).rectangle(box, outline=(255, 64, 0), width=width)
    return img


def reviewer_name() -> str | None:
    """The reviewer chosen in the review app, if any.

    The frame (``ui.frame_reviewer``) has already taken a ``?reviewer=`` name into the session
    when it is a valid name, so the session is the one place to look.
    """
    name = st.session_state.get(REVIEWER_KEY)
    return str(name) if name else None


@st.cache_data(max_entries=32, show_spinner=False)
def cached_comparison(database_url: str, run_a: int, run_b: int) -> ev.RunComparison:
    """Two runs compared, computed once: finished runs and their predictions never change.

    ``database_url`` is part of the cache key, so two databases never share an entry.
    """
    db = get_database()
    assert db.settings.resolved_database_url() == database_url
    with db.session() as s:
        return ev.compare(s, run_a, run_b)
