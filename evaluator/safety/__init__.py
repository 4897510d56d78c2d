"""Models are code: what a model file would do besides computing, found without running it.

A TensorFlow graph can read and write files, print, sleep, reach the network or run Python as
easily as it multiplies matrices, and a ``.keras`` config names code to import. Every format is
checked against what only computes:

- frozen ``.pb`` and SavedModel: every op of the graph and of every function in its library
  against ``allowed_ops.txt``, derived from TensorFlow's op registry (``allowlist``);
- ``.tflite``: builtin LiteRT operators only (no ``CUSTOM``, no ``Flex*`` TensorFlow kernels);
- ``.keras``: no ``Lambda``, no custom objects, no layers that load other files.

The check runs when a version is registered (``models add`` refuses) and again whenever a stored
version is loaded; a version registered with ``--trust-model`` skips it.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import BreedbenchError
from evaluator.safety.refusal import TRUST_HINT, Refusal

__all__ = ["TRUST_HINT", "Refusal", "model_refusals"]


def model_refusals(path: Path, fmt: str) -> list[Refusal]:
    """What in the model at ``path`` is not pure computation (empty: it only computes).

    Raises ``BreedbenchError`` when the file cannot be read as ``fmt``.
    """
    path = Path(path)
    if fmt == "frozen_pb":
        from evaluator.safety.graph_ops import frozen_graph_refusals

        return frozen_graph_refusals(path)
    if fmt == "saved_model":
        from evaluator.safety.graph_ops import saved_model_refusals

        return saved_model_refusals(path)
    if fmt == "tflite":
        from evaluator.safety.tflite_ops import tflite_refusals

        return tflite_refusals(path)
    if fmt == "keras":
        from evaluator.safety.keras_config import keras_refusals

        return keras_refusals(path)
    raise BreedbenchError(f"no safety check for format {fmt!r}")
