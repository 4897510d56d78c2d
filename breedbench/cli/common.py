"""What every subcommand shares: the global options, opening the database, the consoles, the
progress bar.

Subcommands are thin: they read their flags, open the database through ``open_db`` and call one
function of ``crawler``, ``db``, ``review`` or ``evaluator`` (``breedbench review`` instead becomes
the Streamlit server of ``curation_app``). A ``BreedbenchError`` anywhere below becomes
``Error: <message>`` and exit code 1, never a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from typer.core import TyperGroup

from breedbench.cli.quiet import native_stderr
from core.errors import BreedbenchError
from core.settings import Settings, load_settings
from db.database import Database, open_database
from evaluator.progress import ProgressSink


def make_console(**options: Any) -> Console:
    """A Rich console for the CLI's output: every one is made here.

    Names printed here come from outside (reviewers, model names, breed files, the network): Rich
    markup and emoji codes are off, so `bo[/i]` prints as itself instead of crashing the command
    after its work is done. Styling goes through Rich objects (Text, Table), never markup strings.
    Passing ``markup`` or ``emoji`` is a TypeError: the rule has no exceptions.

    Sentences are not cut into lines (``soft_wrap``): the terminal wraps them where it is
    narrow, and output piped to a file or ``grep`` keeps each message on one line. Tables still
    fit the console's width.
    """
    options.setdefault("soft_wrap", True)
    return Console(**options, markup=False, emoji=False)


console = make_console()
err_console = make_console(stderr=True)


class BreedbenchGroup(TyperGroup):
    """Turns ``BreedbenchError`` raised by any subcommand into a one-line error and exit 1."""

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except BreedbenchError as exc:
            print_error(exc)
            raise typer.Exit(1) from None


def print_error(exc: BreedbenchError) -> None:
    """The one-line ``Error: <message>`` every command ends with on bad input."""
    err_console.print(f"Error: {exc}", highlight=False, soft_wrap=True)


def new_app(help: str) -> typer.Typer:  # noqa: A002 - Typer's own keyword
    return typer.Typer(
        cls=BreedbenchGroup,
        help=help,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )


VerboseOption = Annotated[
    bool,
    typer.Option(
        "--verbose",
        help="Show TensorFlow's, absl's and LiteRT's own log lines (silenced otherwise, unless "
        "TF_CPP_MIN_LOG_LEVEL is set).",
    ),
]
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database: a SQLite file path or any SQLAlchemy URL "
        "[env: BREEDBENCH_DATABASE_URL; default: <data dir>/breedbench.db].",
        show_default=False,
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data directory: image store, default database, model files "
        "[env: BREEDBENCH_DATA_DIR; default: ./breedbench-data].",
        show_default=False,
    ),
]


def database_url_from_flag(value: str | None) -> str | None:
    """``--db`` takes a URL or a plain file path (then SQLite)."""
    if value is None or "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def make_settings(db: str | None, data_dir: Path | None) -> Settings:
    return load_settings(database_url=database_url_from_flag(db), data_dir=data_dir)


def settings_of(ctx: typer.Context) -> Settings:
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = load_settings()
    return root.obj


def open_db(ctx: typer.Context, *, upgrade: bool = True) -> Database:
    """The database for this invocation, upgraded to the current schema."""
    db = open_database(settings_of(ctx), upgrade=upgrade)
    ctx.call_on_close(db.dispose)
    return db


@contextmanager
def progress_bar() -> Iterator[ProgressSink]:
    """A progress bar (images, rate, time left) on stderr, fed by the evaluator's progress."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("{task.description}", markup=False),  # the description names a model
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=make_console(stderr=True),
        transient=True,
    )

    class _Sink:
        task: Any = None

        def start(self, total: int, description: str) -> None:
            bar.start()  # only now: an error before the first image prints no empty bar
            self.task = bar.add_task(description, total=total)

        def advance(self, n: int) -> None:
            bar.advance(self.task, n)

    sink = _Sink()
    try:
        yield sink
    finally:
        if sink.task is not None:
            bar.stop()


P = ParamSpec("P")
R = TypeVar("R")


def loads_models(command: Callable[P, R]) -> Callable[P, R]:
    """For a command that loads TensorFlow or LiteRT: their native log lines are filtered out
    while it runs (``quiet.native_stderr``), and what mattered among them is said after it, in
    breedbench's words."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        notes: list[str] = []
        try:
            with native_stderr() as lines:
                notes = lines.notes
                return command(*args, **kwargs)
        finally:
            for note in notes:
                err_console.print(f"Note: {note}.", highlight=False, soft_wrap=True)

    return run
