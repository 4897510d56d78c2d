"""The evaluator's commands through Typer's CliRunner, with their one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.models import EvalRun, Prediction
from evaluator.results import list_runs
from tests.cli.helpers import cli
from tests.fixtures.evaluation import EvalSet, batchable_spec, register
from tests.modelkit import TinyModels, graph_with_ops


def spec_file(tmp_path: Path, tiny: TinyModels) -> Path:
    """The tiny model on top of the classic .lite preset: only size and labels differ."""
    path = tmp_path / "tiny-lite.toml"
    path.write_text(
        f"[input]\nsize = [{tiny.size}, {tiny.size}]\n"
        f'[labels]\nfile = "{tiny.labels_file}"\norder = "file"\n'
    )
    return path


def test_models_evaluate_history_report_compare(
    eval_set: EvalSet, tiny_models: TinyModels, tmp_path: Path
) -> None:
    spec = spec_file(tmp_path, tiny_models)
    code, out = cli(
        eval_set, "models", "add", tiny_models.sub_float, "--name", "tiny", "--version", "1",
        "--preset", "inception-breeds-lite", "--spec", spec,
    )  # fmt: skip
    assert code == 0, out
    assert "Registered tiny:1 (tflite, float32, " in out and "4 labels" in out
    code, out = cli(
        eval_set, "models", "add", tiny_models.sub_int8, "--name", "tiny", "--version", "2",
        "--preset", "inception-breeds-lite", "--spec", spec, "--parent", "tiny:1",
    )  # fmt: skip
    assert code == 0, out
    code, out = cli(eval_set, "models", "list", width=200)
    assert code == 0 and "tiny" in out and "tflite" in out and "Sub" in out
    # Read from the files: neither was converted here.
    assert re.search(r"│ 1 +│ tflite +│ float32 +│", out)
    assert re.search(r"│ 2 +│ tflite +│ int8 \(int8 I/O\) +│", out)

    code, out = cli(eval_set, "evaluate", "tiny:1", "--threads", "1", "--batch", "4", width=200)
    assert code == 0, out
    first = int(re.search(r"Recorded run #(\d+)", out).group(1))
    assert "top-1" in out and "top-5" in out and "24/24" in out
    assert re.search(r"│ warm-up ms \(load \+ 1st batch\) +│ +│ +\d+ │", out)
    assert (
        "Latency: per image = batch time / images in the batch, batches of up to 4; p50/p95 "
        "over 5 steady-state batches (20 images); warm-up apart: load " in out
    )
    assert "1 images of breeds the model cannot predict excluded" in out
    code, out = cli(eval_set, "evaluate", "tiny", "--limit", "10")
    assert code == 0, out
    second = int(re.search(r"Recorded run #(\d+)", out).group(1))

    code, out = cli(eval_set, "history")
    assert code == 0, out
    rows = re.findall(r"^│\s*(\d+) │", out, re.MULTILINE)
    assert rows == [str(second), str(first)]  # newest first
    code, out = cli(eval_set, "history", "tiny:1")
    assert code == 0 and "tiny:2" not in out

    code, out = cli(eval_set, "report", first, "--format", "json")
    assert code == 0
    assert json.loads(out)["run"]["n_images"] == 24
    html_path = tmp_path / "r.html"
    code, out = cli(eval_set, "report", first, "--format", "html", "-o", html_path)
    assert code == 0 and "<svg" in html_path.read_text()
    code, out = cli(eval_set, "report", first, "--format", "pdf")
    assert code == 1 and "Error: --format 'pdf'" in out

    code, out = cli(eval_set, "compare", first, second)
    assert code == 0, out
    assert "10 shared images" in out and "McNemar (top-1)" in out

    # history: each run's top-1 change against the same version's previous run, flagged when
    # that run saw other images
    code, out = cli(eval_set, "evaluate", "tiny:1", "--limit", "10")
    assert code == 0, out
    third = int(re.search(r"Recorded run #(\d+)", out).group(1))
    with eval_set.db.session() as s:
        top1 = {r.id: r.top1 for r in list_runs(s, "tiny", "1")}
    code, out = cli(eval_set, "history", "tiny:1")
    assert code == 0, out
    rows = {int(m[0]): m[1] for m in re.findall(r"^│\s*(\d+) │(.*)$", out, re.MULTILINE)}
    assert set(rows) == {first, third}
    # (the 80-column table may cut the note short)
    assert f"{100 * (top1[third] - top1[first]):+.1f} (other" in rows[third]
    assert "(other" not in rows[first]


def test_cli_errors_are_one_line(
    eval_set: EvalSet, tiny_models: TinyModels, tmp_path: Path
) -> None:
    code, out = cli(eval_set, "evaluate", "nope")
    assert code == 1 and out.startswith("Error: no model version 'nope'")
    assert "Traceback" not in out
    code, out = cli(
        eval_set, "models", "add", tiny_models.classic_pb, "--name", "x", "--version", "1"
    )
    assert code == 1 and "--spec SPEC.toml and/or --preset" in out
    code, out = cli(
        eval_set, "models", "add", tiny_models.classic_pb, "--name", "x", "--version", "1",
        "--preset", "inception-breeds-pb",
    )  # fmt: skip
    # the preset's 120 labels are fine; the tiny graph's tensors are too, so this registers...
    assert code == 0, out
    code, out = cli(eval_set, "evaluate", "x")
    # ...but its 4 outputs do not match 120 labels: stopped before anything is recorded
    assert code == 1 and "outputs 4 values per image but the labels list 120 classes" in out
    code, out = cli(eval_set, "history")
    assert "0 runs" in out
    evil = graph_with_ops(tmp_path / "evil.pb", ["WriteFile"])
    code, out = cli(
        eval_set, "models", "add", evil, "--name", "e", "--version", "1",
        "--preset", "inception-breeds-pb-jpeg",
    )  # fmt: skip
    assert code == 1 and "WriteFile" in out and "--trust-model" in out
    code, out = cli(eval_set, "report", "999")
    assert code == 1 and "no evaluation run 999" in out


def interrupt_at_batch(monkeypatch: pytest.MonkeyPatch, n: int) -> list[int]:
    """Ctrl-C while the real evaluation scores its ``n``-th batch (earlier ones were scored);
    the sizes of the batches scored are listed as they come."""
    from evaluator import pipeline

    real = pipeline.score_batch
    scored: list[int] = []

    def score_batch(outputs, images, *args, **kwargs):  # type: ignore[no-untyped-def]
        if len(scored) == n - 1:
            raise KeyboardInterrupt
        scored.append(len(images))
        return real(outputs, images, *args, **kwargs)

    monkeypatch.setattr(pipeline, "score_batch", score_batch)
    return scored


def test_interrupted_evaluate_says_nothing_was_recorded(
    eval_set: EvalSet, tiny_models: TinyModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(eval_set.db, tiny_models.batchable_pb, batchable_spec(tiny_models))
    scored = interrupt_at_batch(monkeypatch, 3)
    code, out = cli(eval_set, "evaluate", "tiny:1", "--batch", "4")
    assert code == 130 and "Interrupted: nothing recorded." in out
    assert scored == [4, 4]  # two batches were scored in memory before the interrupt...
    with eval_set.db.session() as s:  # ...and none of it reached the database
        assert s.scalar(select(func.count()).select_from(EvalRun)) == 0
        assert s.scalar(select(func.count()).select_from(Prediction)) == 0
    assert "0 runs" in cli(eval_set, "history").output
