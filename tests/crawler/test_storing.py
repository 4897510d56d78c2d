"""One unit of storing: a unit that stores no row takes back only the files it wrote itself.

The files of an image that is refused (a duplicate within its breed) or dropped (a crawl
stopping) were written either by this unit — a crawl worker's, or the import's own — or before
it: by an earlier image, a crawl running meanwhile whose worker wrote them ahead of its row,
or an interrupted run (an orphan ``fsck`` reports). Only the first kind may go.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event

from core.errors import BreedbenchError
from crawler import workers
from crawler.dedup import DedupIndex, Verdict
from crawler.importer import import_folder
from crawler.storing import store_valid
from crawler.validation import validate_image
from db.database import Database
from db.images import ImageMeta
from db.provenance import Provenance
from tests.db.diskfull import disk_full_from_write, store_files
from tests.factories import breed_id, insert_image, jpeg_bytes

PHOTO = jpeg_bytes(seed=4)
NEAR_COPY = jpeg_bytes(400, 300, seed=4, quality=70)  # the same photo, re-encoded
META = ImageMeta(Provenance("test"))


def _index(db: Database) -> DedupIndex:
    with db.session() as s:
        return DedupIndex.load(s)


def _statements(db: Database) -> list[str]:
    seen: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def test_an_import_leaves_files_it_did_not_write(database: Database, tmp_path: Path) -> None:
    """A near-duplicate whose bytes sit in the store already (here: an orphan; as well a running
    crawl's files written ahead of its row) is refused without deleting them."""
    insert_image(database, "pug", data=PHOTO)
    orphan = database.store.put_with_thumbnail(NEAR_COPY)
    (tmp_path / "root" / "pug").mkdir(parents=True)
    (tmp_path / "root" / "pug" / "copy.jpg").write_bytes(NEAR_COPY)
    report = import_folder(database, tmp_path / "root")
    assert report.counts["pug"]["near_duplicate"] == 1
    assert database.store.read(orphan.path) == NEAR_COPY
    assert database.store.exists(orphan.thumb_path)


@pytest.mark.parametrize("prewritten_here", [False, True])
def test_a_refused_unit_removes_its_own_files_only(
    database: Database, prewritten_here: bool
) -> None:
    insert_image(database, "pug", data=PHOTO)
    valid = validate_image(NEAR_COPY)
    files = database.store.put_with_thumbnail(NEAR_COPY, valid.image)
    index, pug = _index(database), breed_id(database, "pug")
    statements = _statements(database)
    result, image_id = store_valid(
        database,
        index,
        NEAR_COPY,
        valid.facts(),
        pug,
        META,
        None,
        prewritten=files.created if prewritten_here else (),
    )
    assert result.verdict is Verdict.NEAR_DUPLICATE and image_id is None
    if prewritten_here:  # this unit's worker wrote them: they go (no row holds the bytes)
        assert not database.store.exists(files.path)
        assert not database.store.exists(files.thumb_path)
    else:  # written before the unit: they stay, and nothing was asked of the database
        assert database.store.exists(files.path) and database.store.exists(files.thumb_path)
        assert statements == []


def test_a_worker_writes_an_original_and_its_thumbnail_as_a_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "store"
    args = (str(root), PHOTO, 64, 1 << 24, 1 << 26)
    with monkeypatch.context() as patch:
        disk_full_from_write(patch, 2)  # the original fits, its thumbnail does not
        with pytest.raises(BreedbenchError, match="disk full"):
            workers.check_and_prewrite(*args)
    assert store_files(root) == []
    first = workers.check_and_prewrite(*args)
    assert isinstance(first, workers.Prewritten) and len(first.created) == 2
    assert sorted(first.created) == store_files(root)
    again = workers.check_and_prewrite(*args)  # the same bytes: found, not written
    assert isinstance(again, workers.Prewritten) and again.created == ()
    assert again.facts == first.facts
