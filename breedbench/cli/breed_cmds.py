"""``breeds add|rename|remove|target``: change the breed list of a database with history.

``breedbench breeds`` alone (the group's callback, in ``setup_cmds``) prints the table.
"""

from __future__ import annotations

from typing import Annotated

import typer

from breedbench.cli.common import BreedbenchGroup, console, open_db
from core.errors import BreedbenchError
from db import breed_admin
from db.breed_list import check_entry

breeds_app = typer.Typer(
    cls=BreedbenchGroup,
    help="Breeds: the table (no subcommand), or add, rename, remove and retarget breeds.",
    no_args_is_help=False,
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@breeds_app.command("add")
def breeds_add(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="Folder-safe id: a-z, 0-9, '_' and '-'.")],
    name: Annotated[str, typer.Option("--name", help="Display name (labels match it).")],
    synset: Annotated[
        str | None, typer.Option("--synset", help="WordNet id, e.g. n02085620.")
    ] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="Search query (default: the name).")
    ] = None,
    ambiguous: Annotated[
        bool | None,
        typer.Option(
            "--ambiguous/--not-ambiguous",
            help="The name alone finds other things: search it with the keyword.",
        ),
    ] = None,
    keyword: Annotated[
        str | None,
        typer.Option("--keyword", help="Word added to an ambiguous query (default: dog)."),
    ] = None,
    target: Annotated[int | None, typer.Option("--target", help="Images wanted (50).")] = None,
) -> None:
    """Add a breed to the database's list.

    Example: breedbench breeds add maine_coon --name "Maine Coon" --keyword cat --ambiguous
    """
    entry = check_entry(
        slug,
        name,
        synset=synset,
        query=query,
        ambiguous=ambiguous,
        keyword=keyword,
        target=target,
    )
    db = open_db(ctx)
    with db.session() as s:
        breed = breed_admin.add_breed(s, entry)
        shown = f"{breed.slug} ({breed.name}), query {breed.query!r}, target {breed.target}"
    console.print(f"Added {shown}.", markup=False, highlight=False)


@breeds_app.command("rename")
def breeds_rename(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="The breed's slug now.")],
    new_slug: Annotated[str, typer.Argument(help="Its new slug.")],
    name: Annotated[str | None, typer.Option("--name", help="A new display name too.")] = None,
) -> None:
    """Rename a breed: its images, reviews and evaluation history stay its own.

    Example: breedbench breeds rename walker_hound treeing_walker_coonhound --name "Treeing Walker"
    """
    db = open_db(ctx)
    with db.session() as s:
        breed = breed_admin.rename_breed(s, slug, new_slug, name=name)
        shown = f"{slug} → {breed.slug} ({breed.name})"
    console.print(f"Renamed {shown}.", markup=False, highlight=False)


@breeds_app.command("remove")
def breeds_remove(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="The breed to remove.")],
    with_images: Annotated[
        bool,
        typer.Option(
            "--with-images",
            help="Also remove its images, their reviews, flags and predictions (one "
            "transaction). Without it a breed that has any is refused.",
        ),
    ] = False,
) -> None:
    """Remove a breed; one with images only with --with-images.

    Example: breedbench breeds remove toy_terrier --with-images
    """
    db = open_db(ctx)
    with db.session() as s:
        done = breed_admin.remove_breed(
            s, slug, with_images=with_images, min_reviews=db.settings.min_reviews
        )
    console.print(
        f"Removed {done.slug}: {done.images} images, {done.reviews} review decisions, "
        f"{done.predictions} predictions, {done.flags} flags.",
        markup=False,
        highlight=False,
    )
    if done.rederived:
        console.print(
            f"{done.rederived} images of other breeds lost their votes for {done.slug}; their "
            "status was derived again."
        )
    if done.images:
        console.print("Their files stay in the store until `breedbench fsck --repair`.")


@breeds_app.command("target")
def breeds_target(
    ctx: typer.Context,
    target: Annotated[int, typer.Argument(help="Images wanted per breed.")],
    slugs: Annotated[
        list[str] | None,
        typer.Option("--breed", help="Only these breeds (slug); repeatable. Default: all."),
    ] = None,
) -> None:
    """Set how many images breeds should have (crawls top up to it).

    Example: breedbench breeds target 80 --breed boxer --breed pug
    """
    if target < 0:
        raise BreedbenchError("the target must be 0 or more")
    db = open_db(ctx)
    with db.session() as s:
        n = breed_admin.set_target(s, slugs, target)
    console.print(f"Target {target} set on {n} breed{'s' if n != 1 else ''}.")
