"""Crawl runs: one crawl at a time per database, runs whose process is gone, and their history.

Every crawl and import is a ``crawl_runs`` row, written ``running`` when it starts with the
process doing it (pid, host, start time: ``core.processes``) and given its outcome when it ends.
A crawl killed outright (``kill -9``, a power loss) never gives one; ``reap_dead_runs`` finds such
rows — recorded on this host by a process that no longer runs — and marks them ``interrupted``,
keeping what they stored. The next crawl, the app's Crawls page and ``breedbench fsck`` call it.

"One crawl at a time" is the database's rule, not the app's: a partial unique index
(``db.models.IX_ONE_RUNNING_CRAWL``) admits one ``running`` crawl row. ``record_run_start`` says
who holds it when a crawl is refused; a dead holder is reaped first, so it never waits on a crawl
that will not end.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from core.processes import ProcessIdentity, ProcessState, process_state, this_process
from db.database import Database
from db.models import Breed, CrawlRun, Image, RunStatus, utcnow

PROCESS_GONE = "process_gone"  # stats key of a run marked interrupted because its process died
DUPLICATE_REASONS = ("duplicate", "near_duplicate")


@dataclass(frozen=True, slots=True)
class RunProcess:
    """A running run and the process recorded on it."""

    run_id: int
    kind: str
    started_at: datetime
    process: ProcessIdentity | None
    started_by: str | None = None

    @property
    def where(self) -> str:
        if self.process is None:
            return "by an unknown process"
        return f"by pid {self.process.pid} on {self.process.host}"


@dataclass(frozen=True, slots=True)
class BreedYield:
    """What a run did for one breed (from its stats; a killed run's from its stored images)."""

    slug: str
    stored: int
    needed: int | None = None
    found: int | None = None
    duplicates: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # refusals other than duplicates


@dataclass(frozen=True, slots=True)
class CrawlRunInfo:
    id: int
    kind: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    settings: dict[str, Any]
    stats: dict[str, Any]
    stored: int  # images of this run still in the database
    process: ProcessIdentity | None

    @property
    def refusals(self) -> dict[str, int]:
        """Every refusal of the run by reason (duplicates included), largest first."""
        out: Counter[str] = Counter()
        for key, n in self.stats.items():
            if key.startswith("refused/") and isinstance(n, int):
                out[key.removeprefix("refused/")] += n
        if not out:  # an import, or a run cut short: add up its breeds
            for y in breed_yields(self):
                out.update(y.refused)
                out["duplicate"] += y.duplicates
        return {r: n for r, n in out.most_common() if n}

    @property
    def process_gone(self) -> str | None:
        value = self.stats.get(PROCESS_GONE)
        return str(value) if value else None


def process_fields() -> dict[str, Any]:
    """This process, as a run row records it."""
    me = this_process()
    return {"pid": me.pid, "host": me.host, "process_started": me.started}


def _identity(run: CrawlRun) -> ProcessIdentity | None:
    if run.pid is None or run.host is None:
        return None
    return ProcessIdentity(pid=run.pid, host=run.host, started=run.process_started)


def _stored_by_breed(session: Session, run_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Breed.slug, func.count(Image.id))
        .join(Image, Image.found_breed_id == Breed.id)
        .where(Image.crawl_run_id == run_id)
        .group_by(Breed.slug)
        .order_by(Breed.slug)
    )
    return {slug: n for slug, n in rows.tuples()}


def reap_dead_runs(session: Session) -> list[RunProcess]:
    """Mark ``interrupted`` every running run whose process, on this host, is gone; the runs
    marked. Runs of other hosts are left alone: nothing here can tell whether they run."""
    reaped = []
    running = session.scalars(select(CrawlRun).where(CrawlRun.status == RunStatus.RUNNING))
    for run in list(running):
        process = _identity(run)
        if process is None or process_state(process) != ProcessState.GONE:
            continue
        stats = dict(run.stats or {})
        if "breeds" not in stats:
            stats["breeds"] = {
                slug: {"stored": n} for slug, n in _stored_by_breed(session, run.id).items()
            }
        stats[PROCESS_GONE] = (
            f"pid {process.pid} on {process.host} ended without recording an outcome "
            "(killed, or the machine stopped); what it stored is kept"
        )
        # Only if still running: a run that recorded its outcome meanwhile keeps it.
        done = session.execute(
            update(CrawlRun)
            .where(CrawlRun.id == run.id, CrawlRun.status == RunStatus.RUNNING)
            .values(status=RunStatus.INTERRUPTED, finished_at=utcnow(), stats=stats)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount:  # type: ignore[attr-defined]
            reaped.append(RunProcess(run.id, run.kind, run.started_at, process))
    return reaped


def running_crawl(session: Session) -> RunProcess | None:
    """The crawl holding the database's one running slot, if any."""
    run = session.scalar(
        select(CrawlRun)
        .where(CrawlRun.status == RunStatus.RUNNING, CrawlRun.kind == "crawl")
        .order_by(CrawlRun.id)
        .limit(1)
    )
    if run is None:
        return None
    started_by = (run.settings or {}).get("started_by")
    return RunProcess(run.id, run.kind, run.started_at, _identity(run), started_by)


def busy_message(holder: RunProcess) -> str:
    when = holder.started_at.strftime("%Y-%m-%d %H:%M")
    who = f", started by {holder.started_by}" if holder.started_by else ""
    advice = "wait for it to end or cancel it (the app's Crawls page, or Ctrl-C where it runs)"
    if holder.process is not None and process_state(holder.process) == ProcessState.UNKNOWN:
        advice = (
            f"wait for it to end; if it no longer runs on {holder.process.host}, "
            f"`breedbench fsck` there marks it interrupted"
        )
    return (
        f"another crawl is already running on this database: crawl run {holder.run_id}, "
        f"since {when} UTC {holder.where}{who}; one crawl at a time: {advice}"
    )


def record_run_start(
    db: Database, kind: str, settings: dict[str, Any], *, retry: bool = True
) -> int:
    """Record a ``running`` run of this process; its id.

    A crawl first reaps runs left by dead processes, then takes the one running slot, or is
    refused (``BreedbenchError`` naming the crawl that holds it). Two crawls starting at the same
    moment both pass the check; the unique index lets one of them in.
    """
    try:
        with db.session() as s:
            if kind == "crawl":
                reap_dead_runs(s)
                holder = running_crawl(s)
                if holder is not None:
                    raise BreedbenchError(busy_message(holder))
            run = CrawlRun(kind=kind, status=RunStatus.RUNNING, settings=settings)
            for name, value in process_fields().items():
                setattr(run, name, value)
            s.add(run)
            s.flush()
            return run.id
    except IntegrityError:
        with db.session() as s:
            holder = running_crawl(s)
        if holder is None and retry:  # it ended in between: the slot is free, ask again
            return record_run_start(db, kind, settings, retry=False)
        if holder is None:
            raise
        raise BreedbenchError(busy_message(holder)) from None


def _info(run: CrawlRun, stored: int) -> CrawlRunInfo:
    return CrawlRunInfo(
        id=run.id,
        kind=run.kind,
        status=str(run.status),
        started_at=run.started_at,
        finished_at=run.finished_at,
        settings=dict(run.settings or {}),
        stats=dict(run.stats or {}),
        stored=stored,
        process=_identity(run),
    )


def crawl_history(session: Session, limit: int = 50) -> list[CrawlRunInfo]:
    """The latest crawl and import runs, newest first, with the images each still has."""
    runs = list(session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(limit)))
    ids = [r.id for r in runs]
    stored = dict(
        session.execute(
            select(Image.crawl_run_id, func.count())
            .where(Image.crawl_run_id.in_(ids))
            .group_by(Image.crawl_run_id)
        )
        .tuples()
        .all()
    )
    return [_info(r, stored.get(r.id, 0)) for r in runs]


def get_run(session: Session, run_id: int) -> CrawlRunInfo:
    run = session.get(CrawlRun, run_id)
    if run is None:
        raise BreedbenchError(f"no crawl run {run_id}")
    stored = session.scalar(select(func.count()).where(Image.crawl_run_id == run_id)) or 0
    return _info(run, stored)


def live_stored(session: Session, run_id: int) -> dict[str, int]:
    """Images a (running) run has stored so far, by breed: each is committed as it is stored."""
    return _stored_by_breed(session, run_id)


def breed_yields(run: CrawlRunInfo) -> list[BreedYield]:
    """Per breed: stored, needed, found, duplicates and refusals by reason, as the run recorded
    them (a crawl's summaries, or an import's outcome counts)."""
    out = []
    for slug, entry in sorted((run.stats.get("breeds") or {}).items()):
        if not isinstance(entry, dict):
            continue
        if "refused" in entry or "found" in entry:  # a crawl's summary (crawler.jobs)
            refused = {str(k): int(v) for k, v in (entry.get("refused") or {}).items()}
            out.append(
                BreedYield(
                    slug=slug,
                    stored=int(entry.get("stored", 0)),
                    needed=entry.get("needed"),
                    found=entry.get("found"),
                    duplicates=int(entry.get("duplicates", 0)),
                    refused=refused,
                )
            )
        else:  # an import's outcomes, or the stored images of a run cut short
            counts = {str(k): int(v) for k, v in entry.items() if isinstance(v, int)}
            stored = counts.pop("stored", 0)
            duplicates = sum(counts.pop(r, 0) for r in DUPLICATE_REASONS)
            out.append(BreedYield(slug=slug, stored=stored, duplicates=duplicates, refused=counts))
    return out
