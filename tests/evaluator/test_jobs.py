"""Background evaluations (``evaluator.jobs``): the command they run, stopping one (and who did),
failures and refused job ids, and jobs recorded by an earlier release."""

from __future__ import annotations

import errno
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.errors import BreedbenchError
from core.processes import running
from db.database import Database
from db.models import EvalRun, Image, Prediction
from evaluator import jobs as eval_jobs
from tests.fixtures.evaluation import RunningJob, wait_for_job


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
    while running(pid):
        if time.monotonic() > deadline:
            pytest.fail(f"process {pid} still runs {timeout} s after it was stopped")
        time.sleep(0.1)


def test_a_failing_evaluation_says_why_and_records_nothing(database: Database) -> None:
    db = database
    job = eval_jobs.start_job(db.settings, "nosuchmodel:1")
    done = wait_for_job(db, job.id)
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


@contextmanager
def held_image(db: Database) -> Iterator[Callable[[], None]]:
    """The first image's stored file made a FIFO: an evaluation that reads it waits there, mid-run,
    until the test lets it go; the yielded call waits for that moment. The file comes back after."""
    with db.session() as s:
        row = s.scalars(select(Image).order_by(Image.id)).first()
        assert row is not None
        path = db.store.absolute(row.path)
    original = path.read_bytes()
    path.unlink()
    os.mkfifo(path)
    writer: list[int] = []

    def reached(timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:  # succeeds only once a reader has the FIFO open
                writer.append(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
                return
            except OSError as e:
                if e.errno != errno.ENXIO:
                    raise
            if time.monotonic() > deadline:
                pytest.fail("the evaluation never read its images")
            time.sleep(0.02)

    try:
        yield reached
    finally:
        for fd in writer:
            os.close(fd)  # the reader sees an empty file and goes on
        path.unlink()
        path.write_bytes(original)


def test_stopping_a_job_records_nothing(database: Database, tiny_lite: str) -> None:
    db = database
    with held_image(db) as evaluating:
        job = eval_jobs.start_job(db.settings, tiny_lite)
        cmd = command_line(job.pid)
        assert cmd[:4] == [sys.executable, "-m", "breedbench", "evaluate"]
        assert cmd[-1] == tiny_lite
        # The evaluation ends with the app that started it, named by pid.
        assert cmd[cmd.index("--stop-with-parent") + 1] == str(os.getpid())
        evaluating()  # the worker has loaded the model and is reading the images
        assert eval_jobs.read_job(db.settings, job.id).status == "running"
        eval_jobs.stop_job(db.settings, job.id)
    done = wait_for_job(db, job.id)
    assert done.status == "stopped"
    wait_until_gone(job.pid)  # the evaluate process itself ended, not only its status
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(EvalRun)) == 0
        assert s.scalar(select(func.count()).select_from(Prediction)) == 0
    # Stopped jobs do not block a new evaluation of the same version.
    again = eval_jobs.start_job(db.settings, tiny_lite, limit=4)
    assert wait_for_job(db, again.id).status == "finished"


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


def test_stopping_records_who_stopped_the_job(database: Database, running_job: RunningJob) -> None:
    job, proc = running_job
    assert job.stopped_by == ""
    stopped = eval_jobs.stop_job(database.settings, job.id, stopped_by="ana")
    assert stopped.stopped_by == "ana"
    proc.wait(timeout=30)  # interrupted, as Ctrl-C would
    read = eval_jobs.read_job(database.settings, job.id)
    assert (read.status, read.started_by, read.stopped_by) == ("stopped", "bo", "ana")
    assert [j.stopped_by for j in eval_jobs.list_jobs(database.settings)] == ["ana"]
    with pytest.raises(BreedbenchError, match="not running"):
        eval_jobs.stop_job(database.settings, job.id, stopped_by="cy")
    assert eval_jobs.read_job(database.settings, job.id).stopped_by == "ana"  # kept as it was
