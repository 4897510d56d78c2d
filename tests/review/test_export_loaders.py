"""A folders export loads in full everywhere: Keras, Hugging Face ``imagefolder``, Pillow.

The set holds every stored format (``tests.formats``): a portable export keeps JPEG and PNG byte
for byte and writes the rest as PNG showing exactly the picture breedbench's models see.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pyarrow.json as paj
import pytest
from PIL import Image as PILImage
from PIL import ImageOps
from sqlalchemy import update

from db.database import Database
from db.models import Decision, Image
from db.reviews import record_decision
from review.export import export_dataset
from review.imagefolder import METADATA_FIELDS
from review.manifest import MANIFEST_FIELDS
from tests.factories import image_row, insert_image
from tests.formats import add_mixed_set, mixed_formats, one_bit_bmp, rle8_bmp

IMAGE_SUFFIXES = {".jpg", ".png", ".webp", ".tiff", ".gif", ".bmp"}


def image_files(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.suffix in IMAGE_SUFFIXES
    )


def manifest_rows(root: Path) -> list[dict[str, str]]:
    with (root / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def mixed(database: Database) -> dict[str, list[int]]:
    return add_mixed_set(database)


def test_keras_finds_every_image_of_a_portable_export_and_misses_webp_in_an_original_one(
    database: Database, mixed: dict[str, list[int]], tmp_path: Path
) -> None:
    tf = pytest.importorskip("tensorflow")
    with database.session() as s:
        export_dataset(s, database.store, tmp_path / "portable", "folders")
        export_dataset(s, database.store, tmp_path / "original", "folders", image_format="original")

    def counts(root: Path) -> dict[str, int]:
        ds = tf.keras.utils.image_dataset_from_directory(
            root, image_size=(16, 16), batch_size=64, shuffle=False
        )
        labels = [int(y) for _, ys in ds for y in ys.numpy()]
        return {name: labels.count(i) for i, name in enumerate(ds.class_names)}

    assert counts(tmp_path / "portable") == {"beagle": 4, "pug": 4}
    # The failure the portable default exists for: WebP and TIFF are skipped without a word.
    assert counts(tmp_path / "original") == {"beagle": 2, "pug": 2}


def test_portable_export_keeps_jpeg_and_png_and_converts_the_rest_without_loss(
    database: Database, mixed: dict[str, list[int]], tmp_path: Path
) -> None:
    root = tmp_path / "out"
    with database.session() as s:
        result = export_dataset(s, database.store, root, "folders")
    assert (result.images, result.converted, result.files_written) == (8, 6, 8)
    rows = {r["image_id"]: r for r in manifest_rows(root)}
    formats = dict(zip(sum(mixed.values(), []), sum(mixed_formats().values(), []), strict=True))
    for image_id, (fmt, original) in formats.items():
        stored = image_row(database, image_id)
        row = rows[str(image_id)]
        written = (root / row["file"]).read_bytes()
        assert row["sha256"] == stored.sha256 == hashlib.sha256(original).hexdigest()
        assert row["file_sha256"] == hashlib.sha256(written).hexdigest()
        assert row["original_format"] == fmt
        if fmt in ("JPEG", "PNG"):
            assert written == original  # byte for byte
            continue
        assert row["file"] == f"{row['breed']}/{stored.sha256}.png"
        assert written.startswith(b"\x89PNG\r\n\x1a\n")
        got = PILImage.open(io.BytesIO(written))
        want = ImageOps.exif_transpose(PILImage.open(io.BytesIO(original)))  # frame 0, upright
        if want.mode == "CMYK":  # a PNG holds no CMYK: the RGB the evaluator converts to
            want = want.convert("RGB")
        assert got.size == want.size
        if want.mode == "I;16":
            assert got.mode == "I;16"  # 16 bits kept
            assert np.array_equal(np.asarray(got), np.asarray(want))
        else:
            assert np.array_equal(
                np.asarray(got.convert("RGBA")), np.asarray(want.convert("RGBA"))
            ), fmt
    webp_id = mixed["beagle"][2]
    rotated = PILImage.open(root / rows[str(webp_id)]["file"])
    assert rotated.size == (240, 320)  # the 320×240 original was tagged "rotate 90°"
    assert "exif" not in rotated.info  # no EXIF block (camera GPS) is carried over
    gif = PILImage.open(root / rows[str(mixed["pug"][0])]["file"])
    assert getattr(gif, "n_frames", 1) == 1
    datasheet = (root / "DATASHEET.md").read_text(encoding="utf-8")
    assert "the 6 image(s) in other formats (WebP, TIFF, GIF, BMP) are written as PNG" in datasheet
    assert "`metadata.jsonl` holds each image's breed" in datasheet


def test_original_export_copies_every_file_unchanged(
    database: Database, mixed: dict[str, list[int]], tmp_path: Path
) -> None:
    root = tmp_path / "orig"
    with database.session() as s:
        result = export_dataset(s, database.store, root, "folders", image_format="original")
    assert result.converted == 0
    for row in manifest_rows(root):
        data = (root / row["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"] == row["file_sha256"]
    assert {Path(f).suffix for f in image_files(root)} == IMAGE_SUFFIXES


def test_a_second_portable_export_rewrites_no_file(
    database: Database, mixed: dict[str, list[int]], tmp_path: Path
) -> None:
    root = tmp_path / "again"
    with database.session() as s:
        export_dataset(s, database.store, root, "folders")
        again = export_dataset(s, database.store, root, "folders", force=True)
    assert (again.images, again.files_written, again.converted) == (8, 0, 6)


def test_imagefolder_metadata_names_every_image_with_breed_and_license(
    database: Database, mixed: dict[str, list[int]], tmp_path: Path
) -> None:
    first = mixed["beagle"][0]
    with database.session() as s:
        s.execute(
            update(Image)
            .where(Image.id == first)
            .values(
                creator="@alice",
                attribution='"Pug" by =alice, CC BY 4.0',
                license="by",
                license_version="4.0",
                url="file:///home/alice/dogs/a.jpg",
            )
        )
    root = tmp_path / "hf"
    with database.session() as s:
        export_dataset(s, database.store, root, "folders")
    lines = (root / "metadata.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    # The documented shape: a file_name column, paths relative to the root, one row per image.
    assert sorted(r["file_name"] for r in records) == image_files(root)
    assert len(records) == len(image_files(root)) == 8
    for record in records:
        assert list(record) == list(METADATA_FIELDS) and "file_name" in record
        name = record["file_name"]
        assert not name.startswith("/") and ".." not in name.split("/") and "\\" not in name
        assert name.split("/")[0] == record["breed"]  # the label travels as a column
        assert all(isinstance(v, str) for k, v in record.items() if k != "image_id")
    by_id = {r["image_id"]: r for r in records}
    assert by_id[first]["license"] == "by" and by_id[first]["license_version"] == "4.0"
    # The values themselves, without the spreadsheet guard the manifest adds.
    assert by_id[first]["creator"] == "@alice"
    assert by_id[first]["attribution"] == '"Pug" by =alice, CC BY 4.0'
    assert by_id[first]["url"] == ""  # no local path leaves the machine
    assert by_id[mixed["pug"][0]]["license"] == "cc0" and by_id[mixed["pug"][0]]["creator"] == ""
    # The reader the imagefolder loader uses gives one string-typed file_name per image.
    table = paj.read_json(root / "metadata.jsonl")
    assert table.num_rows == 8
    assert str(table.schema.field("file_name").type) == "string"
    assert {str(table.schema.field(c).type) for c in ("breed", "license", "creator")} == {"string"}
    manifest = {r["image_id"]: r for r in manifest_rows(root)}
    assert manifest[str(first)]["creator"] == "'@alice"  # the manifest keeps its guard


def test_manifest_columns_end_with_the_new_ones() -> None:
    assert MANIFEST_FIELDS[-5:] == (
        "file_sha256",
        "original_format",
        "uploaded_at",
        "taken_at",
        "indexed_at",
    )


def test_bmp_variants_tensorflow_refuses_are_exported_as_png_it_reads(
    database: Database, tmp_path: Path
) -> None:
    """Why BMP is converted although Keras lists it: TensorFlow's decoder refuses 1-bit and
    run-length encoded BMPs, which validation accepts (Pillow reads them)."""
    tf = pytest.importorskip("tensorflow")
    originals = [one_bit_bmp(seed=20), rle8_bmp()]
    ids = [insert_image(database, "boxer", data=data) for data in originals]
    with database.session() as s:
        for image_id in ids:
            record_decision(s, image_id, "ana", Decision.ACCEPT)
        export_dataset(s, database.store, tmp_path / "out", "folders")
    for data in originals:
        with pytest.raises(tf.errors.InvalidArgumentError):
            tf.io.decode_image(data, channels=3, expand_animations=False)
    for image_id, data in zip(ids, originals, strict=True):
        exported = tmp_path / "out" / "boxer" / f"{image_row(database, image_id).sha256}.png"
        decoded = tf.io.decode_image(exported.read_bytes(), channels=3, expand_animations=False)
        want = PILImage.open(io.BytesIO(data)).convert("RGB")
        assert np.array_equal(decoded.numpy(), np.asarray(want))
