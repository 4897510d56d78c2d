"""SavedModels carry TensorFlow's own checkpoint ops: which of them pass the check, and why.

Loaders run the saver's restore op, with everything it depends on: ``tf.saved_model.load`` for
a TF1 SavedModel, TensorFlow's C++ loader (which the TFLite converter uses) for a TF2 one. A
``SaveV2`` hooked onto the restore op by a control edge writes a file of its choosing when the
model loads; these tests show it does, and that the check refuses it. A plain SavedModel of
either kind, with ordinary variables, passes and evaluates.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.errors import BreedbenchError
from db.database import Database
from evaluator.pipeline import evaluate
from evaluator.safety import model_refusals
from evaluator.safety.graph_ops import parse_saved_model, saved_model_refusals
from tests.fixtures.evaluation import EvalSet, batchable_spec, register
from tests.modelkit import TinyModels


def tf1_saved_model(out: Path, size: int) -> Path:
    """A TF1 SavedModel (``Builder``, no object graph) with two variables: four class scores
    from the mean colour."""
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, size, size, 3], name="input")
        w = tf.compat.v1.get_variable("w", initializer=np.eye(3, 4, dtype=np.float32))
        b = tf.compat.v1.get_variable("b", initializer=np.zeros(4, np.float32))
        y = tf.nn.softmax(tf.matmul(tf.reduce_mean(x, axis=[1, 2]), w) + b, name="probs")
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            builder = tf.compat.v1.saved_model.Builder(str(out))
            signature = tf.compat.v1.saved_model.predict_signature_def({"x": x}, {"probs": y})
            builder.add_meta_graph_and_variables(
                sess, ["serve"], signature_def_map={"serving_default": signature}
            )
            builder.save()
    return out


def tf2_saved_model(tiny: TinyModels, out: Path) -> Path:
    import keras

    keras.models.load_model(tiny.keras).export(str(out))
    return out


def _const(graph_def: Any, name: str, value: Any) -> None:
    import tensorflow as tf

    node = graph_def.node.add(name=name, op="Const")
    proto = tf.make_tensor_proto(value)
    node.attr["dtype"].type = proto.dtype
    node.attr["value"].tensor.CopyFrom(proto)


def hook_a_save_onto_the_restore_op(folder: Path, out: Path, target: Path) -> Path:
    """The SavedModel at ``folder`` with a ``SaveV2`` of ``target`` that the restore op waits
    for (a control edge): nothing but the saver reaches it."""
    from tensorflow.core.framework import types_pb2

    sm = parse_saved_model(folder)
    meta_graph = sm.meta_graphs[0]
    gd = meta_graph.graph_def
    _const(gd, "evil/prefix", str(target))
    _const(gd, "evil/names", ["pwned"])
    _const(gd, "evil/slices", [""])
    _const(gd, "evil/data", np.array([1.0], np.float32))
    save = gd.node.add(name="evil/save", op="SaveV2")
    save.input.extend(["evil/prefix", "evil/names", "evil/slices", "evil/data"])
    save.attr["dtypes"].list.type.append(types_pb2.DT_FLOAT)
    restore = meta_graph.saver_def.restore_op_name.split(":")[0]
    next(n for n in gd.node if n.name == restore).input.append("^evil/save")
    return _write(sm, folder, out)


def _write(sm: Any, folder: Path, out: Path) -> Path:
    shutil.copytree(folder, out)
    (out / "saved_model.pb").write_bytes(sm.SerializeToString())
    return out


def _written(target: Path) -> list[str]:
    return sorted(p.name for p in target.parent.glob(f"{target.name}*"))


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory, tiny_models: TinyModels) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("plain_saved_models")
    return {
        "tf1": tf1_saved_model(d / "tf1", tiny_models.size),
        "tf2": tf2_saved_model(tiny_models, d / "tf2"),
    }


def saved_model_spec(tiny: TinyModels) -> dict[str, Any]:
    spec = batchable_spec(tiny)
    spec["input"].pop("tensor")
    spec["output"] = {"activation": "probabilities"}
    return spec


def test_a_plain_tf1_saved_model_passes_and_evaluates(
    eval_set: EvalSet, tiny_models: TinyModels, plain: dict[str, Path]
) -> None:
    """Its saver's SaveV2/MergeV2Checkpoints serve only the save tensor, and its RestoreV2
    reads the fed checkpoint path: both pass, and the model loads with its variables."""
    assert not parse_saved_model(plain["tf1"]).meta_graphs[0].HasField("object_graph_def")
    assert model_refusals(plain["tf1"], "saved_model") == []
    assert model_refusals(plain["tf2"], "saved_model") == []
    info = register(eval_set.db, plain["tf1"], saved_model_spec(tiny_models), name="tf1")
    outcome = evaluate(eval_set.db, info.ref, limit=4)
    assert outcome.metrics["n_images"] == 4


@pytest.mark.parametrize("kind", ["tf1", "tf2"])
def test_a_write_hooked_onto_the_restore_op_is_refused(
    database: Database,
    tiny_models: TinyModels,
    plain: dict[str, Path],
    tmp_path: Path,
    kind: str,
) -> None:
    target = tmp_path / "evil_ckpt"
    hostile = hook_a_save_onto_the_restore_op(plain[kind], tmp_path / "hostile", target)
    (refusal,) = saved_model_refusals(hostile)
    assert refusal.op == "SaveV2" and refusal.where == 'node "evil/save"'
    assert refusal.reason == "can write files"
    with pytest.raises(BreedbenchError, match=r'refused: op SaveV2 \(node "evil/save"\)'):
        register(database, hostile, saved_model_spec(tiny_models))
    assert _written(target) == []  # checked as data, never loaded


def test_the_threat_is_real_loaders_run_the_restore_op(
    plain: dict[str, Path], tmp_path: Path
) -> None:
    """What the refusal above prevents: loading writes the file, for both kinds of SavedModel
    (TF1 through ``tf.saved_model.load``, TF2 through the TFLite converter)."""
    import tensorflow as tf

    tf1_target, tf2_target = tmp_path / "tf1_ckpt", tmp_path / "tf2_ckpt"
    tf1 = hook_a_save_onto_the_restore_op(plain["tf1"], tmp_path / "tf1", tf1_target)
    tf2 = hook_a_save_onto_the_restore_op(plain["tf2"], tmp_path / "tf2", tf2_target)
    tf.saved_model.load(str(tf1))
    assert _written(tf1_target) == ["tf1_ckpt.data-00000-of-00001", "tf1_ckpt.index"]
    tf.lite.TFLiteConverter.from_saved_model(str(tf2)).convert()
    assert _written(tf2_target) == ["tf2_ckpt.data-00000-of-00001", "tf2_ckpt.index"]


def test_a_restore_that_reads_another_path_is_refused(
    plain: dict[str, Path], tmp_path: Path
) -> None:
    """RestoreV2 passes only with the checkpoint path the loader feeds as its prefix."""
    sm = parse_saved_model(plain["tf1"])
    gd = sm.meta_graphs[0].graph_def
    _const(gd, "evil/prefix", "/somewhere/else")
    restore = next(n for n in gd.node if n.op == "RestoreV2")
    restore.input[0] = "evil/prefix"
    (refusal,) = saved_model_refusals(_write(sm, plain["tf1"], tmp_path / "other_path"))
    assert refusal.op == "RestoreV2" and refusal.where == f'node "{restore.name}"'

    sm = parse_saved_model(plain["tf2"])
    gd = sm.meta_graphs[0].graph_def
    fn = next(f for f in gd.library.function if "_traced_restore_" in f.signature.name)
    prefix = fn.node_def.add(name="evil_prefix", op="Const")
    prefix.attr["dtype"].type = 7  # DT_STRING
    prefix.attr["value"].tensor.dtype = 7
    prefix.attr["value"].tensor.string_val.append(b"/somewhere/else")
    read = next(n for n in fn.node_def if n.op == "RestoreV2")
    read.input[0] = "evil_prefix:output:0"
    (refusal,) = saved_model_refusals(_write(sm, plain["tf2"], tmp_path / "other_path_tf2"))
    assert refusal.op == "RestoreV2"
    assert refusal.where == f'node "{read.name}", in function "{fn.signature.name}"'


def test_a_save_that_a_loader_runs_by_name_is_refused(
    plain: dict[str, Path], tmp_path: Path
) -> None:
    """The save side passes because no loader runs it: named as the main op (which TF1
    loaders run), it no longer does."""
    sm = parse_saved_model(plain["tf1"])
    meta_graph = sm.meta_graphs[0]
    save_node = meta_graph.saver_def.save_tensor_name.split(":")[0]
    meta_graph.collection_def["saved_model_main_op"].node_list.value.append(save_node)
    refused = {r.op for r in saved_model_refusals(_write(sm, plain["tf1"], tmp_path / "main"))}
    assert {"SaveV2", "MergeV2Checkpoints", "ShardedFilename"} <= refused
