"""``reviewers``: each reviewer's decisions, pace and overturned votes, and pairwise agreement
(a thin layer over ``review.quality``; the app's Reviewers page shows the same)."""

from __future__ import annotations

import typer
from rich.table import Table

from breedbench.cli.common import console, open_db
from review.quality import reviewer_quality


def reviewers(ctx: typer.Context) -> None:
    """Reviewer quality: decisions, pace, overturned votes, and Cohen's kappa per pair.

    Example: breedbench reviewers
    """
    db = open_db(ctx)
    with db.session() as s:
        report = reviewer_quality(s)
    if not report.reviewers:
        console.print("No decisions recorded yet.")
        return
    table = Table(title=f"{len(report.reviewers)} reviewers")
    columns = (
        "reviewer",
        "decisions",
        "accept",
        "reject",
        "relabel",
        "skip",
        "sittings",
        "pace s",
        "undone",
        "overruled",
        "suspect relabels",
        "overturned",
    )
    for col in columns:
        table.add_column(col, justify="left" if col == "reviewer" else "right")
    for r in report.reviewers:
        rate = "—" if r.overturned_rate is None else f"{r.overturned} ({r.overturned_rate:.0%})"
        pace = "—" if r.median_seconds is None else f"{r.median_seconds:.1f}"
        table.add_row(
            r.reviewer,
            str(r.decisions),
            str(r.accepts),
            str(r.rejects),
            str(r.relabels),
            str(r.skips),
            str(r.sittings),
            pace,
            str(r.undone),
            str(r.overruled),
            str(r.suspect_relabelled),
            rate,
        )
    console.print(table)
    if not report.pairs:
        console.print("No two reviewers have voted on the same image yet.")
        return
    pairs = Table(title="Agreement on the images both voted on")
    for col in ("reviewer A", "reviewer B", "shared", "agree", "kappa"):
        pairs.add_column(col, justify="left" if col.startswith("reviewer") else "right")
    for p in report.pairs:
        kappa = "—" if p.kappa is None else f"{p.kappa:.3f}"
        pairs.add_row(p.a, p.b, str(p.shared), f"{p.agreement:.0%}", kappa)
    console.print(pairs)


def register(app: typer.Typer) -> None:
    app.command()(reviewers)
