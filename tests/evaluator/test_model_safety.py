"""Models are code: hostile models built here, refused at registration and at every load.

The hostile graphs are the attacks seen in practice, made with plain ``tf.raw_ops`` inside a
``tf.function`` and frozen with ``convert_variables_to_constants_v2``: a ``DatasetToTFRecord``
that writes a file of its choosing, an ``InitializeTableFromTextFileV2`` that reads a file and
steers the prediction with it, a SavedModel function that writes with ``tf.io.write_file``, a
``.tflite`` with a ``FlexReadFile`` TensorFlow kernel, a ``.keras`` with a ``Lambda`` layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from core.errors import BreedbenchError
from db.database import Database
from db.models import EvalRun, ModelVersion
from evaluator.pipeline import evaluate
from evaluator.registry import file_sha256, get_version
from evaluator.safety import model_refusals
from evaluator.safety.graph_ops import graph_def_refusals, parse_saved_model, saved_model_refusals
from evaluator.safety.keras_config import config_refusals
from tests.fixtures.evaluation import EvalSet, batchable_spec, register
from tests.modelkit import TinyModels

TRUST = "pass --trust-model to run it anyway"


# --- hostile models ---------------------------------------------------------------------------


def _input_spec(size: int) -> Any:
    import tensorflow as tf

    return tf.TensorSpec([None, size, size, 3], tf.float32, name="input")


def _head(tf: Any, x: Any, steer: Any = 0.0) -> Any:
    """Four class scores from the mean colour: enough of a model to have a prediction."""
    w = tf.constant(np.arange(12, dtype=np.float32).reshape(3, 4) / 12.0)
    logits = tf.matmul(tf.reduce_mean(x, axis=[1, 2]), w) + steer * tf.constant([1.0, 0, 0, 0])
    return tf.nn.softmax(logits, name="probs")


def freeze(fn: Any, out: Path) -> Path:
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    frozen = convert_variables_to_constants_v2(fn.get_concrete_function())
    out.write_bytes(frozen.graph.as_graph_def().SerializeToString())
    return out


def tfrecord_writer(out: Path, target: Path, size: int) -> Path:
    """A graph whose prediction depends on writing ``target`` (DatasetToTFRecord)."""
    import tensorflow as tf

    @tf.function(input_signature=[_input_spec(size)])
    def f(x: Any) -> Any:
        ds = tf.raw_ops.TensorDataset(components=[tf.constant("stolen")], output_shapes=[[]])
        write = tf.raw_ops.DatasetToTFRecord(
            input_dataset=ds, filename=str(target), compression_type="", name="exfiltrate"
        )
        with tf.control_dependencies([write]):
            return _head(tf, tf.identity(x))

    return freeze(f, out)


def table_reader(out: Path, secret: Path, size: int) -> Path:
    """A graph that reads ``secret`` into a hash table and adds its first line's length to the
    first class's score (InitializeTableFromTextFileV2)."""
    import tensorflow as tf

    @tf.function(input_signature=[_input_spec(size)])
    def f(x: Any) -> Any:
        table = tf.raw_ops.HashTableV2(key_dtype=tf.int64, value_dtype=tf.string)
        init = tf.raw_ops.InitializeTableFromTextFileV2(
            table_handle=table, filename=str(secret), key_index=-1, value_index=-2, name="peek"
        )
        with tf.control_dependencies([init]):
            line = tf.raw_ops.LookupTableFindV2(
                table_handle=table, keys=tf.constant(0, tf.int64), default_value=tf.constant("")
            )
        return _head(tf, x, tf.cast(tf.strings.length(line), tf.float32))

    return freeze(f, out)


def saved_model_writer(out: Path, target: Path, size: int) -> Path:
    import tensorflow as tf

    class Writer(tf.Module):
        @tf.function(input_signature=[_input_spec(size)])
        def serve(self, x: Any) -> Any:
            tf.io.write_file(str(target), "pwned")
            return {"probs": _head(tf, x)}

    module = Writer()
    tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve})
    return out


def flex_reader(out: Path) -> Path:
    """A ``.tflite`` that keeps ``ReadFile`` as a TensorFlow kernel (SELECT_TF_OPS)."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
    def f(x: Any) -> Any:
        return x + tf.cast(tf.strings.length(tf.io.read_file("/etc/hostname")), tf.float32)

    conv = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    conv.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS,
        tf.lite.OpsSet.SELECT_TF_OPS,
    ]
    out.write_bytes(conv.convert())
    return out


def custom_op(out: Path) -> Path:
    """A ``.tflite`` with a CUSTOM operator (``allow_custom_ops``: an op LiteRT lacks)."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])
    def f(x: Any) -> Any:
        return tf.reshape(tf.linalg.det(tf.reshape(x, [1, 2, 2])), [1, 1]) + x

    conv = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    conv.allow_custom_ops = True
    out.write_bytes(conv.convert())
    return out


def keras_with_lambda(out: Path, size: int) -> Path:
    import keras

    model = keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Lambda(lambda t: t * 1.0, name="sneaky"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    model.save(out)
    return out


@dataclass(frozen=True)
class Hostile:
    tfrecord_pb: Path
    tfrecord_target: Path
    table_pb: Path
    secret: Path
    saved_model: Path
    saved_model_target: Path
    flex_tflite: Path
    custom_tflite: Path
    lambda_keras: Path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, tiny_models: TinyModels) -> Hostile:
    d = tmp_path_factory.mktemp("hostile")
    size = tiny_models.size
    secret = d / "secret.txt"
    secret.write_text("a line the model should never see\n")
    return Hostile(
        tfrecord_pb=tfrecord_writer(d / "tfrecord.pb", d / "written.tfrecord", size),
        tfrecord_target=d / "written.tfrecord",
        table_pb=table_reader(d / "table.pb", secret, size),
        secret=secret,
        saved_model=saved_model_writer(d / "writer_sm", d / "sm-written.txt", size),
        saved_model_target=d / "sm-written.txt",
        flex_tflite=flex_reader(d / "flex.tflite"),
        custom_tflite=custom_op(d / "custom.tflite"),
        lambda_keras=keras_with_lambda(d / "lambda.keras", size),
    )


def pb_spec(tiny: TinyModels) -> dict[str, Any]:
    return batchable_spec(tiny, output="probs:0")


def keras_spec(tiny: TinyModels) -> dict[str, Any]:
    spec = batchable_spec(tiny)
    spec["input"].pop("tensor")
    spec["output"] = {"activation": "probabilities"}
    return spec


def n_versions(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(ModelVersion)) or 0


def n_runs(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(EvalRun)) or 0


# --- what is refused, and how it is said ------------------------------------------------------


def test_the_threat_is_real_a_trusted_tfrecord_writer_writes(
    eval_set: EvalSet, tiny_models: TinyModels, hostile: Hostile
) -> None:
    """Registered with trust, the graph does what the check says it would: it writes."""
    hostile.tfrecord_target.unlink(missing_ok=True)
    info = register(eval_set.db, hostile.tfrecord_pb, pb_spec(tiny_models), trusted=True)
    assert info.trusted
    evaluate(eval_set.db, info.ref, limit=2)
    assert hostile.tfrecord_target.exists()


def test_a_tfrecord_writer_is_refused_at_models_add(
    database: Database, tiny_models: TinyModels, hostile: Hostile
) -> None:
    with pytest.raises(BreedbenchError) as exc:
        register(database, hostile.tfrecord_pb, pb_spec(tiny_models))
    assert str(exc.value) == (
        f'refused: op TensorDataset (node "TensorDataset") runs a tf.data pipeline, which can '
        f'read files; refused: op DatasetToTFRecord (node "exfiltrate") can write files; {TRUST}'
    )
    assert n_versions(database) == 0
    assert not list((database.settings.data_dir / "models").glob("*"))


def test_a_graph_reading_a_file_into_a_table_is_refused(
    database: Database, tiny_models: TinyModels, hostile: Hostile
) -> None:
    refused = {r.op: r for r in model_refusals(hostile.table_pb, "frozen_pb")}
    assert refused["InitializeTableFromTextFileV2"].where == 'node "peek"'
    assert refused["InitializeTableFromTextFileV2"].reason == "can read files"
    assert {"HashTableV2", "LookupTableFindV2"} <= refused.keys()
    with pytest.raises(BreedbenchError, match="refused: op InitializeTableFromTextFileV2"):
        register(database, hostile.table_pb, pb_spec(tiny_models))
    assert n_versions(database) == 0


def test_a_saved_model_writing_a_file_is_refused_naming_the_function(
    database: Database, tiny_models: TinyModels, hostile: Hostile
) -> None:
    (refusal,) = saved_model_refusals(hostile.saved_model)
    assert refusal.op == "WriteFile" and refusal.reason == "can write files"
    assert refusal.where.startswith('node "WriteFile", in function "__inference_serve_')
    with pytest.raises(BreedbenchError, match=r'in function "__inference_serve_\d+"\) can write'):
        register(database, hostile.saved_model, keras_spec(tiny_models))
    assert n_versions(database) == 0
    assert not hostile.saved_model_target.exists()  # checked as data, never loaded


def test_tflite_flex_and_custom_operators_are_refused(
    database: Database, tiny_models: TinyModels, hostile: Hostile
) -> None:
    flex = {r.op: r for r in model_refusals(hostile.flex_tflite, "tflite")}
    assert "FlexReadFile" in flex
    assert flex["FlexReadFile"].reason.startswith("runs a TensorFlow kernel (Flex)")
    assert flex["FlexReadFile"].where.startswith("operator 0")
    (custom,) = model_refusals(hostile.custom_tflite, "tflite")
    assert custom.op == "MatrixDeterminant" and "custom operator" in custom.reason
    spec = {
        "input": {"kind": "tensor", "size": [2, 2]},
        "output": {},
        "labels": {"names": tiny_models.labels},
    }
    with pytest.raises(BreedbenchError, match="refused: op FlexReadFile"):
        register(database, hostile.flex_tflite, spec)
    assert n_versions(database) == 0


def test_a_keras_lambda_layer_is_refused_and_never_loaded_even_trusted(
    eval_set: EvalSet, tiny_models: TinyModels, hostile: Hostile
) -> None:
    with pytest.raises(BreedbenchError) as exc:
        register(eval_set.db, hostile.lambda_keras, keras_spec(tiny_models))
    assert str(exc.value) == (
        f'refused: layer Lambda ("sneaky" in config.json) runs Python code stored in the file; '
        f"{TRUST}"
    )
    info = register(eval_set.db, hostile.lambda_keras, keras_spec(tiny_models), trusted=True)
    # Trust skips the op check, but Keras still loads with safe_mode: no stored bytecode runs.
    with pytest.raises(BreedbenchError, match="Keras refuses to load .*Lambda"):
        evaluate(eval_set.db, info.ref)
    assert n_runs(eval_set.db) == 0


def test_keras_custom_objects_and_file_settings_are_refused() -> None:
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {
            "name": "m",
            "layers": [
                {"module": "my_pkg.layers", "class_name": "Evil", "config": {"name": "e"}},
                {"module": None, "class_name": "Mine", "registered_name": "Pkg>Mine"},
                {
                    "module": "keras.layers",
                    "class_name": "StringLookup",
                    "config": {"name": "lookup", "vocabulary": "/etc/passwd"},
                },
                {"module": "keras.layers", "class_name": "Dense", "config": {"name": "ok"}},
            ],
        },
    }
    said = [r.describe() for r in config_refusals(config)]
    assert said == [
        "layer Evil (\"e\" in config.json) is custom code from module 'my_pkg.layers'",
        "layer Mine (config.json.config.layers[1]) is a custom object (registered as 'Pkg>Mine')",
        "setting vocabulary='/etc/passwd' (\"lookup\" in config.json) reads a file when the "
        "model loads",
    ]


def test_the_tiny_models_normal_forms_only_compute(tiny_models: TinyModels, tmp_path: Path) -> None:
    import keras

    saved = tmp_path / "exported"
    keras.models.load_model(tiny_models.keras).export(str(saved))
    forms = {
        tiny_models.classic_pb: "frozen_pb",
        tiny_models.batchable_pb: "frozen_pb",
        tiny_models.sub_float: "tflite",
        tiny_models.sub_dynamic: "tflite",
        tiny_models.sub_int8: "tflite",
        tiny_models.sub_uint8: "tflite",
        tiny_models.keras: "keras",
        saved: "saved_model",
    }
    assert {str(p): model_refusals(p, fmt) for p, fmt in forms.items()} == {
        str(p): [] for p in forms
    }


# --- SavedModel checkpoint functions and calls, on the parsed protocol buffer ----------------


def _exported(tiny_models: TinyModels, out: Path) -> Path:
    import keras

    keras.models.load_model(tiny_models.keras).export(str(out))
    return out


def test_checkpoint_ops_pass_only_where_only_the_saver_reaches_them(
    tiny_models: TinyModels, tmp_path: Path
) -> None:
    sm = parse_saved_model(_exported(tiny_models, tmp_path / "sm"))
    graph_def = sm.meta_graphs[0].graph_def
    names = [f.signature.name for f in graph_def.library.function]
    save_fn = next(n for n in names if "_traced_save_" in n)
    serving = next(n for n in names if n.startswith("__inference_signature_wrapper"))
    # Out of the saver's reach (checked as an ordinary graph), SaveV2 is refused...
    plain = {r.op for r in graph_def_refusals(graph_def)}
    assert {"SaveV2", "RestoreV2", "MergeV2Checkpoints"} <= plain
    # ...and once the serving function calls the save function, the saver no longer owns it.
    fn = next(f for f in graph_def.library.function if f.signature.name == serving)
    call = fn.node_def.add(name="sneaky_save", op="StatefulPartitionedCall")
    call.attr["f"].func.name = save_fn
    folder = tmp_path / "sm2"
    folder.mkdir()
    (folder / "saved_model.pb").write_bytes(sm.SerializeToString())
    refused = {r.op: r for r in saved_model_refusals(folder)}
    assert refused.keys() == {"SaveV2", "MergeV2Checkpoints", "ShardedFilename"}
    assert refused["SaveV2"].where.endswith(f'in function "{save_fn}"')


def test_a_call_to_an_op_by_function_name_is_checked(tiny_models: TinyModels) -> None:
    from tensorflow.core.framework import graph_pb2

    gd = graph_pb2.GraphDef()
    node = gd.node.add(name="call", op="PartitionedCall")
    node.attr["f"].func.name = "WriteFile"  # not a library function: TF instantiates the op
    branch = gd.node.add(name="cond", op="StatelessIf")
    branch.attr["then_branch"].func.name = "PrintV2"
    said = [str(r) for r in graph_def_refusals(gd)]
    assert said == [
        'refused: op WriteFile (called by node "call") can write files',
        'refused: op PrintV2 (called by node "cond") prints or writes diagnostics',
    ]


# --- at every load: the registered bytes, and the op check again ------------------------------


def _store_and_rehash(db: Database, version_id: int, data: bytes, *, rehash: bool) -> Path:
    """Replace the stored file's bytes; ``rehash`` also records their sha256 (as a version
    registered before this check would look)."""
    with db.session() as s:
        row = s.get(ModelVersion, version_id)
        assert row is not None
        stored = db.settings.data_dir / row.path
        stored.write_bytes(data)
        if rehash:
            row.sha256 = file_sha256(stored)
    return stored


def test_a_stored_file_changed_after_registration_is_refused_at_load(
    eval_set: EvalSet, tiny_models: TinyModels, hostile: Hostile
) -> None:
    info = register(eval_set.db, tiny_models.batchable_pb, pb_spec(tiny_models))
    stored = _store_and_rehash(eval_set.db, info.id, hostile.tfrecord_pb.read_bytes(), rehash=False)
    hostile.tfrecord_target.unlink(missing_ok=True)
    with pytest.raises(BreedbenchError) as exc:
        evaluate(eval_set.db, info.ref)
    msg = str(exc.value)
    assert msg.startswith("the stored file of tiny:1 changed since it was registered (sha256 ")
    assert msg.endswith("; refusing to load it") and "\n" not in msg
    assert n_runs(eval_set.db) == 0 and not hostile.tfrecord_target.exists()
    stored.unlink()
    with pytest.raises(BreedbenchError, match=r"^the stored file of tiny:1 is missing: ") as exc:
        evaluate(eval_set.db, info.ref)
    # tiny:1 is taken: the way back is another version (fsck checks images, not models).
    assert str(exc.value).endswith(
        "; register the model file again under a new --version (breedbench models add)"
    )


def test_parity_and_convert_refuse_a_changed_stored_file_too(
    eval_set: EvalSet, tiny_models: TinyModels, hostile: Hostile
) -> None:
    """Every load goes through the same check: not only evaluate."""
    from evaluator.convert import ConversionRequest, convert_version
    from evaluator.parity import run_parity
    from tests.fixtures.evaluation import classic_spec

    db = eval_set.db
    info = register(db, tiny_models.batchable_pb, pb_spec(tiny_models))
    register(db, tiny_models.classic_pb, classic_spec(tiny_models), version="2")
    _store_and_rehash(db, info.id, hostile.tfrecord_pb.read_bytes(), rehash=False)
    hostile.tfrecord_target.unlink(missing_ok=True)
    changed = r"^the stored file of tiny:1 changed since it was registered .*refusing to load it$"
    with pytest.raises(BreedbenchError, match=changed):
        run_parity(db, "tiny:2", "tiny:1", limit=4)
    with pytest.raises(BreedbenchError, match=changed):
        convert_version(db, "tiny:1", ConversionRequest("none"))
    # Re-hashed (as a version registered before the hash was kept): the op check refuses.
    _store_and_rehash(db, info.id, hostile.tfrecord_pb.read_bytes(), rehash=True)
    with pytest.raises(BreedbenchError, match=r"^tiny:1: refused: op TensorDataset"):
        convert_version(db, "tiny:1", ConversionRequest("none"))
    with pytest.raises(BreedbenchError, match=r"^tiny:1: refused: op TensorDataset"):
        run_parity(db, "tiny:1", "tiny:2", limit=4)
    assert n_versions(db) == 2 and not hostile.tfrecord_target.exists()


def test_the_runner_runs_the_bytes_that_were_checked(
    eval_set: EvalSet, tiny_models: TinyModels, hostile: Hostile
) -> None:
    """The file is read once: replaced between the check and the load, it is not read again."""
    from evaluator.spec import ModelSpec
    from tests.fixtures.evaluation import lite_spec

    db = eval_set.db
    x = np.random.default_rng(0).uniform(-1, 1, (2, tiny_models.size, tiny_models.size, 3))
    info = register(db, tiny_models.batchable_pb, pb_spec(tiny_models))
    spec = ModelSpec.from_dict(pb_spec(tiny_models))
    with db.session() as s:
        stored = get_version(s, info.ref).open(db.settings)
    expected = stored.runner(spec).predict(list(x))
    _store_and_rehash(db, info.id, hostile.tfrecord_pb.read_bytes(), rehash=True)
    hostile.tfrecord_target.unlink(missing_ok=True)
    runner = stored.runner(spec)
    np.testing.assert_array_equal(runner.predict(list(x)), expected)
    assert not hostile.tfrecord_target.exists()

    lite = register(db, tiny_models.sub_float, lite_spec(tiny_models), version="lite")
    with db.session() as s:
        stored = get_version(s, lite.ref).open(db.settings)
    _store_and_rehash(db, lite.id, b"\0" * 64, rehash=True)
    lite_runner = stored.runner(ModelSpec.from_dict(lite_spec(tiny_models)), batch=1)
    assert lite_runner.predict([np.zeros((tiny_models.size, tiny_models.size, 3))]).shape == (1, 4)


def test_the_op_check_runs_again_at_load(
    eval_set: EvalSet, tiny_models: TinyModels, hostile: Hostile
) -> None:
    info = register(eval_set.db, tiny_models.batchable_pb, pb_spec(tiny_models))
    _store_and_rehash(eval_set.db, info.id, hostile.tfrecord_pb.read_bytes(), rehash=True)
    hostile.tfrecord_target.unlink(missing_ok=True)
    with pytest.raises(BreedbenchError) as exc:
        evaluate(eval_set.db, info.ref)
    assert str(exc.value) == (
        'tiny:1: refused: op TensorDataset (node "TensorDataset") runs a tf.data pipeline, '
        'which can read files; refused: op DatasetToTFRecord (node "exfiltrate") can write '
        "files; to run it anyway, register the model file again under a new --version "
        "(breedbench models add --trust-model)"
    )
    with eval_set.db.session() as s, pytest.raises(BreedbenchError, match="DatasetToTFRecord"):
        get_version(s, info.ref).file(eval_set.db.settings)
    assert n_runs(eval_set.db) == 0 and not hostile.tfrecord_target.exists()


def test_a_trusted_version_skips_the_op_check_but_not_the_hash(
    eval_set: EvalSet, tiny_models: TinyModels, hostile: Hostile
) -> None:
    warned: list[str] = []
    info = register(
        eval_set.db,
        hostile.table_pb,
        pb_spec(tiny_models),
        trusted=True,
        warn=warned.append,
    )
    assert warned[0] == 'trusted: op HashTableV2 (node "HashTableV2") keeps state across runs'
    assert any(w.startswith("trusted: op InitializeTableFromTextFileV2") for w in warned)
    with eval_set.db.session() as s:
        stored = get_version(s, info.ref)
        assert stored.trusted
        assert stored.file(eval_set.db.settings).exists()
    _store_and_rehash(eval_set.db, info.id, hostile.tfrecord_pb.read_bytes(), rehash=False)
    with eval_set.db.session() as s, pytest.raises(BreedbenchError, match="changed since"):
        get_version(s, info.ref).file(eval_set.db.settings)
