"""Bodies that do not arrive whole (README: truncated bodies are refused; bodies over
``BREEDBENCH_CRAWL_MAX_BYTES`` are refused and cut off while downloading): the image is refused
with its reason, and nothing of it is stored — no row, no file."""

from __future__ import annotations

from pathlib import Path

import pytest

from db.database import Database
from tests.crawler.conftest import crawl
from tests.crawler.mockserver import ENDLESS_BYTES, MockServer
from tests.factories import breed_images


def _only_whole_images_stored(db: Database, slug: str) -> None:
    """One image of the breed, and the store holds its files and nothing else."""
    (kept,) = breed_images(db, slug)
    root = Path(db.store.root)
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert files == {kept.path, kept.thumb_path}


def test_a_connection_closed_before_the_declared_length_is_refused(
    database: Database, mockserver: MockServer
) -> None:
    mockserver.add_catalog({"clumber": ["/img/cut/830.jpg", "/img/good/831.jpg"]})
    report = crawl(database, mockserver, breeds=["clumber"], per_breed=5, dog_keyword="never")
    refused = {k: v for k, v in report.stats.items() if k.startswith("refused/")}
    assert refused == {"refused/truncated": 1}
    _only_whole_images_stored(database, "clumber")


def test_a_body_over_the_byte_limit_is_cut_off_while_downloading(
    database: Database, mockserver: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database.settings, "crawl_max_bytes", 1_000_000)
    mockserver.add_catalog({"leonberg": ["/img/endless/832.jpg", "/img/good/833.jpg"]})
    report = crawl(database, mockserver, breeds=["leonberg"], per_breed=5, dog_keyword="never")
    assert report.stats["refused/too_big"] == 1
    _only_whole_images_stored(database, "leonberg")
    # The crawler stopped reading: the server could not write the rest of the body.
    assert mockserver.streamed()["/img/endless/832.jpg"] < ENDLESS_BYTES
