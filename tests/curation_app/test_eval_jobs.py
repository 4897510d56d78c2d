"""An evaluation started from the app: a real background ``breedbench evaluate`` of the tiny
.tflite model, its progress, and its run in the page's history (the jobs themselves:
``tests/evaluator/test_jobs.py``; who may start or stop one: ``test_access.py``)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from core.errors import BreedbenchError
from db.database import Database
from db.models import EvalRun, Prediction
from evaluator import jobs as eval_jobs
from tests.fixtures.app import open_app
from tests.fixtures.evaluation import wait_for_job


def test_background_evaluation_records_a_run_and_reports_progress(
    app_env: Database, tiny_lite: str
) -> None:
    db = app_env
    job = eval_jobs.start_job(db.settings, tiny_lite, started_by="ana", limit=12)
    assert job.status == "running"
    with pytest.raises(BreedbenchError, match="already running"):
        eval_jobs.start_job(db.settings, tiny_lite)
    done = wait_for_job(db, job.id)
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
    at = open_app("models.py")
    assert f"Finished: run #{done.run_id} is in the run history." in [m.value for m in at.success]
    assert list(at.dataframe[1].value["run"]) == [done.run_id]
