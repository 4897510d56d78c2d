"""``review``: start the Streamlit review app on this machine.

The command becomes the Streamlit server (``os.execve``) rather than starting it as a child: there
is one process, so SIGTERM or Ctrl+C reach Streamlit's own handlers and stop the server, and no
orphan keeps serving after the command is gone.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from breedbench.cli.common import console, err_console, open_db
from review import access
from review.identity import ITERATIONS, needs_rehash

APP = Path(__file__).resolve().parents[2] / "curation_app" / "app.py"
# What ``streamlit run`` starts: ``app.py`` inside ``st.App``, with the review copies' file route.
SERVER = APP.with_name("server.py")
MODES = {
    "oidc": "OpenID Connect sign-in",
    "passwords": "password sign-in",
    "open": "no sign-in: any name",
}


def review(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option(
            help="Address to bind; 0.0.0.0 exposes the app (needs sign-in or --allow-open-network)."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8501,
    min_reviews: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Reviewers who must agree before an image is accepted or rejected "
            "[env: BREEDBENCH_MIN_REVIEWS; default 1: the latest decision wins].",
        ),
    ] = None,
    allow_open_network: Annotated[
        bool,
        typer.Option(
            "--allow-open-network",
            help="Serve an app without sign-in on a non-loopback address: anyone who reaches "
            "it reviews under any name.",
        ),
    ] = False,
) -> None:
    """Start the review app (migrates the database first).

    Without sign-in ([auth] or [reviewers] in .streamlit/secrets.toml) it serves 127.0.0.1 only.

    Example: breedbench review --port 8502
    """
    secrets_files = access.secrets_files(APP)
    secrets = access.read_secrets(secrets_files)
    mode = access.access_mode(secrets)
    warning = access.check_bind(host, mode, allow_open_network=allow_open_network)
    db = open_db(ctx)
    settings = db.settings
    env = dict(os.environ)
    env["BREEDBENCH_DATA_DIR"] = str(settings.data_dir.resolve())
    env["BREEDBENCH_DATABASE_URL"] = settings.resolved_database_url()
    env["BREEDBENCH_MIN_REVIEWS"] = str(min_reviews or settings.min_reviews)
    console.print(
        f"Review app on http://{host}:{port} ({MODES[mode]}; "
        f"database {settings.display_database_url()})",
        highlight=False,
        soft_wrap=True,
    )
    for line in [warning, *_password_warnings(secrets, mode)]:
        if line:
            err_console.print(line, highlight=False, soft_wrap=True)
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(SERVER),
        "--server.headless", "true",
        "--server.address", host,
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip
    for path in secrets_files:  # the app reads exactly the secrets checked above
        cmd += ["--secrets.files", path]
    db.dispose()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, cmd, env)


def _password_warnings(secrets: dict[str, object], mode: str) -> list[str]:
    """Password lines to re-create: the app verifies them but cannot rewrite the secrets file."""
    if mode != "passwords":
        return []
    reviewers = access.reviewer_hashes(secrets)
    outdated = sorted(name for name, stored in reviewers.items() if needs_rehash(stored))
    if not outdated:
        return []
    return [
        f"Warning: password hashes of {', '.join(outdated)} are older than {ITERATIONS:,} "
        "PBKDF2 iterations or unreadable: replace each line with the output of "
        "'breedbench reviewer-password NAME'."
    ]


def register(app: typer.Typer) -> None:
    app.command()(review)
