"""``breedbench export PATH``: a ``.csv`` PATH is the manifest file, an existing one is replaced
only with ``--force``, and ``--image-format`` chooses between portable and original files."""

from __future__ import annotations

from pathlib import Path

from db.database import Database
from tests.cli.helpers import cli
from tests.formats import add_mixed_set


def _one_line_error(output: str, *parts: str) -> None:
    assert output.startswith("Error: ") and output.count("\n") == 1, output
    assert "Traceback" not in output
    for part in parts:
        assert part in output, (part, output)


def test_a_csv_path_is_the_manifest_and_is_replaced_only_with_force(
    database: Database, curated: dict[str, list[int]], tmp_path: Path
) -> None:
    target = tmp_path / "out" / "manifest.csv"
    code, output = cli(database, "export", "--format", "csv", target)
    assert code == 0, output
    assert target.is_file() and (target.parent / "manifest.DATASHEET.md").is_file()
    assert sorted(p.name for p in target.parent.iterdir()) == [
        "manifest.DATASHEET.md",
        "manifest.csv",
    ]
    assert "Exported 5 images of 2 breeds: manifest " in output
    before = target.read_bytes()

    code, output = cli(database, "export", "--format", "csv", target, "--status", "all")
    assert code == 1
    _one_line_error(output, "manifest.csv already exists", "--force")
    assert target.read_bytes() == before

    code, output = cli(database, "export", "--format", "csv", target, "--status", "all", "--force")
    assert code == 0, output
    assert target.read_bytes() != before and "Exported 7 images" in output


def test_a_path_naming_another_format_is_a_one_line_error(
    database: Database, curated: dict[str, list[int]], tmp_path: Path
) -> None:
    code, output = cli(database, "export", tmp_path / "set.csv")  # --format folders
    assert code == 1
    _one_line_error(output, "--format folders writes a folder", "--format csv")
    code, output = cli(database, "export", "--format", "jsonl", tmp_path / "set.csv")
    assert code == 1
    _one_line_error(output, "--format jsonl writes .jsonl")
    assert not (tmp_path / "set.csv").exists()


def test_image_format_portable_by_default_and_original_on_request(
    database: Database, tmp_path: Path
) -> None:
    add_mixed_set(database)
    code, output = cli(database, "export", tmp_path / "portable")
    assert code == 0, output
    assert "(8 image files written, 6 converted to PNG)" in output
    assert "Hugging Face metadata metadata.jsonl" in output
    suffixes = {p.suffix for p in (tmp_path / "portable").rglob("*") if p.parent.name == "pug"}
    assert suffixes == {".png"}

    code, output = cli(database, "export", "--image-format", "original", tmp_path / "original")
    assert code == 0, output
    assert "converted" not in output
    suffixes = {p.suffix for p in (tmp_path / "original").rglob("*") if p.parent.name == "pug"}
    assert suffixes == {".gif", ".bmp", ".tiff", ".webp"}

    code, output = cli(database, "export", "--image-format", "gif", tmp_path / "x")
    assert code == 2 and "gif" in output
