"""The TensorFlow ops a model may use: those that only compute, derived from TF's op registry.

``allowed_ops.txt`` (next to this module, one op per line, sorted) is the committed result; the
checks read it without importing TensorFlow. Regenerate it after a TensorFlow upgrade with
``python -m evaluator.safety.allowlist`` and review the diff. It lists the ops a fresh
``import tensorflow`` registers (TFLite's converter registers three more of its own the first
time it runs; they are left out, so refused).

An op registered in TensorFlow is allowed unless one of these rules excludes it, in this order:

1. **Internal ops** (a leading underscore: ``_Arg``, ``_Send``, ``_MklConv2D``) are the runtime's
   own rewrites and transfers; they never belong in a saved model.
2. **Name families** that reach outside the graph, whatever TensorFlow says of their state
   (``NAME_FAMILIES``): Python (``Py*``, ``EagerPyFunc``); output (``Print*``, ``*Summary*``,
   ``Debug*``, ``DumpTensor``); ``Abort``; time (``Sleep*``, ``Timestamp``, ``*Deadline``);
   writing (``Write*``, ``*Writer``, ``*Save*``, ``*ToTFRecord``, ``*Checkpoint*``); tf.data
   (``*Dataset*``, ``*Iterator*``); reading (``*File*``, ``Read*``, ``*Reader*``,
   ``Restore*``, ``ImmutableConst``, ``Load*``, ``*Proto*`` with its descriptor source);
   other processes and devices (``Send``/``Recv``, ``*Rpc*``, ``Collective*``, ``Nccl*``,
   ``*TPU*``/``*Tpu*``, ``Xla*``, ``*Mlir*``, ``Remote*``, ``*Infeed*``/``*Outfeed*``,
   ``DataService*``, ``*Enqueue*``/``*Dequeue*``/``*Queue*``, ``DTensor*``, ``*Mesh*``,
   ``Relayout*``); state kept across runs (``*Session*``, ``Barrier*``, ``*Accumulator*``,
   ``*Stage*``, ``*Mutex*``, ``*Table*``, ``Lookup*``: hash tables are filled from files,
   ``CustomAggregator``).
3. **Attributes or inputs that name a place**: an attr or input argument whose name has a
   ``file``, ``filename``, ``filepath``, ``path``, ``dir``, ``directory``, ``prefix``, ``url``,
   ``address``, ``descriptor`` or ``region`` part, or a part ending in ``file`` or ``path``
   (``GenerateVocabRemapping``'s ``new_vocab_file``, ``RecordInput``'s ``file_pattern``), or is
   ``debug_ops_spec`` (``Copy``: where debugging copies go); and ops that take or give a tf.data
   dataset (an argument named ``*dataset*``).
4. **Resources shared by name** (``container`` / ``shared_name`` attrs: ``Batch``,
   ``BatchFunction``) and **reference (TF1 ``ref``) arguments** that mutate state in place.
5. **Stateful ops** (``is_stateful``).

The reviewed list ``REVIEWED_STATEFUL`` lifts rules 4 and 5 only (never 1–3): resource and TF1
variables (in-memory state that the SavedModel loader restores itself), function calls and
control flow (``StatefulPartitionedCall``, ``If``, ``While``, ``Case``: the called functions are
checked op by op), assertions and numeric checks, scratch memory, random number generators.
What remains is stateless computation: maths, convolutions, pooling, image decoding and resizing,
shape manipulation, strings, TensorList (stateless), stateless control flow.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ALLOWED_OPS_FILE = Path(__file__).with_name("allowed_ops.txt")

# Stateful ops reviewed one by one: none touches a file, the network, a process or the clock.
REVIEWED_STATEFUL = frozenset(
    {
        # Resource variables: in-memory tensors behind a handle.
        "VarHandleOp",
        "ReadVariableOp",
        "AssignVariableOp",
        "AssignAddVariableOp",
        "AssignSubVariableOp",
        "VarIsInitializedOp",
        "VariableShape",
        "DestroyResourceOp",
        "DisableCopyOnRead",
        "ResourceGather",
        "ResourceGatherNd",
        # TF1 reference variables, as a TF1 SavedModel restores them.
        "VariableV2",
        "Assign",
        "IsVariableInitialized",
        # Calls and control flow: what they call is checked as a function of the library.
        "StatefulPartitionedCall",
        "If",
        "While",
        "Case",
        # Checks that fail the step, and scratch memory.
        "Assert",
        "CheckNumerics",
        "CheckNumericsV2",
        "Empty",
        "GuaranteeConst",
        # Random numbers (dropout-like layers, initialisers): computation on a seed.
        "RandomUniform",
        "RandomUniformInt",
        "RandomStandardNormal",
        "TruncatedNormal",
        "Multinomial",
        "RandomShuffle",
        "RandomGamma",
        "RandomPoisson",
        "RandomPoissonV2",
        "StatelessRandomGetAlg",
    }
)

NAME_FAMILIES: tuple[tuple[str, str], ...] = (
    (r"Py|EagerPyFunc", "runs Python"),
    (r"Print|Summary|^Debug|DumpTensor", "prints or writes diagnostics"),
    (r"^Abort$", "ends the process"),
    (r"Sleep|^Timestamp$|Deadline", "waits or reads the clock"),
    (r"^Write|Writer|Save|ToTFRecord|Checkpoint", "can write files"),
    (r"Dataset|Iterator", "runs a tf.data pipeline, which can read files"),
    (r"File|^Read(?!VariableOp$)|Reader|Restore|ImmutableConst|^Load|Proto", "can read files"),
    (
        r"^Send$|^Recv$|Send[A-Z]|Recv[A-Z]|Rpc|Collective|Nccl|TPU|Tpu|^Xla|Mlir|Remote|"
        r"Infeed|Outfeed|DataService|Enqueue|Dequeue|Queue|^DTensor|Mesh|^Relayout",
        "talks to other processes or devices",
    ),
    (
        r"Session|Barrier|Accumulator|Stage|Mutex|Table|^Lookup|^CustomAggregator$",
        "keeps state across runs",
    ),
)

PLACE_PARTS = frozenset(
    {
        "file",
        "files",
        "filename",
        "filenames",
        "filepath",
        "path",
        "dir",
        "directory",
        "prefix",
        "url",
        "urls",
        "address",
        "descriptor",
        "region",
    }
)
# Whole names whose parts say nothing alone: where debugging copies are sent.
PLACE_NAMES = frozenset({"debug_ops_spec"})
SHARED_ATTRS = frozenset({"container", "shared_name"})


@dataclass(frozen=True)
class Exclusion:
    op: str
    reason: str


def family_reason(op: str) -> str | None:
    """Why a name family excludes ``op`` (None: no family does)."""
    for pattern, reason in NAME_FAMILIES:
        if re.search(pattern, op):
            return reason
    return None


def _names_a_place(name: str) -> bool:
    parts = set(re.split(r"[_\W]+", name.lower()))
    return (
        name in PLACE_NAMES
        or bool(parts & PLACE_PARTS)
        or any(part.endswith(("file", "filename", "path")) for part in parts)
    )


def exclusion_reason(op_def: Any) -> str | None:
    """The first rule that excludes this ``OpDef`` (None: it only computes)."""
    name = op_def.name
    if name.startswith("_"):
        return "is internal to the TensorFlow runtime"
    family = family_reason(name)
    if family is not None:
        return family
    args = [*op_def.input_arg, *op_def.output_arg]
    places = [a.name for a in op_def.attr if _names_a_place(a.name)]
    places += [a.name for a in op_def.input_arg if _names_a_place(a.name)]
    if places:
        return f"takes a place to reach ({', '.join(places)})"
    if any("dataset" in a.name for a in args):
        return family_reason("Dataset")
    if name not in REVIEWED_STATEFUL:
        if any(a.name in SHARED_ATTRS for a in op_def.attr):
            return "shares a resource by name across runs"
        if any(a.is_ref for a in args):
            return "mutates TF1 reference state"
        if op_def.is_stateful:
            return "is stateful"
    return None


def derive(op_defs: Iterable[Any]) -> tuple[list[str], list[Exclusion]]:
    """``(allowed, excluded)`` by the rules of this module, both sorted by op name."""
    allowed, excluded = [], []
    for op_def in sorted(op_defs, key=lambda o: o.name):
        reason = exclusion_reason(op_def)
        if reason is None:
            allowed.append(op_def.name)
        else:
            excluded.append(Exclusion(op_def.name, reason))
    return allowed, excluded


def registered_op_defs() -> list[Any]:
    """Every op registered in this TensorFlow (imports TensorFlow: seconds)."""
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session as c_api

    op_list = op_def_pb2.OpList()
    op_list.ParseFromString(c_api.TF_GetBuffer(c_api.TF_GetAllOpList()))
    return list(op_list.op)


@cache
def allowed_ops() -> frozenset[str]:
    """The committed allow-list (no TensorFlow import)."""
    lines = ALLOWED_OPS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def render(allowed: Iterable[str], tf_version: str) -> str:
    header = (
        f"# Ops that only compute, derived from the op registry of TensorFlow {tf_version}.\n"
        "# Generated by: python -m evaluator.safety.allowlist (the rules are in that module).\n"
    )
    return header + "".join(f"{op}\n" for op in sorted(allowed))


def tensorflow_version() -> str:
    import tensorflow as tf

    return str(tf.__version__)


def main(argv: list[str] | None = None) -> int:
    """Write ``allowed_ops.txt`` from the installed TensorFlow; ``--check`` only compares."""
    args = sys.argv[1:] if argv is None else argv
    allowed, excluded = derive(registered_op_defs())
    text = render(allowed, tensorflow_version())
    if "--check" in args:
        current = ALLOWED_OPS_FILE.read_text(encoding="utf-8")
        if current != text:
            print(f"{ALLOWED_OPS_FILE} is out of date: run python -m evaluator.safety.allowlist")
            return 1
        return 0
    ALLOWED_OPS_FILE.write_text(text, encoding="utf-8")
    print(f"{len(allowed)} ops allowed, {len(excluded)} excluded → {ALLOWED_OPS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
