"""Each runner module's registration check, called directly: the problems it finds in a file,
several at once where they are independent, and how the registry reports them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.errors import BreedbenchError
from db.database import Database
from evaluator.runners import check_model_file, frozen_graph, keras_model, litert
from evaluator.spec import ModelSpec
from tests.fixtures.evaluation import batchable_spec, lite_spec, register
from tests.modelkit import TinyModels, graph_with_ops


def spec_of(data: dict[str, Any]) -> ModelSpec:
    return ModelSpec.from_dict(data)


def test_a_graph_that_fits_its_spec_has_no_problem(tiny_models: TinyModels) -> None:
    spec = spec_of(batchable_spec(tiny_models))
    assert frozen_graph.check(tiny_models.batchable_pb, spec) == []
    assert check_model_file(tiny_models.batchable_pb, "frozen_pb", spec) == []


def test_unsafe_ops_are_the_registrys_refusal_and_a_wrong_tensor_the_graphs(
    database: Database, tiny_models: TinyModels, tmp_path: Path
) -> None:
    """The graph's check finds only the spec's mistake; what the ops would do is refused by
    the registry first, every op named and the way out said once."""
    pb = graph_with_ops(tmp_path / "evil.pb", ["ReadFile"])
    data = {
        "input": {"tensor": "filename:0", "kind": "jpeg_bytes"},
        "output": {"tensor": "nowhere:0"},
        "labels": {"names": tiny_models.labels},
    }
    (missing,) = frozen_graph.check(pb, spec_of(data))
    assert missing.startswith("tensor 'nowhere:0' is not in the graph")
    with pytest.raises(BreedbenchError) as exc:
        register(database, pb, data)
    assert str(exc.value) == (
        'refused: op ReadFile (node "read") can read files; pass --trust-model to run it anyway'
    )
    # Trusted: the ops stay, only the spec's mistake is left.
    with pytest.raises(BreedbenchError) as exc:
        register(database, pb, data, trusted=True)
    assert str(exc.value) == missing


def test_a_graph_spec_without_tensor_names_lists_the_graphs(tiny_models: TinyModels) -> None:
    data = batchable_spec(tiny_models)
    del data["output"]["tensor"]
    (problem,) = frozen_graph.check(tiny_models.batchable_pb, spec_of(data))
    assert problem.startswith("the spec of a frozen graph needs input.tensor and output.tensor;")
    assert "its inputs: input:0 (float" in problem


def test_a_file_that_is_no_graph_is_one_problem(tmp_path: Path, tiny_models: TinyModels) -> None:
    bad = tmp_path / "notes.pb"
    bad.write_bytes(b"\xff\xff\xff\xff not a graph")
    (problem,) = frozen_graph.check(bad, spec_of(batchable_spec(tiny_models)))
    assert problem.startswith("not a TensorFlow GraphDef")


def test_tflite_type_and_size_mistakes_are_both_reported(tiny_models: TinyModels) -> None:
    data = lite_spec(tiny_models)
    assert litert.check(tiny_models.sub_uint8, spec_of(data)) == []
    data["input"] = {**data["input"], "dtype": "float32", "size": [64, 64]}
    assert litert.check(tiny_models.sub_uint8, spec_of(data)) == [
        "the spec says input.dtype = 'float32' but the model's input Sub is uint8",
        "the model's input Sub takes 32×32 images but the spec says input.size = [64, 64]",
    ]


def test_tflite_with_a_missing_tensor_stops_there(tiny_models: TinyModels) -> None:
    data = lite_spec(tiny_models)
    data["output"]["tensor"] = "Softmax"
    data["input"]["size"] = [64, 64]  # not checked: the model's tensors are not the spec's
    (problem,) = litert.check(tiny_models.sub_float, spec_of(data))
    assert problem.startswith("output tensor 'Softmax' is not in the model; its inputs: Sub")


def test_keras_files_are_checked_when_they_load(tiny_models: TinyModels) -> None:
    """The input kind and the signature need the model loaded: the runner's check finds
    nothing to refuse (the registry's safety check still reads the config)."""
    spec = spec_of({"input": {"kind": "image"}, "labels": {"names": tiny_models.labels}})
    assert keras_model.check(tiny_models.keras, spec) == []
    assert check_model_file(tiny_models.keras, "keras", spec) == []


def test_the_registry_refuses_with_every_problem(
    database: Database, tiny_models: TinyModels
) -> None:
    data = lite_spec(tiny_models)
    data["input"]["dtype"] = "float32"
    data["labels"]["names"] = [*tiny_models.labels, "boxer"]
    with pytest.raises(BreedbenchError) as exc:
        register(database, tiny_models.sub_uint8, data)
    assert str(exc.value) == (
        "the spec says input.dtype = 'float32' but the model's input Sub is uint8; "
        "the model's output output_node has 4 values per image (shape [4, 1]) but the labels "
        "list 5 classes"
    )
