"""The image store checked against the database, and repaired where that loses nothing.

The store and the ``images`` table are two halves of one record: a crawl killed between writing
an image's files and committing its row, a disk that filled up, a backup restored without its
database, or a hand-edited folder each leave them disagreeing. ``check_store`` finds every
disagreement in one walk of the store and one query; with ``repair=True`` it removes what no row
needs (orphan and temporary files) and remakes what can be derived (thumbnails). It never deletes a
row, nor an original a row refers to: those problems are reported with what the user can do.

Files not referred to and written within ``grace_seconds`` are left alone: a crawl or an import
running meanwhile writes an image's files before its row.
"""

from __future__ import annotations

import enum
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from PIL import Image as PILImage
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.chunks import id_chunks
from core.errors import BreedbenchError
from core.files import TEMP_PREFIX, atomic_write
from db.engine import sqlite_path
from db.hashing import open_working
from db.models import Image
from db.store import FileSystemImageStore, thumbnail_jpeg, thumbnail_path

T = TypeVar("T")
R = TypeVar("R")

GRACE_SECONDS = 600.0
# Reading and hashing originals is I/O and hashlib releases the GIL: a few threads keep the disk
# busy without taking the machine.
MAX_THREADS = 4
MAX_DAMAGE_LINES = 20  # of SQLite's quick_check

_SHA = "[0-9a-f]{64}"
# The store's layout (``db.store``, ``review.images``): a file matching none of these is not ours.
_LAYOUT = re.compile(
    rf"originals/[0-9a-f]{{2}}/[0-9a-f]{{2}}/(?P<original>{_SHA})"
    rf"|thumbs/[0-9a-f]{{2}}/(?P<thumb>{_SHA})\.jpg"
    rf"|review/\d+/[0-9a-f]{{2}}/(?P<copy>{_SHA})\.jpg"
)


class Kind(enum.Enum):
    """A kind of disagreement between the store and the database, in the order they are shown."""

    DATABASE = "damaged database"
    UNREADABLE = "unreadable file or folder"
    ORPHAN = "orphan file"
    TEMP = "temporary file"
    UNEXPECTED = "unexpected file"
    MISSING = "row without its file"
    MISMATCH = "hash mismatch"
    NO_THUMBNAIL = "missing thumbnail"

    @property
    def repairable(self) -> bool:
        return self in (Kind.ORPHAN, Kind.TEMP, Kind.NO_THUMBNAIL)

    @property
    def advice(self) -> str:
        return _ADVICE[self]


_ADVICE = {
    Kind.DATABASE: "SQLite's quick_check found damage in the database file: restore it from a "
    "backup (the sqlite3 shell's .recover command may save what is left)",
    Kind.UNREADABLE: "store files or folders that cannot be read (permissions, most often; or a "
    "failing disk): fix their permissions for the user running breedbench and run fsck again; "
    "what they hold was not checked, and nothing in them is changed",
    Kind.ORPHAN: "files no image row refers to (e.g. left by an interrupted crawl); "
    "`breedbench fsck --repair` removes them",
    Kind.TEMP: "left by an interrupted write; `breedbench fsck --repair` removes them",
    Kind.UNEXPECTED: "files that are not part of the store's layout; fsck never deletes them: "
    "move them out of the store yourself",
    Kind.MISSING: "images whose original is gone: restore the store's originals/ folder from a "
    "backup; until then they cannot be reviewed, evaluated or exported",
    Kind.MISMATCH: "originals whose bytes no longer match their sha256 (a damaged disk or an "
    "edited file): restore them from a backup",
    Kind.NO_THUMBNAIL: "`breedbench fsck --repair` makes them again from the originals",
}


@dataclass(slots=True)
class Problem:
    kind: Kind
    path: str  # relative to the store root
    detail: str = ""
    repaired: bool = False


@dataclass
class FsckReport:
    """What ``check_store`` found and did."""

    store: Path
    rows: int = 0  # image rows
    files: int = 0  # files in the store
    verified: int = 0  # originals whose bytes were hashed
    recent: int = 0  # unreferenced files younger than the grace period, left alone
    problems: list[Problem] = field(default_factory=list)

    def by_kind(self) -> dict[Kind, list[Problem]]:
        found: dict[Kind, list[Problem]] = {}
        for kind in Kind:
            of_kind = [p for p in self.problems if p.kind is kind]
            if of_kind:
                found[kind] = of_kind
        return found

    def by_kind_remaining(self) -> dict[Kind, list[Problem]]:
        """The problems not repaired, by kind (kinds with none left out)."""
        return {
            k: left for k, v in self.by_kind().items() if (left := [p for p in v if not p.repaired])
        }

    @property
    def remaining(self) -> list[Problem]:
        return [p for p in self.problems if not p.repaired]

    @property
    def clean(self) -> bool:
        """True when nothing is left to do (no problem, or every problem repaired)."""
        return not self.remaining


@dataclass(frozen=True, slots=True)
class _Row:
    sha256: str
    byte_size: int


@dataclass(frozen=True, slots=True)
class _Rows:
    """What the rows refer to: originals (path → row), thumbnails (path → the original's path)
    and every sha256 they hold."""

    count: int
    originals: dict[str, _Row]
    thumbs: dict[str, str]
    shas: set[str]


@dataclass(frozen=True, slots=True)
class _File:
    size: int
    mtime: float


@dataclass(frozen=True, slots=True)
class _Unreadable:
    """A folder (its path ends in ``/``) or file the walk could not look into."""

    detail: str


def check_store(
    session: Session,
    store: FileSystemImageStore,
    *,
    repair: bool = False,
    verify: bool = True,
    grace_seconds: float = GRACE_SECONDS,
    now: float | None = None,
) -> FsckReport:
    """Compare ``store`` with the image rows; with ``repair``, fix what loses nothing.

    ``verify=False`` compares file sizes with the rows instead of hashing every original, and
    skips SQLite's quick_check of the database file (a quick check: it misses a damaged file of
    the right size).
    """
    report_db = _database_damage(session) if verify else []
    rows = _rows(session)
    originals, thumbs = rows.originals, rows.thumbs
    files: dict[str, _File] = {}
    unreadable: dict[str, _Unreadable] = {}
    for rel, entry in _walk(store.root):
        if isinstance(entry, _Unreadable):
            unreadable[rel] = entry
        else:
            files[rel] = entry
    report = FsckReport(store=store.root, rows=rows.count, files=len(files))
    report.problems.extend(report_db)
    for rel, entry in unreadable.items():
        report.problems.append(Problem(Kind.UNREADABLE, rel.rstrip("/") or ".", entry.detail))
    folders = tuple(rel for rel in unreadable if rel.endswith("/") or not rel)

    def unseen(rel: str) -> bool:
        """Inside what could not be read: reported as that, not as missing."""
        return rel in unreadable or rel.startswith(folders)

    cutoff = (time.time() if now is None else now) - grace_seconds

    to_hash: list[tuple[str, str]] = []
    for rel, row in originals.items():
        found = files.get(rel)
        if found is None:
            if not unseen(rel):
                report.problems.append(Problem(Kind.MISSING, rel, f"sha256 {row.sha256}"))
        elif found.size != row.byte_size:
            report.problems.append(
                Problem(Kind.MISMATCH, rel, f"{found.size} bytes, the row says {row.byte_size}")
            )
        elif verify:
            to_hash.append((rel, row.sha256))
    report.problems.extend(_verify_hashes(store.root, to_hash))
    report.verified = len(to_hash)

    for rel in thumbs:
        if rel not in files and not unseen(rel):
            report.problems.append(Problem(Kind.NO_THUMBNAIL, rel))

    for rel, found in files.items():
        if rel in originals or rel in thumbs:
            continue
        kind = _unreferenced_kind(rel, rows.shas)
        if kind is None:
            continue
        if kind is not Kind.UNEXPECTED and found.mtime > cutoff:
            report.recent += 1  # perhaps being written by a crawl right now
            continue
        report.problems.append(Problem(kind, rel))

    if repair:
        _repair(session, store, report, thumbs)
    return report


def _database_damage(session: Session) -> list[Problem]:
    """SQLite's own consistency check (PostgreSQL checks its pages itself)."""
    if session.get_bind().dialect.name != "sqlite":
        return []
    lines = [str(r) for (r,) in session.execute(text(f"PRAGMA quick_check({MAX_DAMAGE_LINES})"))]
    if lines == ["ok"]:
        return []
    return [Problem(Kind.DATABASE, _database_file(session), " ".join(ln.split())) for ln in lines]


def _database_file(session: Session) -> str:
    path = sqlite_path(session.get_bind().url)
    return str(path) if path is not None else ""


def _rows(session: Session) -> _Rows:
    """One pass over the image rows (a few columns: 100k rows are a few megabytes)."""
    originals: dict[str, _Row] = {}
    thumbs: dict[str, str] = {}
    count = 0
    stmt = select(Image.sha256, Image.path, Image.thumb_path, Image.byte_size)
    for sha256, path, thumb, size in session.execute(stmt.execution_options(yield_per=5000)):
        count += 1
        originals.setdefault(path, _Row(sha256, size))
        thumbs.setdefault(thumb or thumbnail_path(sha256), path)
    return _Rows(count, originals, thumbs, {row.sha256 for row in originals.values()})


def _walk(root: Path) -> Iterator[tuple[str, _File | _Unreadable]]:
    """Every file under ``root`` as (posix path relative to it, size and mtime); one pass.

    Symbolic links are followed (originals/ may live on another disk), each folder visited
    once; a broken link counts as no file. A folder that cannot be listed (or a file that
    cannot be looked at) comes as ``_Unreadable``, a folder's path ending in ``/`` (the root's
    is empty), and the walk goes on.
    """
    seen: set[tuple[int, int]] = set()
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            st = folder.stat()
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as entries:
                listed = list(entries)
        except OSError as exc:
            yield prefix, _Unreadable(f"cannot be listed: {exc.strerror or exc}")
            continue
        for entry in listed:
            rel = prefix + entry.name
            try:
                if entry.is_dir():
                    stack.append((Path(entry.path), rel + "/"))
                    continue
                st = entry.stat()
            except FileNotFoundError:  # a broken link, or removed meanwhile
                continue
            except OSError as exc:
                yield rel, _Unreadable(f"cannot be looked at: {exc.strerror or exc}")
                continue
            yield rel, _File(st.st_size, st.st_mtime)


def _unreferenced_kind(rel: str, shas: set[str]) -> Kind | None:
    """What a file no row names is: temporary, an orphan of the layout, or unexpected.

    A review copy is referenced through its sha256 (any size may be cached), so it is an orphan
    only when no row holds its bytes.
    """
    if rel.rsplit("/", 1)[-1].startswith(TEMP_PREFIX):
        return Kind.TEMP
    match = _LAYOUT.fullmatch(rel)
    if match is None:
        return Kind.UNEXPECTED
    copy_of = match.group("copy")
    if copy_of is not None and copy_of in shas:
        return None
    return Kind.ORPHAN


def _verify_hashes(root: Path, items: list[tuple[str, str]]) -> list[Problem]:
    """A problem for each original whose bytes do not hash to its row's sha256, or that cannot
    be read (a permission, not a damaged file: it gets its own kind and advice)."""

    def check(item: tuple[str, str]) -> Problem | None:
        rel, expected = item
        try:
            with (root / rel).open("rb") as fh:
                actual = hashlib.file_digest(fh, "sha256").hexdigest()
        except FileNotFoundError:  # removed since the walk
            return Problem(Kind.MISSING, rel, f"sha256 {expected}")
        except OSError as exc:
            return Problem(Kind.UNREADABLE, rel, f"cannot be read: {exc.strerror or exc}")
        if actual == expected:
            return None
        return Problem(Kind.MISMATCH, rel, f"its bytes hash to {actual[:12]}…")

    return [p for p in _threaded(check, items) if p is not None]


def _threaded(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    items = list(items)
    if len(items) < 2:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(MAX_THREADS, os.cpu_count() or 1)) as pool:
        return list(pool.map(fn, items))


def _repair(
    session: Session, store: FileSystemImageStore, report: FsckReport, thumbs: dict[str, str]
) -> None:
    """Remove orphans and temporary files first (that frees space), then remake thumbnails."""
    removable = [p for p in report.problems if p.kind in (Kind.ORPHAN, Kind.TEMP)]
    claimed = _claimed_since(session, [p.path for p in removable if p.kind is Kind.ORPHAN])
    for problem in removable:
        if problem.path in claimed:
            problem.detail = "a row has come to refer to it since the check: kept"
            continue
        try:
            (store.root / problem.path).unlink(missing_ok=True)
        except OSError as exc:
            problem.detail = f"cannot be removed: {exc.strerror}"
            continue
        problem.repaired = True

    damaged = {p.path for p in report.problems if p.kind in (Kind.MISSING, Kind.MISMATCH)}
    missing = [p for p in report.problems if p.kind is Kind.NO_THUMBNAIL]
    _threaded(lambda p: _remake_thumbnail(store, p, thumbs[p.path], damaged), missing)


def _claimed_since(session: Session, orphans: list[str]) -> set[str]:
    """The orphans a row refers to by now: a crawl running meanwhile may have stored the same
    bytes again (its worker finds the file there and writes none) and committed their row."""
    by_sha: dict[str, list[str]] = {}
    for rel in orphans:
        match = _LAYOUT.fullmatch(rel)
        if match is not None:
            sha = match.group("original") or match.group("thumb") or match.group("copy")
            by_sha.setdefault(sha, []).append(rel)
    claimed: set[str] = set()
    stmt = select(Image.sha256, Image.path, Image.thumb_path)
    for chunk in id_chunks(by_sha):
        for sha256, path, thumb in session.execute(stmt.where(Image.sha256.in_(chunk))):
            referenced = {path, thumb or thumbnail_path(sha256)}
            claimed.update(
                rel
                for rel in by_sha.get(sha256, [])
                if rel in referenced or rel.startswith("review/")
            )
    return claimed


def _remake_thumbnail(
    store: FileSystemImageStore, problem: Problem, original: str, damaged: set[str]
) -> None:
    """The thumbnail made again from its original, as the crawl makes it (``db.images``)."""
    if original in damaged or not (store.root / original).is_file():
        problem.detail = "its original is missing or damaged: it cannot be made again"
        return
    try:
        with open_working(store.root / original) as img:
            data = thumbnail_jpeg(img)
    except (OSError, ValueError, PILImage.DecompressionBombError) as exc:
        problem.detail = f"its original cannot be decoded: {exc}"
        return
    try:
        atomic_write(store.absolute(problem.path), data)
    except BreedbenchError:
        raise  # a full disk: one line; every other thumbnail would fail the same way
    except OSError as exc:
        problem.detail = f"cannot be written: {exc.strerror}"
        return
    problem.repaired = True
