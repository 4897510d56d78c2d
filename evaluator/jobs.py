"""Evaluations started from the app: one background process per job, polled by the page.

An evaluation takes minutes and loads TensorFlow or LiteRT; run inside the app's process it would
hold the memory and CPU every other reviewer's session needs, and die with the page. So the app
starts the command itself, ``breedbench evaluate NAME:VERSION --progress-file PATH``, in its own
process group (the database and data directory go in its environment as ``BREEDBENCH_*``). The
command keeps its progress and then its outcome in ``<data dir>/jobs/<job id>.progress.json``
(``evaluator.progress``), its output goes to ``<job id>.log``; any session of any reviewer lists
the jobs from those files. The run itself is recorded by the evaluator, all or nothing, so it
appears in the run history when done.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import threading
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import BreedbenchError
from core.files import atomic_write, tail_lines
from core.processes import running, spawn_background
from core.settings import Settings
from evaluator.progress import read_progress

_LOCK = threading.Lock()
_JOB_ID = re.compile(r"[0-9A-Za-z-]+")


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    version: str  # NAME:VERSION
    limit: int | None
    started_at: str  # ISO 8601, UTC
    started_by: str
    pid: int
    stopped_by: str = ""  # who pressed Stop, once someone has
    status: str = "running"  # running | finished | failed | stopped
    done: int | None = None  # images prepared and scored so far
    total: int | None = None
    run_id: int | None = None  # the recorded run, once finished
    error: str | None = None
    tail: str = ""  # last lines of the output

    @property
    def fraction(self) -> float | None:
        if self.done is None or not self.total:
            return None
        return min(1.0, self.done / self.total)


def jobs_dir(settings: Settings) -> Path:
    return settings.data_dir / "jobs"


def job_files(settings: Settings, job_id: str) -> dict[str, Path]:
    if not _JOB_ID.fullmatch(job_id or ""):
        raise BreedbenchError(f"no evaluation job {job_id!r}")
    base = jobs_dir(settings) / job_id
    return {
        "job": base.with_suffix(".json"),
        "log": base.with_suffix(".log"),
        "progress": base.with_suffix(".progress.json"),
        "result": base.with_suffix(".result.json"),
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically (``core.files.atomic_write``): a poller never reads half a file."""
    atomic_write(path, json.dumps(data).encode("utf-8"))


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def start_job(
    settings: Settings, version: str, *, started_by: str = "", limit: int | None = None
) -> Job:
    """Start an evaluation in the background and return at once.

    One job per version at a time: a second click while one is running is refused rather than
    measuring the same thing twice at half speed each.
    """
    version = (version or "").strip()
    if not version:
        raise BreedbenchError("choose a model version to evaluate")
    folder = jobs_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    with _LOCK:
        for job in list_jobs(settings):
            if job.version == version and job.status == "running":
                raise BreedbenchError(
                    f"an evaluation of {version} is already running (started {job.started_at})"
                )
        job_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        files = job_files(settings, job_id)
        cmd = [sys.executable, "-m", "breedbench", "evaluate"]
        cmd += ["--progress-file", str(files["progress"].resolve())]
        # Nothing outlives the app that started it (its pid: it may die while this starts).
        cmd += ["--stop-with-parent", str(os.getpid())]
        if limit:
            cmd += ["--limit", str(int(limit))]
        cmd += ["--", version]  # a version is never read as an option
        proc = spawn_background(cmd, settings, files["log"], "evaluation")
        job = Job(
            id=job_id,
            version=version,
            limit=limit,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            started_by=started_by,
            pid=proc.pid,
        )
        write_json(files["job"], asdict(job))
    # Reap the child when it ends (no zombie); the outcome itself is in its progress file.
    threading.Thread(target=proc.wait, daemon=True, name=f"job-{job_id}").start()
    return job


def read_job(settings: Settings, job_id: str) -> Job:
    files = job_files(settings, job_id)
    raw = _read_json(files["job"])
    if raw is None:
        raise BreedbenchError(f"no evaluation job {job_id!r}")
    job = Job(**{k: v for k, v in raw.items() if k in Job.__dataclass_fields__})
    progress = read_progress(files["progress"])
    result = _read_json(files["result"])  # the outcome of a job started by an earlier release
    status, run_id, error = "running", None, None
    if progress.status is not None:
        status, run_id, error = progress.status, progress.run_id, progress.error
    elif result is not None:
        status = str(result.get("status", "failed"))
        run_id = result.get("run_id")
        error = result.get("error")
    elif not running(job.pid):
        status = "stopped"  # ended without an outcome: stopped, killed, or the machine restarted
    return Job(
        **{
            **asdict(job),
            "status": status,
            "done": progress.done,
            "total": progress.total,
            "run_id": run_id,
            "error": error,
            "tail": tail_lines(files["log"]) if status != "running" else "",
        }
    )


def list_jobs(settings: Settings, limit: int = 20) -> list[Job]:
    """Jobs started from any session, newest first."""
    folder = jobs_dir(settings)
    if not folder.is_dir():
        return []
    names = sorted(
        (p.name[: -len(".json")] for p in folder.glob("*.json") if p.name.count(".") == 1),
        reverse=True,
    )
    out = []
    for name in names[:limit]:
        with contextlib.suppress(BreedbenchError, TypeError):
            out.append(read_job(settings, name))
    return out


def stop_job(settings: Settings, job_id: str, *, stopped_by: str = "") -> Job:
    """Interrupt a running evaluation (SIGINT): the evaluator records nothing half-way.

    Who stopped it is written into the job's file first, as ``started_by`` is when it starts, so
    every session shows who stopped an evaluation another reviewer started.
    """
    job = read_job(settings, job_id)
    if job.status != "running":
        raise BreedbenchError(f"evaluation job {job_id} is not running ({job.status})")
    if stopped_by:
        files = job_files(settings, job_id)
        raw = _read_json(files["job"]) or {}
        write_json(files["job"], {**raw, "stopped_by": stopped_by})
        job = replace(job, stopped_by=stopped_by)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(job.pid, signal.SIGINT)
    return job
