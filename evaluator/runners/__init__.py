"""Runners, picked by the version's format. Only ``frozen_graph`` imports TensorFlow.

Each runner module also owns the registration check of its format, ``check(path, spec)``: the
problems that would make the file unusable as the spec says (empty: fine), found without
running the model.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import BreedbenchError
from evaluator.runners.base import Item, Runner
from evaluator.spec import ModelSpec

__all__ = ["Item", "Runner", "check_model_file", "load_runner"]


def check_model_file(path: Path, fmt: str, spec: ModelSpec, *, trusted: bool = False) -> list[str]:
    """The problems the runner for ``fmt`` finds in the file at ``path`` (empty: fine).

    Models are code: each format's check refuses what would do more than compute
    (``evaluator.safety``), unless ``trusted`` (``--trust-model``) says the person vouches
    for the file.
    """
    if fmt == "tflite":
        from evaluator.runners import litert

        return litert.check(path, spec, trusted=trusted)
    if fmt == "frozen_pb":
        from evaluator.runners import frozen_graph

        return frozen_graph.check(path, spec, trusted=trusted)
    if fmt in ("keras", "saved_model"):
        from evaluator.runners import keras_model

        return keras_model.check(path, spec, trusted=trusted)
    raise BreedbenchError(f"no runner for format {fmt!r}")


def load_runner(
    path: Path, fmt: str, spec: ModelSpec, threads: int | None = None, batch: int = 32
) -> Runner:
    """Load the model file at ``path`` ready to ``predict``."""
    if fmt == "tflite":
        from evaluator.runners.litert import LiteRTRunner

        return LiteRTRunner(path, spec, threads=threads, batch=batch)
    if fmt == "frozen_pb":
        from evaluator.runners.frozen_graph import FrozenGraphRunner

        return FrozenGraphRunner(path, spec, threads=threads, batch=batch)
    if fmt in ("keras", "saved_model"):
        from evaluator.runners.keras_model import KerasRunner

        return KerasRunner(path, fmt, spec, threads=threads, batch=batch)
    raise BreedbenchError(f"no runner for format {fmt!r}")
