"""LiteRT runner: the Sub-input .lite expects x − 128, quantized I/O, batching, no TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from evaluator.pipeline import evaluate
from evaluator.runners.litert import LiteRTRunner
from evaluator.spec import ModelSpec
from tests.evaluator.test_pipeline import run_ranks
from tests.fixtures.evaluation import EvalSet, classic_spec, lite_spec, register
from tests.modelkit import TinyModels


def test_sub_input_lite_with_x_minus_128_reproduces_the_frozen_graph(
    eval_set: EvalSet, tiny_models: TinyModels
) -> None:
    """The classic .lite is the classic graph from Sub on: fed the TF-resized image minus 128,
    it ranks every image as the graph does; fed raw pixels (the original study's mistake), not."""
    register(eval_set.db, tiny_models.classic_pb, classic_spec(tiny_models), "pb")
    register(eval_set.db, tiny_models.sub_float, lite_spec(tiny_models), "lite")
    register(eval_set.db, tiny_models.sub_float, lite_spec(tiny_models, offset=0.0), "raw")
    pb = evaluate(eval_set.db, "pb", threads=1)
    lite = evaluate(eval_set.db, "lite", threads=1)
    raw = evaluate(eval_set.db, "raw", threads=1)
    assert run_ranks(eval_set, lite.run_id) == run_ranks(eval_set, pb.run_id)
    assert run_ranks(eval_set, raw.run_id) != run_ranks(eval_set, pb.run_id)
    assert raw.metrics["top1"]["correct"] < pb.metrics["top1"]["correct"]


@pytest.mark.parametrize(("which", "dtype"), [("sub_int8", np.int8), ("sub_uint8", np.uint8)])
def test_quantized_io_uses_scale_and_zero_point(
    tiny_models: TinyModels, eval_set: EvalSet, which: str, dtype: type
) -> None:
    from ai_edge_litert.interpreter import Interpreter

    path = getattr(tiny_models, which)
    # The file's own quantization of its input and output, read apart from the runner.
    interp = Interpreter(model_path=str(path))
    (inp,) = interp.get_input_details()
    (out,) = interp.get_output_details()
    scale, zero_point = inp["quantization"]
    out_scale, out_zero = out["quantization"]
    assert inp["dtype"] == dtype and out["dtype"] == dtype
    assert scale > 0 and out_scale > 0
    runner = LiteRTRunner(path, ModelSpec.from_dict(lite_spec(tiny_models)), threads=1, batch=1)
    real = np.array([-128.0, -0.4, 0.0, 37.0, 127.0, 1e6, -1e6], np.float32)
    info = np.iinfo(dtype)
    expected = np.clip(np.round(real / scale + zero_point), info.min, info.max)
    q = runner.quantize(real)
    assert q.dtype == dtype
    np.testing.assert_array_equal(q, expected)
    assert (q[-2], q[-1]) == (info.max, info.min)  # out of range: clipped, not wrapped
    raw = np.array([info.min, out_zero, info.max], dtype)
    np.testing.assert_allclose(
        runner.dequantize(raw), (raw.astype(np.float32) - out_zero) * out_scale, rtol=1e-6
    )
    x = np.random.default_rng(0).uniform(-128, 127, (1, 32, 32, 3)).astype(np.float32)
    probs = runner.predict(x)
    assert probs.shape == (1, 4) and probs.dtype == np.float32
    assert 0.9 < probs.sum() < 1.1  # dequantized softmax
    # end to end, the int8 model agrees with the float one on most images
    register(eval_set.db, tiny_models.sub_float, lite_spec(tiny_models), "float")
    register(eval_set.db, path, lite_spec(tiny_models), "q")
    a = run_ranks(eval_set, evaluate(eval_set.db, "float").run_id)
    b = run_ranks(eval_set, evaluate(eval_set.db, "q").run_id)
    same_top1 = sum((a[i] == 1) == (b[i] == 1) for i in a)
    assert same_top1 >= 0.8 * len(a)


def test_lite_batching_on_and_off(
    eval_set: EvalSet, tiny_models: TinyModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of 7 over 24 images: the last batch of 3 is padded to the 7 the interpreter was
    sized for (never re-allocated), and every image is recorded once, ranked as one by one."""
    asked: list[int] = []  # images in each batch the pipeline hands over
    fed: list[int] = []  # rows the interpreter is given for each
    predict, quantize = LiteRTRunner.predict, LiteRTRunner.quantize

    def spy_predict(self: LiteRTRunner, batch: list[object]) -> np.ndarray:
        asked.append(len(batch))
        return predict(self, batch)

    def spy_quantize(self: LiteRTRunner, x: np.ndarray) -> np.ndarray:
        fed.append(x.shape[0])
        return quantize(self, x)

    register(eval_set.db, tiny_models.sub_dynamic, lite_spec(tiny_models))
    monkeypatch.setattr(LiteRTRunner, "predict", spy_predict)
    monkeypatch.setattr(LiteRTRunner, "quantize", spy_quantize)
    batched = evaluate(eval_set.db, "tiny", batch=7, threads=2)
    n = len(eval_set.image_ids)
    assert n % 7, "the test needs a last batch smaller than the others"
    assert asked == [7] * (n // 7) + [n % 7]
    assert fed == [7] * len(asked)  # the short batch went in padded to the full size
    monkeypatch.undo()
    single = evaluate(eval_set.db, "tiny", batch=1, threads=1)
    assert (batched.settings["batch"], single.settings["batch"]) == (7, 1)
    assert batched.settings["threads"] == 2
    assert run_ranks(eval_set, batched.run_id) == run_ranks(eval_set, single.run_id)
    assert batched.metrics["n_images"] == n


def test_lite_evaluation_never_imports_tensorflow(
    eval_set: EvalSet, tiny_models: TinyModels
) -> None:
    register(eval_set.db, tiny_models.sub_int8, lite_spec(tiny_models))
    settings = eval_set.db.settings
    script = textwrap.dedent(
        f"""
        import json, sys
        from core.settings import Settings
        from db.database import open_database
        from evaluator.pipeline import evaluate
        from evaluator import registry, results, compare, report
        db = open_database(Settings(data_dir={str(settings.data_dir)!r},
                                    database_url={settings.database_url!r}))
        out = evaluate(db, "tiny", batch=4)
        print(json.dumps({{"n": out.metrics["n_images"], "tf": "tensorflow" in sys.modules}}))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"n": len(eval_set.image_ids), "tf": False}
