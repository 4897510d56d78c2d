"""``screen`` and ``references``: help for reviewers that never decides for them.

``screen`` runs a model over the pending images (``evaluator.screening``) so the review app can
order its queue by doubt and mark likely non-dogs; ``references`` lists and pins a breed's
canonical reference pictures (``review.references``).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from breedbench.cli.common import console, loads_models, open_db, progress_bar
from core.errors import BreedbenchError
from db.queries import breed_by_slug
from review.decisions import clean_reviewer
from review.references import (
    pin_reference,
    pinned_references,
    reference_strip,
    unpin_reference,
)


@loads_models
def screen(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="NAME:VERSION (or NAME for its newest version).")],
    breed: Annotated[
        list[str] | None,
        typer.Option("--breed", help="Only this breed's pending images (slug; repeatable)."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the first N images (by id).")
    ] = None,
    threads: Annotated[
        int | None, typer.Option("--threads", min=1, help="Inference threads.")
    ] = None,
    batch: Annotated[
        int | None,
        typer.Option("--batch", min=1, help="Largest batch (when the model accepts batches)."),
    ] = None,
) -> None:
    """Screen pending images with a model: a dog score, its top-3 breeds and whether it agrees
    with the claimed breed, for the review app's order and marks (it decides nothing).

    Example: breedbench screen imagenet-mobilenet:1 --breed norfolk_terrier
    """
    from evaluator.screening import screen as run_screening

    db = open_db(ctx)
    with progress_bar() as bar:
        outcome = run_screening(
            db, model, breeds=breed or [], limit=limit, threads=threads, batch=batch, progress=bar
        )
    table = Table(title=f"Screened by {outcome.version.ref}: {outcome.screened} pending images")
    for col in ("breed", "screened", "likely not a dog", "model disagrees"):
        table.add_column(col, justify="left" if col == "breed" else "right")
    for t in outcome.per_breed:
        table.add_row(t.slug, str(t.screened), str(t.likely_not_dog), str(t.disagrees))
    table.add_row("all", str(outcome.screened), str(outcome.likely_not_dog), str(outcome.disagrees))
    console.print(table)
    notes = [f"dog score = the model's {outcome.dog_score}"]
    if outcome.uncovered:
        notes.append(f"{outcome.uncovered} images of breeds the model has no class for")
    if outcome.undecodable:
        notes.append(f"{len(outcome.undecodable)} undecodable images skipped")
    console.print("Note: " + "; ".join(notes) + ".")
    console.print(
        f"Recorded screening #{outcome.run_id} ({outcome.screened / outcome.seconds:.1f} images/s)."
        " The review app can now order the queue by it; evaluating this model on the set will"
        " carry a warning."
    )


def references(
    ctx: typer.Context,
    breed: Annotated[str, typer.Argument(help="Breed slug (see breedbench breeds).")],
    pin: Annotated[
        list[int] | None,
        typer.Option("--pin", metavar="IMAGE_ID", help="Pin this accepted image (repeatable)."),
    ] = None,
    unpin: Annotated[
        list[int] | None,
        typer.Option("--unpin", metavar="IMAGE_ID", help="Unpin this image (repeatable)."),
    ] = None,
    reviewer: Annotated[str, typer.Option(help="Who pins (recorded with the pin).")] = "cli",
) -> None:
    """List a breed's reference pictures (pinned first) and its look-alike breeds; pin or unpin
    accepted images as its canonical references.

    Example: breedbench references norfolk_terrier --pin 812 --reviewer ana
    """
    db = open_db(ctx)
    with db.session() as s:
        found = breed_by_slug(s, breed)
        if found is None:
            raise BreedbenchError(f"unknown breed {breed!r} (see breedbench breeds)")
        name = clean_reviewer(reviewer) if pin else reviewer
        for image_id in unpin or []:
            unpin_reference(s, found.id, image_id)
        for image_id in pin or []:
            pin_reference(s, found.id, image_id, name)
        pins = {p.image_id: p for p in pinned_references(s, found.id)}
        strip = reference_strip(s, found.id)
        title = f"{found.name}: reference pictures"
    table = Table(title=title)
    for col in ("image", "pinned", "by"):
        table.add_column(col, justify="right" if col == "image" else "left")
    for ref in strip.own:
        pin_row = pins.get(ref.image_id)
        table.add_row(
            str(ref.image_id), "yes" if ref.pinned else "", pin_row.pinned_by if pin_row else ""
        )
    console.print(table)
    hidden = [p for p in pins.values() if not p.shown]
    if hidden:
        console.print(
            "Pinned but not shown (no longer accepted, or relabelled): "
            + ", ".join(f"#{p.image_id}" for p in hidden)
        )
    if strip.lookalikes:
        console.print(f"Look-alike breeds ({strip.lookalike_source}):")
        for other in strip.lookalikes:
            ids = ", ".join(f"#{r.image_id}" for r in other.images)
            console.print(f"  {other.slug}: {ids}")
    else:
        console.print("No look-alike breed with accepted images.")


def register(app: typer.Typer) -> None:
    app.command()(screen)
    app.command()(references)
