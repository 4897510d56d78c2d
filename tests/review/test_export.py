"""The export: the tree other tools read, the manifest, the datasheet, and refusals."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest

from core.errors import BreedbenchError
from db.database import Database
from db.models import Decision, Image
from db.reviews import record_decision
from review.export import export_dataset
from review.manifest import MANIFEST_FIELDS
from tests.factories import breed_id, image_row, insert_image


def _decide(db: Database, image_id: int, reviewer: str, decision: Decision, **kw: object) -> None:
    with db.session() as s:
        record_decision(s, image_id, reviewer, decision, **kw)  # type: ignore[arg-type]


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_folders_tree_is_breed_slash_sha_with_sniffed_extension(
    database: Database, curated: dict[str, list[int]], tmp_path: Path
) -> None:
    root = tmp_path / "out"
    with database.session() as s:
        result = export_dataset(s, database.store, root, "folders")
    assert result.images == 5 and result.breeds == 2 and result.files_written == 5
    expected = []
    for slug, ids in curated.items():
        for iid in ids:
            row = image_row(database, iid)
            ext = ".png" if row.format == "PNG" else ".jpg"
            name = f"{slug}/{row.sha256}{ext}"
            expected.append(name)
            copied = (root / name).read_bytes()
            assert copied == database.store.read(row.path)  # byte for byte
            assert hashlib.sha256(copied).hexdigest() == row.sha256
    assert _files(root) == sorted([*expected, "DATASHEET.md", "manifest.csv", "metadata.jsonl"])
    assert any(n.endswith(".png") for n in expected)
    assert "copied unchanged: all are JPEG or PNG" in (root / "DATASHEET.md").read_text("utf-8")


def test_csv_manifest_has_provenance_and_license_per_image(
    database: Database, curated: dict[str, list[int]], tmp_path: Path
) -> None:
    with database.session() as s:
        for iid in curated["beagle"]:
            img = s.get(Image, iid)
            assert img is not None
            img.url = "https://example.org/a,b.jpg"
            img.creator = 'Jo "Dogs" Smith'
            img.license_version = "4.0"
    root = tmp_path / "m"
    with database.session() as s:
        export_dataset(s, database.store, root, "csv")
    assert _files(root) == ["DATASHEET.md", "manifest.csv"]
    with (root / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == MANIFEST_FIELDS
        rows = list(reader)
    assert len(rows) == 5
    beagle = [r for r in rows if r["breed"] == "beagle"]
    assert {r["synset"] for r in beagle} == {"n02088364"}
    assert all(r["url"] == "https://example.org/a,b.jpg" for r in beagle)
    assert all(r["creator"] == 'Jo "Dogs" Smith' and r["license_version"] == "4.0" for r in beagle)
    first = image_row(database, curated["chihuahua"][0])
    row = next(r for r in rows if r["sha256"] == first.sha256)
    assert row["file"] == f"chihuahua/{first.sha256}.jpg"
    assert (row["width"], row["height"]) == (str(first.width), str(first.height))
    assert row["license"] == "cc0" and row["source"] == "test" and row["query"] == "chihuahua"


# The manifest is a file format other tools read: its columns are pinned here, not derived.
MANIFEST_HEADER = (
    "breed,synset,file,sha256,width,height,source,query,url,landing_url,license,"
    "license_version,license_url,creator,attribution,image_id,status,"
    # Appended later: the exported file's sha256 (empty when no file is written), the original's
    # format; then the source's upload, capture and index dates (ISO 8601, empty when unknown).
    "file_sha256,original_format,uploaded_at,taken_at,indexed_at"
)


def test_manifest_columns_keep_their_names_order_and_values(
    database: Database, curated: dict[str, list[int]], tmp_path: Path
) -> None:
    image_id = curated["beagle"][0]
    with database.session() as s:
        img = s.get(Image, image_id)
        assert img is not None
        img.landing_url, img.attribution = "https://example.org/p/1", "by Jo"
    with database.session() as s:
        export_dataset(s, database.store, tmp_path / "c", "csv")
        export_dataset(s, database.store, tmp_path / "j", "jsonl")
    csv_text = (tmp_path / "c" / "manifest.csv").read_text(encoding="utf-8")
    assert csv_text.splitlines()[0] == MANIFEST_HEADER
    assert ",".join(MANIFEST_FIELDS) == MANIFEST_HEADER
    row = image_row(database, image_id)
    by_id = {
        r["image_id"]: r
        for r in map(json.loads, (tmp_path / "j" / "manifest.jsonl").read_text().splitlines())
    }
    assert list(by_id[image_id]) == MANIFEST_HEADER.split(",")
    assert by_id[image_id] == {
        "breed": "beagle",
        "synset": "n02088364",
        "file": f"beagle/{row.sha256}.jpg",
        "sha256": row.sha256,
        "width": row.width,
        "height": row.height,
        "source": "test",
        "query": "beagle",
        "url": None,
        "landing_url": "https://example.org/p/1",
        "license": "cc0",
        "license_version": None,
        "license_url": None,
        "creator": None,
        "attribution": "by Jo",
        "image_id": image_id,
        "status": "accepted",
        "file_sha256": None,
        "original_format": "JPEG",
        "uploaded_at": None,
        "taken_at": None,
        "indexed_at": None,
    }
    line = next(
        r for r in csv_text.splitlines() if r.startswith(f"beagle,n02088364,beagle/{row.sha256}")
    )
    assert line.endswith(
        f",test,beagle,,https://example.org/p/1,cc0,,,,by Jo,{image_id},accepted,,JPEG,,,"
    )


def test_jsonl_manifest_and_status_filter(
    database: Database, curated: dict[str, list[int]], tmp_path: Path
) -> None:
    root = tmp_path / "j"
    with database.session() as s:
        result = export_dataset(s, database.store, root, "jsonl", status="all")
    lines = (root / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert result.images == len(records) == 7
    assert list(records[0]) == list(MANIFEST_FIELDS)
    assert {r["status"] for r in records} == {"accepted", "rejected", "pending"}
    with database.session() as s:
        only_rejected = export_dataset(
            s, database.store, tmp_path / "r", "jsonl", status="rejected"
        )
    assert only_rejected.images == 1


def test_datasheet_counts_sources_licenses_review_and_leaks(
    database: Database, curated: dict[str, list[int]], tmp_path: Path
) -> None:
    root = tmp_path / "d"
    with database.session() as s:
        export_dataset(s, database.store, root, "csv")
    text = (root / "DATASHEET.md").read_text(encoding="utf-8")
    assert "**5 images** of **2 breeds**" in text
    assert "| chihuahua | n02085620 | 3 | 50 | 47 |" in text
    assert "| beagle | n02088364 | 2 | 50 | 48 |" in text
    assert "| test | 5 | 100.0% |" in text
    assert "| cc0 |  | 5 |" in text
    assert "- Reviewers: 2" in text
    assert "- Decided by two or more reviewers who agree: 1" in text
    assert "- Decided by one reviewer: 4" in text
    assert "| ana | 5 |" in text and "| ben | 1 |" in text
    leaked = image_row(database, curated["chihuahua"][0])
    assert "1 exported image(s) carry 1 leak flag(s); 1 unresolved." in text
    assert f"| chihuahua/{leaked.sha256}.jpg | 3 | train/n02085620_7.jpg | unresolved |" in text


def test_datasheet_counts_accept_against_relabel_as_disagreement(
    database: Database, tmp_path: Path
) -> None:
    """An accept and a relabel to another breed are different votes, as under consensus."""
    agree, differ = (
        insert_image(database, "beagle", seed=1),
        insert_image(database, "beagle", seed=2),
    )
    for reviewer in ("ana", "ben"):
        _decide(database, agree, reviewer, Decision.ACCEPT)
    _decide(database, differ, "ana", Decision.ACCEPT)
    _decide(database, differ, "ben", Decision.RELABEL, target_breed_id=breed_id(database, "pug"))
    with database.session() as s:
        export_dataset(s, database.store, tmp_path / "x", "csv", status="all")
    text = (tmp_path / "x" / "DATASHEET.md").read_text(encoding="utf-8")
    assert "- Decided by two or more reviewers who agree: 1" in text
    assert "- Reviewers disagree (latest decisions differ): 1" in text
    assert "- Relabelled to another breed: 1" in text


def test_datasheet_says_when_no_leak_check_is_recorded(database: Database, tmp_path: Path) -> None:
    iid = insert_image(database, "beagle", seed=1)
    _decide(database, iid, "ana", Decision.ACCEPT)
    with database.session() as s:
        export_dataset(s, database.store, tmp_path / "x", "csv")
    text = (tmp_path / "x" / "DATASHEET.md").read_text(encoding="utf-8")
    assert "No leak flags are recorded" in text


def test_refuses_non_empty_folder_without_force_and_keeps_files(
    database: Database, curated: dict[str, list[int]], tmp_path: Path
) -> None:
    root = tmp_path / "busy"
    root.mkdir()
    (root / "notes.txt").write_text("mine")
    with database.session() as s, pytest.raises(BreedbenchError, match="is not empty.*--force"):
        export_dataset(s, database.store, root, "folders")
    assert _files(root) == ["notes.txt"]
    with database.session() as s:
        export_dataset(s, database.store, root, "folders", force=True)
    assert (root / "notes.txt").read_text() == "mine"
    assert len(_files(root)) == 5 + 4  # notes, images, manifest, metadata, datasheet
    # A second forced export over the same tree rewrites no image (same names, same bytes).
    with database.session() as s:
        again = export_dataset(s, database.store, root, "folders", force=True)
    assert again.files_written == 0


def test_bad_input_errors(database: Database, tmp_path: Path) -> None:
    a_file = tmp_path / "notes"  # no .csv: a folder is meant (the PATH rule: test_export_targets)
    a_file.write_text("x")
    with database.session() as s:
        with pytest.raises(BreedbenchError, match="is a file"):
            export_dataset(s, database.store, a_file, "csv")
        with pytest.raises(BreedbenchError, match="unknown status 'done'"):
            export_dataset(s, database.store, tmp_path / "a", "csv", status="done")
        with pytest.raises(BreedbenchError, match="no images with status 'accepted'"):
            export_dataset(s, database.store, tmp_path / "b", "csv")
    assert a_file.read_text() == "x"
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_missing_original_stops_before_writing_anything(database: Database, tmp_path: Path) -> None:
    ids = [insert_image(database, "beagle", seed=i) for i in range(2)]
    for iid in ids:
        _decide(database, iid, "ana", Decision.ACCEPT)
    database.store.absolute(image_row(database, ids[1]).path).unlink()
    root = tmp_path / "out"
    with database.session() as s, pytest.raises(BreedbenchError, match=f"ids {ids[1]}"):
        export_dataset(s, database.store, root, "folders")
    assert not root.exists() or _files(root) == []


def test_damaged_original_is_refused(database: Database, tmp_path: Path) -> None:
    iid = insert_image(database, "beagle", seed=1)
    _decide(database, iid, "ana", Decision.ACCEPT)
    database.store.absolute(image_row(database, iid).path).write_bytes(b"not the same bytes")
    with database.session() as s, pytest.raises(BreedbenchError, match="does not match its sha256"):
        export_dataset(s, database.store, tmp_path / "out", "folders")


def test_export_on_sqlite_and_postgresql(any_database: Database, tmp_path: Path) -> None:
    db = any_database
    ids = [insert_image(db, "beagle", seed=i) for i in range(3)]
    for iid in ids:
        _decide(db, iid, "ana", Decision.ACCEPT)
    _decide(db, ids[0], "ben", Decision.REJECT, reason="not_a_dog")
    with db.session() as s:
        result = export_dataset(s, db.store, tmp_path / "out", "jsonl")
    assert result.images == 2
    text = (tmp_path / "out" / "DATASHEET.md").read_text(encoding="utf-8")
    assert "| beagle | n02088364 | 2 | 50 | 48 |" in text
    assert "- Reviewers: 1" in text  # ben's reject is on an image that is not exported


@pytest.mark.parametrize("interrupted_at", [1, 4, 7])  # an image, another, the manifest/datasheet
def test_an_interrupted_export_leaves_no_half_file(
    database: Database,
    curated: dict[str, list[int]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    interrupted_at: int,
) -> None:
    """Ctrl-C halfway through writing a file: what is there is whole (as a complete export
    writes it), the file being written is not there at all, and no temporary file is left."""
    from core import files

    with database.session() as s:
        export_dataset(s, database.store, tmp_path / "whole", "folders")
    whole = {name: (tmp_path / "whole" / name).read_bytes() for name in _files(tmp_path / "whole")}
    assert len(whole) >= interrupted_at
    real_fdopen = files.os.fdopen
    opened: list[int] = []

    class HalfThenCtrlC:
        def __init__(self, fh) -> None:  # type: ignore[no-untyped-def]
            self.fh = fh

        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

        def __exit__(self, *exc):  # type: ignore[no-untyped-def]
            return self.fh.__exit__(*exc)

        def write(self, data: bytes) -> int:
            self.fh.write(data[: len(data) // 2])
            self.fh.flush()
            raise KeyboardInterrupt

    def fdopen(fd, *args, **kwargs):  # type: ignore[no-untyped-def]
        fh = real_fdopen(fd, *args, **kwargs)
        opened.append(fd)
        return HalfThenCtrlC(fh) if len(opened) == interrupted_at else fh

    monkeypatch.setattr(files.os, "fdopen", fdopen)
    out = tmp_path / "out"
    with database.session() as s, pytest.raises(KeyboardInterrupt):
        export_dataset(s, database.store, out, "folders")
    left = _files(out) if out.exists() else []
    assert len(left) == interrupted_at - 1  # the files before the interrupted one
    assert not [name for name in left if name.rsplit("/", 1)[-1].startswith(files.TEMP_PREFIX)]
    for name in left:
        assert (out / name).read_bytes() == whole[name], name
