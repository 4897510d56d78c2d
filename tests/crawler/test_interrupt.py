"""A real Ctrl-C: the CLI in a subprocess gets SIGINT mid-crawl.

It must stop gracefully: the run recorded as ``interrupted``, every row with both of its files,
no temporary file left in the store, exit code 0, and the next crawl tops the breed up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from db.database import Database
from db.models import Breed, CrawlRun, Image, RunStatus
from tests.crawler.conftest import crawl
from tests.crawler.mockserver import REPO, MockServer

BREED = "ibizan_hound"  # its images but the first are held by the server until released


def count(db: Database, slug: str) -> int:
    with db.session() as s:
        return (
            s.scalar(
                select(func.count()).select_from(Image).join(Image.breed).where(Breed.slug == slug)
            )
            or 0
        )


def test_ctrl_c_stops_cleanly_and_the_next_crawl_tops_up(
    database: Database, mockserver: MockServer
) -> None:
    """The interrupt comes at a known point: one image stored, every other one held by the
    server, so the crawl cannot have finished (nor stored more than the images in hand)."""
    s = database.settings
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "BREEDBENCH_DATABASE_URL": s.resolved_database_url(),
        "BREEDBENCH_DATA_DIR": str(s.data_dir),
        "BREEDBENCH_OPENVERSE_URL": f"{mockserver.url}/openverse/v1",
        "BREEDBENCH_CONTACT": "tests@example.org",
        "BREEDBENCH_CRAWL_CONCURRENCY_PER_DOMAIN": "1",
    }
    argv = [sys.executable, "-m", "breedbench", "crawl", "--breed", BREED, "--per-breed", "10"]
    argv += ["--source", "openverse", "--dog-keyword", "never"]
    mockserver.new_crawl()
    mockserver.pause(after=1)
    try:
        proc = subprocess.Popen(
            argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while count(database, BREED) < 1:  # the one image that is not held
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no image was stored"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
    finally:
        mockserver.resume()  # the images in hand may now arrive
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err
    assert b"interrupted" in out
    assert b"Stopping: finishing the images in hand" in err
    n = count(database, BREED)
    assert 1 <= n <= 2  # the first image, and at most the one held in hand (one at a time)
    with database.session() as ses:
        run = ses.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()
        assert run is not None and run.status == RunStatus.INTERRUPTED
        for img in ses.scalars(select(Image)):
            assert database.store.exists(img.path) and database.store.exists(img.thumb_path or "")
    assert not list(Path(database.store.root).rglob(".tmp-*"))
    report = crawl(database, mockserver, breeds=[BREED], per_breed=10, dog_keyword="never")
    assert report.status == RunStatus.FINISHED and count(database, BREED) == 10
