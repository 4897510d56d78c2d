"""``models add|list``, ``evaluate``, ``history``, ``report`` and ``compare``."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from breedbench.cli.common import (
    console,
    err_console,
    new_app,
    open_db,
    print_error,
    progress_bar,
)
from core.errors import BreedbenchError
from evaluator import report as report_mod
from evaluator.compare import compare_runs
from evaluator.progress import FileProgress, ProgressTee
from evaluator.registry import get_version, list_versions, register_model
from evaluator.results import RunSummary, TopK, get_run, list_runs
from evaluator.spec import load_spec, preset_names

models_app = new_app("Register model versions and list them.")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _signed(x: float) -> str:
    return f"{100 * x:+.1f}"


@models_app.command("add")
def models_add(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="Model file: .pb, .tflite/.lite, .keras, or a SavedModel folder.")
    ],
    name: Annotated[str, typer.Option("--name", help="Model family, e.g. inception-breeds.")],
    version: Annotated[str, typer.Option("--version", help="Version label, e.g. 1.0-int8.")],
    spec: Annotated[
        Path | None, typer.Option("--spec", help="Spec TOML (applied on top of --preset).")
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option("--preset", help=f"Start from a shipped spec: {', '.join(preset_names())}."),
    ] = None,
    parent: Annotated[
        str | None, typer.Option("--parent", help="NAME:VERSION this file was derived from.")
    ] = None,
    trust_model: Annotated[
        bool,
        typer.Option(
            "--trust-model",
            help="Models are code: register (and later run) a model that does more than "
            "compute, e.g. ops that read or write files. Only for files you trust.",
        ),
    ] = False,
) -> None:
    """Check a model file against its spec, copy it into the data dir and record the version.

    Example: breedbench models add g.pb --name inception --version 1 --preset inception-breeds-pb
    """
    if spec is None and preset is None:
        raise BreedbenchError(
            f"say how to feed the model: --spec SPEC.toml and/or --preset "
            f"({', '.join(preset_names())})"
        )
    model_spec = load_spec(spec, preset)
    db = open_db(ctx)
    parent_id = None
    if parent:
        with db.session() as s:
            parent_id = get_version(s, parent).id
    info = register_model(
        db,
        path,
        name,
        version,
        model_spec,
        parent_id=parent_id,
        trusted=trust_model,
        warn=lambda msg: err_console.print(msg, markup=False, highlight=False, soft_wrap=True),
    )
    console.print(
        f"Registered {info.ref} ({info.format}, {info.size_bytes / 1e6:.1f} MB, "
        f"sha256 {info.sha256[:12]}…, {len(model_spec.labels.names)} labels)."
        + (" Trusted: its ops are not checked when it loads." if info.trusted else "")
    )


@models_app.command("list")
def models_list(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
) -> None:
    """Registered model versions with their format, size and latest top-1.

    Example: breedbench models list
    """
    db = open_db(ctx)
    with db.session() as s:
        versions = list_versions(s, name)
        latest = {v.id: list_runs(s, version_id=v.id, limit=1) for v in versions}
    table = Table(title=f"{len(versions)} model versions")
    for col in ("model", "version", "format", "size MB", "sha256", "input", "labels", "last top-1"):
        table.add_column(col, justify="right" if col in ("size MB", "labels") else "left")
    for v in versions:
        runs = latest[v.id]
        table.add_row(
            v.model_name,
            v.version,
            v.format,
            f"{v.size_bytes / 1e6:.1f}",
            v.sha256[:12],
            v.spec.input.tensor or ("(invalid spec)" if v.spec_problem else ""),
            str(len(v.spec.labels.names)) if v.spec_problem is None else "—",
            f"{_pct(runs[0].top1)} % (run {runs[0].id})" if runs else "—",
        )
    console.print(table)


def evaluate(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="NAME or NAME:VERSION (default: newest version).")],
    threads: Annotated[
        int | None, typer.Option("--threads", min=1, help="Inference threads.")
    ] = None,
    batch: Annotated[
        int | None,
        typer.Option("--batch", min=1, help="Largest batch (when the model accepts batches)."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the first N images (by id).")
    ] = None,
    include_calibration: Annotated[
        bool,
        typer.Option(
            "--include-calibration",
            help="Keep this version's calibration images in the set (reported as overlap).",
        ),
    ] = False,
    progress_file: Annotated[
        Path | None,
        typer.Option(
            "--progress-file",
            help="Also keep the progress, then the outcome, in this JSON file "
            '({"done", "total"}, then "status" with "run_id" or "error").',
        ),
    ] = None,
    stop_with_parent: Annotated[
        int | None,
        typer.Option(
            "--stop-with-parent",
            metavar="PID",
            hidden=True,
            help="Stop (as Ctrl-C does) when process PID, which started this one, exits; the "
            "app's background evaluations pass their own pid.",
        ),
    ] = None,
) -> None:
    """Run a model version on every accepted image and record top-1/3/5, per breed, latency.

    Example: breedbench evaluate inception-breeds:1 --threads 2
    """
    from evaluator.pipeline import evaluate as run_evaluation

    job = None if progress_file is None else FileProgress(progress_file)
    if stop_with_parent is not None:
        from core.lifeline import stop_with_parent as watch_parent

        watch_parent(stop_with_parent)
    try:
        db = open_db(ctx)
        with progress_bar() as bar:
            outcome = run_evaluation(
                db,
                model,
                threads=threads,
                batch=batch,
                limit=limit,
                include_calibration=include_calibration,
                progress=bar if job is None else ProgressTee(bar, job),
            )
    except KeyboardInterrupt:
        err_console.print("Interrupted: nothing recorded.")
        if job is not None:
            job.stopped()
        raise typer.Exit(130) from None
    except Exception as exc:
        if job is None:
            raise
        _report_failure(job, exc)
        raise typer.Exit(1) from None
    with db.session() as s:
        detail = get_run(s, outcome.run_id)
    _print_run_table(detail.summary, detail.topk)
    ex = detail.excluded
    notes = []
    if ex.get("uncovered_images"):
        notes.append(f"{ex['uncovered_images']} images of breeds the model cannot predict excluded")
    if ex.get("calibration_images"):
        state = "included" if ex.get("calibration_included") else "excluded"
        notes.append(f"{ex['calibration_images']} calibration images {state}")
    if ex.get("undecodable_images"):
        notes.append(f"{len(ex['undecodable_images'])} undecodable images skipped")
    if notes:
        console.print("Note: " + "; ".join(notes) + ".")
    console.print(f"Recorded run #{outcome.run_id} (dataset {detail.summary.dataset_hash[:12]}).")
    if job is not None:  # last: whoever reads the outcome there finds the output complete
        console.file.flush()
        job.finished(outcome.run_id)


def _report_failure(job: FileProgress, exc: Exception) -> None:
    """Say why in the output, then in the progress file: whoever reads the outcome there finds
    the output complete."""
    if isinstance(exc, BreedbenchError):
        print_error(exc)
        job.failed(str(exc))
    else:  # a bug: the traceback goes to the output, its one-line summary to the file
        traceback.print_exc()
        job.failed(f"{type(exc).__name__}: {exc}")


def _print_run_table(s: RunSummary, topk: list[TopK]) -> None:
    table = Table(title=f"{s.ref}: {s.n_images} images")
    for col in ("metric", "correct", "%", "95 % CI"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for t in topk:
        table.add_row(
            f"top-{t.k}", f"{t.correct}/{t.n}", _pct(t.rate), f"{_pct(t.ci_low)}–{_pct(t.ci_high)}"
        )
    table.add_row("macro top-1", "", _pct(s.macro_top1), "")
    table.add_row(
        "latency p50 / p95 ms", "", f"{s.latency_p50_ms:.2f} / {s.latency_p95_ms:.2f}", ""
    )
    table.add_row("throughput img/s", "", f"{s.throughput_ips:.1f}", "")
    console.print(table)


def history(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Argument(help="NAME or NAME:VERSION; default: all.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many runs.")] = 50,
) -> None:
    """Runs, newest first, with the dataset hash and the change against the version's previous run.

    Example: breedbench history inception-breeds
    """
    name, _, version = (model or "").partition(":")
    db = open_db(ctx)
    with db.session() as s:
        runs = list_runs(s, name or None, version or None)
    previous: dict[int, RunSummary] = {}
    deltas: dict[int, str] = {}
    for r in reversed(runs):  # oldest first, to find each run's predecessor
        before = previous.get(r.version_id)
        if before is not None:
            same = "" if before.dataset_hash == r.dataset_hash else " (other images)"
            deltas[r.id] = f"{_signed(r.top1 - before.top1)}{same}"
        previous[r.version_id] = r
    table = Table(title=f"{len(runs)} runs" + (f" of {model}" if model else ""))
    for col in ("run", "started UTC", "model", "images", "dataset", "top-1", "top-5", "Δ top-1"):
        right = col not in ("started UTC", "model", "dataset")
        table.add_column(col, justify="right" if right else "left", no_wrap=True)
    for r in runs[:limit]:
        table.add_row(
            str(r.id),
            r.started_at.strftime("%m-%d %H:%M"),
            r.ref,
            str(r.n_images),
            (r.dataset_hash or "")[:8],
            _pct(r.top1),
            _pct(r.top5),
            deltas.get(r.id, ""),
        )
    console.print(table)


def report(
    ctx: typer.Context,
    run: Annotated[int, typer.Argument(help="Run id (see breedbench history).")],
    fmt: Annotated[str, typer.Option("--format", help="md | json | html.")] = "md",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """One run's report: top-k with intervals, coverage, confusions, per-breed results.

    Example: breedbench report 12 --format html -o run12.html
    """
    if fmt not in report_mod.FORMATS:
        raise BreedbenchError(f"--format {fmt!r}: expected one of {', '.join(report_mod.FORMATS)}")
    db = open_db(ctx)
    with db.session() as s:
        text = report_mod.render(report_mod.report_data(s, run), fmt)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"Wrote {output}.")


def compare(
    ctx: typer.Context,
    run_a: Annotated[int, typer.Argument(help="Reference run id.")],
    run_b: Annotated[int, typer.Argument(help="Run id compared against it.")],
    show: Annotated[int, typer.Option("--show", min=0, help="Breeds and images listed.")] = 10,
) -> None:
    """Two runs on the images both saw: deltas, fixed/broken images, McNemar's exact test.

    Example: breedbench compare 12 13
    """
    db = open_db(ctx)
    with db.session() as s:
        c = compare_runs(s, run_a, run_b)
    console.print(
        f"A = run {c.run_a.id} ({c.run_a.ref}), B = run {c.run_b.id} ({c.run_b.ref}): "
        f"{c.shared} shared images"
        + ("" if c.same_dataset else f" (A only {c.only_a}, B only {c.only_b}: different sets)")
    )
    table = Table()
    for col in ("metric", "A %", "B %", "Δ points"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    table.add_row("top-1", _pct(c.top1_a), _pct(c.top1_b), _signed(c.delta_top1))
    table.add_row("top-5", _pct(c.top5_a), _pct(c.top5_b), _signed(c.delta_top5))
    console.print(table)
    verdict = "significant at 5 %" if c.p_value < 0.05 else "not significant at 5 %"
    console.print(
        f"McNemar (top-1): {len(c.fixed)} fixed, {len(c.broken)} broken, "
        f"p = {c.p_value:.4g} ({verdict})."
    )
    if c.per_breed and show:
        bt = Table(title="largest per-breed changes (top-1)")
        for col in ("breed", "n", "A %", "B %", "Δ"):
            bt.add_column(col, justify="left" if col == "breed" else "right")
        ranked = sorted(c.per_breed, key=lambda d: (-abs(d.delta), d.slug))[:show]
        for d in ranked:
            bt.add_row(d.slug, str(d.n), _pct(d.top1_a), _pct(d.top1_b), _signed(d.delta))
        console.print(bt)
    for label, items in (("broken", c.broken), ("fixed", c.fixed)):
        if items and show:
            shown = ", ".join(
                f"#{i.image_id} {i.true_slug} ({i.predicted_a} → {i.predicted_b})"
                for i in items[:show]
            )
            console.print(f"{label}: {shown}" + (" …" if len(items) > show else ""))


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
    app.command()(evaluate)
    app.command()(history)
    app.command()(report)
    app.command()(compare)
