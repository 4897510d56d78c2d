"""README, Settings: "command-line flag > environment variable > default", and for evaluation
the model's spec (``runtime.threads`` / ``runtime.batch``) before the environment. Each case is
a real ``breedbench evaluate`` of the tiny ``.tflite``; what counts is what the run recorded."""

from __future__ import annotations

from typing import Any

import pytest

from db.models import EvalRun
from tests.cli.helpers import cli
from tests.fixtures.evaluation import EvalSet, lite_spec, register
from tests.modelkit import TinyModels


def _recorded(eval_set: EvalSet, *args: str) -> dict[str, Any]:
    """The settings of the run ``breedbench evaluate ARGS`` recorded."""
    out = cli(eval_set, "evaluate", *args)
    assert out.exit_code == 0, out.output
    with eval_set.db.session() as s:
        run = s.query(EvalRun).order_by(EvalRun.id.desc()).first()
        assert run is not None
        return dict(run.settings)


@pytest.fixture
def lite(eval_set: EvalSet, tiny_models: TinyModels) -> EvalSet:
    """The float ``.tflite`` registered plain (``tiny:plain``) and with a runtime table in its
    spec (``tiny:rt``: 2 threads, batches of 3)."""
    register(eval_set.db, tiny_models.sub_float, lite_spec(tiny_models), version="plain")
    spec = {**lite_spec(tiny_models), "runtime": {"threads": 2, "batch": 3}}
    register(eval_set.db, tiny_models.sub_float, spec, version="rt")
    return eval_set


def test_eval_environment_variables_are_used_when_no_flag_is_given(
    lite: EvalSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = _recorded(lite, "tiny:plain")
    assert default["batch"] == 32  # the README's default
    assert default["cache_misses"] > 0  # cached by default
    monkeypatch.setenv("BREEDBENCH_EVAL_THREADS", "3")
    monkeypatch.setenv("BREEDBENCH_EVAL_BATCH", "5")
    monkeypatch.setenv("BREEDBENCH_EVAL_CACHE", "false")
    got = _recorded(lite, "tiny:plain")
    assert (got["threads"], got["batch"]) == (3, 5)
    assert (got["cache_hits"], got["cache_misses"]) == (0, 0)


def test_flags_win_over_the_environment(lite: EvalSet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREEDBENCH_EVAL_THREADS", "3")
    monkeypatch.setenv("BREEDBENCH_EVAL_BATCH", "5")
    got = _recorded(lite, "--threads", "1", "--batch", "4", "tiny:plain")
    assert (got["threads"], got["batch"]) == (1, 4)
    # The spec's runtime table comes before the environment, the flags before both.
    from_spec = _recorded(lite, "tiny:rt")
    assert (from_spec["threads"], from_spec["batch"]) == (2, 3)
    got = _recorded(lite, "--threads", "1", "--batch", "4", "tiny:rt")
    assert (got["threads"], got["batch"]) == (1, 4)
