"""``export``: the curated set as a folder tree or a manifest, with a datasheet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from breedbench.cli.common import console, open_db
from review.export import ExportFormat, export_dataset


def export(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Folder to write into (created when missing).")],
    fmt: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            help="folders: <breed>/<sha256>.<ext> copies of the originals plus manifest.csv; "
            "csv / jsonl: the manifest only. Each writes DATASHEET.md.",
        ),
    ] = ExportFormat.FOLDERS,
    status: Annotated[
        str, typer.Option(help="Which images: accepted, pending, rejected or all.")
    ] = "accepted",
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Write into a non-empty folder (same-named files are replaced, nothing removed).",
        ),
    ] = False,
) -> None:
    """Export the set with its licenses and a datasheet, in the layout other tools read.

    The folder tree is what Keras' image_dataset_from_directory and `breedbench import` read.

    Example: breedbench export --format folders ./breedbench-testset
    """
    db = open_db(ctx)
    with db.session() as s:
        result = export_dataset(
            s,
            db.store,
            path,
            fmt,
            status=status,
            force=force,
            min_reviews=db.settings.min_reviews,
        )
    console.print(
        f"Exported {result.images} images of {result.breeds} breeds to {result.root} "
        f"({result.files_written} image files written); manifest {result.manifest.name}, "
        f"datasheet {result.datasheet.name}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command()(export)
