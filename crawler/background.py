"""Crawls started from the app: ``breedbench crawl`` in a background process, polled by the page.

A crawl takes minutes to hours; run inside the app's process it would hold the CPU every other
reviewer's session needs, and die with the page. So the app starts the command itself —
``breedbench crawl [--breed=SLUG ...] [--per-breed N] --started-by NAME --progress-file PATH
--stop-with-parent APP_PID`` — in its own process group, with the database and data directory in
its environment as ``BREEDBENCH_*``: the same code path as a crawl typed in a terminal. Its files
are ``<data dir>/crawls/<job id>.json`` (who started what), ``.progress.json`` (the crawl's own
progress and outcome, ``crawler.progress``) and ``.log`` (its output); any session lists them.

One crawl at a time is the database's rule (``db.crawl_runs``): ``start_crawl`` says at once who
holds it, and a crawl that starts anyway (another app, a terminal) is refused by the database and
says so in its outcome. ``cancel_crawl`` works on runs, not jobs: any crawl running on this host,
wherever it was started, stops as after Ctrl-C — the run ``interrupted``, what it stored kept.

No Scrapy here: the app imports this module.
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import BreedbenchError
from core.files import atomic_write, tail_lines
from core.processes import ProcessIdentity, ProcessState, process_state, running, spawn_background
from core.settings import Settings
from crawler.progress import CrawlProgress, read_crawl_progress
from db.crawl_runs import busy_message, reap_dead_runs, running_crawl
from db.database import Database
from db.models import CrawlRun, RunStatus

_LOCK = threading.Lock()
_JOB_ID = re.compile(r"[0-9A-Za-z-]+")
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
STARTING = "starting"  # the process runs but has not recorded its run yet
RUNNING = "running"
STOPPED = "stopped"  # ended without an outcome: killed, or the machine stopped


@dataclass(frozen=True, slots=True)
class CrawlJob:
    id: str
    breeds: list[str] | None  # None: every breed short of its target
    per_breed: int | None  # None: each breed's target
    started_at: str  # ISO 8601, UTC
    started_by: str
    pid: int
    status: str = (
        STARTING  # starting | running | finished | partial | failed | interrupted | stopped
    )
    run_id: int | None = None
    error: str | None = None
    progress: CrawlProgress = field(default_factory=CrawlProgress)
    tail: str = ""  # last lines of the output, once it has ended

    @property
    def active(self) -> bool:
        return self.status in (STARTING, RUNNING)

    @property
    def scope(self) -> str:
        what = ", ".join(self.breeds) if self.breeds else "every breed under its target"
        return what + (f", up to {self.per_breed} each" if self.per_breed is not None else "")


def jobs_dir(settings: Settings) -> Path:
    return settings.data_dir / "crawls"


def job_files(settings: Settings, job_id: str) -> dict[str, Path]:
    if not _JOB_ID.fullmatch(job_id or ""):
        raise BreedbenchError(f"no crawl job {job_id!r}")
    base = jobs_dir(settings) / job_id
    return {
        "job": base.with_suffix(".json"),
        "log": base.with_suffix(".log"),
        "progress": base.with_suffix(".progress.json"),
    }


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _clean_breeds(breeds: list[str] | None) -> list[str] | None:
    if not breeds:
        return None
    for slug in breeds:
        if not _SLUG.fullmatch(slug or ""):
            raise BreedbenchError(f"not a breed slug: {slug!r}")
    return sorted(set(breeds))


def start_crawl(
    db: Database,
    *,
    started_by: str,
    breeds: list[str] | None = None,
    per_breed: int | None = None,
) -> CrawlJob:
    """Start a crawl in the background and return at once (see the module docstring).

    Refused, naming the holder, while another crawl runs on the database or one started from
    this app has not recorded its run yet.
    """
    started_by = (started_by or "").strip()
    if not started_by:
        raise BreedbenchError("a crawl is started by a named reviewer: enter your name first")
    slugs = _clean_breeds(breeds)
    if per_breed is not None and per_breed < 0:
        raise BreedbenchError("images per breed must be 0 or more")
    settings = db.settings
    folder = jobs_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    with _LOCK:
        with db.session() as s:
            reap_dead_runs(s)
            holder = running_crawl(s)
        if holder is not None:
            raise BreedbenchError(busy_message(holder))
        for other in list_crawl_jobs(settings, limit=5):
            if other.status == STARTING:
                raise BreedbenchError(
                    f"a crawl started by {other.started_by} at {other.started_at} is starting; "
                    "one crawl at a time"
                )
        job_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        files = job_files(settings, job_id)
        cmd = [sys.executable, "-m", "breedbench", "crawl"]
        cmd += ["--progress-file", str(files["progress"].resolve())]
        # Nothing outlives the app that started it (its pid: it may die while this starts).
        cmd += ["--stop-with-parent", str(os.getpid())]
        cmd += [f"--started-by={started_by}"]
        if per_breed is not None:
            cmd += ["--per-breed", str(int(per_breed))]
        cmd += [f"--breed={slug}" for slug in slugs or ()]  # one token each: never an option
        proc = spawn_background(cmd, settings, files["log"], "crawl")
        record = {
            "id": job_id,
            "breeds": slugs,
            "per_breed": per_breed,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "started_by": started_by,
            "pid": proc.pid,
        }
        atomic_write(files["job"], json.dumps(record).encode("utf-8"))
    # Reap the child when it ends (no zombie); the outcome itself is in its progress file.
    threading.Thread(target=proc.wait, daemon=True, name=f"crawl-{job_id}").start()
    return read_crawl_job(settings, job_id)


def read_crawl_job(settings: Settings, job_id: str) -> CrawlJob:
    files = job_files(settings, job_id)
    raw = _read_json(files["job"])
    if raw is None:
        raise BreedbenchError(f"no crawl job {job_id!r}")
    fields = {k: v for k, v in raw.items() if k in CrawlJob.__dataclass_fields__}
    job = CrawlJob(**fields)
    progress = read_crawl_progress(files["progress"])
    if progress.status is not None:
        status = progress.status
    elif running(job.pid):
        status = RUNNING if progress.run_id is not None else STARTING
    else:
        status = STOPPED
    return CrawlJob(
        **{
            **{k: getattr(job, k) for k in fields},
            "status": status,
            "run_id": progress.run_id,
            "error": progress.error,
            "progress": progress,
            "tail": "" if status in (STARTING, RUNNING) else tail_lines(files["log"]),
        }
    )


def list_crawl_jobs(settings: Settings, limit: int = 20) -> list[CrawlJob]:
    """Crawls started from the app by any session, newest first."""
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
            out.append(read_crawl_job(settings, name))
    return out


def job_of_run(settings: Settings, run_id: int) -> CrawlJob | None:
    """The app's job that recorded ``run_id``, if the run was started from the app."""
    for job in list_crawl_jobs(settings):
        if job.run_id == run_id:
            return job
    return None


def cancel_crawl(db: Database, run_id: int, *, cancelled_by: str) -> str:
    """Stop a running crawl as Ctrl-C does; what to tell the user.

    Who cancelled it goes into the run's settings first, so every session (and ``breedbench``)
    shows it. A crawl on another host cannot be reached from here; one whose process is gone is
    marked ``interrupted`` instead.
    """
    cancelled_by = (cancelled_by or "").strip()
    if not cancelled_by:
        raise BreedbenchError("a crawl is cancelled by a named reviewer: enter your name first")
    with db.session() as s:
        run = s.get(CrawlRun, run_id)
        if run is None:
            raise BreedbenchError(f"no crawl run {run_id}")
        if run.status != RunStatus.RUNNING:
            raise BreedbenchError(f"crawl run {run_id} is not running ({run.status})")
        if run.pid is None or run.host is None:
            raise BreedbenchError(f"crawl run {run_id} recorded no process: it cannot be reached")
        process = ProcessIdentity(run.pid, run.host, run.process_started)
        state = process_state(process)
        if state == ProcessState.UNKNOWN:
            raise BreedbenchError(
                f"crawl run {run_id} runs on {run.host}: stop it there (Ctrl-C, or kill -INT "
                f"{run.pid})"
            )
        if state == ProcessState.GONE:
            reap_dead_runs(s)
            return (
                f"Crawl run {run_id} had already ended (its process is gone): marked interrupted."
            )
        run.settings = {**(run.settings or {}), "cancelled_by": cancelled_by}
    try:
        if os.getpgid(process.pid) == process.pid:  # a group leader: reach its workers too
            os.killpg(process.pid, signal.SIGINT)
        else:
            os.kill(process.pid, signal.SIGINT)
    except ProcessLookupError:
        return f"Crawl run {run_id} had just ended."
    except PermissionError as exc:
        raise BreedbenchError(
            f"crawl run {run_id} (pid {process.pid}) belongs to another user: stop it there"
        ) from exc
    return f"Cancelling crawl run {run_id}: the images in hand are finished, then it stops."
