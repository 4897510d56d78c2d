"""PATH means what it says: ``x.csv`` is the manifest file, anything else a folder, and nothing
that exists is replaced without ``force``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from core.errors import BreedbenchError
from db.database import Database
from review.export import export_dataset


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An empty folder of the test's own (``tmp_path`` holds the test database too)."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.mark.parametrize(("fmt", "name"), [("csv", "manifest.csv"), ("jsonl", "pugs.JSONL")])
def test_a_path_ending_in_the_extension_is_the_manifest_file(
    database: Database, curated: dict[str, list[int]], out: Path, fmt: str, name: str
) -> None:
    target = out / "sets" / name
    with database.session() as s:
        result = export_dataset(s, database.store, target, fmt)
    stem = name.rsplit(".", 1)[0]
    assert _files(out / "sets") == sorted([name, f"{stem}.DATASHEET.md"])
    assert target.is_file() and result.manifest == target and result.root == target.parent
    text = target.read_text(encoding="utf-8")
    count = (
        len(list(csv.DictReader(text.splitlines())))
        if fmt == "csv"
        else len([json.loads(line) for line in text.splitlines()])
    )
    assert count == result.images == 5
    datasheet = (out / "sets" / f"{stem}.DATASHEET.md").read_text(encoding="utf-8")
    assert f"`{name}` gives each image's source" in datasheet
    assert "No image files were written" in datasheet


def test_two_manifests_in_one_folder_keep_their_own_datasheets(
    database: Database, curated: dict[str, list[int]], out: Path
) -> None:
    with database.session() as s:
        export_dataset(s, database.store, out / "accepted.csv", "csv")
        export_dataset(s, database.store, out / "all.csv", "csv", status="all")
    assert _files(out) == [
        "accepted.DATASHEET.md",
        "accepted.csv",
        "all.DATASHEET.md",
        "all.csv",
    ]
    assert "**5 images**" in (out / "accepted.DATASHEET.md").read_text(encoding="utf-8")
    assert "**7 images**" in (out / "all.DATASHEET.md").read_text(encoding="utf-8")


def test_any_other_path_is_a_folder(
    database: Database, curated: dict[str, list[int]], out: Path
) -> None:
    with database.session() as s:
        export_dataset(s, database.store, out / "manifest", "csv")
        export_dataset(s, database.store, out / "set.v2", "jsonl")
    assert _files(out / "manifest") == ["DATASHEET.md", "manifest.csv"]
    assert _files(out / "set.v2") == ["DATASHEET.md", "manifest.jsonl"]


@pytest.mark.parametrize(
    ("fmt", "name", "message"),
    [
        ("csv", "m.jsonl", r"m\.jsonl names a \.jsonl file, and --format csv writes \.csv"),
        ("jsonl", "m.csv", r"--format jsonl writes \.jsonl: use --format csv"),
        ("folders", "m.csv", r"--format folders writes a folder of images"),
        ("folders", "m.jsonl", r"or use --format jsonl to write the manifest alone"),
    ],
)
def test_an_extension_of_another_format_is_refused(
    database: Database,
    curated: dict[str, list[int]],
    out: Path,
    fmt: str,
    name: str,
    message: str,
) -> None:
    with database.session() as s, pytest.raises(BreedbenchError, match=message):
        export_dataset(s, database.store, out / name, fmt)
    assert _files(out) == []


def test_an_existing_manifest_or_datasheet_is_replaced_only_with_force(
    database: Database, curated: dict[str, list[int]], out: Path
) -> None:
    target = out / "m.csv"
    target.write_text("mine", encoding="utf-8")
    with database.session() as s:
        with pytest.raises(BreedbenchError, match=r"m\.csv already exists: .*--force"):
            export_dataset(s, database.store, target, "csv")
        assert target.read_text(encoding="utf-8") == "mine"
        assert not (out / "m.DATASHEET.md").exists()
        export_dataset(s, database.store, target, "csv", force=True)
    assert target.read_text(encoding="utf-8").startswith("breed,synset,file,sha256")

    other = out / "n.csv"  # its datasheet alone is there: still refused
    (out / "n.DATASHEET.md").write_text("notes", encoding="utf-8")
    with (
        database.session() as s,
        pytest.raises(BreedbenchError, match=r"n\.DATASHEET\.md already exists"),
    ):
        export_dataset(s, database.store, other, "csv")
    assert not other.exists()
    assert (out / "n.DATASHEET.md").read_text(encoding="utf-8") == "notes"


def test_a_folder_where_the_manifest_file_goes_is_refused(
    database: Database, curated: dict[str, list[int]], out: Path
) -> None:
    (out / "m.csv").mkdir()  # as the old rule left it
    with database.session() as s:
        for force in (False, True):
            with pytest.raises(BreedbenchError, match=r"m\.csv is a folder"):
                export_dataset(s, database.store, out / "m.csv", "csv", force=force)
    assert _files(out) == ["m.csv"]


def test_a_missing_parent_folder_is_created(
    database: Database, curated: dict[str, list[int]], out: Path
) -> None:
    target = out / "a" / "b" / "set.csv"
    with database.session() as s:
        export_dataset(s, database.store, target, "csv")
    assert target.is_file() and (target.parent / "set.DATASHEET.md").is_file()
