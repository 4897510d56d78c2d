"""``init``, ``breeds``, ``status``, ``fsck`` and ``db upgrade|downgrade|current``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from breedbench.cli.breed_cmds import breeds_app
from breedbench.cli.common import console, new_app, open_db
from core.errors import BreedbenchError
from crawler.queries import choose_query, parse_mode
from db import crawl_runs, migrate, queries
from db import fsck as store_check
from db.breed_list import add_entries, is_empty, read_breed_csv
from db.seed import seed_breeds


def init(
    ctx: typer.Context,
    breed_list: Annotated[
        Path | None,
        typer.Option(
            "--breeds",
            help="CSV of the breeds (slug,name[,synset,query,ambiguous,keyword,target]) "
            "instead of the 120 Stanford Dogs breeds; see docs/custom-breeds.md.",
        ),
    ] = None,
    keyword: Annotated[
        str | None,
        typer.Option(
            "--keyword",
            help="With --breeds: the word an ambiguous name is searched with, for rows without "
            "their own keyword (default: dog).",
        ),
    ] = None,
) -> None:
    """Create or upgrade the database and seed the 120 breeds (or a --breeds list). Safe to run
    again.

    Example: breedbench init --breeds cats.csv --keyword cat
    """
    if keyword is not None and breed_list is None:
        raise BreedbenchError("--keyword goes with --breeds FILE (the list it applies to)")
    entries = read_breed_csv(breed_list, keyword) if breed_list is not None else None
    db = open_db(ctx)
    with db.session() as s:
        if entries is not None:
            added = add_entries(s, entries)
        elif is_empty(s):  # a new database gets the default list
            added = seed_breeds(s)
        else:
            added = 0
        n = queries.totals(s).breeds
    console.print(
        f"Database ready at {db.settings.display_database_url()} "
        f"(schema {migrate.head_revision()}): {n} breeds, {added} added."
    )


def breeds(
    ctx: typer.Context,
    slug: Annotated[
        list[str] | None, typer.Option("--breed", help="Only these breeds (slug); repeatable.")
    ] = None,
) -> None:
    """Table of breeds: the query last used, the next crawl's query, and accepted / pending /
    rejected against the target. Subcommands change the list.

    Example: breedbench breeds --breed boxer --breed pug
    """
    if ctx.invoked_subcommand is not None:
        return
    db = open_db(ctx)
    with db.session() as s:
        rows = queries.breed_counts(s, slug)
    unknown = sorted(set(slug or []) - {r.slug for r in rows})
    if unknown:
        raise BreedbenchError(
            f"unknown breed slug(s): {', '.join(unknown)} (see `breedbench breeds` for the list)"
        )
    mode = parse_mode(db.settings.crawl_dog_keyword)
    table = Table(title=f"{len(rows)} breeds")
    for col, just in [
        ("breed", "left"),
        ("synset", "left"),
        ("query used", "left"),
        ("next crawl", "left"),
        ("accepted", "right"),
        ("pending", "right"),
        ("rejected", "right"),
        ("target", "right"),
    ]:
        table.add_column(col, justify=just, no_wrap=col in ("breed", "synset"))  # type: ignore[arg-type]
    for r in rows:
        planned = choose_query(
            r.slug,
            r.query,
            mode=mode,
            dog_keyword=r.dog_keyword,
            flagged=r.flagged,
            ambiguous=r.ambiguous,
            keyword=r.keyword,
        )
        table.add_row(
            r.slug,
            r.synset or "",
            r.last_query or "",
            planned.query + (" (flagged)" if r.flagged else ""),
            str(r.accepted),
            str(r.pending),
            str(r.rejected),
            str(r.target),
        )
    console.print(table)


def status(ctx: typer.Context) -> None:
    """Totals: breeds, images by status, reviews and reviewers.

    Example: breedbench status
    """
    db = open_db(ctx)
    with db.session() as s:
        t = queries.totals(s)
    table = Table(title="breedbench status", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, value in [
        ("database", db.settings.display_database_url()),
        ("breeds", t.breeds),
        ("images", t.images),
        ("accepted", f"{t.accepted} of {t.target} targeted"),
        ("pending", t.pending),
        ("rejected", t.rejected),
        ("review decisions", t.reviews),
        ("reviewers", t.reviewers),
    ]:
        table.add_row(label, str(value))
    console.print(table)


FSCK_EXAMPLES = 3  # problem paths shown per kind


def fsck(
    ctx: typer.Context,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Remove orphan and temporary files, make missing thumbnails again. Never "
            "deletes a row, nor an original a row refers to.",
        ),
    ] = False,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="Compare file sizes instead of hashing every original, and skip SQLite's "
            "check of the database file (faster).",
        ),
    ] = False,
) -> None:
    """Check the image store against the database: orphan files, rows without files, hash
    mismatches, missing thumbnails, leftover temporary files. Exit code 1 while problems remain.
    Crawl runs left running by a process that is gone (killed) are marked interrupted.

    Example: breedbench fsck --repair
    """
    db = open_db(ctx)
    with db.session() as s:  # a run whose process is gone will never end by itself
        reaped = crawl_runs.reap_dead_runs(s)
    for run in reaped:
        console.print(
            f"{run.kind.capitalize()} run {run.run_id} was left running {run.where}, which is "
            "gone: marked interrupted (the images it stored are kept).",
            soft_wrap=True,
        )
    with db.session() as s:
        report = store_check.check_store(s, db.store, repair=repair, verify=not quick)
    checked = f"{report.verified} originals hashed" if not quick else "sizes compared"
    console.print(
        f"store {report.store}: {report.files} files, {report.rows} image rows, {checked}."
    )
    if report.recent:
        console.print(
            f"{report.recent} unreferenced files written in the last "
            f"{store_check.GRACE_SECONDS / 60:.0f} minutes were left alone (a crawl or an import "
            "may be writing them)."
        )
    if not report.problems:
        console.print("No problems found.")
        return
    table = Table(title="problems")
    table.add_column("problem")
    for col in ("found", "repaired", "left"):
        table.add_column(col, justify="right")
    table.add_column("examples")
    for kind, problems in report.by_kind().items():
        left = [p for p in problems if not p.repaired]
        shown = (left or problems)[:FSCK_EXAMPLES]
        table.add_row(
            kind.value,
            str(len(problems)),
            str(len(problems) - len(left)),
            str(len(left)),
            "\n".join(p.path + (f" ({p.detail})" if p.detail else "") for p in shown),
        )
    console.print(table)
    remaining = report.by_kind_remaining()
    for kind, left in remaining.items():
        console.print(f"{kind.value} ({len(left)}): {kind.advice}")
    if remaining:
        repairable = sum(len(v) for k, v in remaining.items() if k.repairable and not repair)
        hint = " (run with --repair)" if repairable else ""
        n = sum(len(v) for v in remaining.values())
        console.print(f"{n} problem{'s' if n != 1 else ''} left{hint}.")
        raise typer.Exit(1)
    console.print("All problems repaired.")


db_app = new_app("Database schema: upgrade, downgrade, current revision.")


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Upgrade the schema (to the newest by default).

    Example: breedbench db upgrade
    """
    db = open_db(ctx, upgrade=False)
    migrate.upgrade(db.engine, revision)
    console.print(f"schema at {migrate.current_revision(db.engine)}")


# "-1" reads as an unknown short option to Click: the command lets unknown options through as
# its argument, and accepts only a negative number among them (alembic's relative revision).
_RELATIVE = re.compile(r"-\d+")


@db_app.command("downgrade", context_settings={"ignore_unknown_options": True})
def db_downgrade(
    ctx: typer.Context,
    revision: Annotated[
        str, typer.Argument(help="Target revision: -1 (one back), -2, ..., an id, or base.")
    ],
) -> None:
    """Downgrade the schema (``base`` drops every table: all data is lost).

    Example: breedbench db downgrade -1
    """
    if revision.startswith("-") and not _RELATIVE.fullmatch(revision):
        raise typer.BadParameter(
            f"{revision!r} is not a revision (e.g. -1, base or a revision id)",
            param_hint="REVISION",
        )
    db = open_db(ctx, upgrade=False)
    migrate.downgrade(db.engine, revision)
    console.print(f"schema at {migrate.current_revision(db.engine) or 'base (empty)'}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Print the schema revision of the database and the newest this breedbench knows.

    Example: breedbench db current
    """
    db = open_db(ctx, upgrade=False)
    rev = migrate.check_not_newer(db.engine)
    head = migrate.head_revision()
    state = "up to date" if rev == head else "needs upgrade"
    console.print(f"database: {rev or 'empty'} · code: {head} · {state}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(init)
    breeds_app.callback(invoke_without_command=True)(breeds)
    app.add_typer(breeds_app, name="breeds")
    app.command()(status)
    app.command()(fsck)
    app.add_typer(db_app, name="db")
