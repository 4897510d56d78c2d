"""Telling a recorded process from another one with the same pid, or from none at all."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import replace
from pathlib import Path

from core.processes import ProcessIdentity, ProcessState, process_state, start_time, this_process


def test_this_process_is_alive_and_its_start_time_is_stable() -> None:
    me = this_process()
    assert me.pid == os.getpid() and me.started is not None
    assert start_time(me.pid) == me.started
    assert me.started <= time.time()
    assert process_state(me) == ProcessState.ALIVE


def test_a_reused_pid_is_another_process() -> None:
    me = this_process()
    assert me.started is not None
    assert process_state(replace(me, started=me.started - 60)) == ProcessState.GONE
    assert process_state(replace(me, started=None)) == ProcessState.ALIVE  # only the pid known


def test_another_host_cannot_be_checked() -> None:
    elsewhere = replace(this_process(), host="crawler-2.example")
    assert process_state(elsewhere) == ProcessState.UNKNOWN


def test_an_ended_process_is_gone_even_before_it_is_reaped() -> None:
    proc = subprocess.Popen(["sleep", "30"])
    recorded = ProcessIdentity(proc.pid, this_process().host, start_time(proc.pid))
    assert process_state(recorded) == ProcessState.ALIVE
    proc.kill()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert process_state(recorded) == ProcessState.GONE  # a zombie: ended, not yet reaped
    proc.wait()
    assert process_state(recorded) == ProcessState.GONE
