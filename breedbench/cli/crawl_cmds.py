"""``crawl``, ``import`` and ``leakcheck``: getting candidate images in, and keeping leaks out."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.live import Live
from rich.table import Table

from breedbench.cli.common import console, err_console, open_db
from core.errors import BreedbenchError
from db.hashing import NEAR_DUPLICATE_DISTANCE
from db.image_dates import parse_cutoff, parse_unknown

if TYPE_CHECKING:  # Scrapy is imported when a crawl runs, not on every `breedbench` start
    from crawler.jobs import BreedJob
    from crawler.progress import CrawlProgressFile
    from crawler.runner import CrawlReport

LIVE_ROWS = 12


def _refused_text(refused: dict[str, int]) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in refused.items()) or "-"


def progress_table(jobs: list[BreedJob]) -> Table:
    """Live view: totals, then the breeds being crawled right now."""
    stored = sum(j.stored for j in jobs)
    needed = sum(j.needed for j in jobs)
    done = sum(1 for j in jobs if j.done)
    table = Table(
        title=f"crawling: {stored}/{needed} images stored, {done}/{len(jobs)} breeds done",
        title_justify="left",
    )
    for col in ("breed", "stored", "found", "refused", "query"):
        table.add_column(col, justify="right" if col in ("stored", "found") else "left")
    active = [j for j in jobs if not j.done and (j.found or j.searching)]
    for j in active[:LIVE_ROWS]:
        table.add_row(
            j.slug,
            f"{j.stored}/{j.needed}",
            str(j.found),
            str(sum(j.refused.values())),
            j.choice.query,
        )
    if len(active) > LIVE_ROWS:
        table.add_row(f"… {len(active) - LIVE_ROWS} more", "", "", "", "")
    return table


def report_table(report: CrawlReport) -> Table:
    table = Table(title=f"crawl run {report.run_id}: {report.status}", title_justify="left")
    for col, just in [
        ("breed", "left"),
        ("found", "right"),
        ("stored", "right"),
        ("needed", "right"),
        ("duplicates", "right"),
        ("refused", "left"),
        ("query", "left"),
    ]:
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for j in report.jobs:
        query = j.choice.query + (" (fallback)" if j.fell_back else "")
        table.add_row(
            j.slug,
            str(j.found),
            str(j.stored),
            str(j.needed),
            str(j.duplicates),
            _refused_text(j.refused_other),
            query,
        )
    return table


def crawl(
    ctx: typer.Context,
    breed: Annotated[
        list[str] | None, typer.Option("--breed", help="Only this breed (slug); repeatable.")
    ] = None,
    per_breed: Annotated[
        int | None,
        typer.Option(
            "--per-breed",
            help="Top each breed up to N pending + accepted images [default: its target, 50].",
            show_default=False,
        ),
    ] = None,
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            help="openverse, wikimedia or flickr; repeatable "
            "[env: BREEDBENCH_CRAWL_SOURCES; default: openverse and wikimedia].",
            show_default=False,
        ),
    ] = None,
    dog_keyword: Annotated[
        str | None,
        typer.Option(
            "--dog-keyword",
            help="auto (ambiguous names, too few results, reviewer flags), always or never "
            "[env: BREEDBENCH_CRAWL_DOG_KEYWORD; default: auto].",
            show_default=False,
        ),
    ] = None,
    min_size: Annotated[
        int | None,
        typer.Option(
            "--min-size",
            help="Refuse images whose short side is below PX "
            "[env: BREEDBENCH_CRAWL_MIN_SIDE; default: 128].",
            show_default=False,
        ),
    ] = None,
    uploaded_after: Annotated[
        str | None,
        typer.Option(
            "--uploaded-after",
            metavar="DATE",
            help="Keep only images that provably appeared at or after DATE (YYYY-MM-DD, UTC, or "
            "an ISO date-time): Flickr filters at the API, other results by the dates they "
            "carry; refusals count as refused/too_old and refused/date_unknown.",
        ),
    ] = None,
    unknown_date: Annotated[
        str,
        typer.Option(
            "--unknown-date",
            metavar="keep|drop",
            help="With --uploaded-after: keep or drop images whose upload date no source "
            "states (Openverse results, whose indexed_on only bounds it from above).",
        ),
    ] = "drop",
    progress_file: Annotated[
        Path | None,
        typer.Option(
            "--progress-file",
            help="Also keep the progress (run id, each breed's tallies), then the outcome, in "
            'this JSON file ("status", and "error" when it failed).',
        ),
    ] = None,
    stop_with_parent: Annotated[
        int | None,
        typer.Option(
            "--stop-with-parent",
            metavar="PID",
            hidden=True,
            help="Stop (as Ctrl-C does) when process PID, which started this one, exits; the "
            "app's background crawls pass their own pid.",
        ),
    ] = None,
    started_by: Annotated[
        str | None,
        typer.Option(
            "--started-by",
            metavar="NAME",
            help="Who started the crawl, recorded with the run (the app passes the reviewer).",
        ),
    ] = None,
) -> None:
    """Crawl the image-search APIs until each breed has its images (pending + accepted).

    Rejected images do not count, so running it again after a review round tops breeds up.
    Ctrl-C stops cleanly; the next crawl continues where this one stopped. One crawl at a time
    per database: a second one is refused, naming the one running.

    Example: breedbench crawl --breed boxer --breed pug --per-breed 20
    """
    parse_unknown(unknown_date)  # bad values stop before anything is opened
    cutoff = parse_cutoff(uploaded_after) if uploaded_after else None
    from crawler.progress import CrawlProgressFile

    job = None if progress_file is None else CrawlProgressFile(progress_file)
    if stop_with_parent is not None:
        from core.lifeline import stop_with_parent as watch_parent

        watch_parent(stop_with_parent)
    try:
        _crawl(
            ctx, breed, per_breed, source, dog_keyword, min_size, started_by, job, cutoff,
            unknown_date,
        )  # fmt: skip
    except KeyboardInterrupt:
        if job is not None:
            job.outcome("interrupted")
        raise
    except Exception as exc:
        if job is not None:  # the app reads why from the file; the output says it too
            job.outcome("failed", error=str(exc) if isinstance(exc, BreedbenchError) else repr(exc))
        raise


def _crawl(
    ctx: typer.Context,
    breed: list[str] | None,
    per_breed: int | None,
    source: list[str] | None,
    dog_keyword: str | None,
    min_size: int | None,
    started_by: str | None,
    job: CrawlProgressFile | None,
    cutoff: datetime | None,
    unknown_date: str,
) -> None:
    db = open_db(ctx)
    if not db.settings.contact:
        err_console.print(
            "Warning: BREEDBENCH_CONTACT is not set; API operators ask for a contact in the "
            "User-Agent.",
            markup=False,
        )
    from crawler.runner import CrawlControl, CrawlOptions, run_crawl

    options = CrawlOptions(
        breeds=breed or None,
        per_breed=per_breed,
        sources=source or None,
        dog_keyword=dog_keyword,
        min_size=min_size,
        uploaded_after=cutoff,
        unknown_date=unknown_date,
        started_by=(started_by or "").strip() or None,
    )
    control = CrawlControl(
        on_stop=lambda: err_console.print(
            "Stopping: finishing the images in hand (Ctrl-C again to quit at once).",
            markup=False,
        )
    )
    jobs_view: list[BreedJob] = []

    def on_progress(changed: BreedJob) -> None:
        if not jobs_view and control.context is not None:
            jobs_view.extend(control.context.jobs.values())
        if job is not None and control.context is not None:
            job.update(control.context.run_id, jobs_view)

    with Live(
        get_renderable=lambda: progress_table(jobs_view),
        console=console,
        refresh_per_second=4,
        transient=True,
    ):
        report = run_crawl(db, options, on_progress=on_progress, control=control)
    if job is not None:
        job.update(report.run_id, report.jobs, force=True)
    for name, why in report.disabled_sources.items():
        if name not in report.sources:  # turned off before the crawl (no key, ...)
            err_console.print(f"Note: source {name} did not run: {why}", markup=False)
    if not report.jobs:
        console.print("Every selected breed already has its images; nothing to crawl.")
        if job is not None:
            job.outcome(str(report.status), run_id=report.run_id)
        return
    console.print(report_table(report))
    stored = sum(j.stored for j in report.jobs)
    console.print(
        f"{stored} images stored in crawl run {report.run_id} ({report.status}).", soft_wrap=True
    )
    _report_sources(report)
    if job is not None:  # last: whoever reads the outcome there finds the output complete
        console.file.flush()
        job.outcome(str(report.status), run_id=report.run_id)


def _report_sources(report: CrawlReport) -> None:
    """Say how the sources fared; a crawl that reached none of them fails (exit code 1).

    ``partial`` (a source failed, another answered) exits 0 with a warning: the images found are
    stored and a later crawl tops the breeds up.
    """
    from core.errors import BreedbenchError
    from db.models import RunStatus

    failed = report.failed_sources
    if report.status == RunStatus.FAILED and failed:
        named = "; ".join(f"{name}: {why}" for name, why in failed.items())
        raise BreedbenchError(f"crawl run {report.run_id} failed, no source could be used: {named}")
    for name, why in failed.items():
        err_console.print(f"Warning: source {name} failed: {why}", markup=False, soft_wrap=True)
    for name, why in report.budget_stops.items():
        err_console.print(f"Warning: source {name} stopped: {why}", markup=False, soft_wrap=True)
    for name, health in report.sources.items():
        if name not in failed and (health["pages_bad"] or health["results_bad"]):
            err_console.print(
                f"Note: source {name}: {health['pages_bad']} unreadable result pages and "
                f"{health['results_bad']} malformed results skipped (see the log and the "
                f"stats of crawl run {report.run_id}).",
                markup=False,
                soft_wrap=True,
            )
    if report.status == RunStatus.PARTIAL:
        err_console.print(
            f"Warning: crawl run {report.run_id} is partial: {', '.join(failed)} failed (see "
            "above), so some breeds were not searched everywhere. Run `breedbench crawl` again "
            "once it answers to top them up.",
            markup=False,
            soft_wrap=True,
        )


def import_(
    ctx: typer.Context,
    root: Annotated[Path, typer.Argument(help="Folder with one sub-folder per breed.")],
    accept: Annotated[
        bool, typer.Option("--accept", help="Record an accept decision for every image.")
    ] = False,
    reviewer: Annotated[
        str | None, typer.Option("--reviewer", help="Whose accept decisions (with --accept).")
    ] = None,
    min_size: Annotated[
        int | None,
        typer.Option("--min-size", help="Refuse images whose short side is below PX.", min=1),
    ] = None,
) -> None:
    """Import ROOT/<breed>/* (slug or Stanford n02085620-Chihuahua folders), validated and
    deduplicated like crawled images.

    Links that lead outside ROOT and files over the size limit are refused. Each image is
    stored whole (files, row, decision) or not at all: after Ctrl-C, run it again to import
    the rest.

    Example: breedbench import ./vetted --accept --reviewer alice
    """
    from crawler.importer import DUPLICATE_OUTCOMES, import_folder

    db = open_db(ctx)
    try:
        report = import_folder(db, root, accept=accept, reviewer=reviewer, min_side=min_size)
    except KeyboardInterrupt:
        err_console.print(
            "Import interrupted: every image imported so far is complete, none is half-stored. "
            "Run the same command again to import the rest.",
            markup=False,
        )
        raise typer.Exit(130) from None
    table = Table(title=f"import run {report.run_id}", title_justify="left")
    for col in ("breed", "stored", "duplicates", "refused"):
        table.add_column(col, justify="left" if col in ("breed", "refused") else "right")
    for slug, counts in report.counts.items():
        refused = {
            k: v for k, v in sorted(counts.items()) if k != "stored" and k not in DUPLICATE_OUTCOMES
        }
        dups = sum(counts[r] for r in DUPLICATE_OUTCOMES)
        table.add_row(slug, str(counts["stored"]), str(dups), _refused_text(refused))
    console.print(table)
    for name in report.unknown_folders:
        err_console.print(f"Skipped folder {name!r}: no breed with that slug or synset.")
    summary = f"{report.total('stored')} images imported"
    if accept:
        summary += f", {report.accepted} accepted by {reviewer}"
    console.print(summary + ".", soft_wrap=True)


def leakcheck(
    ctx: typer.Context,
    reference: Annotated[
        Path,
        typer.Option(
            "--reference", help="Reference (training) images, e.g. Stanford Dogs Images/."
        ),
    ],
    distance: Annotated[
        int,
        typer.Option(
            "--distance",
            help="Largest pHash Hamming distance that counts as a match (0-64).",
            min=0,
            max=64,
        ),
    ] = NEAR_DUPLICATE_DISTANCE,
) -> None:
    """Flag every stored image that near-matches a reference image (a training-set leak).

    Example: breedbench leakcheck --reference ~/datasets/stanford-dogs/Images
    """
    from crawler.leakcheck import leakcheck as run_leakcheck

    db = open_db(ctx)
    report = run_leakcheck(
        db, reference, max_distance=distance, on_stage=lambda m: err_console.print(m)
    )
    if report.leaks:
        table = Table(title=f"{len(report.leaks)} leaks", title_justify="left")
        for col in ("image", "breed", "reference", "distance"):
            table.add_column(col)
        for leak in report.leaks:
            table.add_row(str(leak.image_id), leak.breed, leak.reference, str(leak.distance))
        console.print(table)
    new = sum(1 for leak in report.leaks if leak.new)
    console.print(
        f"Checked {report.checked} images against {report.reference_hashed} reference images "
        f"({report.reference_files - report.reference_hashed} unreadable): "
        f"{len(report.leaks)} leaks, {new} newly flagged.",
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command()(crawl)
    app.command("import")(import_)
    app.command()(leakcheck)
