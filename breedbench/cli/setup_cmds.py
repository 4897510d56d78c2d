"""``init``, ``breeds``, ``status`` and ``db upgrade|downgrade|current``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from breedbench.cli.common import console, new_app, open_db
from core.errors import BreedbenchError
from crawler.queries import choose_query, parse_mode
from db import migrate, queries
from db.seed import seed_breeds


def init(ctx: typer.Context) -> None:
    """Create or upgrade the database and seed the 120 breeds. Safe to run again.

    Example: breedbench init
    """
    db = open_db(ctx)
    with db.session() as s:
        added = seed_breeds(s)
        n = queries.totals(s).breeds
    console.print(
        f"Database ready at {db.settings.resolved_database_url()} "
        f"(schema {migrate.head_revision()}): {n} breeds, {added} added."
    )


def breeds(
    ctx: typer.Context,
    slug: Annotated[
        list[str] | None, typer.Option("--breed", help="Only these breeds (slug); repeatable.")
    ] = None,
) -> None:
    """Table of breeds: the query last used, the next crawl's query, and accepted / pending /
    rejected against the target.

    Example: breedbench breeds --breed boxer --breed pug
    """
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
            r.slug, r.query, mode=mode, dog_keyword=r.dog_keyword, flagged=r.flagged
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
        ("database", db.settings.resolved_database_url()),
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


@db_app.command("downgrade")
def db_downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")],
) -> None:
    """Downgrade the schema (``base`` drops every table: all data is lost).

    Example: breedbench db downgrade -1
    """
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
    console.print(f"database: {rev or 'empty'} · code: {head} · {state}")


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(breeds)
    app.command()(status)
    app.add_typer(db_app, name="db")
