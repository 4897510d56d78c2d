"""Models are code: what a model file would do besides computing, found without running it.

A TensorFlow graph can read and write files, print, sleep, reach the network or run Python as
easily as it multiplies matrices, and a ``.keras`` config names code to import. Every format is
checked against what only computes:

- frozen ``.pb`` and SavedModel: every op of the graph and of every function in its library
  against ``allowed_ops.txt``, derived from TensorFlow's op registry (``allowlist``);
- ``.tflite``: builtin LiteRT operators only (no ``CUSTOM``, no ``Flex*`` TensorFlow kernels);
- ``.keras``: no ``Lambda``, no custom objects, no layers that load other files.

The registry runs the check when a version is registered (``models add`` refuses, or with
``--trust-model`` says what it waives) and again on the stored bytes whenever a version is
loaded; a version registered with ``--trust-model`` skips it then.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import BreedbenchError
from evaluator.safety.refusal import TRUST_HINT, Refusal, refusal_message

__all__ = ["TRUST_HINT", "Refusal", "model_refusals", "refusal_message"]

FORMATS = ("frozen_pb", "saved_model", "tflite", "keras")


def model_refusals(path: Path, fmt: str, content: bytes | None = None) -> list[Refusal]:
    """What in the model at ``path`` is not pure computation (empty: it only computes).

    ``content`` is the file's bytes when the caller has read them already: those bytes are
    checked (and ``path`` only names them in messages), so what is checked is what the caller
    hashes and loads. A SavedModel is a folder and is always read from ``path``.
    Raises ``BreedbenchError`` when the model cannot be read as ``fmt``.
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise BreedbenchError(f"no safety check for format {fmt!r}")
    if fmt == "saved_model":
        from evaluator.safety.graph_ops import saved_model_refusals

        return saved_model_refusals(path)
    if content is None:
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise BreedbenchError(f"cannot read {path}: {exc.strerror}") from None
    if fmt == "frozen_pb":
        from evaluator.safety.graph_ops import frozen_graph_refusals

        return frozen_graph_refusals(content)
    if fmt == "tflite":
        from evaluator.safety.tflite_ops import tflite_refusals

        return tflite_refusals(content)
    from evaluator.safety.keras_config import keras_refusals

    return keras_refusals(content, path)
