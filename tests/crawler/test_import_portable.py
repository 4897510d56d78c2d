"""Importing a portable export back: converted images are the originals they came from.

The export's manifest and file names only say which stored image to compare with; the pixels
decide. A manifest is untrusted input: junk, an oversized one or a link out of the tree is
ignored, and a lie cannot hide a new image.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

import crawler.exported as exported
from crawler.exported import MANIFEST_NAME, Origin, parse_origins
from crawler.importer import import_folder
from db.database import Database
from db.models import Image, ImageFlag, ImageStatus
from review.export import export_dataset
from review.manifest import MANIFEST_FIELDS
from tests.factories import encode, image_row, photo
from tests.formats import add_mixed_set

SHA_A = "a" * 64
SHA_B = "b" * 64


def count_rows(db: Database) -> tuple[int, int]:
    with db.session() as s:
        return s.scalar(select(func.count(Image.id))) or 0, s.scalar(
            select(func.count(ImageFlag.id))
        ) or 0


def export_portable(db: Database, root: Path, status: str = "accepted") -> None:
    with db.session() as s:
        export_dataset(s, db.store, root, "folders", status=status)


@pytest.mark.parametrize("manifest", [True, False], ids=["manifest", "file-names-only"])
def test_importing_a_portable_export_adds_nothing_new(
    database: Database, tmp_path: Path, manifest: bool
) -> None:
    add_mixed_set(database)
    root = tmp_path / "export"
    export_portable(database, root)
    if not manifest:
        (root / MANIFEST_NAME).unlink()
    before = count_rows(database)
    report = import_folder(database, root)
    assert report.total("stored") == 0
    assert report.total("duplicate") == 8  # the JPEG and PNG by their bytes, six conversions
    assert count_rows(database) == before  # no image, no cross-breed flag


def test_without_a_claim_a_rotated_conversion_would_come_back_as_new(
    database: Database, tmp_path: Path
) -> None:
    """Why the recognition exists: the upright PNG of a rotated WebP is not a near-duplicate."""
    ids = add_mixed_set(database)
    root = tmp_path / "export"
    export_portable(database, root)
    (root / MANIFEST_NAME).unlink()
    rotated = image_row(database, ids["beagle"][2])
    (root / "beagle" / f"{rotated.sha256}.png").rename(root / "beagle" / "renamed.png")
    report = import_folder(database, root)
    assert report.counts["beagle"]["stored"] == 1


def test_import_accept_accepts_the_pending_originals_of_converted_files(
    database: Database, tmp_path: Path
) -> None:
    ids = add_mixed_set(database, accept=False)
    root = tmp_path / "export"
    export_portable(database, root, status="pending")
    before = count_rows(database)
    report = import_folder(database, root, accept=True, reviewer="bob")
    assert report.total("stored") == 0 and report.accepted == 8
    assert count_rows(database) == before
    for image_id in (i for group in ids.values() for i in group):
        assert image_row(database, image_id).status == ImageStatus.ACCEPTED


def test_a_lying_manifest_or_name_cannot_hide_a_new_image(
    database: Database, tmp_path: Path
) -> None:
    ids = add_mixed_set(database)
    root = tmp_path / "export"
    export_portable(database, root)
    webp = image_row(database, ids["beagle"][2]).sha256
    tiff = image_row(database, ids["pug"][2]).sha256
    # A new picture named as the converted TIFF of pug, and one the manifest claims is the WebP.
    (root / "pug" / f"{tiff}.png").write_bytes(encode(photo(seed=60), "PNG"))
    (root / "beagle" / "new.png").write_bytes(encode(photo(seed=61), "PNG"))
    with (root / MANIFEST_NAME).open("a", newline="", encoding="utf-8") as fh:
        claim = {"breed": "beagle", "file": "beagle/new.png", "sha256": webp}
        csv.DictWriter(fh, MANIFEST_FIELDS, lineterminator="\r\n").writerow(claim)
    report = import_folder(database, root)
    assert report.counts["pug"]["stored"] == 1 and report.counts["beagle"]["stored"] == 1
    assert report.total("duplicate") == 7


def test_a_claim_for_another_breed_is_not_recognised(database: Database, tmp_path: Path) -> None:
    """The same picture filed under another breed is a question for reviewers (cross_breed)."""
    ids = add_mixed_set(database)
    root = tmp_path / "export"
    export_portable(database, root)
    rotated = image_row(database, ids["beagle"][2]).sha256
    (root / "beagle" / f"{rotated}.png").rename(root / "pug" / f"{rotated}.png")
    report = import_folder(database, root)
    assert report.counts["pug"]["stored"] == 1  # not silently the beagle's image


def _big_field_manifest(root: Path) -> None:
    (root / MANIFEST_NAME).write_text("file,sha256\r\n" + "x" * 200_000 + "," + SHA_A + "\r\n")


def _outside_link(root: Path) -> None:
    outside = root.parent / "elsewhere.csv"
    outside.write_bytes((root / MANIFEST_NAME).read_bytes())
    (root / MANIFEST_NAME).unlink()
    (root / MANIFEST_NAME).symlink_to(outside)


def _fifo(root: Path) -> None:
    (root / MANIFEST_NAME).unlink()
    os.mkfifo(root / MANIFEST_NAME)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda root: (root / MANIFEST_NAME).write_bytes(os.urandom(4096)),
        lambda root: (root / MANIFEST_NAME).write_bytes(b"\xff\xfe not utf-8"),
        _big_field_manifest,
        _outside_link,
        _fifo,
    ],
    ids=["junk", "not-utf8", "huge-field", "link-outside", "fifo"],
)
def test_an_unreadable_manifest_is_ignored_and_the_import_goes_on(
    database: Database, tmp_path: Path, spoil: object
) -> None:
    add_mixed_set(database)
    root = tmp_path / "export"
    export_portable(database, root)
    spoil(root)  # type: ignore[operator]
    before = count_rows(database)
    report = import_folder(database, root)
    assert report.total("stored") == 0 and report.total("duplicate") == 8  # by the names
    assert count_rows(database) == before


def test_an_oversized_manifest_is_not_read(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_mixed_set(database)
    root = tmp_path / "export"
    export_portable(database, root)
    assert exported.read_origins(root.resolve())  # read when within the limit
    monkeypatch.setattr(exported, "MAX_MANIFEST_BYTES", 100)
    assert exported.read_origins(root.resolve()) == {}


def _manifest(*rows: tuple[str, str, str]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["breed", "file", "sha256", "file_sha256"])
    for file, sha, own in rows:
        writer.writerow(["pug", file, sha, own])
    return buf.getvalue().encode("utf-8")


def test_parse_origins_keeps_only_relative_names_and_hex_hashes() -> None:
    data = _manifest(
        ("pug/a.png", SHA_A, SHA_B),
        ("pug/b.png", SHA_A, "not a hash"),
        ("../outside.png", SHA_A, ""),
        ("/etc/passwd", SHA_A, ""),
        ("C:/Users/a.png", SHA_A, ""),
        ("pug\\c.png", SHA_A, ""),
        ("pug/d.png", "A" * 64, ""),  # upper-case: not how breedbench writes a sha256
        ("pug/e.png", SHA_A[:-1], ""),
        ("pug/f.png", "'" + SHA_A, ""),
        ("", SHA_A, ""),
    )
    assert parse_origins(data) == {
        "pug/a.png": Origin(SHA_A, SHA_B),
        "pug/b.png": Origin(SHA_A, None),
    }


def test_parse_origins_of_what_is_no_manifest() -> None:
    assert parse_origins(b"") == {}
    assert parse_origins(b"\x00\x01\x02") == {}
    assert parse_origins(b"file;sha256\r\npug/a.png;" + SHA_A.encode()) == {}  # no such columns
    assert parse_origins(b'file,sha256\r\n"pug/a.png,' + SHA_A.encode()) == {}  # unclosed quote
    with_bom = b"\xef\xbb\xbf" + _manifest(("pug/a.png", SHA_A, ""))
    assert parse_origins(with_bom) == {"pug/a.png": Origin(SHA_A)}
