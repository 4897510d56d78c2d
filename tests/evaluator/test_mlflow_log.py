"""Runs logged to a real local MLflow store, read back through MLflow's own client: params,
metrics, tags and artifacts arrive, a second sync adds nothing, and a failure says so in one line.

Every store is a folder under the test's tmp_path; the only server address used is a closed
loopback port.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from core.errors import BreedbenchError
from db.database import Database
from evaluator import mlflow_log
from evaluator.latency import BatchTime, summarise
from evaluator.latency import describe as describe_latency
from evaluator.mlflow_log import MlflowLogError, log_runs, metrics_of, run_key
from evaluator.results import get_run
from tests.fixtures.seeding import Seeded

mlflow = pytest.importorskip("mlflow")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A file store of MLflow's (its maintenance-mode guard lifted for it), as the global
    tracking URI while the test runs; yields the URI."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(before)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client(uri: str) -> Any:
    return mlflow.tracking.MlflowClient(tracking_uri=uri)


def test_run_reads_back_with_params_metrics_tags_and_artifacts(
    database: Database, seeded: Seeded, store: str, tmp_path: Path
) -> None:
    run_id = seeded.runs["lite-1"]
    outcome = log_runs(database, [run_id], store)
    assert list(outcome.logged) == [run_id] and not outcome.present

    found = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert len(found) == 1
    ml = found[0]
    assert client(store).get_experiment(ml.info.experiment_id).name == (
        "breedbench/inception-breeds"
    )
    params, metrics, tags = ml.data.params, ml.data.metrics, ml.data.tags
    assert params["model"] == "inception-breeds" and params["version"] == "1-dynamic"
    assert params["format"] == "tflite" and params["model_sha256"] == "b" * 64
    assert params["dataset_hash"] == "d" * 64 and params["n_images"] == "24"
    assert params["threads"] == "2" and params["batch"] == "8"

    with database.session() as s:
        detail = get_run(s, run_id)
    assert params["latency_method"] == describe_latency(detail.metrics)
    top1, top3, top5 = detail.topk
    assert metrics["top1"] == pytest.approx(top1.rate)
    assert metrics["top3"] == pytest.approx(top3.rate)
    assert metrics["top5"] == pytest.approx(top5.rate)
    assert metrics["top1_ci_low"] == pytest.approx(top1.ci_low)
    assert metrics["top1_ci_high"] == pytest.approx(top1.ci_high)
    assert metrics["macro_top1"] == pytest.approx(detail.summary.macro_top1)
    assert metrics["latency_p50_ms"] == pytest.approx(12.0)
    assert metrics["latency_p95_ms"] == pytest.approx(12.0)
    assert metrics["throughput_ips"] == pytest.approx(detail.summary.throughput_ips)

    assert tags["breedbench.run_id"] == str(run_id)
    assert tags["breedbench.lineage"] == "inception-breeds:1 → inception-breeds:1-dynamic"
    assert tags["breedbench.parent"] == "inception-breeds:1"
    assert tags["mlflow.runName"] == f"inception-breeds:1-dynamic run {run_id}"
    assert ml.info.status == "FINISHED"
    started = detail.summary.started_at.replace(tzinfo=UTC)  # SQLite: naive, in UTC
    assert ml.info.start_time == int(started.timestamp() * 1000)

    names = {f.path for f in client(store).list_artifacts(ml.info.run_id)}
    assert names == {"report.html", "predictions.csv"}
    folder = Path(client(store).download_artifacts(ml.info.run_id, "", str(tmp_path / "dl")))
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "<html" in page.lower()
    assert "inception-breeds:1-dynamic" in page
    table = pd.read_csv(io.StringIO((folder / "predictions.csv").read_text(encoding="utf-8")))
    assert len(table) == 24 and set(table["run_id"]) == {run_id}
    assert set(table["version"]) == {"1-dynamic"}
    ranks = seeded.ranks["lite-1"]
    by_image = dict(zip(table["image_id"], table["rank"], strict=True))
    assert {i: (None if pd.isna(r) else int(r)) for i, r in by_image.items()} == ranks


def test_a_second_sync_adds_nothing(database: Database, seeded: Seeded, store: str) -> None:
    every = sorted(seeded.runs.values())
    first = log_runs(database, every, store)
    assert sorted(first.logged) == every
    ml_id = first.logged[seeded.runs["pb-1"]]
    second = log_runs(database, every, store)
    assert not second.logged and second.present == first.logged
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert len(runs) == 3
    assert len({r.info.experiment_id for r in runs}) == 1  # one experiment per model name
    history = client(store).get_metric_history(ml_id, "top1")
    assert len(history) == 1  # not logged again as a second point


def test_a_half_logged_run_is_replaced(database: Database, seeded: Seeded, store: str) -> None:
    """A run an earlier attempt left unfinished (the server went away half-way) is logged
    afresh, not counted as present."""
    run_id = seeded.runs["pb-2"]
    with database.session() as s:
        detail = get_run(s, run_id)
    key = run_key(run_id, "a" * 64, detail.summary.started_at)
    c = client(store)
    exp = c.create_experiment("breedbench/inception-breeds")
    stale = c.create_run(exp, tags={"breedbench.run_key": key}).info.run_id  # still RUNNING

    outcome = log_runs(database, [run_id], store)
    assert run_id in outcome.logged and outcome.logged[run_id] != stale
    active = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert [r.info.run_id for r in active] == [outcome.logged[run_id]]
    assert active[0].info.status == "FINISHED" and "top1" in active[0].data.metrics


def test_unreachable_server_fails_in_one_line_with_password_masked(
    database: Database, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # the user's own setting wins
    uri = f"http://ana:s3cret-pw@127.0.0.1:{closed_port()}"
    with pytest.raises(MlflowLogError) as err:
        log_runs(database, [seeded.runs["pb-1"]], uri)
    message = str(err.value)
    assert "\n" not in message and message.startswith("MLflow at http://ana:***@127.0.0.1:")
    assert "s3cret-pw" not in message
    assert err.value.logged == {}
    # the bounded HTTP waits are for the logging only: the environment is as it was
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"
    assert "MLFLOW_HTTP_REQUEST_TIMEOUT" not in os.environ


def test_a_deleted_experiment_is_named_not_revived(
    database: Database, seeded: Seeded, store: str
) -> None:
    c = client(store)
    c.delete_experiment(c.create_experiment("breedbench/inception-breeds"))
    with pytest.raises(MlflowLogError, match="experiment 'breedbench/inception-breeds' is deleted"):
        log_runs(database, [seeded.runs["pb-1"]], store)
    assert c.get_experiment_by_name("breedbench/inception-breeds").lifecycle_stage == "deleted"


def test_without_the_extra_one_line_says_what_to_install(
    database: Database, seeded: Seeded, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if mlflow-skinny were not installed
    with pytest.raises(BreedbenchError, match=r"pip install 'breedbench\[mlflow\]'"):
        log_runs(database, [seeded.runs["pb-1"]], store)
    assert not Path(store.removeprefix("file://")).exists()  # nothing reached the store


def test_unknown_run_stops_before_mlflow_is_contacted(
    database: Database, seeded: Seeded, store: str
) -> None:
    with pytest.raises(BreedbenchError, match="no evaluation run 999"):
        log_runs(database, [seeded.runs["pb-1"], 999], store)
    assert mlflow.search_runs(search_all_experiments=True, output_format="list") == []


def test_metrics_take_whatever_the_run_stored() -> None:
    """Latency as the evaluator stores it: steady-state p50/p95, the warm-up apart."""
    batches = [BatchTime(4, 100.0), BatchTime(4, 12.0), BatchTime(4, 16.0)]
    latency_ms, latency = summarise(batches, 4, load_ms=250.0)
    stored = {
        "n_images": 12,
        "top1": {"correct": 6, "rate": 0.5, "ci95": [0.2, 0.8]},
        "macro_top1": 0.45,
        "latency_ms": latency_ms,
        "latency": latency,
        "throughput_ips": 90.0,
        "per_breed": {"1": {"n": 12, "top1": 6, "top5": 9}},
        "confusions": [[1, 2, 3]],
        "excluded": {"uncovered_images": 1},
        "dataset_hash": "abc",
    }
    assert metrics_of(stored) == {
        "top1": 0.5,
        "top1_ci_low": 0.2,
        "top1_ci_high": 0.8,
        "macro_top1": 0.45,
        "latency_p50_ms": pytest.approx(latency_ms["p50"]),
        "latency_p95_ms": pytest.approx(latency_ms["p95"]),
        "latency_steady_batches": 2.0,
        "latency_steady_images": 8.0,
        "warmup_load_ms": 250.0,
        "warmup_first_batch_ms": 100.0,
        "warmup_first_batch_images": 4.0,
        "warmup_ms": 350.0,
        "throughput_ips": 90.0,
    }
    assert latency_ms["p95"] < 5.0  # the slow first batch is not in the percentiles


def test_run_key_tells_runs_of_two_databases_apart() -> None:
    t = datetime(2026, 11, 2, 9, 0)
    assert run_key(1, "a" * 64, t) == run_key(1, "a" * 64, t.replace(tzinfo=UTC))
    assert run_key(1, "a" * 64, t) != run_key(1, "b" * 64, t)  # another database's run 1
    assert run_key(1, "a" * 64, t) != run_key(1, "a" * 64, t.replace(minute=1))


def test_mlflow_is_loaded_only_when_logging() -> None:
    code = (
        "import sys, breedbench.cli, evaluator.mlflow_log; "
        "sys.exit('mlflow' in sys.modules or 'mlflow.tracking' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert mlflow_log.EXTRA_HINT.endswith("pip install 'breedbench[mlflow]'")
