"""``atomic_write``: a failed write leaves nothing behind, and a full disk is one line."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from core import files
from core.errors import BreedbenchError
from core.files import atomic_write


class _FailingFile:
    """A file that takes the first half of the bytes, then fails as a full disk would."""

    def __init__(self, fh: Any, err: int) -> None:
        self.fh, self.err = fh, err

    def __enter__(self) -> _FailingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.fh.close()

    def write(self, data: bytes) -> int:
        self.fh.write(data[: len(data) // 2])
        self.fh.flush()
        raise OSError(self.err, os.strerror(self.err))


def _fail_writes(monkeypatch: pytest.MonkeyPatch, err: int) -> None:
    real_fdopen = os.fdopen
    monkeypatch.setattr(
        files.os, "fdopen", lambda fd, mode: _FailingFile(real_fdopen(fd, mode), err)
    )


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    ("err", "what", "fix"),
    [
        (errno.ENOSPC, "disk full", "free space there"),
        (errno.EDQUOT, "disk quota exceeded", "free space there or raise the quota"),
        (errno.EROFS, "read-only file system", "make it writable"),
    ],
)
def test_a_full_disk_is_one_line_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, err: int, what: str, fix: str
) -> None:
    target = tmp_path / "ab" / "image"
    _fail_writes(monkeypatch, err)
    with pytest.raises(BreedbenchError) as caught:
        atomic_write(target, b"x" * 10_000)
    message = str(caught.value)
    assert message.startswith(f"{what} while writing image in {target.parent}: {fix}")
    assert "\n" not in message
    assert _leftovers(target.parent) == []  # neither the half file nor its temporary name


def test_the_advice_holds_for_any_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exports, progress files and the store all write through here: the message names the
    folder and the fix, never a flag that only some commands have."""
    _fail_writes(monkeypatch, errno.ENOSPC)
    with pytest.raises(BreedbenchError) as caught:
        atomic_write(tmp_path / "export" / "manifest.csv", b"x" * 100)
    assert str(caught.value) == (
        f"disk full while writing manifest.csv in {tmp_path / 'export'}: free space there and "
        "try again (no half-written file was left behind)"
    )


def test_a_full_disk_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "thumb.jpg"
    target.write_bytes(b"previous")
    _fail_writes(monkeypatch, errno.ENOSPC)
    with pytest.raises(BreedbenchError, match="disk full"):
        atomic_write(target, b"new bytes")
    assert target.read_bytes() == b"previous"
    assert _leftovers(tmp_path) == ["thumb.jpg"]


def test_no_room_for_the_temporary_file_is_one_line_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_inodes(**_: object) -> tuple[int, str]:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.tempfile, "mkstemp", no_inodes)
    with pytest.raises(BreedbenchError, match=f"disk full while writing x in {tmp_path}"):
        atomic_write(tmp_path / "x", b"data")
    assert _leftovers(tmp_path) == []


def test_other_write_errors_keep_their_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An I/O error is not the user's to fix: it stays an OSError (with its traceback)."""
    _fail_writes(monkeypatch, errno.EIO)
    with pytest.raises(OSError) as caught:
        atomic_write(tmp_path / "x", b"data")
    assert not isinstance(caught.value, BreedbenchError) and caught.value.errno == errno.EIO
    assert _leftovers(tmp_path) == []


def test_a_write_lands_whole(tmp_path: Path) -> None:
    atomic_write(tmp_path / "a" / "b", b"bytes")
    assert (tmp_path / "a" / "b").read_bytes() == b"bytes"
    assert _leftovers(tmp_path / "a") == ["b"]


def test_tail_lines_keeps_the_last_lines_and_a_progress_bars_final_state(tmp_path: Path) -> None:
    from core.files import tail_lines

    log = tmp_path / "job.log"
    assert tail_lines(log) == ""  # no log yet
    log.write_bytes(
        b"".join(f"line {n}\n".encode() for n in range(20))
        + b"\n  \nevaluating  10%\revaluating  50%\revaluating 100%\n"
        + b"Error: bad \xff byte\n"
    )
    assert tail_lines(log, lines=3) == "line 19\nevaluating 100%\nError: bad \ufffd byte"
    assert tail_lines(log, lines=5, limit=12) == " bad \ufffd byte"  # only the last 12 bytes read
