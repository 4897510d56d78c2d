"""``tradeoff``: the table rows from stored runs, and the plot files."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import BreedbenchError
from evaluator import quantization
from evaluator.pipeline import evaluate
from evaluator.tradeoff import tradeoff_rows, write_plot
from tests.fixtures.workspace import Workspace


def test_rows_and_plot(workspace: Workspace, tmp_path: Path) -> None:
    db = workspace.db
    parent_run = evaluate(db, "tiny:pb")
    child = workspace.converted["int8-uint8io"]
    child_run = evaluate(db, child.ref)
    with db.session() as s:
        rows = {r.version.version: r for r in tradeoff_rows(s, "tiny")}
    p, c = rows["pb"], rows[child.version]
    assert p.parent is None and p.quantization == "-" and p.size_ratio is None
    assert c.parent == "tiny:pb" and c.quantization == "int8 (uint8 I/O)"
    assert c.size_ratio == pytest.approx(child.size_bytes / workspace.parent.size_bytes)
    assert c.run_id == child_run.run_id and p.run_id == parent_run.run_id
    top1 = child_run.metrics["top1"]
    assert c.top[1].rate == top1["rate"] and (c.top[1].lo, c.top[1].hi) == tuple(top1["ci95"])
    assert c.latency_p50_ms == child_run.metrics["latency_ms"]["p50"]
    # Parity from the stored predictions: the images both runs share (the child's run leaves
    # its calibration images out), with the same top-1 on each for this faithful conversion.
    assert c.parity_images == child_run.metrics["n_images"] < p.n_images  # type: ignore[operator]
    assert c.parity_agreement == 1.0
    assert c.calibration_overlap == 8
    unevaluated = rows["float16"]
    assert (
        unevaluated.run_id is None
        and unevaluated.top == {}
        and unevaluated.parity_agreement is None
    )

    written = write_plot(list(rows.values()), tmp_path / "plots" / "tiny.png", "tiny")
    assert [w.name for w in written] == ["tiny.png", "tiny.svg"]
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = written[1].read_text()
    assert "<svg" in svg and child.version in svg


def test_plot_needs_an_evaluated_version(workspace: Workspace, tmp_path: Path) -> None:
    with workspace.db.session() as s:
        rows = [r for r in tradeoff_rows(s, "tiny") if r.version.version == "float16"]
    with pytest.raises(BreedbenchError, match="evaluated"):
        write_plot(rows, tmp_path / "x", "tiny")
    assert not list(tmp_path.iterdir())


def test_unknown_model(workspace: Workspace) -> None:
    with workspace.db.session() as s, pytest.raises(BreedbenchError, match="no model called"):
        tradeoff_rows(s, "nothing")


def test_quantization_label_of_a_conversion_record() -> None:
    """Versions stored before the file was read show what their conversion asked for, in the
    words of what is read from a file."""
    assert quantization.label(None, None) == "-"
    assert quantization.label(None, {"quantize": "none", "io": "float"}) == "float32"
    assert quantization.label(None, {"quantize": "dynamic", "io": "float"}) == "dynamic range"
    assert quantization.label(None, {"quantize": "int8", "io": "int8"}) == "int8 (int8 I/O)"
