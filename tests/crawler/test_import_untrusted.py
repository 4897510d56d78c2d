"""What an import tree may hold that must not get in: huge files, links that lead elsewhere,
the same file under two names, FIFOs."""

from __future__ import annotations

import hashlib
import os
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import crawler.localfiles
from core.settings import Settings
from crawler.importer import import_folder
from crawler.localfiles import read_at_most, read_tree_file
from crawler.validation import Refusal
from db.database import Database, open_database
from db.models import Breed, Image
from db.seed import seed_breeds
from tests.factories import jpeg_bytes

GIB = 1 << 30
MIB = 1 << 20

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="symlinks, FIFOs, sparse files")


def sparse(path: Path, size: int, head: bytes = b"") -> Path:
    """A file of ``size`` bytes that takes no disk space (its start is ``head``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write(head)
        fh.truncate(size)
    return path


def peak_traced(run: Callable[[], Any]) -> tuple[Any, int]:
    """``run()``'s result and the most memory Python held meanwhile (bytes)."""
    tracemalloc.start()
    try:
        result = run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def stored(db: Database) -> dict[str, set[str]]:
    """The stored shas by breed."""
    out: dict[str, set[str]] = {}
    with db.session() as s:
        for slug, sha in s.execute(select(Breed.slug, Image.sha256).join(Image.breed)):
            out.setdefault(slug, set()).add(sha)
    return out


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@posix_only
def test_a_huge_sparse_file_is_refused_from_its_size_without_being_read(
    database: Database, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    ok = jpeg_bytes(seed=1)
    (root / "pug").mkdir(parents=True)
    (root / "pug" / "ok.jpg").write_bytes(ok)
    sparse(root / "pug" / "huge.jpg", GIB, head=jpeg_bytes(seed=2))
    report, peak = peak_traced(lambda: import_folder(database, root))
    assert report.counts["pug"]["too_big"] == 1 and report.counts["pug"]["stored"] == 1
    assert stored(database) == {"pug": {sha(ok)}}
    # Reading the file whole, as imports once did, held a whole GiB.
    assert peak < 16 * MIB, f"{peak / MIB:.0f} MiB held"


@posix_only
def test_reading_stops_one_byte_past_the_limit(tmp_path: Path) -> None:
    huge = sparse(tmp_path / "huge.bin", GIB)
    with huge.open("rb", buffering=0) as fh:
        data, peak = peak_traced(lambda: read_at_most(fh, MIB + 1))
    assert len(data) == MIB + 1
    assert peak < 4 * MIB, f"{peak / MIB:.0f} MiB held"


@posix_only
def test_a_file_larger_than_its_size_claims_is_still_cut_at_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system that under-reports sizes (``/proc`` says 0), or a file growing while it is
    read: the read itself stops past the limit."""
    path = sparse(tmp_path / "root" / "grows.jpg", 64 * MIB)
    real_fstat = os.fstat

    def claims_empty(fd: int) -> os.stat_result:
        st = real_fstat(fd)
        return os.stat_result((st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid,
                               st.st_gid, 0, st.st_atime, st.st_mtime, st.st_ctime))  # fmt: skip

    monkeypatch.setattr(os, "fstat", claims_empty)
    tracemalloc.start()
    try:
        with pytest.raises(Refusal) as refused:
            read_tree_file(path, tmp_path / "root", MIB, set())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.reason == "too_big"
    assert peak < 4 * MIB, f"{peak / MIB:.0f} MiB held"


@posix_only
def test_links_out_of_root_are_refused_and_links_inside_import_each_file_once(
    database: Database, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    secret = jpeg_bytes(seed=3)
    (outside / "boxer").mkdir(parents=True)
    (outside / "boxer" / "s.jpg").write_bytes(secret)
    (outside / "secret.jpg").write_bytes(secret)

    root = tmp_path / "root"
    a, pooled = jpeg_bytes(seed=4), jpeg_bytes(seed=5)
    (root / "pug").mkdir(parents=True)
    (root / "beagle").mkdir()
    (root / ".pool").mkdir()
    (root / "pug" / "a.jpg").write_bytes(a)
    (root / ".pool" / "p.jpg").write_bytes(pooled)
    (root / "pug" / "abs-leak.jpg").symlink_to(outside / "secret.jpg")
    (root / "pug" / "rel-leak.jpg").symlink_to(Path("..", "..", "outside", "secret.jpg"))
    (root / "pug" / "z-same.jpg").symlink_to("a.jpg")  # the same file again, same breed
    (root / "pug" / "pooled.jpg").symlink_to(Path("..", ".pool", "p.jpg"))  # inside: fine
    (root / "pug" / "dangling.jpg").symlink_to("nowhere.jpg")
    (root / "pug" / "dir-link").symlink_to(outside)
    # Folders are read in name order: beagle and chihuahua before pug, whippet after it.
    (root / "beagle" / "b.jpg").symlink_to(Path("..", "pug", "a.jpg"))  # a.jpg is a pug's
    (root / "whippet").mkdir()
    os.link(root / "pug" / "a.jpg", root / "whippet" / "hard.jpg")  # a hard link: the same file
    (root / "boxer").symlink_to(outside / "boxer", target_is_directory=True)  # a whole folder
    (root / "chihuahua").symlink_to("pug", target_is_directory=True)  # the pug folder again
    os.mkfifo(root / "pug" / "fifo.jpg")  # never opened: reading it would wait forever

    # The root given through a link of its own: what is inside the real root stays inside.
    (tmp_path / "via-link").symlink_to(root, target_is_directory=True)
    report = import_folder(database, tmp_path / "via-link")

    assert stored(database) == {"pug": {sha(a), sha(pooled)}}
    assert dict(report.counts["pug"]) == {
        "stored": 2,
        "outside_root": 3,  # two file links and a folder link
        "same_file": 1,
        "unreadable": 1,
        "not_a_file": 1,
    }
    assert dict(report.counts["beagle"]) == {"same_file": 1}
    assert dict(report.counts["whippet"]) == {"same_file": 1}
    assert dict(report.counts["boxer"]) == {"outside_root": 1}
    assert dict(report.counts["chihuahua"]) == {"same_file": 8}  # pug's eight entries
    with database.session() as s:
        assert s.scalar(select(Image.url).where(Image.url.is_not(None))) is None


def test_the_file_size_limit_is_the_crawls(tmp_path: Path) -> None:
    """One setting (``BREEDBENCH_CRAWL_MAX_BYTES``) limits crawled and imported images."""
    settings = Settings(
        data_dir=tmp_path / "d", database_url=f"sqlite:///{tmp_path}/t.db", crawl_max_bytes=1000
    )
    db = open_database(settings)
    try:
        with db.session() as s:
            seed_breeds(s)
        (tmp_path / "root" / "pug").mkdir(parents=True)
        (tmp_path / "root" / "pug" / "a.jpg").write_bytes(jpeg_bytes(seed=6))
        report = import_folder(db, tmp_path / "root")
        assert dict(report.counts["pug"]) == {"too_big": 1}
    finally:
        db.dispose()


def test_a_folder_that_cannot_be_listed_is_counted_and_the_import_goes_on(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    for slug, seed in (("beagle", 7), ("pug", 8)):
        (root / slug).mkdir(parents=True)
        (root / slug / "a.jpg").write_bytes(jpeg_bytes(seed=seed))
    real_iterdir = Path.iterdir

    def refuse_pug(self: Path) -> Any:
        if self.name == "pug":
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", refuse_pug)  # tests may run as root: chmod would not do
    report = import_folder(database, root)
    assert dict(report.counts["pug"]) == {"unreadable": 1}
    assert dict(report.counts["beagle"]) == {"stored": 1}


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
def test_a_folder_swapped_for_a_link_after_the_check_is_refused(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The breed folder passes the check, then becomes a link out of ROOT before the file is
    opened: O_NOFOLLOW sees a plain file at the end of the path, the open file's path does not."""
    secret = jpeg_bytes(seed=9)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "a.jpg").write_bytes(secret)
    root = tmp_path / "root"
    (root / "pug").mkdir(parents=True)
    (root / "pug" / "a.jpg").write_bytes(jpeg_bytes(seed=10))
    real_check = crawler.localfiles.real_path_inside

    def check_then_swap(path: Path, inside: Path) -> Path | None:
        checked = real_check(path, inside)
        if path.name == "a.jpg":  # the file was checked: now the folder turns into a link
            (root / "pug").rename(root / ".pug-before")
            (root / "pug").symlink_to(tmp_path / "outside", target_is_directory=True)
        return checked

    monkeypatch.setattr(crawler.localfiles, "real_path_inside", check_then_swap)
    report = import_folder(database, root)
    assert dict(report.counts["pug"]) == {"outside_root": 1}
    with database.session() as s:
        assert s.scalars(select(Image.sha256)).all() == []
    assert not [p for p in database.store.root.rglob("*") if p.is_file()]  # nothing read in
