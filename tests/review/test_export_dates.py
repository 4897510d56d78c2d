"""Dates travel with the set: the manifest carries them, the datasheet shows their spread, and
importing the exported tree into another database keeps them."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, update

from core.settings import Settings
from crawler.importer import import_folder
from db.database import Database, open_database
from db.models import Image
from db.seed import seed_breeds
from review.datasheet import DATASHEET_NAME
from review.export import export_dataset
from tests.factories import insert_image
from tests.fixtures.evaluation import accept

UPLOADED = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
TAKEN = datetime(2025, 2, 1, 10, 0, tzinfo=UTC)
INDEXED = datetime(2024, 6, 1, tzinfo=UTC)


def dated_set(db: Database) -> list[int]:
    ids = [insert_image(db, "pug", seed=n) for n in range(3)]
    with db.session() as s:
        s.execute(
            update(Image).where(Image.id == ids[0]).values(uploaded_at=UPLOADED, taken_at=TAKEN)
        )
        s.execute(update(Image).where(Image.id == ids[1]).values(indexed_at=INDEXED))
    for i in ids:
        accept(db, i)
    return ids


def test_manifest_and_datasheet_carry_the_dates(database: Database, tmp_path: Path) -> None:
    ids = dated_set(database)
    with database.session() as s:
        export_dataset(s, database.store, tmp_path / "set", "folders")
    with (tmp_path / "set" / "manifest.csv").open(encoding="utf-8") as fh:
        rows = {int(r["image_id"]): r for r in csv.DictReader(fh)}
    assert rows[ids[0]]["uploaded_at"] == "2025-03-04T05:06:07+00:00"
    assert rows[ids[0]]["taken_at"] == "2025-02-01T10:00:00+00:00"
    assert rows[ids[1]]["indexed_at"] == "2024-06-01T00:00:00+00:00"
    assert rows[ids[2]]["uploaded_at"] == ""
    sheet = (tmp_path / "set" / DATASHEET_NAME).read_text(encoding="utf-8")
    assert "## Dates" in sheet
    assert "1 of 3 images have an upload date stated by their source, from 2025-03-04" in sheet
    assert "Upload date unknown: 2 images. 1 of them were indexed by Openverse" in sheet
    assert "| 2025 | 1 | 1 |" in sheet


def test_importing_the_export_keeps_the_dates(
    database: Database, tmp_path: Path, data_dir: Path
) -> None:
    dated_set(database)
    with database.session() as s:
        export_dataset(s, database.store, tmp_path / "set", "folders")
    other = open_database(
        Settings(data_dir=tmp_path / "other", database_url=f"sqlite:///{tmp_path / 'o.db'}")
    )
    try:
        with other.session() as s:
            seed_breeds(s)
        report = import_folder(other, tmp_path / "set")
        assert report.total("stored") == 3
        with other.session() as s:
            dates = sorted(
                s.execute(select(Image.uploaded_at, Image.taken_at, Image.indexed_at)).all(),
                key=str,
            )
        found = {tuple(d.replace(tzinfo=UTC) if d else None for d in row) for row in dates}
        assert found == {(UPLOADED, TAKEN, None), (None, None, INDEXED), (None, None, None)}
    finally:
        other.dispose()
