"""The app says how a run's latency was measured, and shows a version's quantization as read
from its file."""

from __future__ import annotations

from db.database import Database
from db.models import EvalRun, ModelVersion
from evaluator.latency import BatchTime, summarise
from evaluator.quantization import Quantization
from tests.fixtures.app import open_app
from tests.fixtures.seeding import Seeded


def test_run_details_say_how_latency_was_measured(app_env: Database, seeded: Seeded) -> None:
    run_id = seeded.runs["pb-1"]
    at = open_app("run_details.py", query={"run": str(run_id)})
    captions = " ".join(c.value for c in at.caption)
    assert "recorded before warm-up was measured apart" in captions  # a run from before

    latency_ms, latency = summarise(
        [BatchTime(8, 900.0), BatchTime(8, 80.0), BatchTime(8, 96.0)], 8, load_ms=2400.0
    )
    with app_env.session() as s:
        run = s.get(EvalRun, run_id)
        assert run is not None
        run.metrics = {**run.metrics, "latency_ms": latency_ms, "latency": latency}
    at = open_app("run_details.py", query={"run": str(run_id)})
    captions = " ".join(c.value for c in at.caption)
    assert "p50/p95 over 2 steady-state batches (16 images)" in captions
    assert "load 2,400 ms, first batch 900 ms (8 images)" in captions  # the warm-up, apart
    metric = next(m for m in at.metric if m.label == "latency p50")
    assert metric.value == "11.0 ms"  # the steady batches' 10 and 12 ms, not the warm-up's 112


def test_models_page_shows_the_quantization_read_from_the_file(
    app_env: Database, seeded: Seeded
) -> None:
    with app_env.session() as s:
        child = s.get(ModelVersion, seeded.child_id)
        assert child is not None
        child.quantization = Quantization("int8", "uint8", "uint8", integer_ops=5).to_dict()
    at = open_app("models.py")
    text = " ".join(m.value for m in at.markdown)
    assert "↳ **1-dynamic** · `tflite` · 30.7 MB · int8 (uint8 I/O)" in text
    trade = at.dataframe[0].value
    assert list(trade["quantization"]) == ["-", "int8 (uint8 I/O)"]
