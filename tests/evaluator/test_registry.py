"""Registering model files: formats, the stored copy, and every refusal (nothing recorded)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.errors import BreedbenchError
from db.database import Database
from db.hashing import sha256_bytes
from db.models import ModelVersion
from evaluator.registry import detect_format, get_version, list_versions
from tests.fixtures.evaluation import batchable_spec, classic_spec, lite_spec, register
from tests.modelkit import TinyModels, graph_with_ops


def n_versions(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(ModelVersion))


def test_register_copies_the_file_by_hash(database: Database, tiny_models: TinyModels) -> None:
    info = register(database, tiny_models.classic_pb, classic_spec(tiny_models))
    data = tiny_models.classic_pb.read_bytes()
    assert info.format == "frozen_pb"
    assert info.sha256 == sha256_bytes(data) and info.size_bytes == len(data)
    assert info.path == f"models/{info.sha256}.pb"
    assert info.file(database.settings).read_bytes() == data
    assert list(info.spec.labels.names) == tiny_models.labels
    lite = register(database, tiny_models.sub_dynamic, lite_spec(tiny_models), version="2")
    assert lite.format == "tflite" and lite.path.endswith(".tflite")
    with database.session() as s:
        assert get_version(s, "tiny").version == "2"  # newest
        assert get_version(s, "tiny:1").id == info.id
        assert [v.version for v in list_versions(s, "tiny")] == ["1", "2"]


def test_formats_are_detected_from_content(tiny_models: TinyModels, tmp_path: Path) -> None:
    renamed = tmp_path / "model.lite"
    renamed.write_bytes(tiny_models.sub_float.read_bytes())
    assert detect_format(renamed) == "tflite"
    assert detect_format(tiny_models.classic_pb) == "frozen_pb"
    assert detect_format(tiny_models.keras) == "keras"
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"x")
    assert detect_format(tmp_path / "sm") == "saved_model"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.pb", b"\xff\xff\xff\xff not a graph at all", "not a TensorFlow GraphDef"),
        ("model.tflite", b"hello, this is text", "no 'TFL3' identifier"),
        ("empty.pb", b"", "empty"),
    ],
)
def test_non_model_files_are_refused(
    database: Database,
    tiny_models: TinyModels,
    tmp_path: Path,
    name: str,
    content: bytes,
    message: str,
) -> None:
    bad = tmp_path / name
    bad.write_bytes(content)
    with pytest.raises(BreedbenchError, match=message):
        register(database, bad, batchable_spec(tiny_models))
    assert n_versions(database) == 0
    assert not (database.settings.data_dir / "models").exists()


def test_truncated_tflite_is_refused(
    database: Database, tiny_models: TinyModels, tmp_path: Path
) -> None:
    data = tiny_models.sub_float.read_bytes()
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(BreedbenchError, match="not a valid LiteRT model"):
        register(database, cut, lite_spec(tiny_models))
    assert n_versions(database) == 0


def test_graph_with_file_ops_is_refused_unless_allowed(
    database: Database, tiny_models: TinyModels, tmp_path: Path
) -> None:
    pb = graph_with_ops(tmp_path / "evil.pb", ["ReadFile", "WriteFile"])
    spec = {
        "input": {"tensor": "filename:0", "kind": "jpeg_bytes"},
        "output": {"tensor": "read:0"},
        "labels": {"names": tiny_models.labels},
    }
    with pytest.raises(BreedbenchError, match='op ReadFile \\(node "read"\\) can read') as exc:
        register(database, pb, spec)
    assert 'refused: op WriteFile (node "write") can write files' in str(exc.value)
    assert "--trust-model" in str(exc.value)
    assert n_versions(database) == 0
    info = register(database, pb, spec, trusted=True)
    assert info.format == "frozen_pb" and info.trusted


def test_wrong_tensor_name_lists_the_real_inputs_and_outputs(
    database: Database, tiny_models: TinyModels
) -> None:
    spec = classic_spec(tiny_models)
    spec["input"]["tensor"] = "input:0"
    with pytest.raises(BreedbenchError) as exc:
        register(database, tiny_models.classic_pb, spec)
    msg = str(exc.value)
    assert "'input:0' is not in the graph" in msg
    assert "DecodeJpeg/contents:0 (string [])" in msg and "output_node:0" in msg
    lite = lite_spec(tiny_models)
    lite["output"]["tensor"] = "Softmax"
    with pytest.raises(BreedbenchError) as exc:
        register(database, tiny_models.sub_float, lite)
    assert "'Softmax' is not in the model" in str(exc.value)
    assert "Sub (float32 [1, 32, 32, 3])" in str(exc.value)
    assert "output_node (float32 [4, 1])" in str(exc.value)
    assert n_versions(database) == 0


def test_tflite_output_size_against_labels_says_both_numbers(
    database: Database, tiny_models: TinyModels
) -> None:
    spec = lite_spec(tiny_models)
    spec["labels"]["names"] = [*tiny_models.labels, "boxer"]
    with pytest.raises(BreedbenchError, match=r"has 4 values per image .* labels list 5 classes"):
        register(database, tiny_models.sub_float, spec)


def test_labels_matching_no_breed_are_listed(database: Database, tiny_models: TinyModels) -> None:
    spec = classic_spec(tiny_models)
    spec["labels"]["names"] = ["chihuahua", "pug", "not_a_dog", "Cat"]
    with pytest.raises(BreedbenchError) as exc:
        register(database, tiny_models.classic_pb, spec)
    assert "2 of 4 labels match no breed" in str(exc.value)
    assert "'not_a_dog', 'Cat'" in str(exc.value)
    assert n_versions(database) == 0


def test_same_version_twice_is_refused(database: Database, tiny_models: TinyModels) -> None:
    register(database, tiny_models.classic_pb, classic_spec(tiny_models))
    with pytest.raises(BreedbenchError, match="already registered"):
        register(database, tiny_models.classic_pb, classic_spec(tiny_models))
    assert n_versions(database) == 1


def test_unknown_version_lists_the_registered_ones(
    database: Database, tiny_models: TinyModels
) -> None:
    register(database, tiny_models.classic_pb, classic_spec(tiny_models))
    with database.session() as s, pytest.raises(BreedbenchError, match="registered: tiny:1"):
        get_version(s, "tiny:9")


def test_input_size_against_the_model_says_both(
    database: Database, tiny_models: TinyModels
) -> None:
    lite = lite_spec(tiny_models)
    lite["input"]["size"] = [299, 299]
    with pytest.raises(BreedbenchError, match=r"Sub takes 32×32 images .*size = \[299, 299\]"):
        register(database, tiny_models.sub_float, lite)
    pb = batchable_spec(tiny_models)
    pb["input"]["size"] = [224, 224]
    with pytest.raises(BreedbenchError, match=r"input:0 takes 32×32 images .* \[224, 224\]"):
        register(database, tiny_models.batchable_pb, pb)
    assert n_versions(database) == 0


def test_a_stored_spec_is_read_back_typed_or_named_when_broken(
    database: Database, tiny_models: TinyModels
) -> None:
    info = register(database, tiny_models.classic_pb, classic_spec(tiny_models))
    with database.session() as s:
        row = s.get(ModelVersion, info.id)
        assert row is not None
        assert row.spec == {**info.spec.to_dict(), "format": "frozen_pb"}  # the JSON as before
        assert get_version(s, "tiny:1").spec == info.spec
        row.spec = {"input": {"kind": "tensor"}}  # written by hand: no size
    with database.session() as s, pytest.raises(BreedbenchError) as exc:
        get_version(s, "tiny:1")
    assert str(exc.value) == (
        'the stored spec of tiny:1 is invalid: spec: input.kind = "tensor" needs '
        "input.size = [height, width]"
    )


def test_one_invalid_stored_spec_breaks_no_listing(
    database: Database, tiny_models: TinyModels
) -> None:
    """A row whose spec no longer validates (``{}``, the column's default) is listed, marked
    unusable, and refused only where it is used; the other versions work as before."""
    from evaluator.dashboard import version_tree
    from evaluator.pipeline import evaluate
    from evaluator.tradeoff import tradeoff_rows

    good = register(database, tiny_models.classic_pb, classic_spec(tiny_models), version="good")
    bad = register(database, tiny_models.batchable_pb, batchable_spec(tiny_models), version="bad")
    with database.session() as s:
        row = s.get(ModelVersion, bad.id)
        assert row is not None
        row.spec = {}
    problem = "the stored spec of tiny:bad is invalid: "
    with database.session() as s:
        listed = list_versions(s)
        assert [(v.version, v.spec_problem is None) for v in listed] == [
            ("good", True),
            ("bad", False),
        ]
        assert listed[1].spec_problem is not None and listed[1].spec_problem.startswith(problem)
        assert [n.info.version for n in version_tree(s)] == ["good", "bad"]
        assert [r.version.version for r in tradeoff_rows(s, "tiny")] == ["good", "bad"]
        assert get_version(s, "tiny:good").id == good.id
        with pytest.raises(BreedbenchError, match="registered: tiny:good, tiny:bad"):
            get_version(s, "tiny:nope")
        with pytest.raises(BreedbenchError, match=f"^{problem}"):
            get_version(s, "tiny:bad")
        with pytest.raises(BreedbenchError, match=f"^{problem}"):
            listed[1].open(database.settings)  # nothing loads with a spec that is not there
    with pytest.raises(BreedbenchError, match=f"^{problem}"):
        evaluate(database, listed[1])
