"""``breedbench convert | parity | tradeoff`` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from evaluator.registry import get_version
from tests.cli.helpers import cli
from tests.fixtures.evaluation import lite_spec, register
from tests.fixtures.workspace import Workspace


def run(ws: Workspace, *args: str) -> tuple[int, str]:
    return cli(ws.db, *args)


def test_convert_names_the_new_version_after_its_settings(workspace: Workspace) -> None:
    """Without --version the version is named as the README shows: ``v1-int8-uint8io-at-Sub``."""
    code, out = run(workspace, "convert", "tiny:pb", "--quantize", "dynamic", "--input", "Sub")
    assert code == 0, out
    assert "Registered tiny:pb-dynamic-at-Sub (parent tiny:pb)" in out
    args = ["--quantize", "int8", "--io", "uint8", "--input", "Sub", "--calibration", "4"]
    code, out = run(workspace, "convert", "tiny:pb", *args)
    assert code == 0, out
    assert "Registered tiny:pb-int8-uint8io-at-Sub (parent tiny:pb)" in out
    with workspace.db.session() as s:
        assert get_version(s, "tiny:pb-int8-uint8io-at-Sub").parent_id == workspace.parent.id


def test_convert_registers_and_prints_the_derived_input(workspace: Workspace) -> None:
    code, out = run(
        workspace,
        "convert",
        "tiny:pb",
        "--quantize",
        "int8",
        "--io",
        "uint8",
        "--input",
        "Sub",
        "--calibration",
        "4",
        "--version",
        "cli-q8",
    )
    assert code == 0, out
    assert "Registered tiny:cli-q8 (parent tiny:pb)" in out
    assert "Input Sub (uint8 [1, 32, 32, 3]): tensor, 32×32 (tf_bilinear), x − 128" in out
    assert "Calibrated on 4 accepted images of 4 breeds" in out
    assert "Read from the file: int8 (uint8 I/O)." in out and "Note:" not in out
    assert "breedbench parity tiny:pb tiny:cli-q8" in out
    code, out = run(workspace, "models", "list")
    assert code == 0 and "cli-q8" in out


def test_convert_errors_are_one_line(workspace: Workspace) -> None:
    code, out = run(workspace, "convert", "tiny:pb", "--quantize", "dynamic", "--io", "int8")
    assert code == 1
    assert out.strip() == (
        "Error: --io int8 needs --quantize int8: only a full-integer model has integer input and "
        "output"
    )
    code, out = run(workspace, "convert", "tiny:pb", "--quantize", "int8", "--calibration", "0")
    assert code == 1 and "--calibration must be at least 1 image" in out
    code, out = run(workspace, "convert", "tiny:pb", "--input", "Nowhere")
    assert code == 1 and out.startswith("Error: no tensor 'Nowhere' in the graph")
    assert "Traceback" not in out


def test_convert_uses_the_calibration_setting(workspace: Workspace, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BREEDBENCH_CALIBRATION_IMAGES", "3")
    code, out = run(
        workspace, "convert", "tiny:pb", "--quantize", "int8", "--input", "Sub", "--version", "env3"
    )
    assert code == 0, out
    assert "Calibrated on 3 accepted images" in out


def test_parity_flags_raw_pixels_and_prints_json(workspace: Workspace) -> None:
    register(
        workspace.db, workspace.tiny.sub_float, lite_spec(workspace.tiny, 0.0), version="cli-raw"
    )
    code, out = run(workspace, "parity", "tiny:pb", "tiny:cli-raw")
    assert code == 0, out
    assert "top-1 agreement" in out and "images where top-1 differs" in out
    assert "likely a preprocessing mismatch" in out
    assert "x − 128 (the input expects pixels − 128) gives 100.0% agreement" in out
    code, out = run(workspace, "parity", "tiny:pb", workspace.converted["none"].ref, "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["agreement"] == 1.0 and data["quantization"] == "none"
    assert data["mismatch_suspected"] is False and data["disagreements"] == []
    # --limit 0 would compare on nothing and blame the review queue: refused as a bad value
    code, out = run(workspace, "parity", "tiny:pb", "tiny:cli-raw", "--limit", "0")
    assert code == 2 and "--limit" in out and "accept some images" not in out


def test_tradeoff_table_and_plot(workspace: Workspace, tmp_path: Path) -> None:
    code, out = run(workspace, "evaluate", workspace.converted["dynamic"].ref)
    assert code == 0, out
    code, out = run(workspace, "tradeoff", "tiny", "--plot", str(tmp_path / "tiny"))
    assert code == 0, out
    assert "tiny:" in out and "versions" in out
    row = next(line for line in out.splitlines() if "│ dynamic " in line)
    assert "tflite" in row and "tiny:pb" in row and "%" in row
    assert "Not evaluated yet:" in out and "tiny:float16" in out
    assert (tmp_path / "tiny.png").stat().st_size > 0 and (tmp_path / "tiny.svg").is_file()
    code, out = run(workspace, "tradeoff", "nope")
    assert code == 1 and "no model called 'nope'" in out


def test_evaluate_reports_the_calibration_images(workspace: Workspace) -> None:
    ref = workspace.converted["int8-int8io"].ref
    code, out = run(workspace, "evaluate", ref)
    assert code == 0, out
    assert "8 calibration images excluded" in " ".join(out.split())
    code, out = run(workspace, "evaluate", ref, "--include-calibration")
    assert code == 0, out
    assert "8 calibration images included" in " ".join(out.split())


def test_convert_spec_reads_its_labels_file_beside_it(workspace: Workspace, tmp_path: Path) -> None:
    """A relative ``labels.file`` in ``convert --spec`` is read from the spec's folder, as
    ``models add --spec`` reads it."""
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "labels.txt").write_text("\n".join(workspace.tiny.labels) + "\n")
    (folder / "override.toml").write_text('[labels]\nfile = "labels.txt"\n')
    code, out = run(
        workspace,
        "convert",
        "tiny:pb",
        "--quantize",
        "none",
        "--input",
        "Sub",
        "--version",
        "cli-labels",
        "--spec",
        str(folder / "override.toml"),
    )
    assert code == 0, out
    with workspace.db.session() as s:
        spec = get_version(s, "tiny:cli-labels").spec
    assert list(spec.labels.names) == list(workspace.tiny.labels)


def test_the_derived_input_reads_as_written() -> None:
    """What ``convert`` prints of the new input: size and resize, then the normalisation."""
    from breedbench.cli.compress_cmds import _describe_input
    from evaluator.spec import InputSpec

    at_sub = InputSpec(
        tensor="Sub", kind="tensor", size=(299, 299), resize="tf_bilinear", scale=1.0, offset=-128
    )
    assert _describe_input(at_sub) == "tensor, 299×299 (tf_bilinear), x − 128"
    at_mul = InputSpec(tensor="Mul", kind="image", scale=0.0078125, offset=-1.0)
    assert _describe_input(at_mul) == "image, x × 0.0078125 − 1"
    per_channel = InputSpec(
        kind="tensor", size=(8, 8), mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375)
    )
    assert _describe_input(per_channel) == (
        "tensor, 8×8 (bilinear), (x − [123.675, 116.28, 103.53]) / [58.395, 57.12, 57.375]"
    )
    assert _describe_input(InputSpec(kind="jpeg_bytes")) == "jpeg_bytes"
