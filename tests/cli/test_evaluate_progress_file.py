"""``breedbench evaluate --progress-file``: the file the app's background evaluations read, with
the progress and then the outcome (finished, failed with the reason, or stopped)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli.helpers import cli
from tests.fixtures.evaluation import EvalSet, batchable_spec, register
from tests.modelkit import TinyModels


def content(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_a_finished_evaluation_leaves_its_counts_and_run(
    eval_set: EvalSet, tiny_models: TinyModels, tmp_path: Path
) -> None:
    register(eval_set.db, tiny_models.batchable_pb, batchable_spec(tiny_models))
    path = tmp_path / "jobs" / "j.progress.json"
    code, out = cli(eval_set, "evaluate", "tiny:1", "--limit", "7", "--progress-file", path)
    assert code == 0, out
    run_id = int(re.search(r"Recorded run #(\d+)", out).group(1))
    assert content(path) == {"done": 7, "total": 7, "status": "finished", "run_id": run_id}


def test_a_failure_says_why_once_in_the_output_and_in_the_file(
    eval_set: EvalSet, tmp_path: Path
) -> None:
    path = tmp_path / "p.json"
    code, out = cli(eval_set, "evaluate", "nope", "--progress-file", path)
    assert code == 1 and out.startswith("Error: no model version 'nope'")
    assert out.count("Error:") == 1 and "Traceback" not in out
    data = content(path)
    assert data["status"] == "failed" and data["error"].startswith("no model version 'nope'")
    assert "done" not in data  # it stopped before counting any image


def test_a_bug_keeps_its_traceback_in_the_output_and_its_summary_in_the_file(
    eval_set: EvalSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evaluator import pipeline

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr(pipeline, "evaluate", broken)
    path = tmp_path / "p.json"
    code, out = cli(eval_set, "evaluate", "anything", "--progress-file", path)
    assert code == 1 and "Traceback" in out and "RuntimeError: boom" in out
    assert content(path) == {"status": "failed", "error": "RuntimeError: boom"}


def test_an_interrupted_evaluation_is_stopped_in_the_file(
    eval_set: EvalSet, tiny_models: TinyModels, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.cli.test_eval_cmds import interrupt_at_batch

    register(eval_set.db, tiny_models.batchable_pb, batchable_spec(tiny_models))
    interrupt_at_batch(monkeypatch, 2)
    path = tmp_path / "p.json"
    code, out = cli(eval_set, "evaluate", "tiny:1", "--batch", "4", "--progress-file", path)
    assert code == 130 and "Interrupted: nothing recorded." in out
    total = len(eval_set.image_ids)  # the first batch of 4 was counted, then Ctrl-C
    assert content(path) == {
        "done": 4, "total": total, "status": "stopped", "error": "stopped by a user"
    }  # fmt: skip


def test_a_progress_file_that_cannot_be_written_is_a_one_line_error(
    eval_set: EvalSet, tmp_path: Path
) -> None:
    code, out = cli(eval_set, "evaluate", "anything", "--progress-file", tmp_path)
    assert code == 1 and out.startswith(f"Error: cannot write the progress file {tmp_path}")
    assert "Traceback" not in out
