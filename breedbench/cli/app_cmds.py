"""``review``: start the Streamlit review app on this machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from breedbench.cli.common import console, open_db

APP = Path(__file__).resolve().parents[2] / "curation_app" / "app.py"


def review(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to bind; 0.0.0.0 exposes the app.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
    min_reviews: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Reviewers who must agree before an image is accepted or rejected "
            "[env: BREEDBENCH_MIN_REVIEWS; default 1: the latest decision wins].",
        ),
    ] = None,
) -> None:
    """Start the review app (migrates the database first).

    Example: breedbench review --port 8502
    """
    db = open_db(ctx)
    settings = db.settings
    env = dict(os.environ)
    env["BREEDBENCH_DATA_DIR"] = str(settings.data_dir.resolve())
    env["BREEDBENCH_DATABASE_URL"] = settings.resolved_database_url()
    env["BREEDBENCH_MIN_REVIEWS"] = str(min_reviews or settings.min_reviews)
    console.print(f"Review app on http://{host}:{port} (database {env['BREEDBENCH_DATABASE_URL']})")
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.headless", "true",
        "--server.address", host,
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip
    try:
        raise typer.Exit(subprocess.call(cmd, env=env))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def register(app: typer.Typer) -> None:
    app.command()(review)
