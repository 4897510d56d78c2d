"""Exports carry no local paths: not from today's imports, nor from rows older imports wrote."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from crawler.importer import import_folder
from db.database import Database
from db.models import Decision, Image
from db.provenance import Provenance
from db.reviews import record_decision
from review.export import export_dataset
from review.manifest import portable
from tests.factories import jpeg_bytes

CRAWLED = Provenance(
    source="openverse",
    query="pug",
    url="https://live.staticflickr.com/1/2.jpg",
    landing_url="https://www.flickr.com/photos/x/2",
    license="by",
    license_version="2.0",
    license_url="https://creativecommons.org/licenses/by/2.0/",
    creator="someone",
)


def exported_text(root: Path) -> str:
    """Every text file the export wrote (manifest and datasheet), concatenated."""
    return "".join(
        p.read_text("utf-8")
        for p in sorted(root.rglob("*"))
        if p.suffix in (".csv", ".jsonl", ".md")
    )


def accept_all(db: Database) -> None:
    with db.session() as s:
        for image_id in s.scalars(select(Image.id).order_by(Image.id)).all():
            record_decision(s, image_id, "ana", Decision.ACCEPT)


@pytest.mark.parametrize("fmt", ["folders", "csv", "jsonl"])
def test_rows_of_older_imports_lose_their_local_paths_at_export(
    database: Database, tmp_path: Path, fmt: str
) -> None:
    home = tmp_path / "home" / "alice" / "dogs"
    (home / "pug").mkdir(parents=True)
    (home / "pug" / "a.jpg").write_bytes(jpeg_bytes(seed=1))
    (home / "pug" / "b.jpg").write_bytes(jpeg_bytes(seed=2))
    import_folder(database, home)
    with database.session() as s:  # as imports recorded them before: the file's own address
        ids = s.scalars(select(Image.id).order_by(Image.id)).all()
        s.execute(
            update(Image)
            .where(Image.id == ids[0])
            .values(url=(home / "pug" / "a.jpg").as_uri(), landing_url=str(home))
        )
        s.execute(update(Image).where(Image.id == ids[1]).values(**CRAWLED.columns()))
    accept_all(database)
    with database.session() as s:
        export_dataset(s, database.store, tmp_path / "out", fmt)
    text = exported_text(tmp_path / "out")
    assert "file:" not in text and str(tmp_path) not in text and "alice" not in text
    for value in (CRAWLED.url, CRAWLED.landing_url, CRAWLED.license_url):  # web addresses stay
        assert value in text


def test_a_fresh_import_exports_without_local_paths(database: Database, tmp_path: Path) -> None:
    root = tmp_path / "vetted"
    (root / "beagle").mkdir(parents=True)
    (root / "beagle" / "1.jpg").write_bytes(jpeg_bytes(seed=3))
    import_folder(database, root, accept=True, reviewer="ana")
    with database.session() as s:
        export_dataset(s, database.store, tmp_path / "out", "jsonl")
    text = exported_text(tmp_path / "out")
    assert '"source": "import"' in text and '"url": null' in text
    assert str(tmp_path) not in text and "file:" not in text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://example.org/a.jpg", "https://example.org/a.jpg"),
        ("HTTP://example.org/a.jpg", "HTTP://example.org/a.jpg"),
        ("file:///home/alice/a.jpg", None),
        ("FILE:///C:/Users/alice/a.jpg", None),
        ("/home/alice/a.jpg", None),
        ("C:\\Users\\alice\\a.jpg", None),
        ("dogs/a.jpg", None),
        (None, None),
        # The image URL passes the check every link passes (core.text.web_url), not a prefix test.
        ("http:// a b", None),
        ("https://", None),
        ("http:\\\\alice-pc\\share\\a.jpg", None),
        ("  https://example.org/a.jpg\t", "https://example.org/a.jpg"),
        ("https://example.org/a pug.jpg", "https://example.org/a%20pug.jpg"),
    ],
)
def test_portable_keeps_web_addresses_only(value: str | None, expected: str | None) -> None:
    record = Provenance(source="import", url=value, landing_url=value, license_url=value)
    out = portable(record)
    for name in ("url", "landing_url", "license_url"):
        assert getattr(out, name) == expected
    assert out.source == "import"
