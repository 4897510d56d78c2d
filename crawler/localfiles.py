"""Reading one file of an import tree without trusting it.

The tree is the user's, but not everything in it is: a symlink can lead anywhere on the machine
(``~/.ssh``, ``/proc``), a file can be a 1 GiB sparse blob or a FIFO that blocks a reader
forever, and the same file can sit in two breed folders through links. So a file is followed to
its real path, which must stay inside the import root; it is opened once, without blocking, and
the file actually opened must lie inside the root too: a folder on the way may have been swapped
for a link between the check and the open (on Linux the kernel names the open file's path,
``/proc/self/fd``; elsewhere only a link swapped in for the file itself is refused, by
``O_NOFOLLOW``). Type and size come from that open descriptor before a byte is read, and reading
stops one byte past the limit whatever the size claimed. Every refusal is a ``Refusal`` with the
short reason the import counts.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from crawler.validation import Refusal

READ_CHUNK = 1 << 20

# O_NOFOLLOW: the real path was checked, so a symlink found there now was swapped in after the
# check (it guards the last part of the path only: ``opened_inside`` checks the folders).
# O_NONBLOCK: opening a FIFO must not wait for a writer. Both are absent on Windows.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)

FileKey = tuple[int, int]  # (st_dev, st_ino): one file, however many names and links reach it


def real_path_inside(path: Path, root: Path) -> Path | None:
    """``path`` with every symlink followed, or None when that leaves ``root`` (a real path)."""
    real = Path(os.path.realpath(path))
    return real if real.is_relative_to(root) else None


def opened_inside(fd: int, root: Path) -> bool | None:
    """Whether the file open as ``fd`` lies inside ``root`` (a real path), by the path the kernel
    keeps for it; ``None`` where no ``/proc/self/fd`` tells (not Linux)."""
    try:
        opened = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
    return Path(opened).is_relative_to(root)


def read_at_most(fh: BinaryIO, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``fh``, read in chunks: never more, whatever the file holds."""
    chunks: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = fh.read(min(remaining, READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_tree_file(path: Path, root: Path, max_bytes: int, seen: set[FileKey]) -> bytes:
    """The bytes of ``path`` (a file under the real path ``root``), or a ``Refusal``:
    ``outside_root``, ``unreadable``, ``not_a_file``, ``same_file`` (already read under another
    name: imported once) or ``too_big`` (more than ``max_bytes``).

    ``seen`` collects the files read so far; a file is marked seen before its size is checked,
    so a second link to an oversized file is ``same_file`` and counted once as ``too_big``.
    """
    real = real_path_inside(path, root)
    if real is None:
        raise Refusal("outside_root", f"{path.name} leads outside the import folder")
    try:
        if not stat.S_ISREG(os.stat(real).st_mode):  # a device or FIFO is not even opened
            raise Refusal("not_a_file", f"{path.name} is not a regular file")
        fd = os.open(real, _OPEN_FLAGS)
    except OSError as exc:  # permissions, removed meanwhile, a dangling link, a swapped-in link
        raise Refusal("unreadable", exc.strerror or str(exc)) from exc
    try:
        if opened_inside(fd, root) is False:  # a folder on the way was swapped for a link
            raise Refusal("outside_root", f"{path.name} leads outside the import folder")
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refusal("not_a_file", f"{path.name} is not a regular file")
        key = (info.st_dev, info.st_ino)
        if key in seen:
            raise Refusal("same_file", f"{path.name} is a file already read under another name")
        seen.add(key)
        if info.st_size > max_bytes:
            raise Refusal("too_big", f"{info.st_size} bytes > {max_bytes}")
        with os.fdopen(fd, "rb", buffering=0, closefd=False) as fh:
            data = read_at_most(fh, max_bytes + 1)
    except OSError as exc:
        raise Refusal("unreadable", exc.strerror or str(exc)) from exc
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # it grew after the size check, or its file system under-reports
        raise Refusal("too_big", f"more than {max_bytes} bytes")
    return data
