"""``breedbench fsck``: its table, its advice and its exit code, on SQLite and PostgreSQL."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import Any

import pytest

from core import files
from db.database import Database
from db.fsck import GRACE_SECONDS
from tests.cli.helpers import cli
from tests.factories import image_row, insert_image, jpeg_bytes


def _fsck(db: Database, *args: str) -> tuple[int, str]:
    return cli(db, "fsck", *args, width=250)  # store paths are long: no wrapping


def _old(path: Path) -> Path:
    then = time.time() - 2 * GRACE_SECONDS
    os.utime(path, (then, then))
    return path


def test_a_clean_store_exits_0(any_database: Database) -> None:
    insert_image(any_database, "boxer", seed=1)
    code, out = _fsck(any_database)
    assert code == 0, out
    assert "2 files, 1 image rows, 1 originals hashed" in out and "No problems found." in out


def test_orphans_exit_1_until_repaired(any_database: Database) -> None:
    db = any_database
    insert_image(db, "boxer", seed=1)
    orphan = _old(db.store.absolute(db.store.put(jpeg_bytes(seed=2)).path))
    temp = orphan.parent / ".tmp-x1y2z3"
    temp.write_bytes(b"half")
    _old(temp)

    code, out = _fsck(db)
    assert code == 1
    assert "orphan file" in out and "temporary file" in out and orphan.name in out
    assert "2 problems left (run with --repair)." in out
    assert orphan.exists() and temp.exists()

    code, out = _fsck(db, "--repair")
    assert code == 0, out
    assert "All problems repaired." in out
    assert not orphan.exists() and not temp.exists()
    code, out = _fsck(db)
    assert code == 0 and "No problems found." in out


def test_what_cannot_be_repaired_is_explained_and_exits_1(any_database: Database) -> None:
    db = any_database
    row = image_row(db, insert_image(db, "pug", seed=3))
    db.store.absolute(row.path).unlink()
    code, out = _fsck(db, "--repair")
    assert code == 1
    assert "row without its file" in out and row.path in out
    assert "restore the store's originals/ folder from a backup" in out
    assert "1 problem left." in out and "--repair" not in out.splitlines()[-1]


def test_file_names_are_printed_as_they_are(any_database: Database) -> None:
    """A stray file's name is shown literally, never read as Rich markup."""
    db = any_database
    (db.store.root / "[red]stray[bold].txt").write_text("stray")
    code, out = _fsck(db, "--repair")
    assert code == 1
    assert "[red]stray[bold].txt" in out
    assert "unexpected file" in out and "move them out of the store yourself" in out
    assert (db.store.root / "[red]stray[bold].txt").exists()


def test_quick_compares_sizes_only(any_database: Database) -> None:
    db = any_database
    row = image_row(db, insert_image(db, "pug", seed=4))
    path = db.store.absolute(row.path)
    data = bytearray(path.read_bytes())
    data[50] ^= 0xFF
    path.write_bytes(bytes(data))
    assert _fsck(db)[0] == 1
    code, out = _fsck(db, "--quick")
    assert code == 0 and "sizes compared" in out


def test_a_full_disk_while_repairing_is_one_line(
    any_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = any_database
    row = image_row(db, insert_image(db, "beagle", seed=5))
    thumb = db.store.absolute(row.thumb_path or "")
    thumb.unlink()
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, fh: Any) -> None:
            self.fh = fh

        def __enter__(self) -> Full:
            return self

        def __exit__(self, *exc: object) -> None:
            self.fh.close()

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    code, out = _fsck(db, "--repair")
    assert code == 1
    assert out.startswith("Error: disk full while writing") and out.count("\n") == 1, out
    assert f"in {thumb.parent}" in out
    assert not thumb.exists() and list(thumb.parent.glob(".tmp-*")) == []
