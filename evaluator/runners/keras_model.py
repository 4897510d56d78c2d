"""``.keras`` files and SavedModel folders, through Keras / TensorFlow (imported lazily)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BreedbenchError
from evaluator.runners.base import Item, as_rows
from evaluator.spec import ModelSpec


def check(path: Path, spec: ModelSpec) -> list[str]:
    """Nothing more to find without loading the model: what its config or graph would do
    besides computing is the registry's check (``evaluator.safety``, read as data), and the
    input kind and the signature's tensor names need the model loaded: ``KerasRunner`` checks
    them, before any run is recorded."""
    return []


def load_keras(path: Path) -> Any:
    """A ``.keras`` model, in safe mode whatever Keras' default: stored Python bytecode
    (``Lambda`` layers) is never deserialized. Keras' refusal is one line."""
    import keras

    # Keras prints some messages (a conversion's export lists its endpoints) to stdout unless
    # told to log them instead: the evaluator displays nothing itself. Per thread.
    keras.config.disable_interactive_logging()
    try:
        return keras.models.load_model(path, safe_mode=True)
    except ValueError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise BreedbenchError(f"Keras refuses to load {path}: {first}") from None


class KerasRunner:
    def __init__(
        self, path: Path, fmt: str, spec: ModelSpec, threads: int | None = None, batch: int = 32
    ) -> None:
        import tensorflow as tf

        if threads:
            # Already initialised in this process: keep its setting.
            with contextlib.suppress(RuntimeError):
                tf.config.threading.set_intra_op_parallelism_threads(threads)
        if spec.input.kind != "tensor":
            raise BreedbenchError(f'a {fmt} model needs input.kind = "tensor"')
        self.max_batch = max(1, batch)
        # Both formats are read from ``path`` (Keras and TensorFlow take no bytes for them): the
        # registry hashed and checked the stored file just before, but not these very reads.
        if fmt == "keras":
            model = load_keras(path)
            self._call: Any = lambda x: model(x, training=False)
        else:
            loaded = tf.saved_model.load(str(path))
            signature = loaded.signatures.get("serving_default")
            if signature is None:
                raise BreedbenchError(f"the SavedModel {path} has no serving_default signature")
            inputs = list(signature.structured_input_signature[1])
            outputs = list(signature.structured_outputs)
            in_name = (spec.input.tensor or inputs[0]).removesuffix(":0")
            out_name = (spec.output.tensor or outputs[0]).removesuffix(":0")
            if in_name not in inputs or out_name not in outputs:
                raise BreedbenchError(
                    f"the SavedModel {path} signature serving_default has inputs "
                    f"{', '.join(inputs)} and outputs {', '.join(outputs)}; the spec asks for "
                    f"{in_name!r} → {out_name!r}"
                )
            self._call = lambda x: signature(**{in_name: tf.constant(x)})[out_name]

    def predict(self, batch: Sequence[Item]) -> np.ndarray:
        x = np.stack([np.asarray(b, dtype=np.float32) for b in batch])
        return as_rows(np.asarray(self._call(x)), len(batch))

    def close(self) -> None:
        self._call = None
