"""Runners, picked by the version's format. Only ``frozen_graph`` imports TensorFlow."""

from __future__ import annotations

from pathlib import Path

from core.errors import BreedbenchError
from evaluator.runners.base import Item, Runner
from evaluator.spec import ModelSpec

__all__ = ["Item", "Runner", "load_runner"]


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
