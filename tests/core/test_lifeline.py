"""A background process ends with the process that started it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from core.lifeline import stop_with_parent

ROOT = Path(__file__).resolve().parents[2]


def test_an_orphan_is_told_once() -> None:
    called = threading.Event()
    thread = stop_with_parent(parent=-1, interval=0.01, on_orphaned=called.set)
    assert called.wait(10)
    thread.join(10)
    assert not thread.is_alive()  # one stop, then the watcher ends


def test_a_parent_gone_before_the_watch_starts_is_noticed_at_once() -> None:
    """The app may die while its evaluation is still importing: no first wait is needed."""
    called = threading.Event()
    stop_with_parent(parent=-1, interval=3600, on_orphaned=called.set)
    assert called.wait(10)


def test_a_child_whose_parent_lives_is_left_alone() -> None:
    called = threading.Event()
    stop_with_parent(parent=os.getppid(), interval=0.01, on_orphaned=called.set)
    assert not called.wait(0.3)


CHILD = textwrap.dedent(
    """
    import sys, time
    from core.lifeline import stop_with_parent
    stop_with_parent(interval=0.05)
    open(sys.argv[1] + ".ready", "w").close()
    try:
        while True:
            time.sleep(0.05)
    except KeyboardInterrupt:
        open(sys.argv[1], "w").write("interrupted")
    """
)

MIDDLE = textwrap.dedent(
    """
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]],
                             start_new_session=True)
    print(child.pid, flush=True)
    time.sleep(600)
    """
)


def test_killing_the_parent_stops_the_child_cleanly(tmp_path: Path) -> None:
    """The app killed outright (SIGKILL: no handler runs) still stops its evaluation, which
    ends as on Ctrl-C rather than being left running."""
    marker = tmp_path / "child-outcome"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    middle = subprocess.Popen(
        [sys.executable, "-c", MIDDLE, CHILD, str(marker)], stdout=subprocess.PIPE, env=env
    )
    assert middle.stdout is not None
    child_pid = int(middle.stdout.readline())
    try:
        for _ in range(400):
            if Path(f"{marker}.ready").exists():
                break
            time.sleep(0.025)
        middle.send_signal(signal.SIGKILL)
        middle.wait(10)
        for _ in range(400):  # up to 10 s for the watcher to notice
            if marker.exists():
                break
            time.sleep(0.025)
        assert marker.read_text() == "interrupted"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child_pid, signal.SIGKILL)
