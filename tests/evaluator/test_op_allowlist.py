"""The allow-list against TensorFlow's own op registry, with a classification of its own.

The rules that build ``allowed_ops.txt`` live in ``evaluator.safety.allowlist``; the checks here
are written independently (CamelCase words, attr and input names, known offenders, TensorFlow's
``is_stateful``), so a rule that lets a file, print, sleep, network or Python op through fails
here even when the module's own rules agree with it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from evaluator.safety import allowlist

# Ops that reach outside the graph, by name: each must be registered and refused.
KNOWN_OFFENDERS = {
    "WriteFile",
    "ReadFile",
    "MatchingFiles",
    "DatasetToTFRecord",
    "ExperimentalDatasetToTFRecord",
    "InitializeTableFromTextFile",
    "InitializeTableFromTextFileV2",
    "PrintV2",
    "Print",
    "PyFunc",
    "PyFuncStateless",
    "EagerPyFunc",
    "Save",
    "SaveV2",
    "SaveSlices",
    "Restore",
    "RestoreV2",
    "RestoreSlice",
    "MergeV2Checkpoints",
    "ImmutableConst",
    "DecodeProtoV2",
    "EncodeProto",
    "SleepOp",
    "SleepIdentityOp",
    "SleepDataset",
    "CreateSummaryFileWriter",
    "WriteSummary",
    "WriteScalarSummary",
    "WriteImageSummary",
    "TFRecordDataset",
    "TextLineDataset",
    "WholeFileReaderV2",
    "ReaderReadV2",
    "ShardedFilename",
    "GenerateVocabRemapping",
    "LoadAndRemapMatrix",
    "RecordInput",
    "Skipgram",
    "DebugIdentity",
    "DebugIdentityV3",
    "Copy",
    "RpcClient",
    "RpcCall",
    "Send",
    "Recv",
    "CollectiveReduceV2",
    "NcclAllReduce",
    "XlaCallModule",
    "Abort",
    "Timestamp",
    "HashTableV2",
    "LookupTableFindV2",
    "BatchFunction",
    "DataServiceDatasetV4",
    "IteratorGetNext",
}

# CamelCase words that say an op touches files, prints, sleeps, talks to other processes or
# runs Python.
OUTSIDE_WORDS = {
    "File", "Files", "Filename", "Filespec", "Read", "Reader", "Write", "Writer", "Save",
    "Saver", "Restore", "Checkpoint", "Checkpoints", "Print", "Sleep", "Dataset", "Iterator",
    "Summary", "Rpc", "Send", "Recv", "Collective", "Nccl", "Py", "Immutable", "Proto", "Debug",
    "Queue", "Enqueue", "Dequeue", "Infeed", "Outfeed", "Abort", "Timestamp", "Remote",
    "Table", "Matching", "Load", "Dump", "Socket", "Http", "Url", "Tpu", "TPU", "Mlir", "Xla",
}  # fmt: skip

# Allowed ops that carry one of those words for an in-memory reason, reviewed one by one.
WORD_EXCEPTIONS = {
    "ReadVariableOp": "reads a resource variable (memory)",
    "DisableCopyOnRead": "a resource variable's copy-on-read flag (memory)",
    "TensorArrayReadV2": "stateless TensorArray element (memory)",
    "TensorArrayWriteV2": "stateless TensorArray element (memory)",
}

# Parts of attr or input names that name a place to reach.
PLACE_WORDS = re.compile(r"file|path|url|memory_region|descriptor|prefix|address|director")
PLACE_EXCEPTIONS = {("CTCBeamSearchDecoder", "top_paths")}  # a count of decoded paths

# Stateful ops that may pass: in-memory variables, calls whose functions are checked, control
# flow, assertions, random numbers. Anything else stateful must be refused.
STATEFUL_REVIEWED = {
    "VarHandleOp", "ReadVariableOp", "AssignVariableOp", "AssignAddVariableOp",
    "AssignSubVariableOp", "VarIsInitializedOp", "VariableShape", "DestroyResourceOp",
    "DisableCopyOnRead", "ResourceGather", "ResourceGatherNd", "VariableV2",
    "StatefulPartitionedCall", "If", "While", "Case", "Assert", "CheckNumerics",
    "CheckNumericsV2", "Empty", "GuaranteeConst", "RandomUniform", "RandomUniformInt",
    "RandomStandardNormal", "TruncatedNormal", "Multinomial", "RandomShuffle", "RandomGamma",
    "RandomPoisson", "RandomPoissonV2", "StatelessRandomGetAlg",
}  # fmt: skip

# What ordinary inference graphs and Keras 3 SavedModels are made of.
INFERENCE_OPS = {
    "Conv2D", "DepthwiseConv2dNative", "MatMul", "BatchMatMulV2", "BiasAdd", "Relu", "Relu6",
    "Elu", "Sigmoid", "Tanh", "FusedBatchNorm", "FusedBatchNormV3", "Softmax", "LogSoftmax",
    "Mean", "Max", "Sum", "Reshape", "Squeeze", "ConcatV2", "Pad", "PadV2", "MirrorPad",
    "MaxPool", "AvgPool", "Add", "AddV2", "AddN", "Sub", "Mul", "RealDiv", "Rsqrt", "Sqrt",
    "Maximum", "Minimum", "Cast", "ResizeBilinear", "ResizeNearestNeighbor", "ExpandDims",
    "DecodeJpeg", "DecodePng", "DecodeImage", "Identity", "IdentityN", "Const", "Placeholder",
    "PlaceholderWithDefault", "StridedSlice", "Slice", "Shape", "Pack", "Unpack", "Transpose",
    "GatherV2", "ArgMax", "TopKV2", "Fill", "Range", "Einsum", "NoOp", "PartitionedCall",
    "StatefulPartitionedCall", "StatelessIf", "StatelessWhile", "ReadVariableOp",
    "VarHandleOp", "AssignVariableOp", "VarIsInitializedOp", "Select", "SelectV2",
    "StringJoin", "StaticRegexFullMatch", "Assert", "EnsureShape", "StopGradient",
}  # fmt: skip


# Registered by TFLite's converter library when it first converts, not by ``import tensorflow``.
CONVERTER_OPS = {
    "TFLite_Detection_PostProcess",
    "UnidirectionalSequenceLstm",
    "UnidirectionalSequenceRnn",
}


@pytest.fixture(scope="module")
def registry() -> dict[str, Any]:
    return {op.name: op for op in allowlist.registered_op_defs()}


def camel_words(name: str) -> set[str]:
    return set(re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name))


def reaches_outside(op: Any) -> list[str]:
    """This test's own reasons to refuse an op (empty: it may pass)."""
    reasons = []
    words = camel_words(op.name) & OUTSIDE_WORDS
    if words and op.name not in WORD_EXCEPTIONS:
        reasons.append(f"name says {sorted(words)}")
    if op.name in KNOWN_OFFENDERS:
        reasons.append("known offender")
    names = [a.name for a in op.attr] + [a.name for a in op.input_arg]
    places = [n for n in names if PLACE_WORDS.search(n) and (op.name, n) not in PLACE_EXCEPTIONS]
    if places:
        reasons.append(f"takes a place: {places}")
    if op.is_stateful and op.name not in STATEFUL_REVIEWED:
        reasons.append("stateful, not reviewed")
    if op.name.startswith("_"):
        reasons.append("internal")
    return reasons


def test_no_allowed_op_reads_writes_prints_sleeps_or_reaches_out(registry: dict) -> None:
    allowed = allowlist.allowed_ops()
    leaks = {
        name: reaches_outside(registry[name])
        for name in sorted(allowed & registry.keys())
        if reaches_outside(registry[name])
    }
    assert leaks == {}


def test_known_offenders_are_registered_and_refused(registry: dict) -> None:
    assert KNOWN_OFFENDERS - registry.keys() == set()  # a renamed op would hide here
    assert KNOWN_OFFENDERS & allowlist.allowed_ops() == set()


def test_every_op_with_a_file_or_path_attr_is_refused(registry: dict) -> None:
    with_place = {
        name
        for name, op in registry.items()
        if any(re.search(r"file|path", a.name) for a in op.attr)
        and (name, "top_paths") not in PLACE_EXCEPTIONS
    }
    assert with_place, "the registry has no such op: the test lost its subject"
    assert with_place & allowlist.allowed_ops() == set()


def test_ordinary_inference_ops_are_allowed() -> None:
    assert INFERENCE_OPS - allowlist.allowed_ops() == set()


def test_the_allow_list_matches_the_installed_registry(registry: dict) -> None:
    """Every allowed op is registered, and the rules give exactly the committed file: after a
    TensorFlow upgrade or a rule change, run ``python -m evaluator.safety.allowlist``."""
    committed = allowlist.allowed_ops()
    assert committed - registry.keys() == set()
    derived, excluded = allowlist.derive(registry.values())
    # The file is made in a fresh process; TFLite's converter registers a few ops of its own
    # the first time it runs (the test run converts models), which the file leaves out.
    assert committed <= set(derived)
    assert set(derived) - committed <= CONVERTER_OPS
    assert len(derived) + len(excluded) == len(registry)


def test_the_committed_file_is_sorted_one_op_per_line() -> None:
    lines = allowlist.ALLOWED_OPS_FILE.read_text(encoding="utf-8").splitlines()
    ops = [line for line in lines if not line.startswith("#")]
    assert ops == sorted(set(ops)) and all(op and op.strip() == op for op in ops)


def test_every_exclusion_says_why(registry: dict) -> None:
    _, excluded = allowlist.derive(registry.values())
    by_op = {e.op: e.reason for e in excluded}
    assert by_op["WriteFile"] == "can write files"
    assert by_op["ReadFile"] == by_op["InitializeTableFromTextFileV2"] == "can read files"
    assert by_op["EagerPyFunc"] == "runs Python"
    assert by_op["GenerateVocabRemapping"].startswith("takes a place to reach (new_vocab_file")
    assert by_op["RandomCrop"] == "is stateful"
