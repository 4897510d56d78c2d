"""Folder import: both folder name styles, the same validation and dedup, ``--accept``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from crawler.importer import import_folder
from db.database import Database
from db.models import Breed, CrawlRun, Image, ImageStatus, Review, RunStatus
from tests.cli.helpers import cli
from tests.crawler.mockserver import grainy_photo_jpeg
from tests.factories import encode, jpeg_bytes, photo


def make_tree(root: Path) -> None:
    (root / "boxer").mkdir(parents=True)
    (root / "boxer" / "a.jpg").write_bytes(jpeg_bytes(seed=1))
    (root / "boxer" / "b.png").write_bytes(encode(photo(300, 200, seed=2), "PNG"))
    (root / "boxer" / "tiny.png").write_bytes(encode(photo(20, 20, seed=3), "PNG"))
    (root / "boxer" / "notes.txt").write_bytes(b"vetted by the team")
    (root / "boxer" / ".DS_Store").write_bytes(b"\x00\x01")
    stanford = root / "n02085620-Chihuahua"
    stanford.mkdir()
    (stanford / "n02085620_7.jpg").write_bytes(jpeg_bytes(seed=4))
    (stanford / "n02085620_8.jpg").write_bytes(jpeg_bytes(400, 300, seed=4, quality=70))
    (root / "German_short-haired_pointer").mkdir()
    (root / "German_short-haired_pointer" / "x.jpg").write_bytes(jpeg_bytes(seed=5))
    (root / "wolves").mkdir()
    (root / "wolves" / "w.jpg").write_bytes(jpeg_bytes(seed=6))


def rows(db: Database) -> dict[str, list[Image]]:
    out: dict[str, list[Image]] = {}
    with db.session() as s:
        for slug, img in s.execute(select(Breed.slug, Image).join(Image.breed)):
            out.setdefault(slug, []).append(img)
        s.expunge_all()
    return out


def base(db: Database) -> list[str]:
    return ["--db", db.settings.resolved_database_url(), "--data-dir", str(db.settings.data_dir)]


def test_import_reads_slug_and_stanford_folders(database: Database, tmp_path: Path) -> None:
    make_tree(tmp_path / "root")
    report = import_folder(database, tmp_path / "root")
    got = rows(database)
    assert {k: len(v) for k, v in got.items()} == {
        "boxer": 2,
        "chihuahua": 1,  # the second file is the same photo re-encoded
        "german_short-haired_pointer": 1,
    }
    assert report.unknown_folders == ["wolves"]
    assert report.counts["boxer"]["too_small"] == 1
    assert report.counts["boxer"]["not_an_image"] == 1
    assert report.counts["chihuahua"]["near_duplicate"] == 1
    img = got["boxer"][0]
    # No local path is kept: it would leak into exports and mean nothing elsewhere.
    assert img.source == "import" and img.url is None and img.landing_url is None
    assert img.status == ImageStatus.PENDING
    with database.session() as s:
        run = s.get(CrawlRun, report.run_id)
        assert run is not None and run.kind == "import" and run.status == RunStatus.FINISHED
        assert run.stats["breeds"]["boxer"]["stored"] == 2


def test_cli_import_accept_records_decisions_and_is_idempotent(
    database: Database, tmp_path: Path
) -> None:
    make_tree(tmp_path / "root")
    result = cli(database, "import", tmp_path / "root")
    assert result.exit_code == 0, result.output
    assert "4 images imported" in result.output and "wolves" in result.output
    # The re-encoded Chihuahua counts as a duplicate, not as a refusal.
    assert re.search(r"chihuahua\s*│\s*1\s*│\s*1\s*│\s*-\s*│", result.output), result.output
    # Again with --accept: nothing new is stored, the pending images are accepted.
    result = cli(database, "import", tmp_path / "root", "--accept", "--reviewer", "alice")
    assert result.exit_code == 0, result.output
    assert "0 images imported, 4 accepted by alice" in result.output
    got = rows(database)
    assert all(i.status == ImageStatus.ACCEPTED for v in got.values() for i in v)
    with database.session() as s:
        reviewers = set(s.scalars(select(Review.reviewer)))
    assert reviewers == {"alice"}


# Runs ``breedbench import`` as the console script does (``breedbench.cli.main``), in a fresh
# interpreter, and reports the command's exit code and whether Scrapy was loaded.
IMPORT_PROBE = """
import sys
from breedbench.cli import main
sys.argv = ["breedbench", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code or 0
print(f"exit={code} scrapy={'scrapy' in sys.modules}")
"""


def test_import_does_not_load_scrapy(database: Database, tmp_path: Path) -> None:
    """An import crawls nothing: the store step it shares with the crawl is free of Scrapy."""
    make_tree(tmp_path / "root")
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE, *base(database), "import", str(tmp_path / "root")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    assert "4 images imported" in proc.stdout, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith("exit=0 scrapy=False"), proc.stdout
    assert sum(len(v) for v in rows(database).values()) == 4


def test_an_unreadable_file_is_counted_and_the_import_goes_on(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path / "root")
    real_open = os.open

    def refuse_a_jpg(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(path).name == "a.jpg":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse_a_jpg)  # tests may run as root: chmod would not do
    result = cli(database, "import", tmp_path / "root")
    assert result.exit_code == 0, result.output
    assert "unreadable 1" in result.output and "3 images imported" in result.output
    assert len(rows(database)["boxer"]) == 1


def test_cli_import_accept_on_a_fresh_set(database: Database, tmp_path: Path) -> None:
    (tmp_path / "r" / "pug").mkdir(parents=True)
    (tmp_path / "r" / "pug" / "1.jpg").write_bytes(jpeg_bytes(seed=11))
    result = cli(database, "import", tmp_path / "r", "--accept", "--reviewer", "bob")
    assert result.exit_code == 0, result.output
    assert [i.status for i in rows(database)["pug"]] == [ImageStatus.ACCEPTED]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{root}", "--accept"], "--accept needs --reviewer"),
        (["{root}/nope"], "does not exist"),
        (["{root}/boxer"], "no breed folders"),
    ],
)
def test_cli_import_errors(
    database: Database, tmp_path: Path, args: list[str], message: str
) -> None:
    make_tree(tmp_path / "root")
    argv = [a.format(root=tmp_path / "root") for a in args]
    result = cli(database, "import", *argv)
    assert result.exit_code == 1 and result.output.startswith("Error: ")
    assert message in result.output
    assert rows(database) == {}


def test_an_exported_tree_imports_back(database: Database, tmp_path: Path) -> None:
    from core.settings import Settings
    from db.database import open_database
    from db.models import Decision
    from db.reviews import record_decision
    from db.seed import seed_breeds
    from review.export import export_dataset
    from tests.factories import insert_image

    ids = [insert_image(database, slug, seed) for slug, seed in [("boxer", 1), ("pug", 2)]]
    with database.session() as s:
        for image_id in ids:
            record_decision(s, image_id, "alice", Decision.ACCEPT)
        export_dataset(s, database.store, tmp_path / "export", "folders")
    other = open_database(
        Settings(data_dir=tmp_path / "other", database_url=f"sqlite:///{tmp_path}/other.db")
    )
    try:
        with other.session() as s:
            seed_breeds(s)
        report = import_folder(other, tmp_path / "export", accept=True, reviewer="bob")
        assert report.total("stored") == 2 and report.accepted == 2
        assert report.unknown_folders == []
        before = {(slug, i.sha256) for slug, imgs in rows(database).items() for i in imgs}
        after = {(slug, i.sha256) for slug, imgs in rows(other).items() for i in imgs}
        assert before == after
    finally:
        other.dispose()


def test_a_large_photo_is_recorded_at_its_real_size(database: Database, tmp_path: Path) -> None:
    # Hashes and the thumbnail come from a reduced decode; the row keeps the original's size.
    data = grainy_photo_jpeg(2048, 1536, seed=3)
    (tmp_path / "root" / "pug").mkdir(parents=True)
    (tmp_path / "root" / "pug" / "big.jpg").write_bytes(data)
    import_folder(database, tmp_path / "root")
    [img] = rows(database)["pug"]
    assert (img.width, img.height, img.format, img.byte_size) == (2048, 1536, "JPEG", len(data))
    assert database.store.read(img.path) == data
    thumb = PILImage.open(database.store.absolute(img.thumb_path))
    assert thumb.size == (256, 192)
