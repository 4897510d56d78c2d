"""A custom breed list end to end, through the CLI as a user types it: init --breeds → crawl
(the look-alike Commons) → review → models add (labels written differently from the breed
names) → evaluate, also restricted to images uploaded after a date, recorded on the run."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, select

from core.settings import Settings
from db.database import Database, open_database
from db.models import Breed, EvalRun, Image, ImageStatus
from evaluator.results import list_runs
from tests.cli.helpers import cli
from tests.crawler.mockserver import MockServer
from tests.modelkit import TinyModels

# The tiny model's classes are chihuahua, pug, beagle, samoyed (in that order). The list names
# them its own way; it marks pug ambiguous ("pug" finds clay figures), so it is searched "Pug
# dog"; it says nothing of samoyed, so breedbench's curated list decides (the Samoyed peoples).
BREEDS_CSV = """slug,name,ambiguous,target
chihuahua_toy,Chihuahua,,4
pug,Pug,yes,4
beagle,Beagle,no,4
samoyed,Samoyed,,4
kelpie,Kelpie,yes,0
"""
# How the model's label file writes them: other case, punctuation and "dog" suffixes.
MODEL_LABELS = "CHIHUAHUA\nPug-Dog\nbeagle.\nSamoyed_dog\n"
QUERIES = {"Chihuahua": 9100, "Pug dog": 9200, "Beagle": 9300, "Samoyed dog": 9400}


@pytest.fixture
def fresh(settings: Settings) -> Database:
    """An empty database (no breeds seeded; the PostgreSQL copies come seeded)."""
    db = open_database(settings)
    with db.session() as s:
        s.execute(delete(Breed))
    yield db
    db.dispose()


def test_custom_list_from_init_to_evaluate(
    fresh: Database,
    mockserver: MockServer,
    tiny_models: TinyModels,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    csv_path = tmp_path / "breeds.csv"
    csv_path.write_text(BREEDS_CSV, encoding="utf-8")
    code, out = cli(fresh, "init", "--breeds", csv_path)
    assert code == 0, out
    assert "5 breeds, 5 added" in out
    code, out = cli(fresh, "init")  # again, plain: the Stanford 120 are not added to this list
    assert code == 0 and "5 breeds, 0 added" in out, out

    # Crawl: four results per query, uploaded in 2016, 2017, 2018 and 2019.
    mockserver.add_catalog(
        {q: [f"/img/good/{first + n}.jpg" for n in range(4)] for q, first in QUERIES.items()}
    )
    monkeypatch.setenv("BREEDBENCH_WIKIMEDIA_URL", f"{mockserver.url}/wikimedia/w/api.php")
    monkeypatch.setenv("BREEDBENCH_CONTACT", "tests@example.org")
    monkeypatch.setenv("BREEDBENCH_CRAWL_TIMEOUT", "5")
    monkeypatch.setenv("BREEDBENCH_CRAWL_ALLOW_HOSTS", "127.0.0.1")
    code, out = cli(fresh, "crawl", "--source", "wikimedia", "--dog-keyword", "auto", width=160)
    assert code == 0, out
    with fresh.session() as s:
        stored = {
            slug: (n, queries)
            for slug, n, queries in (
                (b.slug, len(b.images), {i.query for i in b.images})
                for b in s.scalars(select(Breed).order_by(Breed.position))
            )
        }
    assert stored == {
        "chihuahua_toy": (4, {"Chihuahua"}),
        "pug": (4, {"Pug dog"}),  # the list said ambiguous: the keyword from the start
        "beagle": (4, {"Beagle"}),
        "samoyed": (4, {"Samoyed dog"}),
        "kelpie": (0, set()),  # target 0: nothing asked
    }

    for slug in ("chihuahua_toy", "pug", "beagle", "samoyed"):
        code, out = cli(
            fresh, "decide", "--reviewer", "ana", "accept", "--all-pending", "--breed", slug
        )
        assert code == 0, out

    labels = tmp_path / "labels.txt"
    labels.write_text(MODEL_LABELS, encoding="utf-8")
    spec = tmp_path / "spec.toml"
    spec.write_text(
        f"[input]\nsize = [{tiny_models.size}, {tiny_models.size}]\n"
        f'[labels]\nfile = "{labels}"\norder = "file"\n'
    )
    code, out = cli(
        fresh, "models", "add", tiny_models.sub_float, "--name", "tiny", "--version", "1",
        "--preset", "inception-breeds-lite", "--spec", spec, width=200,
    )  # fmt: skip
    assert code == 0, out
    assert "1 of 5 breeds have no label" in out and "'kelpie'" in out
    assert "labels match no breed" not in out

    code, out = cli(fresh, "evaluate", "tiny:1", width=160)
    assert code == 0, out
    code, out = cli(fresh, "evaluate", "tiny:1", "--uploaded-after", "2018-01-01", width=160)
    assert code == 0, out
    assert "only images uploaded since 2018-01-01 (8 older, 0 of unknown date left out)" in out
    with fresh.session() as s:
        runs = list_runs(s, "tiny")
        full, recent = sorted(runs, key=lambda r: r.id)
        assert (full.n_images, recent.n_images) == (16, 8)
        assert (full.uploaded_after, recent.uploaded_after) == (None, "2018-01-01T00:00:00+00:00")
        row = s.get(EvalRun, recent.id)
        assert row is not None and row.metrics["excluded"]["before_cutoff_images"] == 8
        accepted = s.scalars(select(Image).where(Image.status == ImageStatus.ACCEPTED)).all()
        assert len(accepted) == 16 and all(i.uploaded_at is not None for i in accepted)
    code, out = cli(fresh, "history", "tiny", width=160)
    assert code == 0 and "since" in out and "2018-01-01" in out, out
    code, out = cli(fresh, "report", str(recent.id))
    assert code == 0 and "only images uploaded at or after 2018-01-01" in out, out


def test_models_add_names_labels_that_match_no_breed(
    fresh: Database, tiny_models: TinyModels, tmp_path: Path
) -> None:
    csv_path = tmp_path / "breeds.csv"
    csv_path.write_text("slug,name\nchihuahua,Chihuahua\npug,Pug\nbeagle,Beagle\n")
    assert cli(fresh, "init", "--breeds", csv_path).exit_code == 0
    labels = tmp_path / "labels.txt"
    labels.write_text("chihuahua\npug\nbeagle\ntabby cat\n", encoding="utf-8")
    spec = tmp_path / "spec.toml"
    spec.write_text(
        f"[input]\nsize = [{tiny_models.size}, {tiny_models.size}]\n"
        f'[labels]\nfile = "{labels}"\norder = "file"\n'
    )
    args = ["--name", "tiny", "--version", "1", "--preset", "inception-breeds-lite"]
    code, out = cli(fresh, "models", "add", tiny_models.sub_float, *args, "--spec", spec)
    assert code == 1 and "1 of 4 labels match no breed" in out and "'tabby cat'" in out
    spec.write_text(spec.read_text() + "restrict_to_breeds = true\n")
    code, out = cli(fresh, "models", "add", tiny_models.sub_float, *args, "--spec", spec, width=200)
    assert code == 0, out
    assert "1 of 4 labels match no breed (not ranked): 'tabby cat'" in out
