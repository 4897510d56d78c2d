"""``db.fsck``: the image store checked against the rows, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image as PILImage
from sqlalchemy import event, func, select

from db import fsck
from db.database import Database, open_database
from db.fsck import Kind, check_store
from db.models import Image
from db.store import original_path, thumbnail_path
from tests.factories import image_row, insert_image, jpeg_bytes


def _check(db: Database, **kw: object) -> fsck.FsckReport:
    kw.setdefault("grace_seconds", 0)
    with db.session() as s:
        return check_store(s, db.store, **kw)  # type: ignore[arg-type]


def _kinds(report: fsck.FsckReport, *, left: bool = False) -> dict[Kind, int]:
    found = report.by_kind_remaining() if left else report.by_kind()
    return {kind: len(problems) for kind, problems in found.items()}


def _orphan(db: Database, seed: int) -> str:
    """An image's files written without its row (a crawl killed before the commit)."""
    data = jpeg_bytes(seed=seed)
    return db.store.put_with_thumbnail(data, PILImage.open(io.BytesIO(data))).sha256


def _make_old(path: Path) -> None:
    old = time.time() - 2 * fsck.GRACE_SECONDS
    os.utime(path, (old, old))


def test_a_consistent_store_is_clean(any_database: Database) -> None:
    for seed in (1, 2, 3):
        insert_image(any_database, "boxer", seed=seed)
    report = _check(any_database)
    assert report.clean and report.problems == []
    assert (report.rows, report.files, report.verified) == (3, 6, 3)


def test_orphans_and_temporary_files_are_found_then_removed(any_database: Database) -> None:
    db = any_database
    kept = image_row(db, insert_image(db, "pug", seed=1))
    orphan = _orphan(db, seed=2)
    root = db.store.root
    temp = root / "originals" / orphan[:2] / ".tmp-k3j2h1"
    temp.write_bytes(b"half an image")
    stray_copy = root / "review" / "1024" / orphan[:2] / f"{orphan}.jpg"  # of the orphan
    kept_copy = root / "review" / "1024" / kept.sha256[:2] / f"{kept.sha256}.jpg"  # of a row
    for copy in (stray_copy, kept_copy):
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(b"jpeg")
    unexpected = root / "notes.txt"
    unexpected.write_text("mine")

    report = _check(db)
    assert _kinds(report) == {Kind.ORPHAN: 3, Kind.TEMP: 1, Kind.UNEXPECTED: 1}
    assert {p.path for p in report.problems if p.kind is Kind.ORPHAN} == {
        original_path(orphan),
        thumbnail_path(orphan),
        f"review/1024/{orphan[:2]}/{orphan}.jpg",
    }
    assert (root / original_path(orphan)).exists() and temp.exists()  # a check changes nothing

    repaired = _check(db, repair=True)
    assert _kinds(repaired, left=True) == {Kind.UNEXPECTED: 1}  # never deleted: not ours
    assert not repaired.clean
    assert not (root / original_path(orphan)).exists() and not temp.exists()
    assert not (root / thumbnail_path(orphan)).exists() and not stray_copy.exists()
    assert unexpected.read_text() == "mine" and kept_copy.exists()
    assert db.store.read(kept.path) == jpeg_bytes(seed=1)  # the row's files are untouched
    unexpected.unlink()
    assert _check(db).clean


def test_rows_without_files_and_mismatches_are_reported_never_repaired(
    any_database: Database,
) -> None:
    db = any_database
    gone, same_size, other_size = (
        image_row(db, insert_image(db, "vizsla", seed=seed)) for seed in (1, 2, 3)
    )
    root = db.store.root
    (root / gone.path).unlink()
    damaged = bytearray((root / same_size.path).read_bytes())
    damaged[100] ^= 0xFF  # one flipped byte: same size, other hash
    (root / same_size.path).write_bytes(bytes(damaged))
    (root / other_size.path).write_bytes(b"truncated")

    report = _check(db, repair=True)
    assert _kinds(report, left=True) == {Kind.MISSING: 1, Kind.MISMATCH: 2}
    assert {p.path for p in report.problems} == {gone.path, same_size.path, other_size.path}
    assert all(not p.repaired for p in report.problems)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Image)) == 3  # no row deleted
    assert (root / same_size.path).read_bytes() == bytes(damaged)  # nor a damaged original
    assert (root / other_size.path).read_bytes() == b"truncated"

    quick = _check(db, verify=False)  # sizes only: the flipped byte goes unnoticed
    assert {p.path for p in quick.problems} == {gone.path, other_size.path}
    assert quick.verified == 0


def test_missing_thumbnails_are_made_again_from_the_originals(any_database: Database) -> None:
    db = any_database
    row = image_row(db, insert_image(db, "beagle", seed=7))
    lost = image_row(db, insert_image(db, "beagle", seed=8))
    thumb = db.store.root / row.thumb_path
    before = thumb.read_bytes()
    thumb.unlink()
    (db.store.root / lost.thumb_path).unlink()
    (db.store.root / lost.path).unlink()  # nothing to make its thumbnail from

    report = _check(db)
    assert _kinds(report) == {Kind.NO_THUMBNAIL: 2, Kind.MISSING: 1}
    assert not thumb.exists()

    repaired = _check(db, repair=True)
    assert thumb.read_bytes() == before  # made as the crawl made it
    left = repaired.by_kind_remaining()
    assert [p.path for p in left[Kind.NO_THUMBNAIL]] == [lost.thumb_path]
    assert "original is missing" in left[Kind.NO_THUMBNAIL][0].detail
    assert _kinds(repaired, left=True) == {Kind.NO_THUMBNAIL: 1, Kind.MISSING: 1}


def test_files_written_moments_ago_are_left_alone(any_database: Database) -> None:
    """A crawl writes an image's files before its row: fsck must not race it."""
    db = any_database
    fresh = _orphan(db, seed=1)
    stale = _orphan(db, seed=2)
    for rel in (original_path(stale), thumbnail_path(stale)):
        _make_old(db.store.root / rel)

    report = _check(db, repair=True, grace_seconds=fsck.GRACE_SECONDS)
    assert report.recent == 2 and report.clean
    assert {p.path for p in report.problems} == {original_path(stale), thumbnail_path(stale)}
    assert (db.store.root / original_path(fresh)).exists()
    assert not (db.store.root / original_path(stale)).exists()


def test_an_orphan_whose_row_arrives_during_the_check_is_kept(
    any_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = any_database
    data = jpeg_bytes(seed=9)
    sha = _orphan(db, seed=9)
    real_walk = fsck._walk

    def walk_then_crawl(root: Path):  # type: ignore[no-untyped-def]
        yield from real_walk(root)
        insert_image(db, "boxer", data=data)  # a crawl commits the row now

    monkeypatch.setattr(fsck, "_walk", walk_then_crawl)
    report = _check(db, repair=True)
    assert _kinds(report, left=True) == {Kind.ORPHAN: 2}
    assert all("kept" in p.detail for p in report.problems)
    assert db.store.read(original_path(sha)) == data
    monkeypatch.undo()
    assert _check(db).clean


def test_the_rows_are_read_in_one_pass(any_database: Database) -> None:
    """No query per image: 100k images stay one select."""
    db = any_database
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    counts = []
    for seed in range(1, 7):
        insert_image(db, "boxer", seed=seed)
        if seed in (2, 6):
            statements.clear()
            assert _check(db).clean
            counts.append(len(statements))
    assert counts[0] == counts[1] <= 3


def test_a_damaged_sqlite_file_is_reported(data_dir: Path, tmp_path: Path) -> None:
    from core.settings import Settings

    db_file = tmp_path / "x.db"
    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{db_file}")
    db = open_database(settings)
    db.dispose()
    conn = sqlite3.connect(db_file)
    (root_page,) = conn.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'ix_images_status_breed'"
    ).fetchone()
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with db_file.open("r+b") as fh:  # an index page only: the image rows still read
        fh.seek((root_page - 1) * page_size)
        fh.write(b"\xa5" * page_size)
    db = open_database(settings)
    try:
        report = _check(db)
        assert _kinds(report) == {Kind.DATABASE: 1}
        assert report.problems[0].path == str(db_file)
        assert _check(db, verify=False).clean  # --quick skips it
    finally:
        db.dispose()


def _refuse(monkeypatch: pytest.MonkeyPatch, target: Path) -> None:
    """Listing ``target`` fails as a folder without read permission does (tests run as root,
    where chmod would not)."""
    real_scandir = os.scandir

    def scandir(path: Any) -> Any:
        if Path(path) == target:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(fsck.os, "scandir", scandir)


@pytest.mark.parametrize("where", ["folder", "root"])
def test_a_folder_that_cannot_be_listed_is_reported_as_such(
    any_database: Database, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    db = any_database
    hidden = image_row(db, insert_image(db, "pug", seed=1))
    shown = image_row(db, insert_image(db, "pug", seed=2))
    folder = (db.store.root / hidden.path).parent
    _refuse(monkeypatch, folder if where == "folder" else db.store.root)
    report = _check(db, repair=True)
    (problem,) = report.remaining  # not "row without its file": the file was not looked for
    assert problem.kind is Kind.UNREADABLE and "Permission denied" in problem.detail
    assert problem.path == (str(Path(hidden.path).parent) if where == "folder" else ".")
    assert "permissions" in Kind.UNREADABLE.advice and not Kind.UNREADABLE.repairable
    assert report.verified == (1 if where == "folder" else 0)
    monkeypatch.undo()
    assert db.store.read(hidden.path) == jpeg_bytes(seed=1)  # nothing was touched
    assert db.store.read(shown.path) == jpeg_bytes(seed=2)
    assert _check(db).clean


def test_an_original_that_cannot_be_read_is_no_hash_mismatch(
    any_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = any_database
    row = image_row(db, insert_image(db, "pug", seed=3))
    target = db.store.root / row.path
    real_open = Path.open

    def open_(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == target:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_)
    report = _check(db)
    assert _kinds(report) == {Kind.UNREADABLE: 1}
    (problem,) = report.problems
    assert problem.path == row.path and problem.detail == "cannot be read: Permission denied"
    assert "restore" not in Kind.UNREADABLE.advice  # the bytes may be fine: no backup needed
