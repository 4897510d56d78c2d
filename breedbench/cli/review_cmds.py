"""``decide`` and ``reviewer-password``: the review app's decisions from a script, and its logins.

``decide`` goes through the same function as the app's buttons (``review.decisions``), so
a scripted decision is validated, appended and undoable exactly like a click.
"""

from __future__ import annotations

import enum
import json
from collections import Counter
from typing import Annotated

import typer

from breedbench.cli.common import console, open_db
from core.errors import BreedbenchError
from db.queries import breed_by_slug
from review.decisions import REJECT_REASONS, decide_many, pending_image_ids
from review.identity import hash_password


class Verdict(enum.StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"


def decide(
    ctx: typer.Context,
    verdict: Annotated[Verdict, typer.Argument(help="accept or reject.")],
    image_ids: Annotated[list[int] | None, typer.Argument(help="Image ids.")] = None,
    reviewer: Annotated[str, typer.Option(help="Who decides (recorded with each row).")] = "",
    reason: Annotated[
        str | None,
        typer.Option(help="Reject reason: " + ", ".join(REJECT_REASONS) + "."),
    ] = None,
    breed: Annotated[str | None, typer.Option(help="Breed slug (with --all-pending).")] = None,
    all_pending: Annotated[
        bool, typer.Option("--all-pending", help="Every pending image of --breed.")
    ] = False,
    min_reviews: Annotated[
        int | None,
        typer.Option(min=1, help="Reviewers who must agree [env: BREEDBENCH_MIN_REVIEWS]."),
    ] = None,
) -> None:
    """Record accept/reject decisions as the review app does (all of them, or none).

    Example: breedbench decide --reviewer ana reject --reason not_a_dog 12 15
    """
    if not reviewer.strip():
        raise BreedbenchError("--reviewer is required: the name recorded with each decision")
    if all_pending and not breed:
        raise BreedbenchError("--all-pending needs --breed SLUG")
    if breed and not all_pending:
        raise BreedbenchError("--breed only works with --all-pending")
    if all_pending and image_ids:
        raise BreedbenchError("give image ids or --breed SLUG --all-pending, not both")
    if not all_pending and not image_ids:
        raise BreedbenchError("no images: give image ids or --breed SLUG --all-pending")
    if reason and verdict == Verdict.ACCEPT:
        raise BreedbenchError("--reason is for reject decisions")
    db = open_db(ctx)
    k = min_reviews or db.settings.min_reviews
    with db.session() as s:
        if all_pending:
            found = breed_by_slug(s, breed or "")
            if found is None:
                raise BreedbenchError(f"unknown breed {breed!r} (see breedbench breeds)")
            ids = pending_image_ids(s, found.id)
        else:
            ids = list(dict.fromkeys(image_ids or []))
        results = decide_many(s, ids, reviewer, verdict.value, reason=reason, min_reviews=k)
    statuses = Counter(r.status for r in results)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())) or "none"
    console.print(
        f"Recorded {len(results)} {verdict.value} decision(s) by {reviewer.strip()}: now {summary}."
    )


def reviewer_password(
    name: Annotated[str, typer.Argument(help="Reviewer name.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Print the secrets.toml line that lets NAME sign in to the review app with a password.

    Example: breedbench reviewer-password ana >> .streamlit/secrets.toml  (under [reviewers])
    """
    if len(password) < 8:
        raise BreedbenchError("choose a password of at least 8 characters")
    line = f"{json.dumps(name.strip())} = {json.dumps(hash_password(password))}"
    console.print(line, highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(decide)
    app.command("reviewer-password")(reviewer_password)
