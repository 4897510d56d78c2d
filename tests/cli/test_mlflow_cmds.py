"""``evaluate --mlflow`` / ``BREEDBENCH_MLFLOW_TRACKING_URI`` and ``mlflow-sync``, through the
CLI, into real local MLflow stores (SQLite and file), read back with MLflow's client.

The run is always recorded first: an unreachable tracking server costs the MLflow copy (exit
code 3, one line saying how to log it later), never the run.
"""

from __future__ import annotations

import json
import re
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from breedbench.cli.eval_cmds import MLFLOW_FAILED_EXIT
from db.database import Database
from db.models import Model, ModelVersion
from evaluator.latency import describe as describe_latency
from evaluator.results import get_run, list_runs
from tests.cli.helpers import cli
from tests.fixtures.seeding import T0, Seeded, add_run

mlflow = pytest.importorskip("mlflow")


def search(uri: str) -> list[Any]:
    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        return mlflow.search_runs(search_all_experiments=True, output_format="list")
    finally:
        mlflow.set_tracking_uri(before)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def recorded(out: str) -> int:
    return int(re.search(r"Recorded run #(\d+)", out).group(1))


@pytest.fixture
def file_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return (tmp_path / "mlruns").as_uri()


def test_evaluate_logs_the_run_when_the_setting_is_set(
    database: Database, tiny_lite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # MLflow's own local database store
    monkeypatch.setenv("BREEDBENCH_MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # its artifacts go to ./mlruns, MLflow's default artifact root
    code, out = cli(database, "evaluate", tiny_lite, "--threads", "1", "--batch", "4")
    assert code == 0, out
    run_id = recorded(out)
    assert f"Logged run #{run_id} to MLflow at {uri}" in out
    assert "INFO" not in out  # MLflow's own chatter (creating tables) stays quiet

    [ml] = search(uri)
    p = ml.data.params
    assert (p["model"], p["version"], p["format"]) == ("tiny", "1-lite", "tflite")
    assert (p["threads"], p["batch"], p["n_images"]) == ("1", "4", "20")
    assert len(p["model_sha256"]) == 64 and len(p["dataset_hash"]) == 64
    assert len(p["preprocessing_hash"]) == 16
    with database.session() as s:
        [run] = list_runs(s)
        detail = get_run(s, run.id)
    assert p["dataset_hash"] == run.dataset_hash
    m = ml.data.metrics
    assert m["top1"] == pytest.approx(run.top1) and m["top5"] == pytest.approx(run.top5)
    assert m["latency_p50_ms"] == pytest.approx(run.latency_p50_ms)
    assert m["latency_p95_ms"] == pytest.approx(run.latency_p95_ms)
    assert {"top1_ci_low", "top1_ci_high", "macro_top1", "throughput_ips"} <= set(m)
    # the warm-up, measured apart from the steady-state percentiles
    assert m["warmup_load_ms"] > 0 and m["warmup_first_batch_ms"] > 0
    assert m["warmup_ms"] == pytest.approx(m["warmup_load_ms"] + m["warmup_first_batch_ms"])
    assert p["latency_method"] == describe_latency(detail.metrics)
    assert ml.data.tags["breedbench.run_id"] == str(run_id)
    artifacts = mlflow.tracking.MlflowClient(uri).list_artifacts(ml.info.run_id)
    assert {a.path for a in artifacts} == {"report.html", "predictions.csv"}
    assert (tmp_path / "mlruns").is_dir()

    code, out = cli(database, "mlflow-sync")  # the setting says where
    assert code == 0, out
    assert f"run #{run_id}: already there: {ml.info.run_id}" in out
    assert "0 runs logged, 1 already there" in out
    assert len(search(uri)) == 1


def test_unreachable_server_keeps_the_run_and_exits_3(
    database: Database,
    tiny_lite: str,
    file_store: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    down = f"http://127.0.0.1:{closed_port()}"
    progress = tmp_path / "progress.json"
    code, out = cli(
        database, "evaluate", tiny_lite, "--limit", "6", "--mlflow", down,
        "--progress-file", progress,
    )  # fmt: skip
    assert code == MLFLOW_FAILED_EXIT == 3, out
    run_id = recorded(out)
    # the app's background jobs read the outcome there: the evaluation did finish
    outcome = json.loads(progress.read_text())
    assert (outcome["status"], outcome["run_id"]) == ("finished", run_id)
    with database.session() as s:
        assert [r.id for r in list_runs(s)] == [run_id]  # recorded all the same
    [line] = [ln for ln in out.splitlines() if ln.startswith("Error:")]
    assert f"run #{run_id} is recorded, but not logged to MLflow: MLflow at {down}" in line
    assert line.endswith(f"(log it later: breedbench mlflow-sync {run_id})")
    assert "Traceback" not in out

    code, out = cli(database, "mlflow-sync", run_id, "--mlflow", file_store)
    assert code == 0, out
    assert "1 run logged" in out
    [ml] = search(file_store)
    assert ml.data.params["n_images"] == "6" and ml.data.tags["breedbench.run_id"] == str(run_id)


def test_without_the_extra_evaluate_refuses_before_running(
    database: Database, tiny_lite: str, file_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if mlflow-skinny were not installed
    monkeypatch.setenv("BREEDBENCH_MLFLOW_TRACKING_URI", " ")  # blank: logging is off
    code, out = cli(database, "evaluate", tiny_lite, "--limit", "4")
    assert code == 0 and "MLflow" not in out  # the core install evaluates without it

    monkeypatch.setenv("BREEDBENCH_MLFLOW_TRACKING_URI", file_store)
    code, out = cli(database, "evaluate", tiny_lite)
    assert code == 1
    assert out.strip() == (
        "Error: logging to MLflow needs the mlflow extra: pip install 'breedbench[mlflow]'"
    )
    with database.session() as s:
        assert len(list_runs(s)) == 1  # the second evaluation never ran: nothing recorded
    code, out = cli(database, "mlflow-sync")
    assert code == 1 and "pip install 'breedbench[mlflow]'" in out


def test_sync_logs_every_finished_run_once(
    database: Database, seeded: Seeded, file_store: str
) -> None:
    code, out = cli(database, "mlflow-sync", "--mlflow", file_store)
    assert code == 0, out
    assert "3 runs logged at" in out
    code, out = cli(database, "mlflow-sync", "--mlflow", file_store)
    assert code == 0 and "0 runs logged, 3 already there" in out
    assert len(search(file_store)) == 3


def test_sync_errors_are_one_line(
    database: Database, seeded: Seeded, file_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BREEDBENCH_MLFLOW_TRACKING_URI", "")
    code, out = cli(database, "mlflow-sync")
    assert code == 1
    assert out.startswith("Error: say where to log: --mlflow URI or BREEDBENCH_MLFLOW_TRACKING_URI")
    code, out = cli(database, "mlflow-sync", seeded.runs["pb-1"], 999, "--mlflow", file_store)
    assert (code, out.strip()) == (1, "Error: no evaluation run 999 (see breedbench history)")
    assert search(file_store) == []


def test_sync_stops_at_a_failure_saying_what_was_logged(
    database: Database, seeded: Seeded, file_store: str
) -> None:
    """Runs of two models: the second model's experiment is deleted in MLflow, so its run
    fails after the first model's runs are logged; a second sync after fixing it logs the rest."""
    with database.session() as s:
        other = Model(name="other-model")
        s.add(other)
        s.flush()
        version = ModelVersion(
            model_id=other.id, version="1", format="tflite", path="models/cc/o.tflite",
            sha256="c" * 64, size_bytes=1000, spec={"format": "tflite"}, created_at=T0,
        )  # fmt: skip
        s.add(version)
        s.flush()
        version_id = version.id
    ranks = dict.fromkeys(seeded.image_ids["pug"], 1)
    last = add_run(database, version_id, ranks, started=T0.replace(day=9))
    client = mlflow.tracking.MlflowClient(file_store)
    gone = client.create_experiment("breedbench/other-model")
    client.delete_experiment(gone)

    code, out = cli(database, "mlflow-sync", "--mlflow", file_store)
    assert code == 1
    [line] = [ln for ln in out.splitlines() if ln.startswith("Error:")]
    assert "experiment 'breedbench/other-model' is deleted" in line
    assert line.endswith("(3 logged before it)")
    assert len(search(file_store)) == 3

    client.restore_experiment(gone)
    code, out = cli(database, "mlflow-sync", "--mlflow", file_store)
    assert code == 0 and "1 run logged, 3 already there" in out
    assert f"run #{last}: logged as" in out
