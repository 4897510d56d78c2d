"""``breedbench review``: binds to 127.0.0.1 unless told, refuses to expose an app without sign-in,
hands its settings to the app, never prints the database password, and stops on a signal."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from breedbench.cli import app_cmds
from core.settings import Settings
from db.database import Database, open_database
from review.identity import hash_password
from tests.browser import free_port
from tests.cli.helpers import cli, db_args, invoke


class Exec:
    """Stands in for ``os.execve``: records the command instead of becoming the server."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, str]]] = []

    def __call__(self, path: str, cmd: list[str], env: dict[str, str]) -> None:
        assert path == sys.executable
        self.calls.append((cmd, env))


@pytest.fixture
def execve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Exec:
    """No real server; and Streamlit's folders in a temporary home and working directory."""
    fake = Exec()
    monkeypatch.setattr(app_cmds.os, "execve", fake)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("STREAMLIT_SECRETS_FILES", raising=False)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    return fake


def _option(cmd: list[str], name: str) -> list[str]:
    return [cmd[i + 1] for i, arg in enumerate(cmd) if arg == name]


def _write_secrets(folder: Path, text: str) -> None:
    (folder / ".streamlit").mkdir(parents=True, exist_ok=True)
    (folder / ".streamlit" / "secrets.toml").write_text(text)


def test_review_passes_settings_through_the_environment(
    database: Database, execve: Exec, tmp_path: Path
) -> None:
    args = ["review", "--min-reviews", "2", "--port", "8599"]
    result = cli(database, *args)
    assert result.exit_code == 0, result.output
    (cmd, env) = execve.calls[0]
    assert cmd[1:4] == ["-m", "streamlit", "run"]
    assert cmd[4] == str(app_cmds.SERVER)  # the app inside st.App, with the review copies' route
    assert _option(cmd, "--server.address") == ["127.0.0.1"]
    assert _option(cmd, "--server.port") == ["8599"]
    assert _option(cmd, "--client.toolbarMode") == ["viewer"]  # no "Deploy" for reviewers
    # The app reads exactly the secrets files the command checked, Streamlit's defaults here.
    assert _option(cmd, "--secrets.files") == [
        str(tmp_path / "home" / ".streamlit" / "secrets.toml"),
        str(tmp_path / "work" / ".streamlit" / "secrets.toml"),
        str(app_cmds.APP.parent / ".streamlit" / "secrets.toml"),
    ]
    assert env["BREEDBENCH_MIN_REVIEWS"] == "2"
    assert env["BREEDBENCH_DATABASE_URL"] == database.settings.resolved_database_url()
    assert "no sign-in" in result.output and "Warning" not in result.output
    bad = cli(database, "review", "--min-reviews", "0")
    assert bad.exit_code != 0 and not execve.calls[1:]


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "reviews.example.org"])
def test_an_app_without_sign_in_is_not_exposed(database: Database, execve: Exec, host: str) -> None:
    result = cli(database, "review", "--host", host)
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: the review app has no sign-in")
    assert "--allow-open-network" in line and "secrets.toml" in line
    assert execve.calls == []


def test_allow_open_network_starts_with_a_warning(database: Database, execve: Exec) -> None:
    result = cli(database, "review", "--host", "0.0.0.0", "--allow-open-network")
    assert result.exit_code == 0, result.output
    assert "Warning: no sign-in is configured" in result.output
    assert _option(execve.calls[0][0], "--server.address") == ["0.0.0.0"]


def test_with_sign_in_any_address_is_fine(database: Database, execve: Exec, tmp_path: Path) -> None:
    current = hash_password("pw-of-bo-1")
    _write_secrets(tmp_path / "home", f'[reviewers]\nbo = "{current}"\n')
    # The project's secrets replace the user's [reviewers] table, as in Streamlit.
    old = hash_password("pw-of-ana", iterations=200_000)
    _write_secrets(tmp_path / "work", f'[reviewers]\nana = "{old}"\ncy = "{current}"\n')
    result = cli(database, "review", "--host", "0.0.0.0")
    assert result.exit_code == 0, result.output
    assert "password sign-in" in result.output
    assert _option(execve.calls[0][0], "--server.address") == ["0.0.0.0"]
    # Only the outdated line is named, with the command that prints its replacement.
    warning = next(line for line in result.output.splitlines() if "Warning" in line)
    assert "of ana are older than 600,000" in warning and "reviewer-password" in warning
    _write_secrets(tmp_path / "work", '[auth]\nclient_id = "x"\n')
    result = cli(database, "review", "--host", "0.0.0.0")
    assert result.exit_code == 0 and "OpenID Connect" in result.output


def test_unreadable_secrets_stop_the_command(
    database: Database, execve: Exec, tmp_path: Path
) -> None:
    _write_secrets(tmp_path / "work", "[reviewers\n")
    result = cli(database, "review")
    assert result.exit_code == 1 and "is not valid TOML" in result.output
    assert execve.calls == []


def test_reviewers_that_are_not_a_table_stop_the_command(
    database: Database, execve: Exec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the command said "password sign-in" and served 0.0.0.0; the first sign-in crashed."""
    _write_secrets(tmp_path / "work", 'reviewers = "pbkdf2_sha256$600000$00$00"\n')
    result = cli(database, "review", "--host", "0.0.0.0")
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: [reviewers] in the app's secrets is a string, not a table")
    assert execve.calls == []
    # A secrets folder holding one reviewer's file is read as a string too.
    folder = tmp_path / "k8s"
    (folder / "reviewers").mkdir(parents=True)
    (folder / "reviewers" / "ana").write_text("pbkdf2_sha256$600000$00$00\n")
    monkeypatch.setenv("STREAMLIT_SECRETS_FILES", str(folder))
    result = cli(database, "review")
    assert result.exit_code == 1 and "a single file" in result.output
    assert len(result.output.strip().splitlines()) == 1 and execve.calls == []


def test_the_printed_database_url_hides_the_password(
    postgres_url: str, data_dir: Path, execve: Exec
) -> None:
    from sqlalchemy import make_url

    password = make_url(postgres_url).password
    assert password
    open_database(Settings(data_dir=data_dir, database_url=postgres_url)).dispose()
    result = invoke("--db", postgres_url, "--data-dir", data_dir, "review")
    assert result.exit_code == 0, result.output
    assert f":{password}@" not in result.output and ":***@" in result.output
    assert execve.calls[0][1]["BREEDBENCH_DATABASE_URL"] == postgres_url  # the app still gets it


# A real server, stopped by a signal.


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            return r.read() == b"ok"
    except OSError:
        return False


def _refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def _proc_entries() -> dict[int, tuple[int, list[str]]]:
    """pid → (parent pid, command line) of every process, from /proc."""
    out: dict[int, tuple[int, list[str]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        out[int(entry.name)] = (ppid, cmdline)
    return out


def _descendants(pid: int) -> set[int]:
    entries = _proc_entries()
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        children = {p for p, (ppid, _) in entries.items() if ppid == parent} - found
        found |= children
        todo.extend(children)
    return found


def _serving(port: int) -> set[int]:
    """Live processes whose command line runs Streamlit on this port."""
    return {
        pid
        for pid, (_, cmd) in _proc_entries().items()
        if any("streamlit" in part for part in cmd) and str(port) in cmd
    }


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_review_stops_its_server_on_a_signal(
    database: Database, tmp_path: Path, signum: signal.Signals
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    env["HOME"] = str(tmp_path / "home")
    log = tmp_path / "review.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "breedbench", *db_args(database), "review", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while not _healthy(port):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no answer on /_stcore/health:\n" + log.read_text()
            time.sleep(0.2)
        servers = _serving(port) | _descendants(proc.pid)
        assert proc.pid in servers  # the command itself is the server: nothing to orphan
        os.kill(proc.pid, signum)
        proc.wait(timeout=30)
        assert _refuses(port)
        assert not [pid for pid in servers - {proc.pid} if _alive(pid)]
        assert _serving(port) == set()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in _serving(port):  # a server this test started and left orphaned: stop it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
