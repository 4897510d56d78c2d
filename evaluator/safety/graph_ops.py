"""TensorFlow graphs, op by op: frozen GraphDefs and SavedModels, read as protocol buffers.

Nothing is imported into a graph or loaded: the check must not run what it is checking. Every
node of the graph and of every function in its library is looked up in the allow-list; a node
whose op names a library function is a call (that function is checked in turn), and so is every
function an attr names (``PartitionedCall``'s ``f``, ``If``'s branches, ``While``'s body…).
A called name that is *not* in the library is an op TensorFlow would instantiate as a function,
so it is checked against the allow-list like a node's op.

SavedModels also carry TensorFlow's own checkpoint ops, reached through the meta graph's
``saver_def``, and two rules accept them where a loader cannot misuse them (``checkpoint_ops``):

- The save side (``save_tensor_name``: ``SaveV2``, ``MergeV2Checkpoints``, ``ShardedFilename``,
  in TF1 graph nodes or TF2's ``__inference__traced_save_*``) runs only to write a checkpoint,
  which loading never does. Its checkpoint ops pass in graph nodes that nothing but the save
  tensor needs (no other node, no signature, no collection) and in functions that only such
  nodes call (and that the object graph does not list).
- The restore side *is* run when a model loads: ``tf.saved_model.load`` runs a TF1
  SavedModel's ``restore_op_name``, and the TFLite converter's import runs it for TF2
  SavedModels too, with every input and control input it has (a ``SaveV2`` hooked onto it by a
  control edge writes). The checkpoint path is fed to ``filename_tensor_name`` then. So the one
  checkpoint op accepted there is a ``RestoreV2`` whose prefix is that fed tensor (in the
  graph, or the argument of a function the restore node passes it to), in a node that only the
  restore op needs: it reads the model's own ``variables/`` checkpoint and nothing else.

Everything else in them is checked as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import BreedbenchError
from evaluator.runners.base import node_name, tensor_name
from evaluator.safety.allowlist import allowed_ops
from evaluator.safety.refusal import Refusal, merge, node_where, reason_for

# How TensorFlow's own savers write and read the checkpoint in ``variables/``.
CHECKPOINT_OPS = frozenset(
    {"SaveV2", "RestoreV2", "MergeV2Checkpoints", "ShardedFilename", "ShardedFilespec"}
)
CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})


@dataclass(frozen=True)
class CheckpointOps:
    """Where one meta graph may use checkpoint ops (``checkpoint_ops`` says why)."""

    save_nodes: frozenset[str] = frozenset()  # graph nodes only the save tensor needs
    save_functions: frozenset[str] = frozenset()  # library functions only those nodes call
    reads: frozenset[tuple[str | None, str]] = frozenset()  # (function, node): RestoreV2 nodes

    def allowed(self, node: str, function: str | None, allowed: frozenset[str]) -> frozenset[str]:
        if (function, node) in self.reads:
            return allowed | {"RestoreV2"}
        saving = node in self.save_nodes if function is None else function in self.save_functions
        return allowed | CHECKPOINT_OPS if saving else allowed


def parse_graph_def(data: bytes) -> Any:
    """The GraphDef in ``data``; a ``BreedbenchError`` when it is not one (or has no nodes)."""
    from google.protobuf.message import DecodeError
    from tensorflow.core.framework import graph_pb2

    gd = graph_pb2.GraphDef()
    try:
        gd.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise BreedbenchError(f"not a TensorFlow GraphDef: {exc}") from None
    if not gd.node:
        raise BreedbenchError("not a TensorFlow GraphDef (no nodes)")
    return gd


def parse_saved_model(path: Path) -> Any:
    """``saved_model.pb`` of the folder at ``path``, parsed (never loaded)."""
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    sm = saved_model_pb2.SavedModel()
    try:
        sm.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise BreedbenchError(f"{path}: saved_model.pb is not a SavedModel: {exc}") from None
    except OSError as exc:
        raise BreedbenchError(f"{path}: cannot read saved_model.pb: {exc}") from None
    if not sm.meta_graphs:
        raise BreedbenchError(f"{path}: the SavedModel has no meta graph")
    return sm


def frozen_graph_refusals(data: bytes) -> list[Refusal]:
    return graph_def_refusals(parse_graph_def(data))


def saved_model_refusals(path: Path) -> list[Refusal]:
    """Every meta graph of the SavedModel at ``path``, with its library."""
    found: list[Refusal] = []
    for meta_graph in parse_saved_model(path).meta_graphs:
        found += graph_def_refusals(meta_graph.graph_def, checkpoint_ops(meta_graph))
    return merge(found)


def graph_def_refusals(graph_def: Any, checkpoint: CheckpointOps | None = None) -> list[Refusal]:
    """Each op of the graph and its library that is not allowed, once, at its first node."""
    allowed = allowed_ops()
    ckpt = checkpoint or CheckpointOps()
    library = {f.signature.name: f for f in graph_def.library.function}
    found: list[Refusal] = []
    for node in graph_def.node:
        found += _node_refusals(node, None, ckpt.allowed(node.name, None, allowed), library)
    for fn in graph_def.library.function:
        name = fn.signature.name
        for node in fn.node_def:
            found += _node_refusals(node, name, ckpt.allowed(node.name, name, allowed), library)
    return merge(found)


def _node_refusals(
    node: Any, function: str | None, allowed: frozenset[str], library: Mapping[str, Any]
) -> Iterator[Refusal]:
    if node.op not in library and node.op not in allowed:
        yield Refusal(node.op, node_where(node.name, function), reason_for(node.op))
    for name in _attr_functions(node):
        if name not in library and name not in allowed:
            where = f"called by {node_where(node.name, function)}"
            yield Refusal(name, where, reason_for(name))


def _attr_functions(node: Any) -> Iterator[str]:
    for value in node.attr.values():
        yield from _functions_in(value)


def _functions_in(value: Any) -> Iterator[str]:
    """Function names in an ``AttrValue`` (a ``func``, a list of them, and their own attrs)."""
    kind = value.WhichOneof("value")
    funcs = [value.func] if kind == "func" else list(value.list.func) if kind == "list" else []
    for f in funcs:
        if f.name:
            yield f.name
        for inner in f.attr.values():
            yield from _functions_in(inner)


def _calls(node: Any, library: Mapping[str, Any]) -> set[str]:
    """The library functions a node calls."""
    names = {n for n in _attr_functions(node) if n in library}
    if node.op in library:
        names.add(node.op)
    return names


def _reachable(start: Iterable[str], nexts: Callable[[str], Iterable[str]]) -> set[str]:
    """Every name reached from ``start`` (itself included) by following ``nexts``."""
    seen: set[str] = set()
    todo = list(start)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += [n for n in nexts(name) if n not in seen]
    return seen


def _closure(start: Iterable[str], library: Mapping[str, Any]) -> set[str]:
    """The library functions ``start`` calls, directly or through other functions."""
    return _reachable(
        (n for n in start if n in library),
        lambda f: (c for node in library[f].node_def for c in _calls(node, library)),
    )


def _ancestors(start: Iterable[str], nodes: Mapping[str, Any]) -> set[str]:
    """The graph nodes ``start`` reads from, directly or not (control inputs included)."""
    return _reachable(
        (n for n in start if n in nodes),
        lambda n: (i for i in map(node_name, nodes[n].input) if i in nodes),
    )


def _only_needed_by(start: str, nodes: Mapping[str, Any], roots: set[str]) -> set[str]:
    """The nodes ``start`` needs that nothing else needs: no other node and none of ``roots``
    (what a loader or a signature fetches by name)."""
    if start not in nodes:
        return set()
    side = _ancestors([start], nodes)
    return side - _ancestors((nodes.keys() - side) | roots, nodes)


def _tensor_names(info: Any) -> Iterator[str]:
    """The tensors a signature's ``TensorInfo`` names (dense, sparse or composite)."""
    kind = info.WhichOneof("encoding")
    if kind == "name":
        yield info.name
    elif kind == "coo_sparse":
        sparse = info.coo_sparse
        yield from (sparse.values_tensor_name, sparse.indices_tensor_name)
        yield sparse.dense_shape_tensor_name
    elif kind == "composite_tensor":
        for component in info.composite_tensor.components:
            yield from _tensor_names(component)


def _loader_roots(meta_graph: Any) -> set[str]:
    """The graph nodes a loader or a caller fetches by name: every signature's inputs and
    outputs (``__saved_model_init_op`` among them) and every node a collection lists (TF1's
    ``saved_model_main_op``, ``legacy_init_op``, ``table_initializer``…)."""
    names = [
        t
        for sig in meta_graph.signature_def.values()
        for info in [*sig.inputs.values(), *sig.outputs.values()]
        for t in _tensor_names(info)
    ]
    names += [v for c in meta_graph.collection_def.values() for v in c.node_list.value]
    return {node_name(n) for n in names if n}


def checkpoint_ops(meta_graph: Any) -> CheckpointOps:
    """Where the meta graph's own saver may use checkpoint ops (the rules in the module's
    docstring): the save side where only the save tensor reaches it, and ``RestoreV2`` reading
    the fed checkpoint path where only the restore op reaches it."""
    graph_def = meta_graph.graph_def
    saver_def = meta_graph.saver_def
    nodes = {n.name: n for n in graph_def.node}
    library = {f.signature.name: f for f in graph_def.library.function}
    roots = _loader_roots(meta_graph)
    listed = set(meta_graph.object_graph_def.concrete_functions.keys())
    save_nodes = _only_needed_by(node_name(saver_def.save_tensor_name), nodes, roots)
    saver_functions = _closure({f for n in save_nodes for f in _calls(nodes[n], library)}, library)
    other_calls = {f for n in nodes.keys() - save_nodes for f in _calls(nodes[n], library)}
    others = other_calls | (library.keys() - saver_functions) | listed
    save_functions = saver_functions - _closure(others, library)
    reads: set[tuple[str | None, str]] = set()
    if saver_def.filename_tensor_name:
        restore_nodes = _only_needed_by(node_name(saver_def.restore_op_name), nodes, roots)
        filename = tensor_name(saver_def.filename_tensor_name)
        reads |= {
            (None, n) for n in restore_nodes if _reads_from(nodes[n], {filename}, tensor_name)
        }
        reads |= _restore_function_reads(graph_def, library, restore_nodes, filename, listed)
    return CheckpointOps(frozenset(save_nodes), frozenset(save_functions), frozenset(reads))


def _reads_from(node: Any, prefixes: set[str], name: Callable[[str], str]) -> bool:
    """A ``RestoreV2`` whose ``prefix`` (its first input) is one of ``prefixes``."""
    return node.op == "RestoreV2" and bool(node.input) and name(node.input[0]) in prefixes


def _restore_function_reads(
    graph_def: Any,
    library: Mapping[str, Any],
    restore_nodes: set[str],
    filename: str,
    listed: set[str],
) -> set[tuple[str | None, str]]:
    """``RestoreV2`` nodes of functions that only restore-side call nodes call, whose prefix is
    the argument every such call passes the fed ``filename`` (TF2's ``__inference__traced_restore``
    called by the ``StatefulPartitionedCall`` that is the restore op)."""
    called_in_library = {
        f for fn in library.values() for node in fn.node_def for f in _calls(node, library)
    }
    callers: dict[str, list[Any]] = {}
    for node in graph_def.node:
        for f in _calls(node, library):
            callers.setdefault(f, []).append(node)
    reads: set[tuple[str | None, str]] = set()
    for name, calling in callers.items():
        if name in called_in_library or name in listed:
            continue
        if any(c.name not in restore_nodes for c in calling):
            continue
        fn = library[name]
        positions = set.intersection(*(_filename_positions(c, name, filename) for c in calling))
        arg_names = [a.name for a in fn.signature.input_arg]
        args = {arg_names[k] for k in positions if k < len(arg_names)}
        reads |= {(name, n.name) for n in fn.node_def if _reads_from(n, args, str)}
    return reads


def _filename_positions(call: Any, function: str, filename: str) -> set[int]:
    """The argument positions at which ``call`` passes ``filename`` to ``function`` (none when
    it calls it any other way than once, by op or as a ``PartitionedCall``'s ``f``)."""
    named = list(_attr_functions(call))
    by_op = call.op == function and function not in named
    by_f = call.op in CALL_OPS and named == [function] and call.attr["f"].func.name == function
    if not (by_op or by_f):
        return set()
    data = [i for i in call.input if not i.startswith("^")]
    return {k for k, i in enumerate(data) if tensor_name(i) == filename}
