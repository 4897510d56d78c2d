"""Runners, picked by the version's format. Only ``frozen_graph`` imports TensorFlow.

Each runner module also owns the registration check of its format, ``check(path, spec)``: the
problems that would make the file unusable as the spec says (empty: fine), found without
running the model. Whether the model does more than compute is the registry's check
(``evaluator.safety``), made before these run.

``content`` is a single-file model's bytes as the registry read, hashed and checked them: the
check and the runner use those bytes and never read the file again, so what runs is what was
checked. A SavedModel folder and a ``.keras`` file are read from ``path`` by TensorFlow/Keras.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import BreedbenchError
from evaluator.runners.base import Item, Runner
from evaluator.spec import ModelSpec

__all__ = ["Item", "Runner", "check_model_file", "load_runner"]


def check_model_file(
    path: Path, fmt: str, spec: ModelSpec, content: bytes | None = None
) -> list[str]:
    """The problems the runner for ``fmt`` finds in the model at ``path`` (empty: fine)."""
    if fmt == "tflite":
        from evaluator.runners import litert

        return litert.check(path, spec, content)
    if fmt == "frozen_pb":
        from evaluator.runners import frozen_graph

        return frozen_graph.check(path, spec, content)
    if fmt in ("keras", "saved_model"):
        from evaluator.runners import keras_model

        return keras_model.check(path, spec)
    raise BreedbenchError(f"no runner for format {fmt!r}")


def load_runner(
    path: Path,
    fmt: str,
    spec: ModelSpec,
    threads: int | None = None,
    batch: int = 32,
    *,
    content: bytes | None = None,
) -> Runner:
    """Load the model at ``path`` (from ``content`` when given) ready to ``predict``."""
    if fmt == "tflite":
        from evaluator.runners.litert import LiteRTRunner

        return LiteRTRunner(path, spec, threads=threads, batch=batch, content=content)
    if fmt == "frozen_pb":
        from evaluator.runners.frozen_graph import FrozenGraphRunner

        return FrozenGraphRunner(path, spec, threads=threads, batch=batch, content=content)
    if fmt in ("keras", "saved_model"):
        from evaluator.runners.keras_model import KerasRunner

        return KerasRunner(path, fmt, spec, threads=threads, batch=batch)
    raise BreedbenchError(f"no runner for format {fmt!r}")
