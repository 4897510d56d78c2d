"""Which process is this, and is a process recorded earlier still the same one running?

A crawl records its process on its run so that a crawl killed outright (``kill -9``, a power
loss) can be told from one still working. A pid alone is not enough: pids are reused, and after
a reboot any number may belong to something else. So a process is known by its pid, its host
and its start time; a recorded process is *gone* when its host is this one and either no process
has its pid or the one that has it started at another time. On another host nothing can be
checked from here: the answer is *unknown*.

Start times come from ``/proc`` (boot time + the process's start tick), computed the same way
when recorded and when checked; where there is no ``/proc`` only the pid is compared.
"""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path

from core.errors import BreedbenchError
from core.settings import Settings

# Two readings of one process's start time agree to the clock tick; a reused pid started later.
SAME_START_SECONDS = 0.5


class ProcessState(StrEnum):
    ALIVE = "alive"
    GONE = "gone"
    UNKNOWN = "unknown"  # on another host: cannot be checked from here


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    pid: int
    host: str
    started: float | None  # seconds since the epoch; None where it cannot be read


def host_name() -> str:
    return socket.gethostname()


@cache
def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (which may hold spaces)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def start_time(pid: int) -> float | None:
    """When ``pid`` started (seconds since the epoch), or ``None`` if it cannot be read."""
    fields = _stat_fields(pid)
    boot = _boot_time()
    if fields is None or boot is None or len(fields) < 20:
        return None
    try:
        ticks = int(fields[19])  # field 22 of stat: start time in clock ticks after boot
    except ValueError:
        return None
    return round(boot + ticks / os.sysconf("SC_CLK_TCK"), 2)


def this_process() -> ProcessIdentity:
    pid = os.getpid()
    return ProcessIdentity(pid=pid, host=host_name(), started=start_time(pid))


def running(pid: int) -> bool:
    """A process with this pid exists and has not ended (a zombie waiting to be reaped has)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    fields = _stat_fields(pid)
    return not (fields is not None and fields and fields[0] == "Z")


def process_state(recorded: ProcessIdentity) -> ProcessState:
    """Is the recorded process still running (see the module docstring)?"""
    if recorded.host != host_name():
        return ProcessState.UNKNOWN
    if not running(recorded.pid):
        return ProcessState.GONE
    if recorded.started is None:
        return ProcessState.ALIVE  # recorded without a start time: the pid is all there is
    now = start_time(recorded.pid)
    if now is not None and abs(now - recorded.started) > SAME_START_SECONDS:
        return ProcessState.GONE  # the pid was reused by a later process
    return ProcessState.ALIVE


def spawn_background(cmd: list[str], settings: Settings, log: Path, what: str) -> subprocess.Popen:
    """Starts a ``breedbench`` command for the app in its own process group (a stop reaches its
    workers too), on this code and this database whatever the app's working folder, its output
    in ``log``."""
    env = dict(os.environ)
    env["BREEDBENCH_DATA_DIR"] = str(Path(settings.data_dir).resolve())
    env["BREEDBENCH_DATABASE_URL"] = settings.resolved_database_url()
    env["PYTHONUNBUFFERED"] = "1"
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    with log.open("wb") as out:
        try:
            return subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=root,
                start_new_session=True,
            )
        except OSError as exc:
            raise BreedbenchError(f"cannot start the {what}: {exc}") from exc
