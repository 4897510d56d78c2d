"""File writes that never leave half a file behind (a crash, Ctrl-C or a full disk mid-write)."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from core.errors import BreedbenchError

TEMP_PREFIX = ".tmp-"

# Write failures the user fixes outside breedbench: one line each, naming the folder and the fix,
# instead of a traceback. The fix names no flag: the target may be the store, an export folder or
# a progress file, each chosen differently.
_STORAGE_FULL = {
    errno.ENOSPC: ("disk full", "free space there"),
    errno.EROFS: ("read-only file system", "make it writable"),
}
if hasattr(errno, "EDQUOT"):  # not on Windows
    _STORAGE_FULL[errno.EDQUOT] = ("disk quota exceeded", "free space there or raise the quota")


def storage_error(exc: OSError, target: Path) -> BreedbenchError | None:
    """The one-line error for a write to ``target`` that failed for lack of space (else None)."""
    found = _STORAGE_FULL.get(exc.errno or 0)
    if found is None:
        return None
    what, fix = found
    return BreedbenchError(
        f"{what} while writing {target.name} in {target.parent}: {fix} and try again "
        "(no half-written file was left behind)"
    )


def atomic_write(target: Path, data: bytes) -> None:
    """Write to a temporary file beside ``target``, then rename: readers never see half a file.

    On any failure the temporary file is removed and ``target`` is as it was; a full disk, an
    exceeded quota or a read-only file system becomes a one-line ``BreedbenchError``.
    """
    tmp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and (friendly := storage_error(exc, target)) is not None:
            raise friendly from exc
        raise


def tail_lines(path: Path, lines: int = 12, limit: int = 32_000) -> str:
    """The last non-blank lines of a log (read from its last ``limit`` bytes only; a progress
    bar's carriage-return redraws keep their final state): what a failed background job said."""
    if not path.is_file():
        return ""
    with path.open("rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(max(0, size - limit))
        text = fh.read().decode("utf-8", errors="replace")
    # Lines end at "\n" only: a bar redraws itself with "\r", and only its last state counts.
    redrawn = (ln.rsplit("\r", 1)[-1] for ln in text.split("\n"))
    kept = [ln for ln in redrawn if ln.strip()]
    return "\n".join(kept[-lines:])


def check_writable(path: Path, what: str) -> None:
    """Says at once that ``path`` cannot be written (a folder, no permission, no parent), before
    the long work whose progress or outcome goes there rather than after it."""
    problem = None
    if path.is_dir():
        problem = "it is a folder"
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problem = exc.strerror or str(exc)
        else:
            if not os.access(path.parent, os.W_OK):
                problem = "permission denied"
    if problem:
        raise BreedbenchError(f"cannot write the {what} {path}: {problem}")
