"""Running ``breedbench`` in the test's process, as a user types it.

``cli(db, ...)`` puts ``--db`` and ``--data-dir`` of a test database in front; ``invoke(...)``
runs the arguments as given. A command that raises anything but its exit is a crash the test
reports with its own traceback (``catch_exceptions=False``); every expected failure ends in an
exit code and the output the user reads.
"""

from __future__ import annotations

from typing import NamedTuple

from typer.testing import CliRunner

from breedbench.cli import app, common
from db.database import Database
from tests.fixtures.evaluation import EvalSet


class Outcome(NamedTuple):
    """What the user sees: the exit code and everything printed (stdout and stderr)."""

    exit_code: int
    output: str


def db_args(db: Database | EvalSet) -> list[str]:
    """``--db URL --data-dir DIR`` of a test database (or of an evaluation set's)."""
    settings = (db.db if isinstance(db, EvalSet) else db).settings
    return ["--db", settings.resolved_database_url(), "--data-dir", str(settings.data_dir)]


def invoke(*args: object, stdin: str | None = None, width: int | None = None) -> Outcome:
    """``breedbench ARGS``; ``stdin`` is what is typed at prompts, ``width`` the console's
    columns (80 otherwise, as in a pipe)."""
    runner = CliRunner(env={"COLUMNS": str(width)} if width else None)
    # The CLI's consoles are made at import; whatever COLUMNS said then (a worker process, an
    # earlier test), this call prints at the width asked for.
    saved = [(c, c._width) for c in (common.console, common.err_console)]
    for c, _ in saved:
        c.width = width or 80
    try:
        result = runner.invoke(
            app,
            [str(a) for a in args],
            input=stdin,
            catch_exceptions=False,
            terminal_width=width,
        )
    finally:
        for c, old in saved:
            c._width = old
    return Outcome(result.exit_code, result.output)


def cli(
    db: Database | EvalSet, *args: object, stdin: str | None = None, width: int | None = None
) -> Outcome:
    """``breedbench --db URL --data-dir DIR ARGS`` on a test database."""
    return invoke(*db_args(db), *args, stdin=stdin, width=width)
