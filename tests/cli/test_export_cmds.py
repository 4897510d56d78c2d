"""``breedbench export``: the set written by the command, its one-line refusals, and a tree that
``breedbench import`` reads back as the same images and breeds."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import select

from core.settings import Settings
from db.database import Database, open_database
from db.models import Breed, Image, ImageStatus
from tests.cli.helpers import cli, invoke
from tests.factories import image_row


def test_cli_export_and_clean_error(
    database: Database, curated: dict[str, list[int]], tmp_path: Path
) -> None:
    out = tmp_path / "cli"
    code, output = cli(database, "export", "--format", "folders", out)
    assert code == 0, output
    assert "Exported 5 images of 2 breeds" in output
    assert "(`min_reviews = 1`): the latest decision wins" in (out / "DATASHEET.md").read_text()
    code, output = cli(database, "export", "--format", "csv", out)
    assert code == 1
    assert output.startswith("Error: ") and "is not empty" in output
    assert "Traceback" not in output
    code, output = cli(database, "export", "--format", "xml", tmp_path / "z")
    assert code == 2 and "xml" in output


def test_export_then_import_gives_the_same_images_and_breeds(
    database: Database, curated: dict[str, list[int]], tmp_path: Path
) -> None:
    tree = tmp_path / "tree"
    code, output = cli(database, "export", "--format", "folders", tree)
    assert code == 0, output
    expected = set()
    for slug, ids in curated.items():
        expected |= {(slug, image_row(database, i).sha256) for i in ids}

    other = ["--db", f"sqlite:///{tmp_path / 'other.db'}", "--data-dir", str(tmp_path / "o")]
    assert invoke(*other, "init").exit_code == 0
    code, output = invoke(*other, "import", tree, "--accept", "--reviewer", "ana")
    assert code == 0, output
    imported = open_database(
        Settings(data_dir=tmp_path / "o", database_url=f"sqlite:///{tmp_path / 'other.db'}")
    )
    try:
        with imported.session() as s:
            rows = s.execute(
                select(Breed.slug, Image.sha256, Image.status).join(
                    Breed, Breed.id == Image.breed_id
                )
            ).all()
            got = {(slug, sha) for slug, sha, _ in rows}
            assert got == expected
            assert {status for _, _, status in rows} == {ImageStatus.ACCEPTED}
            for _slug, sha in expected:
                path = s.scalar(select(Image.path).where(Image.sha256 == sha))
                assert hashlib.sha256(imported.store.read(path)).hexdigest() == sha
    finally:
        imported.dispose()
