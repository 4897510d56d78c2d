"""``suspects``: accepted images whose label the recorded evaluation runs disagree with.

A thin layer over ``review.suspects``: the ranking, and ``--send-back`` to return the worst to
the review queue as audited decisions.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from breedbench.cli.common import console, open_db
from core.errors import BreedbenchError
from review.suspects import SuspectList, rank_suspects, send_back_suspects


def suspects(
    ctx: typer.Context,
    model: Annotated[
        str | None, typer.Option(help="Only this model's runs: NAME or NAME:VERSION.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many to list.")] = 20,
    send_back: Annotated[
        int | None,
        typer.Option(
            "--send-back", min=1, help="Return the top N to the review queue (needs --reviewer)."
        ),
    ] = None,
    reviewer: Annotated[str, typer.Option(help="Who sends them back (recorded).")] = "",
) -> None:
    """Rank accepted images by how strongly the models' runs disagree with their label.

    Each model version's latest run votes; versions of one lineage (a model and the versions
    converted from it) count once. Score = 1 − the averaged probability of the label.

    Example: breedbench suspects --limit 30; breedbench suspects --send-back 10 --reviewer ana
    """
    if send_back is not None and not reviewer.strip():
        raise BreedbenchError("--send-back needs --reviewer: the name recorded with each decision")
    db = open_db(ctx)
    with db.session() as s:
        found = rank_suspects(s, model=model, limit=max(limit, send_back or 0))
    _print(found, limit)
    if send_back is not None:
        with db.session() as s:
            sent = send_back_suspects(s, reviewer, send_back, model=model)
        listed = ", ".join(f"#{i}" for i in sent) or "none"
        console.print(
            f"Sent {len(sent)} image(s) back to the review queue as suspected label errors: "
            f"{listed}."
        )


def _print(found: SuspectList, limit: int) -> None:
    if found.runs_without_probs:
        console.print(
            f"{found.runs_without_probs} run(s) recorded before probabilities were kept are not "
            "used: evaluate those versions again to include them."
        )
    if not found.suspects:
        console.print(
            "No suspects: no accepted image has a prediction with stored probabilities"
            + (f" ({found.hidden_kept} kept by reviewers)." if found.hidden_kept else ".")
        )
        return
    table = Table(
        title=f"Suspected label errors: {min(limit, len(found.suspects))} of "
        f"{found.images_scored} images, {found.versions} versions in {found.lineages} lineages"
    )
    for col in ("image", "label", "score", "p(label)", "votes", "top predicted breeds"):
        table.add_column(
            col, justify="right" if col in ("image", "score", "p(label)", "votes") else "left"
        )
    for x in found.suspects[:limit]:
        top = ", ".join(f"{p.slug} {p.probability:.0%}" for p in x.top)
        table.add_row(
            str(x.image_id),
            x.breed_slug,
            f"{x.score:.3f}",
            f"{x.label_probability:.3f}",
            str(x.votes),
            top,
        )
    console.print(table)
    if found.hidden_kept:
        console.print(f"{found.hidden_kept} kept image(s) hidden until new runs raise their score.")


def register(app: typer.Typer) -> None:
    app.command()(suspects)
