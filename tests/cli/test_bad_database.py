"""``--db`` pointing at something that is not breedbench's database: one line, exit 1, and the
file exactly as it was (no ``-wal``/``-shm`` beside it either)."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from breedbench.cli import app

runner = CliRunner()
COMMANDS = [["init"], ["status"], ["breeds"], ["fsck"]]


@pytest.fixture(scope="module")
def real_db(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a real, seeded breedbench database (to truncate and damage)."""
    folder = tmp_path_factory.mktemp("real")
    result = runner.invoke(
        app, ["--db", str(folder / "b.db"), "--data-dir", str(folder / "d"), "init"]
    )
    assert result.exit_code == 0, result.output
    assert not (folder / "b.db-wal").exists()  # checkpointed: the file holds everything
    return (folder / "b.db").read_bytes()


def _damage_page(path: Path, real: bytes, table: str = "breeds") -> None:
    """The real database with ``table``'s root page overwritten (a bad sector, say)."""
    path.write_bytes(real)
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True)
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    (size,) = conn.execute("PRAGMA page_size").fetchone()
    conn.close()
    with path.open("r+b") as fh:
        fh.seek((root - 1) * size)
        fh.write(b"\xa5" * size)


def _other_application(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")
    conn.execute("INSERT INTO moz_places (url) VALUES ('https://example.org/')")
    conn.commit()
    conn.close()


# name → (make the file at path from the real database's bytes, what the error says)
CASES: dict[str, tuple[Callable[[Path, bytes], object], str]] = {
    "random bytes": (
        lambda p, _: p.write_bytes(random.Random(0).randbytes(5000)),
        "is not a SQLite database",
    ),
    "text file": (lambda p, _: p.write_text("breed,count\nboxer,3\n"), "is not a SQLite database"),
    "header only": (lambda p, real: p.write_bytes(real[:40]), "is damaged (truncated to 40 bytes)"),
    "truncated mid-page": (lambda p, real: p.write_bytes(real[:3000]), "is damaged"),
    "truncated at a page": (lambda p, real: p.write_bytes(real[:8192]), "is damaged"),
    "damaged page": (_damage_page, "is damaged (database disk image is malformed)"),
    "another application's": (
        lambda p, _: _other_application(p),
        "belongs to another application (tables: moz_places)",
    ),
    "a folder": (lambda p, _: p.mkdir(), "is a folder, not a file"),
}


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {p.name: p.read_bytes() if p.is_file() else None for p in folder.iterdir()}


def _assert_one_line(output: str, *parts: str) -> None:
    assert output.startswith("Error: ") and output.count("\n") == 1, output
    assert "Traceback" not in output
    for part in parts:
        assert part in output, output


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_a_bad_database_file_is_one_line_and_left_untouched(
    tmp_path: Path, real_db: bytes, case: str, command: list[str]
) -> None:
    make, message = CASES[case]
    folder = tmp_path / "files"
    folder.mkdir()
    path = folder / "breedbench.db"
    make(path, real_db)
    before = _snapshot(folder)
    result = CliRunner(env={"COLUMNS": "400"}).invoke(
        app, ["--db", str(path), "--data-dir", str(tmp_path / "d"), *command]
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    _assert_one_line(result.output, str(path), message)
    assert _snapshot(folder) == before


@pytest.mark.parametrize("case", ["random bytes", "truncated mid-page"])
def test_review_refuses_a_bad_file_before_starting_the_app(
    tmp_path: Path, real_db: bytes, case: str
) -> None:
    """The review app starts only on a usable database (checked in a real process)."""
    make, message = CASES[case]
    path = tmp_path / "x.db"
    make(path, real_db)
    before = path.read_bytes()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "breedbench",
            "--db",
            str(path),
            "--data-dir",
            str(tmp_path / "d"),
            "review",
            "--port",
            "1",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    _assert_one_line(proc.stderr, str(path), message)
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["d", "x.db"]


def test_a_file_that_cannot_be_read_is_one_line(tmp_path: Path) -> None:
    """Reading /proc/self/mem from its start fails (EIO), even for root."""
    unreadable = Path("/proc/self/mem")
    if not unreadable.exists():
        pytest.skip("no /proc on this system")
    result = runner.invoke(app, ["--db", str(unreadable), "--data-dir", str(tmp_path), "status"])
    assert result.exit_code == 1
    _assert_one_line(result.output, f"database file {unreadable.resolve()} cannot be read")


@pytest.mark.parametrize(("mode", "message"), [(0o000, "cannot be read"), (0o444, "is read-only")])
@pytest.mark.usefixtures("owner_permissions")  # as root too (CI): the owner's bits are obeyed
def test_a_file_without_permission_is_one_line(
    tmp_path: Path, real_db: bytes, mode: int, message: str
) -> None:
    path = tmp_path / "x.db"
    path.write_bytes(real_db)
    path.chmod(mode)
    result = runner.invoke(app, ["--db", str(path), "--data-dir", str(tmp_path / "d"), "status"])
    assert result.exit_code == 1
    _assert_one_line(result.output, str(path), message)
    path.chmod(0o600)
    assert path.read_bytes() == real_db


def test_an_empty_file_becomes_a_new_database(tmp_path: Path) -> None:
    """``touch breedbench.db`` is a fine start: SQLite takes an empty file as a new database."""
    path = tmp_path / "x.db"
    path.touch()
    result = runner.invoke(app, ["--db", str(path), "--data-dir", str(tmp_path / "d"), "init"])
    assert result.exit_code == 0 and "120 added" in result.output
