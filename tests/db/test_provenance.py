"""An image's provenance is one record: written into the row's columns and read back whole."""

from __future__ import annotations

from sqlalchemy import select

from db.database import Database
from db.images import ImageMeta, add_image
from db.models import Image
from db.provenance import PROVENANCE_FIELDS, Provenance
from tests.factories import breed_id, jpeg_bytes

FULL = Provenance(
    source="flickr",
    query="pug dog",
    url="https://img.example.org/1.jpg",
    landing_url="https://www.example.org/photos/1",
    license="by-sa",
    license_version="2.0",
    license_url="https://creativecommons.org/licenses/by-sa/2.0/",
    creator="Jo Smith",
    attribution='"Pug" by Jo Smith (by-sa 2.0, Flickr)',
)


def test_fields_are_the_image_columns_in_manifest_order() -> None:
    assert PROVENANCE_FIELDS == (
        "source",
        "query",
        "url",
        "landing_url",
        "license",
        "license_version",
        "license_url",
        "creator",
        "attribution",
    )
    assert set(PROVENANCE_FIELDS) <= set(Image.__table__.columns.keys())
    assert list(FULL.columns()) == list(PROVENANCE_FIELDS)
    assert FULL.columns()["creator"] == "Jo Smith"


def test_license_label() -> None:
    assert FULL.license_label == "by-sa 2.0"
    assert Provenance("wikimedia", license="CC BY-SA 4.0").license_label == "CC BY-SA 4.0"
    assert Provenance("import").license_label == "unknown license"


def test_add_image_stores_every_field_and_the_row_gives_it_back(any_database: Database) -> None:
    db = any_database
    with db.session() as s:
        add_image(s, db.store, jpeg_bytes(seed=1), breed_id(db, "pug"), ImageMeta(FULL))
    with db.session() as s:
        row = s.scalars(select(Image)).one()
        assert row.provenance == FULL
        # The columns themselves hold the values (queries and the manifest read them).
        assert (row.source, row.license_version, row.attribution) == (
            "flickr",
            "2.0",
            FULL.attribution,
        )


def test_setting_the_provenance_rewrites_all_the_columns() -> None:
    row = Image(provenance=FULL)
    assert row.provenance == FULL
    row.provenance = Provenance("import", url="file:///x.jpg")
    assert (row.source, row.url, row.query, row.license, row.creator) == (
        "import",
        "file:///x.jpg",
        None,
        None,
        None,
    )


def test_page_urls_are_kept_only_when_they_are_http() -> None:
    """A search result's ``javascript:`` or ``data:`` page never enters the record."""
    hostile = Provenance(
        "openverse",
        url="https://img.example.org/1.jpg",
        landing_url="javascript:alert(document.cookie)",
        license_url="data:text/html,<script>alert(1)</script>",
    )
    assert (hostile.landing_url, hostile.license_url) == (None, None)
    assert hostile.url == "https://img.example.org/1.jpg"
    relative = Provenance(
        "wikimedia", landing_url=" /wiki/File:Pug.jpg", license_url="//cc.org/by/"
    )
    assert (relative.landing_url, relative.license_url) == (None, "https://cc.org/by/")
    assert Provenance("import", url="file:///x.jpg").url == "file:///x.jpg"  # not a page: kept


def test_a_javascript_landing_url_is_not_stored(any_database: Database) -> None:
    db = any_database
    origin = Provenance("flickr", landing_url="JavaScript:alert(1)", creator="Jo")
    with db.session() as s:
        add_image(s, db.store, jpeg_bytes(seed=2), breed_id(db, "pug"), ImageMeta(origin))
    with db.session() as s:
        row = s.scalars(select(Image)).one()
        assert row.landing_url is None and row.creator == "Jo"


def test_text_longer_than_its_column_is_cut_to_fit_on_both_databases(
    database: Database,
) -> None:
    """A search result's licence version or query longer than its column is stored cut, with
    an ellipsis, on PostgreSQL (which refuses longer values) as on SQLite."""
    from db.provenance import FIELD_LIMITS

    for name, limit in FIELD_LIMITS.items():
        assert getattr(Image.__table__.c, name).type.length == limit, name
    long = Provenance(
        source="s" * 100, query="q" * 500, license="l" * 100, license_version="[4.0](x)" * 9
    )
    with database.session() as s:
        add_image(s, database.store, jpeg_bytes(seed=1), breed_id(database, "pug"), ImageMeta(long))
    with database.session() as s:
        row = s.scalars(select(Image)).one()
        assert row.license_version == ("[4.0](x)" * 9)[:19] + "…"
        assert len(row.query or "") == 200 and (row.query or "").endswith("…")
