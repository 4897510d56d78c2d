"""The spec format, the shipped presets, label files, label order and breed matching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from core.errors import BreedbenchError
from db.breeds import stanford_breeds
from db.database import Database
from db.models import Breed
from evaluator.label_file import read_label_file
from evaluator.labels import build_label_map
from evaluator.pipeline import evaluate
from evaluator.results import predictions
from evaluator.runners.fake import FakeRunner
from evaluator.spec import ModelSpec, load_spec, preprocessing_hash, preset_names
from tests.fixtures.evaluation import add_eval_images, register
from tests.modelkit import TinyModels

SPEC_TOML = """
format = "tflite"
[input]
tensor = "input:0"
kind = "tensor"
size = [224, 224]
resize = "bicubic"
resize_shorter = 256
scale = 0.00784313725
offset = -1.0
[output]
tensor = "Identity:0"
activation = "logits"
[labels]
file = "labels.txt"
order = "file"
match = "name"
restrict_to_breeds = false
[runtime]
batch = 8
threads = 2
"""


def test_issue_spec_format_loads_and_round_trips(tmp_path: Path) -> None:
    (tmp_path / "labels.txt").write_text("pug\nboxer\n\nbeagle\n")
    (tmp_path / "spec.toml").write_text(SPEC_TOML)
    spec = load_spec(tmp_path / "spec.toml")
    assert spec.input.size == (224, 224) and spec.input.resize_shorter == 256
    assert spec.output.activation == "logits"
    assert spec.labels.names == ("pug", "boxer", "beagle")
    assert (spec.runtime.batch, spec.runtime.threads) == (8, 2)
    assert ModelSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"input": {"kind": "tensor"}}, r"needs input.size"),
        ({"input": {"kind": "pixels"}}, r"input.kind = 'pixels'; expected one of"),
        ({"input": {"kind": "image", "colour": 1}}, r"unknown key\(s\) colour"),
        ({"input": {"kind": "image", "mean": [1, 2, 3]}}, r"mean and input.std go together"),
        ({"output": {"activation": "sigmoid"}}, r"output.activation = 'sigmoid'"),
        ({"labels": {"order": "alphabetical"}}, r"labels.order"),
        ({"runtime": {"batch": 0}}, r"runtime.batch must be a positive integer"),
        ({"format": "onnx"}, r"format = 'onnx'"),
    ],
)
def test_spec_mistakes_name_the_key(data: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(BreedbenchError, match=message):
        ModelSpec.from_dict({"input": {"kind": "image"}, **data})


def test_bad_toml_and_missing_files_are_clear(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("[input\n")
    with pytest.raises(BreedbenchError, match="not valid TOML"):
        load_spec(tmp_path / "bad.toml")
    (tmp_path / "s.toml").write_text('[labels]\nfile = "nope.txt"\n')
    with pytest.raises(BreedbenchError, match="labels file not found"):
        load_spec(tmp_path / "s.toml")
    with pytest.raises(BreedbenchError, match="no preset 'nope'; presets: inception-breeds-lite"):
        load_spec(preset="nope")


def test_presets_of_the_original_study() -> None:
    assert set(preset_names()) >= {
        "inception-breeds-pb",
        "inception-breeds-pb-jpeg",
        "inception-breeds-lite",
    }
    slugs = [b.slug for b in stanford_breeds()]
    pb = load_spec(preset="inception-breeds-pb")
    assert (pb.input.tensor, pb.input.kind) == ("Cast:0", "image")
    assert pb.output.tensor == "output_node:0"
    assert list(pb.labels.names) == slugs  # breeds.csv in Stanford order...
    assert pb.class_labels == sorted(slugs) != slugs  # ...read sorted, as LabelBinarizer did
    jpeg = load_spec(preset="inception-breeds-pb-jpeg")
    assert (jpeg.input.tensor, jpeg.input.kind) == ("DecodeJpeg/contents:0", "jpeg_bytes")
    lite = load_spec(preset="inception-breeds-lite")
    assert lite.format == "tflite" and lite.input.tensor == "Sub"
    assert lite.input.size == (299, 299) and lite.input.resize == "tf_bilinear"
    assert (lite.input.scale, lite.input.offset) == (1.0, -128.0)  # x − 128, not raw pixels
    assert lite.class_labels == pb.class_labels


def test_spec_on_top_of_preset_and_label_file_relative_to_spec(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("pug\nbeagle\n")
    (tmp_path / "s.toml").write_text('[input]\nsize = [32, 32]\n[labels]\nfile = "mine.txt"\n')
    spec = load_spec(tmp_path / "s.toml", "inception-breeds-lite")
    assert spec.input.size == (32, 32) and spec.input.offset == -128.0
    assert spec.labels.names == ("pug", "beagle")
    assert spec.labels.order == "sorted"  # kept from the preset


def test_preprocessing_hash_ignores_normalisation() -> None:
    base = {"input": {"kind": "tensor", "size": [8, 8], "resize": "tf_bilinear"}}
    a = ModelSpec.from_dict(base)
    b = ModelSpec.from_dict({"input": {**base["input"], "scale": 2.0, "offset": -1}})
    c = ModelSpec.from_dict({"input": {**base["input"], "resize": "bilinear"}})
    assert preprocessing_hash(a) == preprocessing_hash(b) != preprocessing_hash(c)


def test_label_files(tmp_path: Path) -> None:
    (tmp_path / "breeds.csv").write_text("id,breed\n1,pug\n2,beagle\n3,pug\n")
    assert read_label_file(tmp_path / "breeds.csv") == ["pug", "beagle"]
    (tmp_path / "two.csv").write_text("a,b\n1,2\n")
    with pytest.raises(BreedbenchError, match="say which column"):
        read_label_file(tmp_path / "two.csv")
    with pytest.raises(BreedbenchError, match="no column 'c'"):
        read_label_file(tmp_path / "two.csv", "c")
    (tmp_path / "l.txt").write_text("\n\n")
    with pytest.raises(BreedbenchError, match="has no labels"):
        read_label_file(tmp_path / "l.txt")


def test_a_label_file_must_be_a_regular_file_and_errors_never_quote_it(
    database: Database, tmp_path: Path
) -> None:
    """A spec's labels.file pointing at a secret, a folder or a device learns nothing."""
    secret = tmp_path / "shadow"
    secret.write_text("root:$y$j9T$SECRETHASH:19000:0:99999:7:::\nana:$y$OTHERHASH:19000::::\n")
    for column in ("breed", "x"):
        with pytest.raises(BreedbenchError) as err:
            read_label_file(secret, column)
        assert "SECRETHASH" not in str(err.value) and "$y$" not in str(err.value)
    with pytest.raises(BreedbenchError, match="is not a regular file"):
        read_label_file(tmp_path)  # a folder (labels.file = ".")
    with pytest.raises(BreedbenchError, match="is not a regular file"):
        read_label_file(Path("/dev/zero"))  # would never end
    big = tmp_path / "big.txt"
    with big.open("wb") as fh:
        fh.truncate(64 * 1024 * 1024)  # sparse: costs no disk
    with pytest.raises(BreedbenchError, match="a label file is at most"):
        read_label_file(big)
    # Read as labels, a system file's lines match no breed: the error counts them, quotes none.
    spec = ModelSpec.from_dict(
        {"format": "tflite", "input": {"tensor": "x", "size": [8, 8]},
         "output": {"tensor": "y"}, "labels": {"names": read_label_file(secret)}}
    )  # fmt: skip
    with database.session() as s, pytest.raises(BreedbenchError) as err:
        build_label_map(s, spec)
    assert "2 that do not look like class names" in str(err.value)
    assert "SECRETHASH" not in str(err.value) and "OTHERHASH" not in str(err.value)


IMAGENET_STYLE = [
    "n01440764 tench, Tinca tinca",
    "n02085620 Chihuahua",
    "n02110958 pug, pug-dog",
    "n04591713 wine bottle",
    "n02088364 beagle",
    "n02111889 Samoyed, Samoyede",
]


def test_synset_matching_with_restrict_to_breeds(database: Database) -> None:
    image = {"kind": "image"}
    spec = ModelSpec.from_dict(
        {"input": image, "labels": {"names": IMAGENET_STYLE, "match": "synset"}}
    )
    with database.session() as s, pytest.raises(BreedbenchError) as exc:
        build_label_map(s, spec)
    assert "2 of 6 labels match no breed" in str(exc.value)
    assert "'n01440764 tench, Tinca tinca'" in str(exc.value)
    restricted = ModelSpec.from_dict(
        {
            "input": image,
            "labels": {"names": IMAGENET_STYLE, "match": "synset", "restrict_to_breeds": True},
        }
    )
    with database.session() as s:
        lm = build_label_map(s, restricted)
    assert lm.unmatched == ["n01440764 tench, Tinca tinca", "n04591713 wine bottle"]
    assert len(lm.covered_breeds) == 4


def test_restrict_to_breeds_ranks_only_breed_classes(
    database: Database, tiny_models: TinyModels
) -> None:
    """An ImageNet-like model whose favourite class is a fish: top-1 is its best breed."""
    es = add_eval_images(database, tiny_models.labels, per_class=2)
    spec = {
        "input": {"tensor": "input:0", "kind": "tensor", "size": [32, 32]},
        "output": {"tensor": "probs:0", "activation": "probabilities"},
        "labels": {"names": IMAGENET_STYLE, "match": "synset", "restrict_to_breeds": True},
    }
    # the fake model scores: tench .5, chihuahua .05, pug .2, bottle .1, beagle .1, samoyed .05
    scores = np.array([0.5, 0.05, 0.2, 0.1, 0.1, 0.05])
    register(database, tiny_models.batchable_pb, spec, "inet")
    out = evaluate(database, "inet", runner=FakeRunner(lambda x: np.tile(scores, (len(x), 1))))
    m = out.metrics
    n = len(es.image_ids)
    assert m["n_images"] == n
    assert m["top1"]["correct"] == n // 4  # every image is called "pug"
    assert m["excluded"]["non_breed_classes"] == 2
    with database.session() as s:
        rows = predictions(s, out.run_id)
    assert [p.slug for p in rows[0].top5] == ["pug", "beagle", "chihuahua", "samoyed"]
    assert rows[0].top5[0].probability == pytest.approx(0.2)


def test_name_matching_reads_imagenet_style_lines(database: Database) -> None:
    names = ["n02089867 Walker hound, Walker foxhound", "German short-haired pointer", "Pug"]
    spec = ModelSpec.from_dict({"input": {"kind": "image"}, "labels": {"names": names}})
    with database.session() as s:
        lm = build_label_map(s, spec)
        slugs = {b.id: b.slug for b in s.scalars(select(Breed))}
    assert [slugs[b] for b in lm.breed_ids] == [
        "walker_hound",
        "german_short-haired_pointer",
        "pug",
    ]
