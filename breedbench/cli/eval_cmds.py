"""``models add|list``, ``evaluate``, ``history``, ``report``, ``predictions`` and ``compare``."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from breedbench.cli.common import (
    console,
    err_console,
    loads_models,
    new_app,
    open_db,
    print_error,
    progress_bar,
    settings_of,
)
from core.errors import BreedbenchError
from core.urls import mask_url
from db.database import Database
from db.image_dates import parse_cutoff
from evaluator import latency, mlflow_log, version_pages, version_report
from evaluator import report as report_mod
from evaluator.compare import compare_runs, crop_verdict
from evaluator.predictions_file import FORMATS as PREDICTION_FORMATS
from evaluator.predictions_file import check_target, write_predictions
from evaluator.progress import FileProgress, ProgressTee
from evaluator.registry import get_version, list_versions, register_model
from evaluator.results import RunSummary, TopK, get_run, list_runs
from evaluator.spec import ModelSpec, load_spec, preset_names

models_app = new_app("Register model versions and list them.")
# ``evaluate`` recorded the run but could not log it to MLflow (1: nothing recorded).
MLFLOW_FAILED_EXIT = 3


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _signed(x: float) -> str:
    return f"{100 * x:+.1f}"


@models_app.command("add")
@loads_models
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
    kind = "" if info.quantization is None else f", {info.quantization_label}"
    what = (
        f"detector of classes {list(model_spec.detector.dog_classes)} as dogs"
        if model_spec.detector is not None
        else f"{len(model_spec.labels.names)} labels"
    )
    console.print(
        f"Registered {info.ref} ({info.format}{kind}, {info.size_bytes / 1e6:.1f} MB, "
        f"sha256 {info.sha256[:12]}…, {what})."
        + (" Trusted: its ops are not checked when it loads." if info.trusted else "")
    )
    if model_spec.detector is None:  # a detector's classes are not breeds
        _print_coverage(db, model_spec)


def _print_coverage(db: Database, model_spec: ModelSpec) -> None:
    """The labels that match no breed and the breeds no label covers, said at registration."""
    from evaluator.labels import coverage

    with db.session() as s:
        lines = coverage(s, model_spec).describe()
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


@models_app.command("list")
def models_list(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
) -> None:
    """Registered model versions with their format, quantization, size and latest top-1.

    Example: breedbench models list
    """
    db = open_db(ctx)
    with db.session() as s:
        versions = list_versions(s, name)
        latest = {v.id: list_runs(s, version_id=v.id, limit=1) for v in versions}
    table = Table(title=f"{len(versions)} model versions")
    columns = ("model", "version", "format", "quantization", "size MB", "sha256", "input")
    for col in (*columns, "labels", "last top-1"):
        table.add_column(col, justify="right" if col in ("size MB", "labels") else "left")
    for v in versions:
        runs = latest[v.id]
        table.add_row(
            v.model_name,
            v.version,
            v.format,
            v.quantization_label,
            f"{v.size_bytes / 1e6:.1f}",
            v.sha256[:12],
            v.spec.input.tensor or ("(invalid spec)" if v.spec_problem else ""),
            (
                "detector"
                if v.spec.is_detector
                else str(len(v.spec.labels.names))
                if v.spec_problem is None
                else "—"
            ),
            f"{_pct(runs[0].top1)} % (run {runs[0].id})" if runs else "—",
        )
    console.print(table)


@loads_models
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
    mlflow: Annotated[
        str | None,
        typer.Option(
            "--mlflow",
            metavar="URI",
            help="Also log the finished run to MLflow at this tracking URI "
            "[env: BREEDBENCH_MLFLOW_TRACKING_URI]. If logging fails the run stays recorded "
            f"and the exit code is {MLFLOW_FAILED_EXIT}.",
            show_default=False,
        ),
    ] = None,
    uploaded_after: Annotated[
        str | None,
        typer.Option(
            "--uploaded-after",
            metavar="DATE",
            help="Only images uploaded at or after DATE (YYYY-MM-DD, UTC); images of unknown "
            "upload date are left out. Recorded on the run: history compares runs with the "
            "same cut-off.",
        ),
    ] = None,
    crop: Annotated[
        str | None,
        typer.Option(
            "--crop",
            metavar="DETECTOR",
            help="Crop each image to the dog box this detector version finds before "
            "classifying it (no dog found: the whole image, counted as a fallback).",
        ),
    ] = None,
    crop_margin: Annotated[
        float,
        typer.Option(
            "--crop-margin",
            min=0.0,
            help="With --crop: the fraction of the box's width/height added on each side, "
            "clamped to the image (0: exactly the box).",
        ),
    ] = 0.1,
    crop_policy: Annotated[
        str,
        typer.Option(
            "--crop-policy",
            metavar="largest|best",
            help="With --crop and several dogs: the largest box, or the best-scoring one.",
        ),
    ] = "largest",
) -> None:
    """Run a model version on every accepted image and record top-1/3/5, per breed, latency.

    Example: breedbench evaluate inception-breeds:1 --crop coco-ssd:v1 --crop-margin 0.1
    """
    from evaluator.pipeline import evaluate as run_evaluation

    cutoff = parse_cutoff(uploaded_after) if uploaded_after else None
    job = None if progress_file is None else FileProgress(progress_file)
    if stop_with_parent is not None:
        from core.lifeline import stop_with_parent as watch_parent

        watch_parent(stop_with_parent)
    tracking_uri = _tracking_uri(ctx, mlflow)
    try:
        if tracking_uri:  # before the evaluation, not after it: the extra may be missing
            mlflow_log.import_mlflow()
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
                uploaded_after=cutoff,
                crop=crop,
                crop_margin=crop_margin,
                crop_policy=crop_policy,
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
    _print_run_table(detail.summary, detail.topk, detail.metrics)
    ex = detail.excluded
    notes = []
    if ex.get("uncovered_images"):
        notes.append(f"{ex['uncovered_images']} images of breeds the model cannot predict excluded")
    if ex.get("calibration_images"):
        state = "included" if ex.get("calibration_included") else "excluded"
        notes.append(f"{ex['calibration_images']} calibration images {state}")
    if ex.get("undecodable_images"):
        notes.append(f"{len(ex['undecodable_images'])} undecodable images skipped")
    if ex.get("uploaded_after"):
        notes.append(
            f"only images uploaded since {ex['uploaded_after'][:10]} "
            f"({ex.get('before_cutoff_images', 0)} older, "
            f"{ex.get('date_unknown_images', 0)} of unknown date left out)"
        )
    if notes:
        console.print("Note: " + "; ".join(notes) + ".")
    crop_line = report_mod.crop_summary(detail.settings, detail.metrics)
    if crop_line:
        console.print(crop_line, highlight=False, markup=False, soft_wrap=True)
    console.print(f"Recorded run #{outcome.run_id} (dataset {detail.summary.dataset_hash[:12]}).")
    for warning in outcome.settings.get("warnings", []):  # e.g. it screened these images
        console.print(f"Warning: {warning}.", soft_wrap=True)
    logged = not tracking_uri or _log_to_mlflow(db, outcome.run_id, tracking_uri)
    if job is not None:  # last: whoever reads the outcome there finds the output complete
        console.file.flush()
        job.finished(outcome.run_id)
    if not logged:
        raise typer.Exit(MLFLOW_FAILED_EXIT)


def _tracking_uri(ctx: typer.Context, flag: str | None) -> str | None:
    """``--mlflow``, else the setting; blank counts as unset (an empty URI would be MLflow's
    default store in the working directory, not what anyone asked for)."""
    for uri in (flag, settings_of(ctx).mlflow_tracking_uri):
        if uri and uri.strip():
            return uri.strip()
    return None


def _log_to_mlflow(db: Database, run_id: int, tracking_uri: str) -> bool:
    """Log the recorded run; on failure say so in one line (the run stays recorded)."""
    try:
        outcome = mlflow_log.log_runs(db, [run_id], tracking_uri)
    except BreedbenchError as exc:
        print_error(
            BreedbenchError(
                f"run #{run_id} is recorded, but not logged to MLflow: {exc} "
                f"(log it later: breedbench mlflow-sync {run_id})"
            )
        )
        return False
    ml_id = outcome.logged.get(run_id) or outcome.present.get(run_id)
    console.print(
        f"Logged run #{run_id} to MLflow at {mask_url(tracking_uri)} (run {ml_id}).", soft_wrap=True
    )
    return True


def _report_failure(job: FileProgress, exc: Exception) -> None:
    """Say why in the output, then in the progress file: whoever reads the outcome there finds
    the output complete."""
    if isinstance(exc, BreedbenchError):
        print_error(exc)
        job.failed(str(exc))
    else:  # a bug: the traceback goes to the output, its one-line summary to the file
        traceback.print_exc()
        job.failed(f"{type(exc).__name__}: {exc}")


def _print_run_table(s: RunSummary, topk: list[TopK], metrics: dict[str, Any]) -> None:
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
    warmup = latency.warmup_ms(metrics)
    if warmup is not None:
        table.add_row("warm-up ms (load + 1st batch)", "", f"{warmup:.0f}", "")
    table.add_row("throughput img/s", "", f"{s.throughput_ips:.1f}", "")
    console.print(table)
    console.print(f"Latency: {latency.describe(metrics)}.", highlight=False)


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
    # A run is compared with the version's previous run over the same freshness cut-off.
    previous: dict[tuple[int, str | None], RunSummary] = {}
    deltas: dict[int, str] = {}
    for r in reversed(runs):  # oldest first, to find each run's predecessor
        before = previous.get((r.version_id, r.uploaded_after))
        if before is not None:
            same = "" if before.dataset_hash == r.dataset_hash else " (other images)"
            deltas[r.id] = f"{_signed(r.top1 - before.top1)}{same}"
        previous[(r.version_id, r.uploaded_after)] = r
    windowed = any(r.uploaded_after for r in runs[:limit])
    table = Table(title=f"{len(runs)} runs" + (f" of {model}" if model else ""))
    columns = ["run", "started UTC", "model", "images", "dataset", "top-1", "top-5", "Δ top-1"]
    if windowed:
        columns.insert(4, "since")
    for col in columns:
        right = col not in ("started UTC", "model", "dataset", "since")
        table.add_column(col, justify="right" if right else "left", no_wrap=True)
    for r in runs[:limit]:
        since = [(r.uploaded_after or "")[:10]] if windowed else []
        table.add_row(
            str(r.id),
            r.started_at.strftime("%m-%d %H:%M"),
            r.ref,
            str(r.n_images),
            *since,
            (r.dataset_hash or "")[:8],
            _pct(r.top1),
            _pct(r.top5),
            deltas.get(r.id, ""),
        )
    console.print(table)


def report(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="RUN|latest|NAME[:VERSION]",
            help="A run id (see breedbench history), latest (the newest run), or a model version "
            "for its version report (NAME alone: its newest version).",
            show_default=False,
        ),
    ],
    fmt: Annotated[str, typer.Option("--format", help="md | json | html.")] = "md",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            metavar="NAME:VERSION",
            help="Version report: also compare with this baseline version (the last release, "
            "say), on the images both runs scored.",
            show_default=False,
        ),
    ] = None,
    max_images: Annotated[
        int,
        typer.Option(
            "--max-images",
            min=0,
            help="Version report: fixed and broken images shown per comparison (with their "
            "thumbnails in HTML); the rest are listed by id.",
        ),
    ] = version_report.MAX_IMAGES,
) -> None:
    """One run's report (top-k with intervals, coverage, confusions, per-breed results), or a
    model version's: lineage and file, its latest run against its parent's and a baseline's
    (McNemar's test, the images fixed and broken), per breed, confusions, history, size, latency.

    Example: breedbench report inception:v1-int8 --against inception:v0 --format html -o v.html
    """
    if fmt not in report_mod.FORMATS:
        raise BreedbenchError(f"--format {fmt!r}: expected one of {', '.join(report_mod.FORMATS)}")
    db = open_db(ctx)
    run = _run_of(target)
    if run is not None and against is not None:
        raise BreedbenchError(
            "--against goes with a version report (report NAME:VERSION --against NAME:VERSION)"
        )
    with db.session() as s:
        if run is None:
            data = version_report.build_report(
                s,
                target,
                against=against,
                read_thumbnail=db.store.read if fmt == "html" else None,
                max_images=max_images,
            )
            text = version_pages.render(data, fmt)
        else:
            text = report_mod.render(report_mod.report_data(s, _newest_run(s, run)), fmt)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"Wrote {output}.")


def _run_of(target: str) -> int | str | None:
    """A run id, ``"latest"``, or None: ``target`` names a model version."""
    text = target.strip()
    if text.isdigit():
        return int(text)
    return "latest" if text.lower() == "latest" else None


def _newest_run(session: Session, run: int | str) -> int:
    if isinstance(run, int):
        return run
    newest = list_runs(session, limit=1)
    if not newest:
        raise BreedbenchError("no evaluation run yet (breedbench evaluate NAME:VERSION)")
    return newest[0].id


def predictions(
    ctx: typer.Context,
    runs: Annotated[list[int], typer.Argument(help="Run ids (see breedbench history).")],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help=f"File to write; its extension says the format: {', '.join(PREDICTION_FORMATS)}.",
        ),
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace the file if it exists.")] = False,
) -> None:
    """Every image's result in the runs, one row per image and run, for pandas and friends.

    Columns: run_id, model, version, image_id, sha256, breed (the true one), rank (of the true
    breed in the top-5; empty when not in it), top1_breed, top1_prob … top5_breed, top5_prob,
    latency_ms. CSV text cells are written so that no spreadsheet runs them as formulas.

    Example: breedbench predictions 12 13 -o predictions.parquet
    """
    check_target(output, force=force)  # before the database: a wrong name fails at once
    db = open_db(ctx)
    with db.session() as s:
        written = write_predictions(s, runs, output, force=force)
    console.print(
        f"Wrote {written.rows} rows ({len(written.run_ids)} runs) to {written.path}.",
        highlight=False,
        soft_wrap=True,
    )


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
    crop_answer = crop_verdict(c)
    if crop_answer:
        console.print(crop_answer, highlight=False, markup=False, soft_wrap=True)
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


def mlflow_sync(
    ctx: typer.Context,
    runs: Annotated[
        list[int] | None,
        typer.Argument(
            metavar="RUN",
            help="Run ids (see breedbench history); default: every finished run.",
            show_default=False,
        ),
    ] = None,
    mlflow: Annotated[
        str | None,
        typer.Option(
            "--mlflow",
            metavar="URI",
            help="MLflow tracking URI [env: BREEDBENCH_MLFLOW_TRACKING_URI].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Log recorded runs to MLflow: params, metrics, tags, the HTML report and the predictions.

    Runs already logged there are left as they are, so it can be run again at any time (after an
    evaluation whose logging failed, or to fill a new tracking server).

    Example: breedbench mlflow-sync 12 13 --mlflow http://127.0.0.1:5000
    """
    tracking_uri = _tracking_uri(ctx, mlflow)
    if not tracking_uri:
        raise BreedbenchError(
            "say where to log: --mlflow URI or BREEDBENCH_MLFLOW_TRACKING_URI "
            "(e.g. http://127.0.0.1:5000 or sqlite:///mlflow.db)"
        )
    mlflow_log.import_mlflow()
    db = open_db(ctx)
    ids = list(dict.fromkeys(runs)) if runs else mlflow_log.finished_run_ids(db)
    if not ids:
        console.print("No finished runs to log.")
        return

    def show(run_id: int, ml_id: str, new: bool) -> None:
        console.print(
            f"run #{run_id}: {'logged as' if new else 'already there:'} {ml_id}", soft_wrap=True
        )

    try:
        outcome = mlflow_log.log_runs(db, ids, tracking_uri, on_run=show)
    except mlflow_log.MlflowLogError as exc:
        done = f" ({len(exc.logged)} logged before it)" if exc.logged else ""
        raise BreedbenchError(f"{exc}{done}") from exc
    console.print(f"{mlflow_log.describe(outcome)} at {mask_url(tracking_uri)}.", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
    app.command()(evaluate)
    app.command()(history)
    app.command()(report)
    app.command()(predictions)
    app.command()(compare)
    app.command("mlflow-sync")(mlflow_sync)
