"""Two runs side by side: accuracy deltas with McNemar's exact test, images fixed and broken,
per-breed deltas. Typical use: a quantized child (B) against its parent (A)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from core.errors import BreedbenchError
from core.text import plain
from curation_app import dashboard_ui as ui
from curation_app.state import get_database
from evaluator import dashboard as ev

SHOWN = 12
COLUMNS = 6

db = get_database()
with db.session() as s:
    all_runs = ev.runs(s, finished_only=True)

st.header("Compare runs")
if len(all_runs) < 2:
    st.info("Comparing needs two finished runs; there are " + str(len(all_runs)) + ".")
    st.stop()

c1, c2 = st.columns(2)
with c2:
    run_b = ui.run_picker(all_runs, "Run B (new)", "cmp_b", all_runs[0].id)
rest = [r for r in all_runs if r.id != run_b]
newest = next(r for r in all_runs if r.id == run_b)
default_a = next((r.id for r in rest if r.version_id != newest.version_id), rest[0].id)
with c1:
    run_a = ui.run_picker(rest, "Run A (baseline)", "cmp_a", default_a)

try:
    comparison = ui.cached_comparison(db.settings.resolved_database_url(), run_a, run_b)
except BreedbenchError as exc:
    st.error(plain(exc))
    st.stop()
cmp = comparison.result

if not cmp.same_dataset:
    st.warning(
        "The two runs were measured on different image sets (dataset hashes differ); the "
        f"comparison uses only the {cmp.shared} images both scored."
    )

m = st.columns(4)
m[0].metric(
    "top-1 (B)",
    ui.pct(cmp.top1_b),
    delta=f"{cmp.delta_top1 * 100:+.1f} pts",
    delta_color="normal" if round(cmp.delta_top1 * 1000) else "off",
    help=f"A: {ui.pct(cmp.top1_a)} on the same {cmp.shared} images",
)
m[1].metric(
    "top-5 (B)",
    ui.pct(cmp.top5_b),
    delta=f"{cmp.delta_top5 * 100:+.1f} pts",
    delta_color="normal" if round(cmp.delta_top5 * 1000) else "off",
    help=f"A: {ui.pct(cmp.top5_a)}",
)
m[2].metric("fixed / broken", f"{len(cmp.fixed)} / {len(cmp.broken)}")
m[3].metric(
    "McNemar p",
    f"{cmp.p_value:.3g}",
    help="Exact two-sided test on the images one run got right and the other wrong (top-1). "
    "Small (< 0.05): the difference is unlikely to be chance.",
)
if cmp.fixed or cmp.broken:
    verdict = "a real difference" if cmp.p_value < 0.05 else "within what chance explains"
    st.caption(
        f"On {cmp.shared} shared images: {len(cmp.fixed)} fixed, {len(cmp.broken)} broken; "
        f"p = {cmp.p_value:.3g}, {verdict}."
    )


def gallery(title: str, items: list[ev.ImageChange], key: str) -> None:
    st.subheader(f"{title} ({len(items)})")
    if not items:
        st.caption("None.")
        return
    shown = items if st.toggle("Show all", key=f"all-{key}") else items[:SHOWN]
    for start in range(0, len(shown), COLUMNS):
        cols = st.columns(COLUMNS)
        for col, item in zip(cols, shown[start : start + COLUMNS], strict=False):
            with col.container(border=True, key=f"{key}-{item.image_id}"):
                ui.show_thumbnail(db, comparison.thumbs.get(item.image_id))
                st.markdown(
                    f"**{plain(item.true_slug)}**  \nA: {plain(item.predicted_a or '?')}  \n"
                    f"B: {plain(item.predicted_b or '?')}"
                )


gallery("Fixed by B", cmp.fixed, "fixed")
gallery("Broken by B", cmp.broken, "broken")

st.subheader("Per-breed top-1 change (B − A)")
changed = [d for d in cmp.per_breed if d.delta]
if not changed:
    st.caption(f"No breed's top-1 changed ({len(cmp.per_breed)} breeds compared).")
else:
    frame = pd.DataFrame(
        [
            {"breed": d.slug, "change": d.delta, "A": d.top1_a, "B": d.top1_b, "images": d.n}
            for d in cmp.per_breed
        ]
    )
    reach = max(0.05, max(abs(d.delta) for d in changed))
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y(
                "breed:N", sort=list(frame["breed"]), title=None, axis=alt.Axis(labelOverlap=False)
            ),
            x=alt.X(
                "change:Q",
                axis=alt.Axis(format="+%"),
                scale=alt.Scale(domain=[-reach, reach]),
                title="top-1 change",
            ),
            color=alt.condition("datum.change < 0", alt.value("#d62728"), alt.value("#2ca02c")),
            tooltip=[
                "breed",
                alt.Tooltip("A:Q", format=".0%"),
                alt.Tooltip("B:Q", format=".0%"),
                alt.Tooltip("change:Q", format="+.0%"),
                "images",
            ],
        )
        .properties(height=ui.BAR_STEP)
    )
    st.altair_chart(chart, width="stretch")
