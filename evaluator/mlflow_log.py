"""Finished runs logged to MLflow, where many teams keep their model metrics.

MLflow is an optional extra (``pip install 'breedbench[mlflow]'``, the ``mlflow-skinny``
client): it is imported here only, inside the functions that talk to a tracking server, so the
core install and every other command never load it. breedbench's own database stays the record:
a run is logged after it is recorded, and a failure here never touches it.

One MLflow experiment per model name (``breedbench/<model>``), one MLflow run per breedbench run,
found again by its ``breedbench.run_key`` tag: logging a run twice adds nothing. The key hashes
the run id with the model file's sha256 and the start time, so two databases logging to one
server (or a database started afresh, whose ids begin at 1 again) never mistake each other's
runs for their own.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.errors import BreedbenchError
from core.urls import mask_url, scrub
from db.database import Database
from db.models import EvalRun, RunStatus
from evaluator import report as report_mod
from evaluator.latency import describe as describe_latency
from evaluator.latency import warmup_ms
from evaluator.predictions_file import prediction_rows, render_predictions
from evaluator.registry import get_version_by_id
from evaluator.results import RunDetail, get_run, lineage

EXTRA_HINT = "logging to MLflow needs the mlflow extra: pip install 'breedbench[mlflow]'"
EXPERIMENT_PREFIX = "breedbench/"
TAG_RUN_ID = "breedbench.run_id"
TAG_RUN_KEY = "breedbench.run_key"
REPORT_ARTIFACT = "report.html"
PREDICTIONS_ARTIFACT = "predictions.csv"
# MLflow retries an unreachable server for about four minutes by default; a run is already
# recorded when it is logged (``mlflow-sync`` logs it later), so breedbench gives up sooner.
# Whatever the user sets in the environment wins.
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
MAX_MESSAGE = 600
# Stored metrics that are not numbers to chart, or are logged as params.
NOT_METRICS = frozenset({"n_images", "dataset_hash", "per_breed", "confusions", "excluded"})


class MlflowLogError(BreedbenchError):
    """Logging to MLflow failed; ``logged`` holds the runs that made it before it did."""

    def __init__(self, message: str, logged: dict[int, str] | None = None) -> None:
        super().__init__(message)
        self.logged = dict(logged or {})


@dataclass(frozen=True)
class MlflowRun:
    """What one breedbench run becomes in MLflow: plain data, built without MLflow."""

    run_id: int
    key: str
    experiment: str
    name: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    start_ms: int
    end_ms: int | None


@dataclass
class SyncOutcome:
    """breedbench run id → MLflow run id, for runs logged now and runs already there."""

    logged: dict[int, str] = field(default_factory=dict)
    present: dict[int, str] = field(default_factory=dict)


def experiment_name(model_name: str) -> str:
    return f"{EXPERIMENT_PREFIX}{model_name}"


def _ms(moment: datetime) -> int:
    """Milliseconds since the epoch; SQLite hands back naive datetimes, which are UTC here."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


def run_key(run_id: int, model_sha256: str, started_at: datetime) -> str:
    """The run's identity in MLflow, the same from every database that holds this very run."""
    text = f"{run_id}|{model_sha256}|{_ms(started_at)}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def metrics_of(stored: dict[str, Any]) -> dict[str, float]:
    """The run's stored metrics as MLflow metrics, whatever the evaluator recorded: top-k rates
    with their 95 % interval bounds, the warm-up and steady-state counts of ``latency``, and
    every other number (a group flattened one level: ``latency_ms.p50`` is ``latency_p50_ms``)."""
    out: dict[str, float] = {}
    for key, value in stored.items():
        if key in NOT_METRICS:
            continue
        if key.startswith("top") and isinstance(value, dict) and "rate" in value:
            out[key] = float(value["rate"])
            low, high = value.get("ci95", [None, None])
            if _number(low) and _number(high):
                out[f"{key}_ci_low"], out[f"{key}_ci_high"] = float(low), float(high)
        elif _number(value):
            out[key] = float(value)
        elif key == "latency" and isinstance(value, dict):
            out.update(_latency_metrics(stored, value))
        elif isinstance(value, dict):
            stem, unit = (key[:-3], "_ms") if key.endswith("_ms") else (key, "")
            for sub, inner in value.items():
                if _number(inner):
                    out[f"{stem}_{sub}{unit}"] = float(inner)
    return out


def _latency_metrics(stored: dict[str, Any], latency: dict[str, Any]) -> dict[str, float]:
    """How the latency was measured (``evaluator.latency``), as numbers: the warm-up's parts
    and total, and the steady-state batches and images the percentiles come from."""
    out: dict[str, float] = {}
    for key, value in latency.items():
        if key == "warmup" and isinstance(value, dict):
            out.update({f"warmup_{k}": float(v) for k, v in value.items() if _number(v)})
        elif _number(value) and key != "batch":  # the batch size is the ``batch`` param
            out[f"latency_{key}"] = float(value)
    total = warmup_ms(stored)
    if total is not None:
        out["warmup_ms"] = total
    return out


def _number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def mlflow_run(detail: RunDetail, version_sha256: str, lineage_refs: list[str]) -> MlflowRun:
    """Params, metrics and tags of a recorded run."""
    s = detail.summary
    settings = detail.settings
    params: dict[str, Any] = {
        "model": s.model_name,
        "version": s.version,
        "format": s.format,
        "model_sha256": version_sha256,
        "model_size_bytes": s.model_size_bytes,
        "preprocessing_hash": settings.get("preprocessing_hash"),
        "dataset_hash": s.dataset_hash,
        "n_images": s.n_images,
        "threads": settings.get("threads"),
        "batch": settings.get("batch"),
        "limit": settings.get("limit"),
        "include_calibration": settings.get("include_calibration"),
        "machine": settings.get("machine"),
        "latency_method": describe_latency(detail.metrics),
    }
    crop = settings.get("crop")
    if crop:  # evaluate --crop DETECTOR: the crop is part of what was measured
        params.update({f"crop_{k}": crop.get(k) for k in ("detector", "margin", "policy")})
    tags = {
        TAG_RUN_ID: str(s.id),
        TAG_RUN_KEY: run_key(s.id, version_sha256, s.started_at),
        "breedbench.model_version": s.ref,
        "breedbench.lineage": " → ".join(lineage_refs),
        "mlflow.source.name": "breedbench",
    }
    if len(lineage_refs) > 1:
        tags["breedbench.parent"] = lineage_refs[-2]
    return MlflowRun(
        run_id=s.id,
        key=tags[TAG_RUN_KEY],
        experiment=experiment_name(s.model_name),
        name=f"{s.ref} run {s.id}",
        params={k: str(v) for k, v in params.items() if v is not None},
        metrics=metrics_of(detail.metrics),
        tags=tags,
        start_ms=_ms(s.started_at),
        end_ms=_ms(s.finished_at) if s.finished_at else None,
    )


def finished_run_ids(db: Database) -> list[int]:
    """Every finished run, oldest first: what ``mlflow-sync`` logs when given no run."""
    with db.session() as s:
        stmt = select(EvalRun.id).where(EvalRun.status == RunStatus.FINISHED).order_by(EvalRun.id)
        return list(s.scalars(stmt))


def _prepare(db: Database, run_id: int) -> MlflowRun:
    """The run as MLflow will hold it; a one-line error for a run that cannot be logged."""
    with db.session() as s:
        detail = get_run(s, run_id)
        if detail.summary.status != RunStatus.FINISHED.value:
            raise BreedbenchError(
                f"run {run_id} is {detail.summary.status}, not finished: nothing to log"
            )
        version = get_version_by_id(s, detail.summary.version_id)
        refs = [v.ref for v in lineage(s, version.id)]
        return mlflow_run(detail, version.sha256, refs)


def _artifacts(db: Database, run_id: int) -> dict[str, bytes]:
    """The run's files (name → bytes): the HTML report as ``report RUN --format html`` writes
    it, and the per-image predictions as ``predictions RUN -o predictions.csv`` does (CSV:
    MLflow's UI shows it as a table). Made one run at a time, only for runs not yet logged."""
    with db.session() as s:
        return {
            REPORT_ARTIFACT: report_mod.render(report_mod.report_data(s, run_id), "html").encode(),
            PREDICTIONS_ARTIFACT: render_predictions(prediction_rows(s, [run_id]), "csv"),
        }


def import_mlflow() -> Any:
    """The ``mlflow`` module, or the one-line error saying which extra to install."""
    try:
        import mlflow
        import mlflow.entities
        import mlflow.tracking
    except ImportError as exc:
        raise BreedbenchError(EXTRA_HINT) from exc
    return mlflow


@contextlib.contextmanager
def _quiet_and_bounded() -> Iterator[None]:
    """MLflow's INFO lines (creating tables, ...) off, and the HTTP waits bounded, for the
    duration of the logging only."""
    saved = {k: os.environ.get(k) for k in HTTP_DEFAULTS}
    for k, v in HTTP_DEFAULTS.items():
        os.environ.setdefault(k, v)
    loggers = [logging.getLogger(n) for n in ("mlflow", "alembic")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
        for k, old in saved.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old


def one_line(exc: BaseException, tracking_uri: str) -> str:
    """An MLflow failure as one line: the first line of its message, passwords masked."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = scrub(text, tracking_uri)
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 1] + "…"
    return text


def log_runs(
    db: Database,
    run_ids: list[int],
    tracking_uri: str,
    *,
    on_run: Callable[[int, str, bool], None] | None = None,
) -> SyncOutcome:
    """Log each run (by breedbench id) to the tracking server at ``tracking_uri``, skipping runs
    already logged there; ``on_run(run id, MLflow run id, newly logged)`` after each.

    Every run is read from the database before MLflow is contacted: an unknown or unfinished run
    stops the call with nothing logged. An MLflow failure raises ``MlflowLogError`` (one line,
    with the runs logged before it); a half-logged run is marked failed in MLflow and replaced
    on the next attempt.
    """
    runs = [_prepare(db, rid) for rid in run_ids]
    mlflow = import_mlflow()
    outcome = SyncOutcome()
    with _quiet_and_bounded():
        with _mlflow_failures(tracking_uri, outcome):
            client = mlflow.tracking.MlflowClient(tracking_uri=tracking_uri)
        experiments: dict[str, str] = {}
        for run in runs:
            with _mlflow_failures(tracking_uri, outcome):
                if run.experiment not in experiments:
                    experiments[run.experiment] = _experiment_id(client, run.experiment)
                existing = _logged_run(client, experiments[run.experiment], run.key)
            if existing is None:
                artifacts = _artifacts(db, run.run_id)
                with _mlflow_failures(tracking_uri, outcome):
                    ml_id = _log_one(mlflow, client, experiments[run.experiment], run, artifacts)
                outcome.logged[run.run_id] = ml_id
            else:
                outcome.present[run.run_id] = ml_id = existing
            if on_run is not None:
                on_run(run.run_id, ml_id, existing is None)
    return outcome


@contextlib.contextmanager
def _mlflow_failures(tracking_uri: str, outcome: SyncOutcome) -> Iterator[None]:
    """Any failure of the MLflow client or server as ``MlflowLogError``: one line naming the
    server (password masked), with the runs logged so far."""
    shown = mask_url(tracking_uri)
    try:
        yield
    except BreedbenchError as exc:
        raise MlflowLogError(f"MLflow at {shown}: {exc}", outcome.logged) from exc
    except Exception as exc:  # noqa: BLE001 - whatever the client raises, one line
        raise MlflowLogError(
            f"MLflow at {shown}: {one_line(exc, tracking_uri)}", outcome.logged
        ) from exc


def _experiment_id(client: Any, name: str) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is None:
        return str(client.create_experiment(name, tags={"breedbench.model": name}))
    if exp.lifecycle_stage != "active":
        raise BreedbenchError(
            f"experiment {name!r} is deleted there: restore it, or delete it for good, "
            "then log again"
        )
    return str(exp.experiment_id)


def _logged_run(client: Any, experiment_id: str, key: str) -> str | None:
    """The MLflow run already holding this breedbench run, completely logged; a run left
    half-logged by an earlier failure is deleted, to be logged afresh."""
    found = client.search_runs([experiment_id], filter_string=f"tags.`{TAG_RUN_KEY}` = '{key}'")
    complete = [r for r in found if r.info.status == "FINISHED"]
    if complete:
        return str(complete[0].info.run_id)
    for r in found:
        client.delete_run(r.info.run_id)
    return None


def _log_one(
    mlflow: Any, client: Any, exp_id: str, run: MlflowRun, artifacts: dict[str, bytes]
) -> str:
    """One run: created unfinished, filled, then marked finished, so a failure half-way leaves a
    run that the next attempt recognises as incomplete."""
    entities = mlflow.entities
    created = client.create_run(exp_id, start_time=run.start_ms, tags=run.tags, run_name=run.name)
    ml_id = str(created.info.run_id)
    try:
        stamp = run.end_ms or run.start_ms
        client.log_batch(
            ml_id,
            metrics=[entities.Metric(k, v, stamp, 0) for k, v in sorted(run.metrics.items())],
            params=[entities.Param(k, v) for k, v in sorted(run.params.items())],
        )
        with tempfile.TemporaryDirectory(prefix="breedbench-mlflow-") as tmp:
            for name, data in artifacts.items():
                (Path(tmp) / name).write_bytes(data)
            client.log_artifacts(ml_id, tmp)
    except BaseException:
        with contextlib.suppress(Exception):
            client.set_terminated(ml_id, "FAILED")
        raise
    client.set_terminated(ml_id, "FINISHED", end_time=run.end_ms)
    return ml_id


def describe(outcome: SyncOutcome) -> str:
    """``3 runs logged, 2 already there`` for the CLI's summary line."""
    parts = [f"{len(outcome.logged)} run{'s' if len(outcome.logged) != 1 else ''} logged"]
    if outcome.present:
        parts.append(f"{len(outcome.present)} already there")
    return ", ".join(parts)


__all__ = [
    "EXTRA_HINT",
    "MlflowLogError",
    "MlflowRun",
    "SyncOutcome",
    "describe",
    "experiment_name",
    "finished_run_ids",
    "import_mlflow",
    "log_runs",
    "metrics_of",
    "mlflow_run",
    "run_key",
]
