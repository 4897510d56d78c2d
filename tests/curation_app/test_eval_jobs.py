"""Evaluations started from the app: a real background ``breedbench evaluate`` of the tiny
.tflite model, its progress, its run in the history, stopping it, and refusals."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from core.errors import BreedbenchError
from db.database import Database
from db.models import Decision, EvalRun, Prediction
from db.reviews import record_decision
from evaluator import jobs as eval_jobs
from evaluator.registry import register_model
from evaluator.spec import ModelSpec
from tests.curation_app.test_dashboard_pages import APP
from tests.factories import insert_image
from tests.modelkit import TinyModels, class_jpeg

PER_CLASS = 5


def wait_for(db: Database, job_id: str, timeout: float = 120) -> eval_jobs.Job:
    deadline = time.monotonic() + timeout
    while True:
        job = eval_jobs.read_job(db.settings, job_id)
        if job.status != "running":
            return job
        if time.monotonic() > deadline:
            eval_jobs.stop_job(db.settings, job_id)
            pytest.fail(f"evaluation job did not finish in {timeout} s:\n{job.tail}")
        time.sleep(0.2)


def command_line(pid: int, timeout: float = 10) -> list[str]:
    """The process's arguments (empty for a moment while the kernel is still setting them up)."""
    deadline = time.monotonic() + timeout
    while not (raw := Path(f"/proc/{pid}/cmdline").read_bytes()):
        if time.monotonic() > deadline:
            pytest.fail(f"process {pid} shows no command line")
        time.sleep(0.01)
    return raw.decode().split("\0")[:-1]


def wait_until_gone(pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while eval_jobs._alive(pid):
        if time.monotonic() > deadline:
            pytest.fail(f"process {pid} still runs {timeout} s after it was stopped")
        time.sleep(0.1)


@pytest.fixture
def tiny_lite(database: Database, tiny_models: TinyModels) -> str:
    """Accepted images of the tiny model's classes and its float .tflite, registered."""
    n = len(tiny_models.labels)
    for i in range(PER_CLASS):
        for c, slug in enumerate(tiny_models.labels):
            image_id = insert_image(database, slug, data=class_jpeg(c, n, i, 48, 40))
            with database.session() as s:
                record_decision(s, image_id, "tester", Decision.ACCEPT)
    spec = {
        "input": {
            "tensor": "Sub",
            "kind": "tensor",
            "size": [tiny_models.size, tiny_models.size],
            "resize": "tf_bilinear",
            "scale": 1.0,
            "offset": -128.0,
        },
        "output": {"tensor": "output_node"},
        "labels": {"names": tiny_models.labels},
    }
    info = register_model(
        database, tiny_models.sub_float, "tiny", "1-lite", ModelSpec.from_dict(spec)
    )
    return info.ref


def test_background_evaluation_records_a_run_and_reports_progress(
    app_env: Database, tiny_lite: str
) -> None:
    db = app_env
    job = eval_jobs.start_job(db.settings, tiny_lite, started_by="ana", limit=12)
    assert job.status == "running"
    with pytest.raises(BreedbenchError, match="already running"):
        eval_jobs.start_job(db.settings, tiny_lite)
    done = wait_for(db, job.id)
    assert done.status == "finished", done.tail
    assert (done.done, done.total) == (12, 12)
    with db.session() as s:
        run = s.get(EvalRun, done.run_id)
        assert run is not None and run.n_images == 12
        assert s.scalar(select(func.count()).where(Prediction.run_id == run.id)) == 12
    assert [j.id for j in eval_jobs.list_jobs(db.settings)] == [job.id]
    # It was the command itself that ran, and its progress file ends with the outcome.
    files = eval_jobs.job_files(db.settings, job.id)
    assert f"Recorded run #{done.run_id} (dataset" in files["log"].read_text()
    progress = json.loads(files["progress"].read_text())
    assert progress == {"done": 12, "total": 12, "status": "finished", "run_id": done.run_id}
    # Any session sees the job, and the run is in the page's history.
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.switch_page("app_pages/models.py").run()
    assert not at.exception
    assert f"Finished: run #{done.run_id} is in the run history." in [m.value for m in at.success]
    assert list(at.dataframe[1].value["run"]) == [done.run_id]


def test_a_failing_evaluation_says_why_and_records_nothing(app_env: Database) -> None:
    db = app_env
    job = eval_jobs.start_job(db.settings, "nosuchmodel:1")
    done = wait_for(db, job.id)
    assert done.status == "failed"
    assert "nosuchmodel" in (done.error or "")
    assert "Error:" in done.tail and "Traceback" not in done.tail
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(EvalRun)) == 0
    with pytest.raises(BreedbenchError, match="not running"):
        eval_jobs.stop_job(db.settings, job.id)


def test_job_ids_are_checked(database: Database) -> None:
    with pytest.raises(BreedbenchError, match="no evaluation job"):
        eval_jobs.read_job(database.settings, "../../etc/passwd")
    with pytest.raises(BreedbenchError, match="no evaluation job"):
        eval_jobs.read_job(database.settings, "20990101-000000-abcdef")
    with pytest.raises(BreedbenchError, match="choose a model version"):
        eval_jobs.start_job(database.settings, "  ")


def test_stopping_a_job_records_nothing(app_env: Database, tiny_lite: str) -> None:
    db = app_env
    job = eval_jobs.start_job(db.settings, tiny_lite)
    cmd = command_line(job.pid)
    assert cmd[:4] == [sys.executable, "-m", "breedbench", "evaluate"] and cmd[-1] == tiny_lite
    # The evaluation ends with the app that started it, named by pid.
    assert cmd[cmd.index("--stop-with-parent") + 1] == str(os.getpid())
    eval_jobs.stop_job(db.settings, job.id)  # while the command is still starting
    done = wait_for(db, job.id)
    assert done.status == "stopped"
    wait_until_gone(job.pid)  # the evaluate process itself ended, not only its status
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(EvalRun)) == 0
    # Stopped jobs do not block a new evaluation of the same version.
    again = eval_jobs.start_job(db.settings, tiny_lite, limit=4)
    assert wait_for(db, again.id).status == "finished"


def test_a_job_started_by_an_earlier_release_still_reads(database: Database) -> None:
    """Its outcome was in a result file beside the progress file."""
    files = eval_jobs.job_files(database.settings, "20240101-000000-abcdef")
    job = {
        "id": "20240101-000000-abcdef",
        "version": "tiny:1",
        "limit": None,
        "started_at": "2024-01-01T00:00:00+00:00",
        "started_by": "",
        "pid": 2**22 + 1,  # above any pid the kernel hands out: long ended
    }
    eval_jobs.write_json(files["job"], job)
    eval_jobs.write_json(files["progress"], {"done": 3, "total": 3})
    eval_jobs.write_json(files["result"], {"status": "finished", "run_id": 5})
    read = eval_jobs.read_job(database.settings, job["id"])
    assert (read.status, read.run_id, read.done, read.total) == ("finished", 5, 3, 3)
