"""An imported image is one unit: original, thumbnail, row and ``--accept`` decision, or nothing.

Each test stops the import at one step of one image — by making that step raise, never by
timing — and checks the store and the database agree afterwards: no file without its row, no
row without its files, no image left pending that ``--accept`` should have accepted. Then the
same import runs again and brings in the rest.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest
from PIL import Image as PILImage
from sqlalchemy import select
from sqlalchemy.orm import Session

import crawler.importer
import crawler.storing
from core.files import TEMP_PREFIX
from crawler.importer import import_folder
from db.database import Database
from db.models import CrawlRun, Image, ImageStatus, Review, RunStatus
from db.store import original_path, thumbnail_path
from tests.cli.helpers import invoke
from tests.factories import encode, insert_image, jpeg_bytes, photo

REVIEWER = "alice"
FAIL_AT = 2  # the second image stored is the one stopped


def make_tree(root: Path) -> dict[str, bytes]:
    """Four distinct images in two breeds; returns their bytes by file."""
    files = {
        "pug/1.jpg": jpeg_bytes(seed=21),
        "pug/2.jpg": jpeg_bytes(seed=22),
        "beagle/3.jpg": jpeg_bytes(seed=23),
        "beagle/4.png": encode(photo(300, 220, seed=24), "PNG"),
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def store_files(db: Database) -> tuple[set[str], set[str], list[Path]]:
    """The shas of the originals and of the thumbnails in the store, and any temporary files."""
    root = db.store.root
    originals = {p.name for p in (root / "originals").rglob("*") if p.is_file()}
    thumbs = {p.name.removesuffix(".jpg") for p in (root / "thumbs").rglob("*") if p.is_file()}
    temps = [p for p in root.rglob(f"{TEMP_PREFIX}*")]
    return originals, thumbs, temps


def assert_whole(db: Database, *, accepted: bool) -> set[str]:
    """Store and database agree, every image is complete; returns the stored shas."""
    originals, thumbs, temps = store_files(db)
    with db.session() as s:
        images = list(s.execute(select(Image.id, Image.sha256, Image.status, Image.path)))
        reviews = list(s.execute(select(Review.image_id, Review.reviewer)))
    shas = {sha for _, sha, _, _ in images}
    assert temps == []
    assert originals == shas, "an original without its row, or a row without its original"
    assert thumbs == shas, "a thumbnail without its row, or a row without its thumbnail"
    for _, sha, _, path in images:
        assert path == original_path(sha) and db.store.exists(thumbnail_path(sha))
    if accepted:
        assert {status for _, _, status, _ in images} <= {ImageStatus.ACCEPTED}
        assert sorted(image_id for image_id, _ in reviews) == sorted(i for i, *_ in images)
        assert {reviewer for _, reviewer in reviews} <= {REVIEWER}
    return shas


class Stop:
    """Makes one step of the ``FAIL_AT``-th stored image raise ``exc``."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.images = 0  # add_image calls so far
        self.armed = False  # the failing image's commit is next

    def due(self) -> bool:
        return self.images == FAIL_AT

    def fire(self) -> None:
        self.armed = False
        raise self.exc


def install(point: str, stop: Stop, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Patch the step named ``point`` so that it raises for the ``FAIL_AT``-th image."""
    real_add = crawler.storing.add_image

    def add_image(*args: Any, **kwargs: Any) -> Image:
        stop.images += 1
        if stop.due() and point == "before_row":
            stop.fire()
        row = real_add(*args, **kwargs)
        if stop.due():
            if point == "after_row":
                stop.fire()
            stop.armed = point in ("before_commit", "after_commit")
        return row

    monkeypatch.setattr(crawler.storing, "add_image", add_image)

    real_thumb = db.store.put_thumbnail

    def put_thumbnail(sha256: str, img: PILImage.Image) -> str:
        if stop.images == FAIL_AT and point == "after_original":
            stop.fire()  # the original is written, its thumbnail is not
        rel = real_thumb(sha256, img)
        if stop.images == FAIL_AT and point == "after_files":
            stop.fire()
        return rel

    monkeypatch.setattr(db.store, "put_thumbnail", put_thumbnail)

    real_decide = crawler.importer.record_decision

    def record_decision(session: Session, image_id: int, *args: Any, **kwargs: Any) -> Review:
        review = real_decide(session, image_id, *args, **kwargs)
        if stop.due() and point == "after_decision":
            stop.fire()
        return review

    monkeypatch.setattr(crawler.importer, "record_decision", record_decision)

    real_commit = Session.commit

    def commit(self: Session) -> None:
        if stop.armed and point == "before_commit":
            stop.fire()
        real_commit(self)
        if stop.armed and point == "after_commit":
            stop.fire()

    monkeypatch.setattr(Session, "commit", commit)


POINTS = [
    "before_row",
    "after_original",
    "after_files",
    "after_row",
    "after_decision",
    "before_commit",
    "after_commit",
]


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, OSError])
@pytest.mark.parametrize("point", POINTS)
def test_an_import_stopped_at_any_step_leaves_whole_images_and_finishes_on_rerun(
    database: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    point: str,
    exc_type: type[BaseException],
) -> None:
    files = make_tree(tmp_path / "root")
    exc = exc_type() if exc_type is KeyboardInterrupt else OSError(errno.EIO, "I/O error")
    stop = Stop(exc)
    with monkeypatch.context() as patch:
        install(point, stop, database, patch)
        with pytest.raises(exc_type):
            import_folder(database, tmp_path / "root", accept=True, reviewer=REVIEWER)
    assert stop.images >= FAIL_AT and not stop.armed  # the step was reached and did raise
    shas = assert_whole(database, accepted=True)
    # Only the commit that went through before the interrupt keeps the second image.
    assert len(shas) == (FAIL_AT if point == "after_commit" else FAIL_AT - 1)
    with database.session() as s:
        run = s.scalars(select(CrawlRun)).one()
    stopped = RunStatus.INTERRUPTED if exc_type is KeyboardInterrupt else RunStatus.FAILED
    assert run.status == stopped

    report = import_folder(database, tmp_path / "root", accept=True, reviewer=REVIEWER)
    assert report.total("stored") == len(files) - len(shas)
    all_shas = assert_whole(database, accepted=True)
    assert len(all_shas) == len(files)


@pytest.mark.parametrize("point", ["after_decision", "before_commit", "after_commit"])
def test_the_unit_holds_on_postgresql_too(
    any_database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    make_tree(tmp_path / "root")
    with monkeypatch.context() as patch:
        install(point, Stop(KeyboardInterrupt()), any_database, patch)
        with pytest.raises(KeyboardInterrupt):
            import_folder(any_database, tmp_path / "root", accept=True, reviewer=REVIEWER)
    assert_whole(any_database, accepted=True)
    import_folder(any_database, tmp_path / "root", accept=True, reviewer=REVIEWER)
    assert len(assert_whole(any_database, accepted=True)) == 4


def test_without_accept_a_stopped_unit_leaves_nothing_either(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path / "root")
    with monkeypatch.context() as patch:
        install("after_row", Stop(KeyboardInterrupt()), database, patch)
        with pytest.raises(KeyboardInterrupt):
            import_folder(database, tmp_path / "root")
    assert len(assert_whole(database, accepted=False)) == FAIL_AT - 1
    import_folder(database, tmp_path / "root", accept=True, reviewer=REVIEWER)
    assert len(assert_whole(database, accepted=True)) == 4


def test_files_another_row_holds_are_kept_when_a_unit_fails(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same bytes in two breeds share their files: the second breed's failed unit must not
    take them from the first breed's row."""
    data = jpeg_bytes(seed=31)
    for rel in ("beagle/same.jpg", "pug/same.jpg"):
        (tmp_path / "root" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "root" / rel).write_bytes(data)
    with monkeypatch.context() as patch:
        install("after_row", Stop(OSError(errno.EIO, "I/O error")), database, patch)
        with pytest.raises(OSError):
            import_folder(database, tmp_path / "root", accept=True, reviewer=REVIEWER)
    assert len(assert_whole(database, accepted=True)) == 1  # beagle's row, with its files


def test_files_a_row_committed_elsewhere_holds_are_kept(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another crawl or import committed the same bytes while this unit ran: the database, not
    only this import's own index, decides whether the files may go."""
    data = jpeg_bytes(seed=41)
    (tmp_path / "root" / "pug").mkdir(parents=True)
    (tmp_path / "root" / "pug" / "x.jpg").write_bytes(data)
    real_add = crawler.storing.add_image

    def add_then_fail(*args: Any, **kwargs: Any) -> Image:
        other = insert_image(database, "beagle", data=data)  # committed by "someone else"
        real_add(*args, **kwargs)
        raise KeyboardInterrupt(other)

    monkeypatch.setattr(crawler.storing, "add_image", add_then_fail)
    with pytest.raises(KeyboardInterrupt) as stopped:
        import_folder(database, tmp_path / "root")
    with database.session() as s:
        assert s.scalars(select(Image.id)).all() == [stopped.value.args[0]]
    assert len(assert_whole(database, accepted=False)) == 1


def test_cli_says_how_to_finish_an_interrupted_import(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path / "root")
    base = ["--db", database.settings.resolved_database_url()]
    argv = [*base, "--data-dir", str(database.settings.data_dir), "import", str(tmp_path / "root")]
    stop = Stop(KeyboardInterrupt())
    with monkeypatch.context() as patch:
        install("after_decision", stop, database, patch)  # module functions: the CLI's too
        result = invoke(*argv, "--accept", "--reviewer", REVIEWER)
    assert result.exit_code == 130, result.output
    assert "Run the same command again" in result.output
    assert len(assert_whole(database, accepted=True)) == FAIL_AT - 1
    result = invoke(*argv, "--accept", "--reviewer", REVIEWER)
    assert result.exit_code == 0, result.output
    assert f"{4 - (FAIL_AT - 1)} images imported" in result.output
    assert len(assert_whole(database, accepted=True)) == 4
