"""``init --breeds`` and ``breeds add|rename|remove|target`` as a user types them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.breed_list import parse_breed_csv
from db.breeds import match_key
from db.database import Database
from db.models import Breed, Image
from tests.cli import test_readme_examples as readme
from tests.cli.helpers import cli
from tests.factories import insert_image


def slugs(db: Database) -> list[str]:
    with db.session() as s:
        return list(s.scalars(select(Breed.slug).order_by(Breed.position, Breed.id)))


def test_a_bad_list_is_refused_in_one_line_and_writes_nothing(
    database: Database, tmp_path: Path
) -> None:
    before = slugs(database)
    bad = tmp_path / "cats.csv"
    bad.write_text("slug,name\npersian,Persian\nmaine coon,Maine Coon\n", encoding="utf-8")
    code, out = cli(database, "init", "--breeds", bad, width=300)
    assert code == 1
    assert out.strip().count("\n") == 0, out
    assert "cats.csv line 3: slug 'maine coon' may hold only" in out
    assert slugs(database) == before  # persian (line 2, valid) was not added either
    code, out = cli(database, "init", "--breeds", tmp_path / "missing.csv")
    assert code == 1 and "does not exist" in out
    code, out = cli(database, "init", "--keyword", "cat")
    assert code == 1 and "--keyword goes with --breeds" in out


def test_a_list_added_to_a_database_appends_its_new_breeds(
    database: Database, tmp_path: Path
) -> None:
    extra = tmp_path / "extra.csv"
    extra.write_text("slug,name,ambiguous\nboxer,Boxer,\nkooikerhondje,Kooikerhondje,no\n")
    code, out = cli(database, "init", "--breeds", extra)
    assert code == 0 and "121 breeds, 1 added" in out, out
    assert slugs(database)[-1] == "kooikerhondje"


def test_breeds_add_rename_target_remove(database: Database) -> None:
    code, out = cli(
        database, "breeds", "add", "kooikerhondje", "--name", "Kooikerhondje", "--target", "30"
    )
    assert code == 0 and "Added kooikerhondje" in out and "target 30" in out, out
    code, out = cli(database, "breeds", "add", "bad/slug", "--name", "Bad")
    assert code == 1 and "may hold only" in out
    code, out = cli(database, "breeds", "rename", "kooikerhondje", "kooiker", "--name", "Kooiker")
    assert code == 0 and "Renamed kooikerhondje → kooiker (Kooiker)" in out, out
    code, out = cli(database, "breeds", "target", "12", "--breed", "kooiker", "--breed", "pug")
    assert code == 0 and "Target 12 set on 2 breeds" in out
    code, out = cli(database, "breeds", "--breed", "kooiker", width=160)
    assert code == 0 and "kooiker" in out and "12" in out, out

    image_id = insert_image(database, "kooiker")
    code, out = cli(database, "breeds", "remove", "kooiker", width=300)
    assert code == 1 and "'kooiker' has 1 images" in out and "--with-images" in out
    assert "kooiker" in slugs(database)
    code, out = cli(database, "breeds", "remove", "kooiker", "--with-images")
    assert code == 0 and "Removed kooiker: 1 images" in out and "fsck --repair" in out, out
    assert "kooiker" not in slugs(database)
    with database.session() as s:
        assert s.get(Image, image_id) is None
        assert s.scalar(select(func.count()).select_from(Breed)) == 120
    code, out = cli(database, "breeds", "remove", "kooiker")
    assert code == 1 and "unknown breed 'kooiker'" in out


DOC = (Path(__file__).resolve().parents[2] / "docs" / "custom-breeds.md").read_text("utf-8")
DOC_LINES = [
    line
    for block in re.findall(r"```sh\n(.*?)```", DOC, flags=re.DOTALL)
    for line in block.splitlines()
    if line.startswith("breedbench ")
]


@pytest.mark.parametrize("line", DOC_LINES)
def test_the_custom_breeds_page_commands_parse(line: str) -> None:
    readme.test_readme_example_parses(line)


def test_the_custom_breeds_page_list_and_labels_match(database: Database) -> None:
    csv_text, labels = re.findall(r"```(?:csv|text)\n(.*?)```", DOC, flags=re.DOTALL)[::2]
    entries = parse_breed_csv(csv_text, "cats.csv", keyword="cat")
    keys = {match_key(e.name, e.keyword): e.slug for e in entries}
    keys |= {match_key(e.slug, e.keyword): e.slug for e in entries}
    matched = [keys.get(match_key(label, "cat")) for label in labels.split()]
    assert len(DOC_LINES) >= 10
    assert [m for m in matched if m] == ["persian", "maine_coon", "sphynx", "bengal"]
