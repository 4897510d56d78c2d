"""``export``: the curated set as a folder tree or a manifest, with a datasheet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from breedbench.cli.common import console, open_db
from review.export import ExportFormat, ExportResult, ImageFormat, export_dataset


def export(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(
            help="Where to write. csv / jsonl: a PATH ending in .csv / .jsonl is the manifest "
            "file (its datasheet beside it as <name>.DATASHEET.md), any other PATH a folder. "
            "folders: a folder (created when missing)."
        ),
    ],
    fmt: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            help="folders: <breed>/<sha256>.<ext> images plus manifest.csv and metadata.jsonl "
            "(Hugging Face imagefolder); csv / jsonl: the manifest only. Each writes a datasheet.",
        ),
    ] = ExportFormat.FOLDERS,
    image_format: Annotated[
        ImageFormat,
        typer.Option(
            "--image-format",
            help="portable: JPEG and PNG copied unchanged, WebP, TIFF, GIF and BMP written as "
            "lossless PNG (first frame, upright), which every loader reads; original: every "
            "file copied unchanged.",
        ),
    ] = ImageFormat.PORTABLE,
    status: Annotated[
        str, typer.Option(help="Which images: accepted, pending, rejected or all.")
    ] = "accepted",
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Write into a non-empty folder (same-named files are replaced, nothing "
            "removed), or replace an existing manifest file and its datasheet.",
        ),
    ] = False,
) -> None:
    """Export the set with its licenses and a datasheet, in the layout other tools read.

    The folder tree is what Keras' image_dataset_from_directory, Hugging Face's imagefolder and
    `breedbench import` read.

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
            image_format=image_format,
        )
    console.print(summary(result), highlight=False, soft_wrap=True)


def summary(result: ExportResult) -> str:
    """One line: what was exported and where each file went."""
    head = f"Exported {result.images} images of {result.breeds} breeds"
    if result.metadata is None:  # a manifest only
        return f"{head}: manifest {result.manifest}, datasheet {result.datasheet}"
    converted = f", {result.converted} converted to PNG" if result.converted else ""
    return (
        f"{head} to {result.root} ({result.files_written} image files written{converted}); "
        f"manifest {result.manifest.name}, Hugging Face metadata {result.metadata.name}, "
        f"datasheet {result.datasheet.name}"
    )


def register(app: typer.Typer) -> None:
    app.command()(export)
