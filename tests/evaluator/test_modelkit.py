"""The tiny models other tests rely on are what they claim to be."""

from __future__ import annotations

import numpy as np

from tests.modelkit import TinyModels, synthetic_dataset


def test_tiny_tflite_files_have_the_promised_io(tiny_models: TinyModels) -> None:
    from ai_edge_litert.interpreter import Interpreter

    expected = {
        tiny_models.sub_float: np.float32,
        tiny_models.sub_dynamic: np.float32,
        tiny_models.sub_int8: np.int8,
        tiny_models.sub_uint8: np.uint8,
    }
    for path, dtype in expected.items():
        interp = Interpreter(str(path))
        inp = interp.get_input_details()[0]
        out = interp.get_output_details()[0]
        assert inp["dtype"] == dtype and out["dtype"] == dtype
        assert list(inp["shape"]) == [1, tiny_models.size, tiny_models.size, 3]
        assert list(out["shape"]) == [len(tiny_models.labels), 1]


def test_tiny_model_learned_the_classes(tiny_models: TinyModels) -> None:
    from tests.modelkit import reference_probabilities

    x, y = synthetic_dataset(len(tiny_models.labels), per_class=10, seed=3)
    probs = reference_probabilities(tiny_models.keras, (x.astype(np.float32) - 128) / 128)
    assert (probs.argmax(1) == y).mean() > 0.7
