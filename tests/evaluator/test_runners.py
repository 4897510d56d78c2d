"""Runners other than the two main ones, and the spec's input.dtype check."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.errors import BreedbenchError
from db.models import EvalRun
from evaluator.pipeline import evaluate
from tests.evaluator.test_pipeline import run_ranks
from tests.fixtures.evaluation import EvalSet, batchable_spec, classic_spec, lite_spec, register
from tests.modelkit import TinyModels


def keras_spec(tiny: TinyModels) -> dict:  # type: ignore[type-arg]
    spec = batchable_spec(tiny)
    spec["input"].pop("tensor")
    spec["output"] = {"activation": "probabilities"}
    return spec


def test_keras_and_saved_model_agree_with_the_frozen_graph(
    eval_set: EvalSet, tiny_models: TinyModels, tmp_path: Path
) -> None:
    import keras

    saved = tmp_path / "saved"
    keras.models.load_model(tiny_models.keras).export(str(saved))
    register(eval_set.db, tiny_models.batchable_pb, batchable_spec(tiny_models), "pb")
    register(eval_set.db, tiny_models.keras, keras_spec(tiny_models), "keras")
    sm = register(eval_set.db, saved, keras_spec(tiny_models), "sm")
    assert sm.format == "saved_model" and sm.path == f"models/{sm.sha256}"
    pb = run_ranks(eval_set, evaluate(eval_set.db, "pb").run_id)
    assert run_ranks(eval_set, evaluate(eval_set.db, "keras", batch=8).run_id) == pb
    assert run_ranks(eval_set, evaluate(eval_set.db, "sm", batch=8).run_id) == pb


def test_input_dtype_in_the_spec_is_checked(eval_set: EvalSet, tiny_models: TinyModels) -> None:
    spec = lite_spec(tiny_models)
    spec["input"]["dtype"] = "float32"
    with pytest.raises(BreedbenchError, match="input.dtype = 'float32' but .* Sub is uint8"):
        register(eval_set.db, tiny_models.sub_uint8, spec)
    spec["input"]["dtype"] = "uint8"
    register(eval_set.db, tiny_models.sub_uint8, spec, "ok")
    pb = classic_spec(tiny_models)
    pb["input"]["dtype"] = "uint8"  # Cast:0 is float32: found when the graph loads
    register(eval_set.db, tiny_models.classic_pb, pb, "pb")
    with pytest.raises(BreedbenchError, match="input.dtype = 'uint8' but .* Cast:0 is float32"):
        evaluate(eval_set.db, "pb")
    with eval_set.db.session() as s:
        assert s.scalar(select(func.count()).select_from(EvalRun)) == 0
