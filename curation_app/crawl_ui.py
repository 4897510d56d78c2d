"""Widgets of the crawls started from the app: the top-up controls (Breeds overview, Crawls page,
an empty queue), the live view of the running crawl, and the charts of a run's yield.

What runs and what it means lives in ``crawler.background`` and ``db.crawl_runs``; these only
draw it. Starting or cancelling a crawl is recorded with who did it, so the buttons appear only
for a named reviewer: anyone else sees the crawls, not the controls.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import altair as alt
import pandas as pd
import streamlit as st

from core.errors import BreedbenchError
from core.text import inline_code, plain
from crawler import background
from crawler.background import CrawlJob
from curation_app.dashboard_ui import reviewer_name
from curation_app.ui import named_reviewer
from db.crawl_runs import (
    BreedYield,
    CrawlRunInfo,
    get_run,
    live_stored,
    reap_dead_runs,
    running_crawl,
)
from db.database import Database
from review.queue import has_candidates

POLL = timedelta(seconds=2)
COUNT_AXIS = alt.Axis(tickMinStep=1, format="d")  # image counts: whole numbers only
MESSAGE_KEY = "crawl_message"
SEEN_KEY = "crawl_seen_running"
CANCEL_KEY = "crawl_cancel_message"


def crawl_reviewer(key: str) -> str | None:
    """The named reviewer who may start or cancel crawls (asked inline in the open mode)."""
    name = named_reviewer(
        st.container(), key=key, label="Your name (recorded with the crawls you start or cancel)"
    )
    if name is None:
        st.caption("Crawls are started and cancelled by named reviewers: enter your name.")
    return name


def start(db: Database, reviewer: str, breeds: list[str] | None, per_breed: int | None) -> None:
    """Start a crawl; the outcome is shown by ``show_message`` on the next run."""
    try:
        job = background.start_crawl(db, started_by=reviewer, breeds=breeds, per_breed=per_breed)
        st.session_state[MESSAGE_KEY] = ("ok", f"Crawl started ({job.scope}).")
    except BreedbenchError as exc:
        st.session_state[MESSAGE_KEY] = ("error", str(exc))


def show_message() -> None:
    message = st.session_state.pop(MESSAGE_KEY, None)
    if message:
        (st.success if message[0] == "ok" else st.error)(plain(message[1]))


def top_up_button(db: Database, reviewer: str | None, *, key: str, label: str) -> None:
    """One button: every breed under its target, up to its target."""
    if reviewer is None:
        return
    if st.button(label, key=key):
        start(db, reviewer, None, None)
        st.rerun()


def _breed_rows(db: Database, run: CrawlRunInfo, job: CrawlJob | None) -> list[dict[str, object]]:
    """Per-breed progress of a running crawl: the images stored so far from the database (each
    is committed as it is stored), with the crawl's own tallies (found, duplicates, refused)
    when the app started it and its progress file has them."""
    with db.session() as s:
        stored = live_stored(s, run.id)
    needed = {k: int(v) for k, v in (run.settings.get("needed") or {}).items()}
    tallies = job.progress.breeds if job is not None else {}
    rows = []
    for slug in sorted(set(needed) | set(stored) | set(tallies)):
        row: dict[str, object] = {
            "breed": slug,
            "stored": stored.get(slug, 0),
            "needed": needed.get(slug, int(tallies.get(slug, {}).get("needed", 0))),
        }
        if tallies:
            b = tallies.get(slug, {})
            row["found"] = int(b.get("found", 0))
            row["duplicates"] = int(b.get("duplicates", 0))
            row["refused"] = sum(int(n) for n in (b.get("refused") or {}).values())
        rows.append(row)
    return rows


def live_view(db: Database) -> None:
    """The running crawl (or the last one the app started, if it never got going), polled.

    Called inside a fragment: the rest of the page, and every other user, never wait for it.
    """
    with db.session() as s:
        reaped = reap_dead_runs(s)
        holder = running_crawl(s)
        run = get_run(s, holder.run_id) if holder is not None else None
    said = st.session_state.pop(CANCEL_KEY, None)
    if said:
        (st.info if said[0] == "ok" else st.error)(plain(said[1]))
    for gone in reaped:
        st.warning(
            f"Crawl run {gone.run_id} was left running {gone.where}, which is gone: "
            "marked interrupted (the images it stored are kept)."
        )
    jobs = background.list_crawl_jobs(db.settings, limit=5)
    seen = st.session_state.get(SEEN_KEY)
    now = run.id if run is not None else None
    st.session_state[SEEN_KEY] = now
    if seen is not None and seen != now:
        st.rerun(scope="app")  # a crawl just ended: redraw the history with it
    if run is None:
        starting = [j for j in jobs if j.status == background.STARTING]
        if starting:
            job = starting[0]
            st.info(f"Starting a crawl ({plain(job.scope)}), asked by {plain(job.started_by)}…")
            return
        st.caption("No crawl is running.")
        last = jobs[0] if jobs else None
        if last is not None and last.run_id is None and last.status in ("failed", "stopped"):
            st.error(
                f"The last crawl started here (by {plain(last.started_by)}) did not start: "
                + plain(last.error or "it ended without an outcome, see its output below")
            )
            if last.tail:
                st.code(last.tail, language=None)
        return
    job = background.job_of_run(db.settings, run.id)
    with st.container(border=True, key="running-crawl"):
        who = run.settings.get("started_by")
        where = f"pid {run.process.pid} on {run.process.host}" if run.process else "?"
        st.markdown(
            f"**Crawl run {run.id}** · running since {run.started_at:%Y-%m-%d %H:%M} UTC"
            + (f" · started by {plain(who)}" if who else " · started outside the app")
            + f" · {plain(where)}"
        )
        rows = _breed_rows(db, run, job)
        stored = sum(int(r["stored"]) for r in rows)  # type: ignore[call-overload]
        needed = sum(int(r["needed"]) for r in rows)  # type: ignore[call-overload]
        done = sum(1 for r in rows if r["stored"] >= r["needed"])  # type: ignore[operator]
        st.progress(
            min(1.0, stored / needed) if needed else 0.0,
            text=f"{stored} / {needed} images stored · {done} / {len(rows)} breeds done",
        )
        active = [r for r in rows if r["stored"] or r.get("found")]
        if active:
            st.dataframe(
                pd.DataFrame(active), hide_index=True, height="auto", key="running-crawl-breeds"
            )
        cancelled_by = run.settings.get("cancelled_by")
        if cancelled_by:
            st.caption(
                f"Cancelling (asked by {plain(cancelled_by)}): finishing the images in hand…"
            )
            return
        named = reviewer_name()
        if named is None:
            st.caption("A named reviewer can cancel it.")
        else:
            st.button(
                "Cancel crawl", key=f"cancel-crawl-{run.id}", on_click=_cancel, args=(db, run.id)
            )


def _cancel(db: Database, run_id: int) -> None:
    named = reviewer_name()  # the name at the click: a page drawn before a sign-out does nothing
    if named is None:
        return
    try:  # it may have ended between the last poll and the click
        st.session_state[CANCEL_KEY] = (
            "ok",
            background.cancel_crawl(db, run_id, cancelled_by=named),
        )
    except BreedbenchError as exc:
        st.session_state[CANCEL_KEY] = ("error", str(exc))


@st.fragment(run_every=POLL)
def live_fragment(db: Database) -> None:
    live_view(db)


def history_frame(runs: Sequence[CrawlRunInfo]) -> pd.DataFrame:
    rows = []
    for r in runs:
        took = r.finished_at - r.started_at if r.finished_at else None
        rows.append(
            {
                "run": r.id,
                "kind": r.kind,
                "status": r.status,
                "started": r.started_at.strftime("%Y-%m-%d %H:%M"),
                "took": _duration(took),
                "breeds": len(r.settings.get("breeds") or r.stats.get("breeds") or []),
                "stored": r.stored,
                "refused": sum(r.refusals.values()),
                "per breed": r.settings.get("per_breed") or ("target" if r.kind == "crawl" else ""),
                "sources": ", ".join(r.settings.get("sources") or []),
                "dog keyword": r.settings.get("dog_keyword", ""),
                "started by": r.settings.get("started_by") or r.settings.get("reviewer") or "",
                "cancelled by": r.settings.get("cancelled_by") or "",
            }
        )
    return pd.DataFrame(rows)


def _duration(took: timedelta | None) -> str:
    if took is None:
        return ""
    seconds = int(took.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def yield_frame(yields: Sequence[BreedYield]) -> pd.DataFrame:
    """Long format: one row per (breed, outcome) — stored, duplicate, and each refusal."""
    rows = []
    for y in yields:
        rows.append({"breed": y.slug, "outcome": "stored", "images": y.stored})
        if y.duplicates:
            rows.append({"breed": y.slug, "outcome": "duplicate", "images": y.duplicates})
        for reason, n in y.refused.items():
            rows.append({"breed": y.slug, "outcome": f"refused: {reason}", "images": n})
    return pd.DataFrame(rows, columns=["breed", "outcome", "images"])


def yield_chart(yields: Sequence[BreedYield]) -> alt.Chart:
    """Per breed, what its candidates became: stored first, then duplicates and refusals."""
    frame = yield_frame(yields)
    order = ["stored", "duplicate", *sorted(o for o in set(frame["outcome"]) if ":" in o)]
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("breed:N", sort="-x", title=None, axis=alt.Axis(labelOverlap=False)),
            x=alt.X("sum(images):Q", title="images", axis=COUNT_AXIS),
            color=alt.Color(
                "outcome:N",
                sort=order,
                scale=alt.Scale(domain=order, range=_colours(len(order))),
                legend=alt.Legend(orient="bottom", columns=3, title=None, labelLimit=220),
            ),
            tooltip=["breed", "outcome", "images"],
        )
        .properties(height=alt.Step(22))  # pixels per breed: every label readable
    )


STORED, DUPLICATE = "#4c78a8", "#bab0ac"  # blue, grey; refusals in warm, distinct colours
REFUSED = ["#e45756", "#f58518", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#d67195",
           "#fcbf5f", "#a4343a", "#e17c05", "#8f6d31", "#c46487"]  # fmt: skip


def _colours(n: int) -> list[str]:
    return [STORED, DUPLICATE, *(REFUSED[i % len(REFUSED)] for i in range(max(0, n - 2)))]


def refusal_chart(refusals: dict[str, int]) -> alt.Chart:
    frame = pd.DataFrame({"reason": list(refusals), "images": list(refusals.values())})
    return (
        alt.Chart(frame)
        .mark_bar(color="#e45756")
        .encode(
            y=alt.Y("reason:N", sort="-x", title=None, axis=alt.Axis(labelLimit=220)),
            x=alt.X("images:Q", title="images refused", axis=COUNT_AXIS),
            tooltip=["reason", "images"],
        )
        .properties(height=alt.Step(22))
    )


def yield_table(yields: Sequence[BreedYield]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "breed": y.slug,
                "needed": y.needed,
                "found": y.found,
                "stored": y.stored,
                "duplicates": y.duplicates,
                "refused": ", ".join(f"{r} {n}" for r, n in y.refused.items()) or "-",
            }
            for y in yields
        ]
    )


def first_run(db: Database) -> None:
    """An empty database: say so, and offer the three ways to get candidates."""
    st.subheader("No candidate images yet", anchor=False)
    st.markdown(
        "There is nothing to review until the database has candidate images. Get some in one of "
        "three ways:\n"
        "- **Top up from here**: crawl the image-search APIs (Openverse, Wikimedia Commons) in "
        "the background until every breed has its target of images (named reviewers);\n"
        f"- {inline_code('breedbench crawl')} in a terminal: the same crawl;\n"
        f"- {inline_code('breedbench import FOLDER')}: images you already have, one folder per "
        "breed."
    )
    reviewer = crawl_reviewer(key="first_run_reviewer")
    top_up_button(db, reviewer, key="first_run_top_up", label="Top up every breed to its target")
    show_message()
    _first_run_fragment(db)


@st.fragment(run_every=POLL)
def _first_run_fragment(db: Database) -> None:
    """The crawl under way; the queue itself as soon as its first images are stored."""
    with db.session() as s:
        if has_candidates(s):
            st.rerun(scope="app")
    live_view(db)
