"""Models & evaluations: versions with their lineage, run history, trade-offs, new evaluations."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from core.errors import BreedbenchError
from core.text import inline_code, plain
from curation_app import dashboard_ui as ui
from curation_app.state import get_database
from curation_app.ui import named_reviewer
from evaluator import dashboard as ev
from evaluator import jobs as eval_jobs

db = get_database()
with db.session() as s:
    names = ev.model_names(s)

st.header("Models & evaluations")
if not names:
    st.info(
        "No model is registered yet. Register one with "
        "`breedbench models add PATH --name NAME --version V`, then evaluate it here or with "
        "`breedbench evaluate NAME:V`."
    )
    st.stop()

model = st.selectbox("Model", names, key="dash_model")
with db.session() as s:
    tree = ev.version_tree(s, model)
    model_runs = ev.runs(s, model)
    points = ev.history(s, model)
    trade = ev.trade_offs(s, model)

left, right = st.columns([2, 5], gap="large")
with left:
    st.subheader("Versions")
    for node in tree:
        v = node.info
        quantization = v.quantization_label  # read from the .tflite when it was registered
        indent = "&nbsp;" * 6 * node.depth + ("↳ " if node.depth else "")
        st.markdown(
            f"{indent}**{plain(v.version)}** · {inline_code(v.format)} · "
            f"{ui.megabytes(v.size_bytes)}"
            + (f" · {plain(quantization)}" if quantization != "-" else ""),
            help=", ".join(f"{plain(k)}: {plain(val)}" for k, val in (v.conversion or {}).items())
            or None,
        )
    n_finished = sum(1 for r in model_runs if r.status == "finished")
    st.caption(f"{len(tree)} versions, {n_finished} finished runs")

with right:
    st.subheader("Run history")
    if not points:
        st.info("No finished evaluation of this model yet.")
    else:
        metric = st.segmented_control(
            "Metric", ["top-1", "top-3", "top-5"], default="top-1", key="dash_metric"
        )
        st.altair_chart(
            ui.history_chart(ui.history_frame(points), metric or "top-1"), width="stretch"
        )

st.subheader("Trade-offs")
st.caption(
    "Latest finished run of each version; 95% Wilson intervals. The change against the parent "
    "is shown only when both ran on the same image set (dataset hash); agreement is the share "
    "of shared images where both predict the same top-1."
)
st.dataframe(
    ui.trade_off_frame(trade, {n.info.id: n.depth for n in tree}),
    hide_index=True,
    width="stretch",
)
chart = ui.trade_off_chart(trade)
if chart is not None:
    st.altair_chart(chart, width="stretch")

st.subheader("Runs")
if model_runs:
    st.dataframe(
        [
            {
                "run": r.id,
                "version": r.version,
                "status": r.status,
                "started": r.started_at.strftime("%Y-%m-%d %H:%M"),
                "images": r.n_images,
                "top-1": ui.pct(r.top1),
                "top-3": ui.pct(r.top3),
                "top-5": ui.pct(r.top5),
                "dataset": (r.dataset_hash or "")[:12],
                "details": f"./run_details?run={r.id}",
            }
            for r in model_runs
        ],
        hide_index=True,
        width="stretch",
        column_config={"details": st.column_config.LinkColumn("details", display_text="open")},
    )

st.subheader("Start an evaluation")
st.caption(
    "Runs in the background on the server (other reviewers keep working); the run appears in "
    "the history above when it is recorded. Same as `breedbench evaluate NAME:VERSION`."
)
settings = db.settings
labels = [n.info.ref for n in tree]
# Starting or stopping an evaluation is recorded with who did it: never anonymously.
reviewer = named_reviewer(
    st.container(), key="eval_reviewer", label="Your name (recorded with the evaluations you start)"
)
if reviewer is None:
    st.caption("Enter your name to start or stop an evaluation.")
with st.form("start_eval"):
    version = st.selectbox("Version", labels, key="eval_version")
    limit = st.number_input(
        "Only the first N images (0: every accepted image)", min_value=0, value=0, step=50
    )
    submitted = st.form_submit_button("Start evaluation", type="primary", disabled=reviewer is None)
if submitted and reviewer is None:
    st.error("Enter your name before starting an evaluation.")
elif submitted:
    try:
        eval_jobs.start_job(settings, version, started_by=reviewer, limit=int(limit) or None)
        st.toast(f"Evaluation of {plain(version)} started")
    except BreedbenchError as exc:
        st.error(plain(exc))

SEEN_KEY = "dash_finished_jobs"


@st.fragment(run_every=timedelta(seconds=2))
def jobs_panel() -> None:
    """Polled on its own: the rest of the page (and other users) never wait for a job."""
    jobs = eval_jobs.list_jobs(settings, limit=5)
    if not jobs:
        st.caption("No evaluation started from the app yet.")
        return
    for job in jobs:
        with st.container(border=True, key=f"job-{job.id}"):
            title = f"**{plain(job.version)}** · started {ui.when(job.started_at)}"
            if job.limit:
                title += f" · first {job.limit} images"
            if job.started_by:
                title += f" · by {plain(job.started_by)}"
            st.markdown(title)
            if job.status == "running":
                fraction = job.fraction
                text = f"{job.done}/{job.total} images" if fraction is not None else "starting…"
                st.progress(fraction or 0.0, text=text)
                if job.stopped_by:
                    st.caption(f"Stopping (asked by {plain(job.stopped_by)})…")
                named = ui.reviewer_name()
                # Recorded with the name: a click from a page drawn before a sign-out does nothing.
                if st.button("Stop", key=f"stop-{job.id}", disabled=named is None) and named:
                    try:  # it may have ended between the last poll and the click
                        eval_jobs.stop_job(settings, job.id, stopped_by=named)
                    except BreedbenchError as exc:
                        st.error(plain(exc))
            elif job.status == "finished":
                st.success(f"Finished: run #{job.run_id} is in the run history.")
            elif job.status == "failed":
                st.error(f"Failed: {plain(job.error or 'see the output below')}")
            elif job.stopped_by:
                st.warning(
                    f"Stopped by {plain(job.stopped_by)} before it finished: nothing was recorded."
                )
            else:
                st.warning(plain(job.error or "Stopped before it finished: nothing was recorded."))
            if job.tail and job.status not in ("running", "finished"):
                st.code(job.tail, language=None)
    finished = [j.id for j in jobs if j.status == "finished"]
    if finished != st.session_state.get(SEEN_KEY):
        st.session_state[SEEN_KEY] = finished
        st.rerun(scope="app")  # a run was just recorded: redraw the history with it


st.session_state[SEEN_KEY] = [
    j.id for j in eval_jobs.list_jobs(settings, limit=5) if j.status == "finished"
]
jobs_panel()
