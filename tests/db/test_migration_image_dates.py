"""Revision 0006_image_dates: existing rows survive it both ways, with dates unknown and breeds
behaving as before (NULL keyword: "dog"; NULL ambiguous: the curated list decides)."""

from __future__ import annotations

from sqlalchemy import inspect, text

from db import migrate
from db.engine import make_engine

REVISION = "0006_image_dates"


def test_upgrade_keeps_rows_and_downgrade_drops_only_the_new_columns(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate.upgrade(engine, "0004_quantization")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO breeds (id, slug, name, position, query, dog_keyword, target) "
                    "VALUES (1, 'boxer', 'Boxer', 0, 'boxer', false, 50)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO images (id, breed_id, found_breed_id, sha256, width, height, "
                    "format, byte_size, path, source, status, created_at) VALUES (1, 1, 1, "
                    "'ab', 10, 10, 'JPEG', 5, 'x', 'test', 'pending', '2026-01-01 00:00:00')"
                )
            )
        migrate.upgrade(engine, REVISION)
        columns = {c["name"] for c in inspect(engine).get_columns("images")}
        assert {"uploaded_at", "taken_at", "indexed_at"} <= columns
        with engine.begin() as conn:
            row = conn.execute(text("SELECT keyword, ambiguous FROM breeds")).one()
            assert tuple(row) == (None, None)
            conn.execute(
                text("UPDATE images SET uploaded_at = '2025-05-01 10:00:00+00:00' WHERE id = 1")
            )
        migrate.downgrade(engine, "0004_quantization")
        inspector = inspect(engine)
        assert "uploaded_at" not in {c["name"] for c in inspector.get_columns("images")}
        assert "keyword" not in {c["name"] for c in inspector.get_columns("breeds")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM images")).scalar() == 1
            assert conn.execute(text("SELECT slug FROM breeds")).scalar() == "boxer"
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()
