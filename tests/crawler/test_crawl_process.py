"""One crawl at a time per database, and crawls killed outright.

A real ``breedbench crawl`` is killed with SIGKILL mid-crawl (its last images held back by the
look-alike server); ``breedbench fsck`` and the next crawl each find its run left ``running`` by
a process that is gone and mark it ``interrupted``, keeping what it stored. A second crawl while
one runs is refused with a message naming the first, by the check and by the database itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.errors import BreedbenchError
from core.processes import host_name, this_process
from crawler.progress import read_crawl_progress
from db.crawl_runs import PROCESS_GONE, busy_message, reap_dead_runs, running_crawl
from db.database import Database
from db.models import CrawlRun, RunStatus
from tests.cli.helpers import cli
from tests.crawler.conftest import crawl
from tests.crawler.mockserver import REPO, MockServer
from tests.fixtures.crawl_jobs import (
    HeldBreed,
    crawl_environ,
    latest_run,
    running_run_with_images,
    start_cli_crawl,
    stored_count,
    wait_until,
)


def killed_crawl(db: Database, held: HeldBreed) -> tuple[CrawlRun, int]:
    """A CLI crawl killed with SIGKILL once it has stored its first images; its run and pid."""
    proc = start_cli_crawl(db, held.server, "--breed", held.slug)
    try:
        run = wait_until(
            lambda: proc.poll() is None and running_run_with_images(db, held.good),
            "the crawl's first images",
        )
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the crawl, its workers: no chance to record
        proc.wait()
    assert (run.pid, run.host) == (proc.pid, host_name())
    assert run.process_started is not None
    assert latest_run(db).status == RunStatus.RUNNING  # type: ignore[union-attr]
    return run, proc.pid


def check_marked_interrupted(db: Database, run_id: int, stored: int) -> None:
    with db.session() as s:
        run = s.get(CrawlRun, run_id)
        assert run is not None and run.status == RunStatus.INTERRUPTED
        assert run.finished_at is not None
        assert "ended without recording an outcome" in run.stats[PROCESS_GONE]
        assert run.stats["breeds"] == ({"otterhound": {"stored": stored}} if stored else {})


def test_fsck_marks_a_killed_crawl_interrupted(database: Database, held_breed: HeldBreed) -> None:
    run, pid = killed_crawl(database, held_breed)
    kept = stored_count(database, run.id)
    assert kept >= held_breed.good
    out = cli(database, "fsck", "--quick")
    assert (
        f"Crawl run {run.id} was left running by pid {pid} on {host_name()}, which is gone: "
        "marked interrupted (the images it stored are kept)."
    ) in out.output
    check_marked_interrupted(database, run.id, kept)
    assert "left running" not in cli(database, "fsck", "--quick").output  # once


def test_the_next_crawl_marks_a_killed_crawl_interrupted_and_runs(
    database: Database, held_breed: HeldBreed, crawl_server: MockServer
) -> None:
    run, _ = killed_crawl(database, held_breed)
    kept = stored_count(database, run.id)
    report = crawl(database, crawl_server, breeds=["saluki"], per_breed=3, dog_keyword="never")
    assert report.status == RunStatus.FINISHED and report.run_id != run.id
    assert stored_count(database, report.run_id) == 3
    check_marked_interrupted(database, run.id, kept)


def running_row(db: Database, **process: object) -> int:
    """A running crawl row, as if another crawl held the database (this process by default)."""
    me = this_process()
    fields = {"pid": me.pid, "host": me.host, "process_started": me.started, **process}
    with db.session() as s:
        row = CrawlRun(
            kind="crawl", status=RunStatus.RUNNING, settings={"started_by": "ana"}, **fields
        )
        s.add(row)
        s.flush()
        return row.id


def test_a_second_crawl_is_refused_naming_the_first(
    database: Database, crawl_server: MockServer, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    holder = running_row(database)
    with pytest.raises(BreedbenchError) as refused:
        crawl(database, crawl_server, breeds=["saluki"], per_breed=3)
    message = str(refused.value)
    assert message.startswith(
        f"another crawl is already running on this database: crawl run {holder}, since "
    )
    assert f"by pid {os.getpid()} on {host_name()}, started by ana; one crawl at a time" in message
    for key, value in crawl_environ(crawl_server).items():
        monkeypatch.setenv(key, value)
    progress = tmp_path / "p.json"
    out = cli(database, "crawl", "--breed", "saluki", "--progress-file", progress)
    assert out.exit_code == 1
    assert f"already running on this database: crawl run {holder}" in out.output
    assert "Traceback" not in out.output
    state = read_crawl_progress(progress)
    assert state.status == "failed" and state.error is not None
    assert f"crawl run {holder}" in state.error
    with database.session() as s:  # nothing recorded for the refused crawls
        assert s.scalars(select(CrawlRun.id)).all() == [holder]


def test_the_database_admits_one_running_crawl(any_database: Database) -> None:
    first = running_row(any_database)
    with pytest.raises(IntegrityError), any_database.session() as s:
        s.add(CrawlRun(kind="crawl", status=RunStatus.RUNNING))
        s.flush()
    with any_database.session() as s:  # imports and ended crawls are not held to it
        s.add(CrawlRun(kind="import", status=RunStatus.RUNNING))
        s.add(CrawlRun(kind="crawl", status=RunStatus.FINISHED))
    with any_database.session() as s:
        holder = running_crawl(s)
        assert holder is not None and holder.run_id == first


def test_a_reused_pid_is_not_mistaken_for_the_crawl(database: Database) -> None:
    me = this_process()
    assert me.started is not None
    # This pid, this host, but a process that started a minute earlier: another process.
    earlier = running_row(database, process_started=me.started - 60)
    with database.session() as s:
        assert [r.run_id for r in reap_dead_runs(s)] == [earlier]
    report = crawl_status(database, earlier)
    assert report == RunStatus.INTERRUPTED
    # The live process itself is left alone.
    alive = running_row(database)
    with database.session() as s:
        assert reap_dead_runs(s) == []
        holder = running_crawl(s)
    assert holder is not None and holder.run_id == alive


def test_a_crawl_on_another_host_is_left_alone_and_named(database: Database) -> None:
    elsewhere = running_row(database, host="crawler-2.example")
    with database.session() as s:
        assert reap_dead_runs(s) == []
        holder = running_crawl(s)
    assert holder is not None and holder.run_id == elsewhere
    assert (
        "if it no longer runs on crawler-2.example, `breedbench fsck` there marks it interrupted"
    ) in busy_message(holder)


def crawl_status(db: Database, run_id: int) -> RunStatus:
    with db.session() as s:
        run = s.get(CrawlRun, run_id)
        assert run is not None
        return run.status


def test_a_run_whose_process_ended_is_marked_interrupted(any_database: Database) -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()
    dead = running_row(any_database, pid=proc.pid, process_started=None)
    with any_database.session() as s:
        assert [r.run_id for r in reap_dead_runs(s)] == [dead]
    check_marked_interrupted(any_database, dead, stored=0)


def test_the_progress_file_ends_with_the_outcome(
    database: Database, crawl_server: MockServer, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    for key, value in crawl_environ(crawl_server).items():
        monkeypatch.setenv(key, value)
    progress = tmp_path / "p.json"
    out = cli(database, "crawl", "--breed", "saluki", "--per-breed", "3", "--started-by", "ana",
              "--progress-file", progress)  # fmt: skip
    assert out.exit_code == 0, out.output
    state = read_crawl_progress(progress)
    run = latest_run(database)
    assert run is not None and run.settings["started_by"] == "ana"
    assert (state.status, state.run_id, state.error) == ("finished", run.id, None)
    assert state.breeds["saluki"]["stored"] == 3 and state.breeds["saluki"]["needed"] == 3
    assert (state.stored, state.needed) == (3, 3)


def test_two_crawls_starting_at_once_are_split_by_the_database(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both pass the check before either has written its row: the index lets one in."""
    from db import crawl_runs

    holder = running_row(database)
    real = crawl_runs.running_crawl
    calls = iter([None])  # the first check sees no crawl, as if the other had not committed

    def racing(session):  # type: ignore[no-untyped-def]
        return next(calls, real(session))

    monkeypatch.setattr(crawl_runs, "running_crawl", racing)
    with pytest.raises(BreedbenchError, match=f"already running .*crawl run {holder},"):
        crawl_runs.record_run_start(database, "crawl", {})
    with database.session() as s:
        assert s.scalars(select(CrawlRun.id)).all() == [holder]


STARTER = """
import os, subprocess, sys, time
subprocess.Popen([sys.executable, "-m", "breedbench", "crawl", "--breed", sys.argv[1],
                  "--progress-file", sys.argv[2], "--stop-with-parent", str(os.getpid())])
time.sleep(600)
"""


def test_a_crawl_stops_cleanly_when_the_process_that_started_it_dies(
    database: Database, held_breed: HeldBreed, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """What the app's crawls rely on: an app that is killed leaves no crawl running unseen."""
    s = database.settings
    env = {
        **os.environ,
        **crawl_environ(held_breed.server),
        "PYTHONPATH": str(REPO),
        "BREEDBENCH_DATABASE_URL": s.resolved_database_url(),
        "BREEDBENCH_DATA_DIR": str(s.data_dir),
    }
    progress = tmp_path / "p.json"
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, held_breed.slug, str(progress)],
        cwd=REPO,
        env=env,
        start_new_session=True,
    )
    try:
        run = wait_until(lambda: running_run_with_images(database, held_breed.good), "images")
        starter.kill()  # the "app" dies at once
        starter.wait()  # the held images stay held: only the crawl's own lifeline can end it
        state = wait_until(
            lambda: (p := read_crawl_progress(progress)).status and p, "the crawl's outcome"
        )
    finally:
        if _group_alive(starter.pid):
            os.killpg(starter.pid, signal.SIGKILL)
    assert (state.status, state.run_id) == ("interrupted", run.id)
    assert latest_run(database).status == RunStatus.INTERRUPTED  # type: ignore[union-attr]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
