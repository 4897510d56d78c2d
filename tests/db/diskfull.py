"""A disk that fills up part-way through a store's writes, for tests of what is left behind."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from core import files


class HalfWritten:
    """A file that takes half the bytes, then fails as on a full disk."""

    def __init__(self, fh: Any) -> None:
        self.fh = fh

    def __enter__(self) -> HalfWritten:
        return self

    def __exit__(self, *exc: object) -> None:
        self.fh.close()

    def write(self, data: bytes) -> int:
        self.fh.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")


def disk_full_from_write(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """The ``n``-th file write (1-based) and every later one hit a full disk."""
    real_fdopen = os.fdopen
    count = iter(range(1, 1_000))

    def fdopen(fd: int, mode: str) -> Any:
        fh = real_fdopen(fd, mode)
        return HalfWritten(fh) if next(count) >= n else fh

    monkeypatch.setattr(files.os, "fdopen", fdopen)


def store_files(root: Path) -> list[str]:
    """Every file under a store root, as sorted relative paths."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
