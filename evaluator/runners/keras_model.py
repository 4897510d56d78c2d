"""``.keras`` files and SavedModel folders, through Keras / TensorFlow (imported lazily)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BreedbenchError
from evaluator.runners.base import Item, as_rows
from evaluator.safety import model_refusals
from evaluator.spec import ModelSpec


def check(path: Path, spec: ModelSpec, *, trusted: bool = False) -> list[str]:
    """What the model would do besides computing (unless the person trusts it): a SavedModel's
    ops outside the allow-list, in every meta graph and function; a ``.keras`` config's
    ``Lambda`` layers and custom objects. Both are read as data, never loaded. The input kind
    and the signature's tensor names need the model loaded: ``KerasRunner`` checks them, before
    any run is recorded."""
    if trusted:
        return []
    fmt = "saved_model" if Path(path).is_dir() else "keras"
    try:
        return [str(r) for r in model_refusals(Path(path), fmt)]
    except BreedbenchError as exc:
        return [str(exc)]


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
        if fmt == "keras":
            import keras

            # Never deserialize stored Python bytecode (Lambda layers), whatever the default.
            try:
                model = keras.models.load_model(path, safe_mode=True)
            except ValueError as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                raise BreedbenchError(f"Keras refuses to load {path}: {first}") from None
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
