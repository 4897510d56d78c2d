"""A quiet CLI: TensorFlow, absl and LiteRT log lines are not in a command's output unless asked
for (``--verbose``, or a ``TF_CPP_MIN_LOG_LEVEL`` the user set). The real CLI runs in a
subprocess, so the libraries' C++ lines, written to the real descriptor 2, are what is read."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from breedbench.cli import quiet
from tests.cli.helpers import db_args
from tests.fixtures.evaluation import EvalSet, classic_spec, lite_spec, register
from tests.modelkit import TinyModels

# Any line a library logs: absl/glog (``I0000 00:00:1796129009.201186  18879 port.cc:153] ...``),
# LiteRT's and early absl's (``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.``), the
# converter's, and TensorFlow's Python logger (``WARNING:tensorflow:...``).
LIBRARY_LINE = re.compile(
    r"^([IWEF]\d{4} \d+:\d+:\d+\S*\s+\d+ \S+\] |(INFO|WARNING|VERBOSE): |fully_quantize: "
    r"|WARNING:(tensorflow|absl):|.*(cpu_feature_guard|oneDNN|XNNPACK|absl::InitializeLog))",
    re.MULTILINE,
)
XNNPACK = "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."


def _breedbench(es: EvalSet, *args: str, **env: str) -> str:
    """stdout and stderr of the real CLI, run as a user would (none of their TF settings)."""
    clean = {k: v for k, v in os.environ.items() if k not in (quiet.LEVEL_VAR, quiet.MARKER_VAR)}
    proc = subprocess.run(
        [sys.executable, "-m", "breedbench", *db_args(es), *args],
        capture_output=True,
        text=True,
        env={**clean, "COLUMNS": "200", **env},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


@pytest.fixture
def models(eval_set: EvalSet, tiny_models: TinyModels) -> EvalSet:
    register(eval_set.db, tiny_models.classic_pb, classic_spec(tiny_models), version="pb")
    register(eval_set.db, tiny_models.sub_float, lite_spec(tiny_models), version="lite")
    return eval_set


def test_evaluate_prints_no_library_log_line(models: EvalSet) -> None:
    """TensorFlow (a frozen graph) and LiteRT (a .tflite): breedbench's output only."""
    for version in ("tiny:pb", "tiny:lite"):
        out = _breedbench(models, "evaluate", version, "--limit", "12", "--batch", "4")
        assert "Recorded run #" in out and "Latency: per image" in out, out
        assert LIBRARY_LINE.search(out) is None, out


def test_verbose_or_the_users_level_shows_them(models: EvalSet) -> None:
    out = _breedbench(models, "--verbose", "evaluate", "tiny:lite", "--limit", "4")
    assert XNNPACK in out and "Recorded run #" in out
    out = _breedbench(models, "evaluate", "tiny:lite", "--limit", "4", TF_CPP_MIN_LOG_LEVEL="0")
    assert XNNPACK in out


# --- the pieces, in this process -------------------------------------------------------------


def test_library_lines_are_dropped_with_their_continuations() -> None:
    lines = quiet.LineFilter()
    shown = [
        line
        for line in [
            "WARNING: All log messages before absl::InitializeLog() is called are written",
            "I0000 00:00:1796129009.252190   18879 cpu_feature_guard.cc:227] This TensorFlow",
            "To enable the following instructions: AVX2 FMA, in other operations, rebuild",
            "W1201 12:04:07.201186   18879 tf_tfl_flatbuffer_helpers.cc:364] Ignored output.",
            "  and its indented second line",
            "fully_quantize: 0, inference_type: 6, input_inference_type: UINT8",
            "E0000 00:00:1796129009.252190   18879 kernel.cc:1] a real error",
            "  its detail",
            "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
            "Fatal Python error: Segmentation fault",
        ]
        if lines.keep(line)
    ]
    assert shown == [
        "E0000 00:00:1796129009.252190   18879 kernel.cc:1] a real error",
        "  its detail",
        "Fatal Python error: Segmentation fault",  # not a log line: shown, whatever came before
    ]
    assert lines.dropped == 7 and lines.notes == []


def test_what_matters_is_said_again() -> None:
    lines = quiet.LineFilter()
    assert not lines.keep("WARNING: Failed to apply XNNPACK delegate.")
    assert not lines.keep("WARNING: Failed to apply XNNPACK delegate.")
    (note,) = lines.notes
    assert note.startswith("LiteRT could not use its XNNPACK CPU kernels")


@pytest.fixture
def quiet_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(quiet._State, "quiet", True)
    yield


def test_native_writes_are_filtered_python_ones_are_not(
    quiet_on: None, capfd: pytest.CaptureFixture[str]
) -> None:
    with quiet.native_stderr() as lines:
        os.write(2, b"I0000 00:00:1796129009.201186   18879 port.cc:153] oneDNN custom ops\n")
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"a line of its own\n")
        print("breedbench's own", file=sys.stderr)
    err = capfd.readouterr().err
    assert "a line of its own" in err and "breedbench's own" in err
    assert "oneDNN" not in err and "XNNPACK" not in err and lines.dropped == 2


def test_decision(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quiet, "_quiet_python", lambda: None)
    monkeypatch.setattr(quiet._State, "quiet", False)
    env: dict[str, str] = {}
    assert quiet.configure(False, env) and env[quiet.LEVEL_VAR] == quiet.QUIET_LEVEL
    assert quiet.configure(False, dict(env))  # set by breedbench (a parent): still quiet
    assert not quiet.configure(True, env) and quiet.LEVEL_VAR not in env  # --verbose
    assert not quiet.configure(False, {quiet.LEVEL_VAR: "1"})  # the user's own level
    assert not quiet.is_quiet()
