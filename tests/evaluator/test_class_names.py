"""Names, not ids: a model's ImageNet-style classes are shown by name with the synset beside
it, in parity (its table and its JSON) and in reports, on real tiny models."""

from __future__ import annotations

import json
import re

import pytest

from db.database import Database
from evaluator.class_names import class_name, class_names
from evaluator.parity import run_parity
from evaluator.pipeline import evaluate
from tests.cli.helpers import cli
from tests.fixtures.evaluation import classic_spec, lite_spec, register
from tests.fixtures.workspace import Workspace

# The tiny model's four classes (chihuahua, pug, beagle, samoyed) as an ImageNet model's label
# file may give them: a bare breed synset, synset and names, a class that is no breed (in the
# beagle's place), a Stanford Dogs folder name.
IMAGENET_LABELS = [
    "n02085620",
    "n02110958 pug, pug-dog",
    "n04591713 wine bottle",
    "n02111889-Samoyed",
]
SHOWN = [
    "Chihuahua (n02085620)",
    "pug (n02110958)",
    "wine bottle (n04591713)",
    "Samoyed (n02111889)",
]
BARE_SYNSET = re.compile(r"(?<!\()n\d{8}")  # a synset not in brackets after a name


@pytest.mark.parametrize(
    ("label", "shown"),
    [
        ("n03937543 pill bottle", "pill bottle (n03937543)"),
        ("n01440764 tench, Tinca tinca", "tench (n01440764)"),
        ("n02100236-German_short-haired_pointer", "German short-haired pointer (n02100236)"),
        ("n02085620", "Chihuahua (n02085620)"),  # a breed's synset: the breed's name
        ("n03937543", "n03937543"),  # no name known: the synset as it is
        ("german_shepherd", "german_shepherd"),  # no synset: unchanged
        ("Walker hound n02089867", "Walker hound n02089867"),
    ],
)
def test_class_name(database: Database, label: str, shown: str) -> None:
    with database.session() as s:
        assert class_names(s, [label]) == [shown]
    assert class_name("n02085620") == "n02085620"  # without the breeds, a bare synset stays


def test_parity_names_imagenet_classes(workspace: Workspace) -> None:
    """The study's raw-pixel mistake on a model with ImageNet labels: every image where the two
    versions differ says what each version saw by name."""
    db, tiny = workspace.db, workspace.tiny
    labels = {"names": IMAGENET_LABELS, "match": "synset", "restrict_to_breeds": True}
    register(db, tiny.classic_pb, {**classic_spec(tiny), "labels": labels}, "inet", "pb")
    register(db, tiny.sub_dynamic, {**lite_spec(tiny, 0.0), "labels": labels}, "inet", "raw")
    result = run_parity(db, "inet:pb", "inet:raw")
    assert result.disagreements  # raw pixels at Sub: most images change their top-1
    shown = {d.a_label for d in result.disagreements} | {d.b_label for d in result.disagreements}
    assert shown <= set(SHOWN) and len(shown) >= 2
    code, out = cli(db, "parity", "inet:pb", "inet:raw", "--limit", "12", width=200)
    assert code == 0, out
    assert any(name in out for name in SHOWN)
    assert not BARE_SYNSET.search(out), out
    code, out = cli(db, "parity", "inet:pb", "inet:raw", "--limit", "12", "--json")
    labels_in_json = {
        d[side] for d in json.loads(out)["disagreements"] for side in ("a_label", "b_label")
    }
    assert code == 0 and labels_in_json and labels_in_json <= set(SHOWN)


def test_report_names_the_classes_that_are_not_breeds(workspace: Workspace) -> None:
    db, tiny = workspace.db, workspace.tiny
    labels = {"names": IMAGENET_LABELS, "match": "synset", "restrict_to_breeds": True}
    register(db, tiny.classic_pb, {**classic_spec(tiny), "labels": labels}, "inet", "report")
    run_id = evaluate(db, "inet:report", threads=1, limit=8).run_id
    for fmt in ("md", "html"):
        code, out = cli(db, "report", run_id, "--format", fmt, width=200)
        assert code == 0, out
        assert "Model classes that are not breeds: 1 (wine bottle (n04591713))".lower() in (
            out.lower().replace("\n", " ")
        )
        assert not BARE_SYNSET.search(out)
    code, out = cli(db, "report", run_id, "--format", "json")
    data = json.loads(out)
    assert data["non_breed_class_names"] == ["wine bottle (n04591713)"]
    assert data["excluded"]["non_breed_labels"] == ["n04591713 wine bottle"]  # as stored
    # the run's breeds are named as the breeds table names them, never by synset
    assert {g["breed"] for i in data["images"] for g in i["top5"]} == {
        "chihuahua",
        "pug",
        "samoyed",
    }


def test_a_long_list_of_non_breeds_is_cut_and_counted() -> None:
    """An ImageNet-1k model has 880 classes that are no breed: ten are named, the rest counted."""
    from evaluator.report import NON_BREEDS_SHOWN, _non_breeds

    names = [f"thing {i} (n0{i:07d})" for i in range(50)]  # the run stores the first 50
    data = {"non_breed_class_names": names, "excluded": {"non_breed_classes": 880}}
    text = _non_breeds(data, str)
    assert text.startswith(" (thing 0 (n00000000), ") and text.endswith(", … and 870 more)")
    assert text.count("thing") == NON_BREEDS_SHOWN
    assert _non_breeds({"non_breed_class_names": [], "excluded": {}}, str) == ""
