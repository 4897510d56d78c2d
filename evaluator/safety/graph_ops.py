"""TensorFlow graphs, op by op: frozen GraphDefs and SavedModels, read as protocol buffers.

Nothing is imported into a graph or loaded: the check must not run what it is checking. Every
node of the graph and of every function in its library is looked up in the allow-list; a node
whose op names a library function is a call (that function is checked in turn), and so is every
function an attr names (``PartitionedCall``'s ``f``, ``If``'s branches, ``While``'s body…).
A called name that is *not* in the library is an op TensorFlow would instantiate as a function,
so it is checked against the allow-list like a node's op.

SavedModels also carry the functions TensorFlow itself wrote to save and restore checkpoints
(``__inference__traced_save_*`` with ``SaveV2``, ``MergeV2Checkpoints``; ``*_traced_restore_*``
with ``RestoreV2``). The TF2 loader restores variables with its own ops and never runs them, so
those checkpoint ops are accepted where, and only where, nothing but the meta graph's
``saver_def`` reaches them: in graph nodes that feed only the saver's save and restore nodes,
and in functions that only such nodes call. Everything else in them is checked as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from core.errors import BreedbenchError
from evaluator.safety.allowlist import allowed_ops
from evaluator.safety.refusal import Refusal, merge, node_where, reason_for

# How TensorFlow's own savers read and write the checkpoint in ``variables/``.
CHECKPOINT_OPS = frozenset(
    {"SaveV2", "RestoreV2", "MergeV2Checkpoints", "ShardedFilename", "ShardedFilespec"}
)


def parse_graph_def(data: bytes) -> Any:
    """The GraphDef in ``data``; a ``BreedbenchError`` when it is not one."""
    from google.protobuf.message import DecodeError
    from tensorflow.core.framework import graph_pb2

    gd = graph_pb2.GraphDef()
    try:
        gd.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise BreedbenchError(f"not a TensorFlow GraphDef: {exc}") from None
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


def frozen_graph_refusals(path: Path) -> list[Refusal]:
    return graph_def_refusals(parse_graph_def(Path(path).read_bytes()))


def saved_model_refusals(path: Path) -> list[Refusal]:
    """Every meta graph of the SavedModel at ``path``, with its library."""
    found: list[Refusal] = []
    for meta_graph in parse_saved_model(path).meta_graphs:
        nodes, functions = checkpoint_only(meta_graph)
        found += graph_def_refusals(
            meta_graph.graph_def, checkpoint_nodes=nodes, checkpoint_functions=functions
        )
    return merge(found)


def graph_def_refusals(
    graph_def: Any,
    *,
    checkpoint_nodes: Iterable[str] = (),
    checkpoint_functions: Iterable[str] = (),
) -> list[Refusal]:
    """Each op of the graph and its library that is not allowed, once, at its first node."""
    allowed = allowed_ops()
    with_checkpoint = allowed | CHECKPOINT_OPS
    ckpt_nodes, ckpt_functions = set(checkpoint_nodes), set(checkpoint_functions)
    library = {f.signature.name: f for f in graph_def.library.function}
    found: list[Refusal] = []
    for node in graph_def.node:
        ok = with_checkpoint if node.name in ckpt_nodes else allowed
        found += _node_refusals(node, None, ok, library)
    for fn in graph_def.library.function:
        name = fn.signature.name
        ok = with_checkpoint if name in ckpt_functions else allowed
        for node in fn.node_def:
            found += _node_refusals(node, name, ok, library)
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


def _tensor_node(name: str) -> str:
    return name.lstrip("^").split(":")[0]


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
        lambda n: (i for i in map(_tensor_node, nodes[n].input) if i in nodes),
    )


def checkpoint_only(meta_graph: Any) -> tuple[set[str], set[str]]:
    """The graph nodes and library functions reached only through the meta graph's saver."""
    graph_def = meta_graph.graph_def
    saver_def = meta_graph.saver_def
    nodes = {n.name: n for n in graph_def.node}
    library = {f.signature.name: f for f in graph_def.library.function}
    saver = {_tensor_node(t) for t in (saver_def.save_tensor_name, saver_def.restore_op_name) if t}
    feeds_saver = _ancestors(saver & nodes.keys(), nodes)
    feeds_others = _ancestors(nodes.keys() - feeds_saver, nodes)
    ckpt_nodes = feeds_saver - feeds_others
    saver_functions = _closure(
        (f for name in ckpt_nodes for f in _calls(nodes[name], library)), library
    )
    roots = {f for name in nodes.keys() - ckpt_nodes for f in _calls(nodes[name], library)}
    roots |= library.keys() - saver_functions
    return ckpt_nodes, saver_functions - _closure(roots, library)
