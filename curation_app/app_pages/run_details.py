"""One run in detail: per-breed accuracy, the most confused pairs, and the mistakes gallery.

The gallery shows the most confident mistakes first; when the picture, not the model, is wrong
(another breed, not a dog), one click sends it back to review with a reason.
"""

from __future__ import annotations

import streamlit as st

from core.errors import BreedbenchError
from core.text import inline_code, plain
from curation_app import dashboard_ui as ui
from curation_app.state import get_database
from curation_app.ui import named_reviewer
from evaluator import dashboard as ev
from evaluator import latency
from evaluator.detection import describe_crop
from evaluator.report import crop_summary
from review.send_back import send_back_to_review

PAGE_SIZE = 12
COLUMNS = 4

db = get_database()
with db.session() as s:
    all_runs = ev.runs(s)

st.header("Run details")
if not all_runs:
    st.info("No evaluation run yet: start one on the Models page or with `breedbench evaluate`.")
    st.stop()

default = ui.query_run_id() or next((r.id for r in all_runs if r.status == "finished"), None)
run_id = ui.run_picker(all_runs, "Run", "detail_run", default)
st.query_params[ui.RUN_PARAM] = str(run_id)
run = next(r for r in all_runs if r.id == run_id)

with db.session() as s:
    detail = ev.results.get_run(s, run_id)
cols = st.columns(6)
for col, t in zip(cols, detail.topk, strict=False):
    col.metric(
        f"top-{t.k}",
        ui.pct(t.rate),
        help=f"95% interval {ui.pct(t.ci_low)} – {ui.pct(t.ci_high)} ({t.correct}/{t.n})",
    )
cols[3].metric("images", run.n_images)
cols[4].metric(
    "latency p50",
    ui.ms(run.latency_p50_ms),
    help=f"p95 {ui.ms(run.latency_p95_ms)}; {plain(latency.describe(detail.metrics))}",
)
cols[5].metric("size", ui.megabytes(run.model_size_bytes))
top1 = detail.topk[0] if detail.topk else None
st.caption(
    f"{plain(run.ref)} · {inline_code(run.format)} · {plain(run.status)} · "
    f"macro top-1 {ui.pct(run.macro_top1)} · {run.throughput_ips:.1f} images/s · "
    f"dataset {inline_code((run.dataset_hash or '?')[:12])}"
    + (f" · top-1 95% interval {ui.pct(top1.ci_low)} – {ui.pct(top1.ci_high)}" if top1 else "")
)
st.caption(f"Latency: {plain(latency.describe(detail.metrics))}.")
cropped_run = bool(detail.settings.get("crop"))
crop_line = crop_summary(detail.settings, detail.metrics)
if crop_line:
    st.caption(plain(crop_line))

with db.session() as s:
    breeds = ev.per_breed(s, run_id)
    pairs = ev.confused_pairs(s, run_id, limit=15)

tab_breeds, tab_pairs, tab_gallery = st.tabs(["Per breed", "Confused pairs", "Mistakes"])
with tab_breeds:
    if not breeds:
        st.info("This run has no stored predictions.")
    else:
        c1, c2 = st.columns(2)
        metric = c1.segmented_control(
            "Accuracy", ["top-1", "top-5"], default="top-1", key="breed_metric"
        )
        order = c2.segmented_control(
            "Sort", list(ui.SORTS), default="worst first", key="breed_sort"
        )
        st.altair_chart(
            ui.per_breed_chart(breeds, metric or "top-1", order or "worst first"), width="stretch"
        )

with tab_pairs:
    if not pairs:
        st.success("No wrong top-1 predictions in this run.")
    else:
        st.dataframe(
            [
                {
                    "true breed": p.true_breed,
                    "predicted as": p.predicted,
                    "images": p.count,
                    "share of the breed": f"{p.share:.0%}",
                }
                for p in pairs
            ],
            hide_index=True,
            width="stretch",
        )

with tab_gallery:
    c1, c2, c3 = st.columns([2, 2, 3])
    worst = c1.segmented_control(
        "Show",
        ["top1", "top5"],
        default="top1",
        format_func=lambda k: {"top1": "top-1 wrong", "top5": "not in top-5"}[k],
        key="gallery_worst",
    )
    breed_filter = c2.selectbox(
        "Breed", ["(all)", *sorted(b.slug for b in breeds)], key="gallery_breed"
    )
    # Sending an image back is a review decision: it is recorded with a name, never without.
    reviewer = named_reviewer(
        c3, key="gallery_reviewer", label="Your name (recorded when you send an image back)"
    )
    if reviewer is not None:
        c3.markdown(f"Sending back to review as **{plain(reviewer)}**")
    page_no = int(st.session_state.get("gallery_page", 1))
    with db.session() as s:
        page = ev.mistakes(
            s,
            run_id,
            breed=None if breed_filter == "(all)" else breed_filter,
            worst=worst or "top1",
            offset=(page_no - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
    if page.total == 0:
        st.success("No mistakes of this kind in this run.")
    pages = max(1, -(-page.total // PAGE_SIZE))
    if page.offset // PAGE_SIZE + 1 != page_no:  # the filter shortened the list: its last page
        st.session_state["gallery_page"] = page.offset // PAGE_SIZE + 1
    st.caption(
        f"{page.total} mistakes, most confident first (a confident mistake often means a wrong "
        "label). Page size " + str(PAGE_SIZE) + "."
    )
    for start in range(0, len(page.items), COLUMNS):
        row = st.columns(COLUMNS)
        for col, m in zip(row, page.items[start : start + COLUMNS], strict=False):
            p = m.prediction
            with col.container(border=True, key=f"mistake-{p.image_id}"):
                ui.show_thumbnail(db, p.thumb_path, describe_crop(p.crop, cropped_run), crop=p.crop)
                st.markdown(
                    f"**{plain(p.true_slug)}** · image {p.image_id} · {plain(m.image_status)}"
                )
                st.markdown(
                    "\n".join(
                        f"{i}. {'**✓ ' if g.breed_id == p.true_breed_id else ''}{plain(g.slug)}"
                        f"{'**' if g.breed_id == p.true_breed_id else ''} — {g.probability:.0%}"
                        for i, g in enumerate(p.top5, 1)
                    )
                )
                if m.image_status == "pending":
                    st.caption("In the review queue")
                elif st.button(
                    "Send back to review",
                    key=f"reset-{run_id}-{p.image_id}",
                    disabled=reviewer is None,
                    help="The label looks wrong: reset its review so a reviewer decides again.",
                ):
                    if reviewer is None:
                        st.error("Enter your name before sending an image back to review.")
                    else:
                        try:
                            with db.session() as s:
                                send_back_to_review(s, p.image_id, reviewer)
                            st.toast(f"Image {p.image_id} is back in the review queue")
                            st.rerun()
                        except BreedbenchError as exc:
                            st.error(plain(exc))
    if pages > 1:
        st.number_input("Page", min_value=1, max_value=pages, step=1, key="gallery_page")
