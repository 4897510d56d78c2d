"""``convert``, ``parity`` and ``tradeoff``: mobile versions of a model and what they cost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from breedbench.cli.common import console, err_console, loads_models, make_console, open_db
from evaluator.convert import IO_TYPES, QUANTIZE_MODES, ConversionRequest, convert_version
from evaluator.parity import MAX_DISAGREEMENTS_SHOWN, ParityResult, run_parity
from evaluator.quantization import Quantization, unexpected
from evaluator.spec import InputSpec, read_spec_file
from evaluator.tradeoff import TradeoffRow, tradeoff_rows, write_plot

WIDE_TABLE = 170


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}%"


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 10_000 else f"{n / 1e3:.1f} kB"


@loads_models
def convert(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The version to convert: NAME:VERSION.")],
    quantize: Annotated[
        str,
        typer.Option(
            help="none (float32), dynamic (int8 weights), float16 (float16 weights), or int8 "
            f"(full integer, calibrated on accepted images). One of: {', '.join(QUANTIZE_MODES)}."
        ),
    ] = "dynamic",
    io: Annotated[
        str,
        typer.Option(
            "--io",
            help=f"Input/output type of an int8 model: {', '.join(IO_TYPES)} (int8/uint8 need "
            "--quantize int8).",
        ),
    ] = "float",
    input_tensor: Annotated[
        str | None,
        typer.Option(
            "--input",
            help="Frozen graphs: the tensor the converted model starts at (default: the spec's "
            "input). Sub skips the JPEG decoder and the resize, as the classic .lite did; the "
            "new version's spec is derived (there: pixels − 128).",
        ),
    ] = None,
    calibration: Annotated[
        int | None,
        typer.Option(
            help="Accepted images, stratified by breed, that calibrate --quantize int8 "
            "[env: BREEDBENCH_CALIBRATION_IMAGES; default: 200]. They are recorded and left out "
            "of that version's evaluation.",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        str | None,
        typer.Option(
            "--version",
            help="Name of the new version (default: the parent's version plus the settings).",
        ),
    ] = None,
    spec: Annotated[
        Path | None,
        typer.Option(
            help="A TOML spec whose keys override the derived spec (when the derivation cannot "
            "see the preprocessing).",
        ),
    ] = None,
    select_tf_ops: Annotated[
        bool,
        typer.Option(
            "--select-tf-ops",
            help="With --quantize int8: float built-in kernels where integer ones are missing. "
            "It also allows TensorFlow kernels (SELECT_TF_OPS, Flex) for ops TFLite lacks, but "
            "LiteRT here cannot run them: a result that keeps one is refused, and without "
            "--quantize int8 the flag is refused (start after such an op with --input).",
        ),
    ] = False,
    seed: Annotated[int, typer.Option(help="Which images calibrate, within each breed.")] = 0,
) -> None:
    """Convert a registered .pb / SavedModel / .keras version to .tflite and register it.

    The new version records its parent, the conversion settings and its size; its spec is the
    parent's with the input traced through the graph (tensor names, resize, scale and offset).

    Example: breedbench convert inception:v1 --quantize int8 --io uint8 --input Sub
    """
    db = open_db(ctx)
    request = ConversionRequest(
        quantize=quantize,
        io=io,
        input_tensor=input_tensor,
        calibration=db.settings.calibration_images if calibration is None else calibration,
        select_tf_ops=select_tf_ops,
        seed=seed,
    )
    request.validate()
    override = read_spec_file(spec) if spec is not None else None
    with err_console.status(f"Converting {ref} ({quantize})..."):
        result = convert_version(db, ref, request, new_version=version, spec_override=override)
    v = result.version
    inp = v.spec.input
    io_info = (v.conversion or {}).get("tflite_io", {})
    lines = [
        f"Registered {v.ref} (parent {result.parent.ref}): {_mb(v.size_bytes)}, "
        f"{result.size_ratio:.2f}× the parent's {_mb(result.parent.size_bytes)}, "
        f"converted in {result.seconds:.1f} s.",
        f"Input {inp.tensor} ({io_info.get('input_dtype')} "
        f"{io_info.get('input_shape')}): {_describe_input(inp)}.",
        f"Read from the file: {v.quantization_label}.",
    ]
    if v.quantization is not None:
        found = Quantization.from_dict(v.quantization)
        lines += [f"Note: {n}." for n in unexpected(request.quantize, request.io, found)]
    if result.calibration_images:
        lines.append(
            f"Calibrated on {result.calibration_images} accepted images of "
            f"{result.calibration_breeds} breeds; breedbench evaluate leaves them out of "
            f"{v.ref}'s evaluation."
        )
    lines.append(f"Next: breedbench parity {result.parent.ref} {v.ref}")
    for line in lines:
        console.print(line, markup=False, highlight=False)


def _describe_input(inp: InputSpec) -> str:
    parts = [inp.kind]
    if inp.size:
        parts.append(f"{inp.size[0]}×{inp.size[1]} ({inp.resize})")
    if inp.scale is not None or inp.offset is not None:
        scale = 1.0 if inp.scale is None else inp.scale
        offset = 0.0 if inp.offset is None else inp.offset
        expr = "x" if scale == 1 else f"x × {scale:g}"
        if offset:
            expr += f" − {-offset:g}" if offset < 0 else f" + {offset:g}"
        parts.append(expr)
    if inp.mean is not None:
        parts.append(f"(x − {list(inp.mean)}) / {list(inp.std or ())}")
    return ", ".join(parts)


@loads_models
def parity(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(help="Reference version, NAME:VERSION (e.g. the .pb).")],
    b: Annotated[str, typer.Argument(help="Version to check against it (e.g. its .tflite).")],
    limit: Annotated[
        int | None, typer.Option(min=1, help="Compare on the first N images only.")
    ] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="Inference threads.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Run two versions on the same accepted images and compare their outputs.

    Reports top-1 agreement, mean/max absolute probability difference, KL divergence and the
    images where they disagree; an agreement far below what the quantization normally keeps is
    called out as a likely preprocessing mismatch, with the input fix that restores it.

    Example: breedbench parity inception:v1 inception:v1-dynamic-at-Sub
    """
    db = open_db(ctx)
    with err_console.status(f"Running {a} and {b}..."):
        result = run_parity(db, a, b, limit=limit, threads=threads)
    if as_json:
        console.print_json(json.dumps(result.to_json()))
        return
    _print_parity(result)


def _print_parity(r: ParityResult) -> None:
    table = Table(title=f"parity {r.a} → {r.b} on {r.n_images} images", show_header=False)
    table.add_column("measure")
    table.add_column("value", justify="right")
    lo, hi = r.agreement_ci95
    q = r.quantization or "unknown (versions not related by a conversion)"
    for label, value in [
        ("top-1 agreement", f"{_pct(r.agreement)} [{_pct(lo)}–{_pct(hi)}]"),
        ("usual for quantization", f"≥ {_pct(r.expected_agreement)} ({q})"),
        ("mean |Δp|", f"{r.mean_abs_diff:.5f}"),
        ("max |Δp|", f"{r.max_abs_diff:.5f}"),
        ("KL(A‖B) mean / max", f"{r.kl_mean:.5f} / {r.kl_max:.5f}"),
        ("calibration images left out", str(r.excluded_calibration)),
    ]:
        table.add_row(label, value)
    console.print(table)
    if r.disagreements:
        dis = Table(title=f"{len(r.disagreements)} images where top-1 differs")
        for col in ("image", "true breed", f"{r.a}", f"{r.b}"):
            dis.add_column(col)
        for d in r.disagreements[:MAX_DISAGREEMENTS_SHOWN]:
            dis.add_row(
                str(d.image_id),
                d.true_breed,
                f"{d.a_label} ({d.a_prob:.2f})",
                f"{d.b_label} ({d.b_prob:.2f})",
            )
        console.print(dis)
    if r.mismatch_suspected:
        msg = (
            f"Top-1 agreement {_pct(r.agreement)} is far below the ≥ "
            f"{_pct(r.expected_agreement)} that {r.quantization or 'a conversion'} normally "
            f"keeps: likely a preprocessing mismatch, not quantization loss."
        )
        if r.diagnosis:
            msg += (
                f" Feeding {r.b} with {r.diagnosis} gives {_pct(r.diagnosis_agreement)} "
                "agreement: fix its spec's [input] (scale/offset)."
            )
        console.print(msg, markup=False, highlight=False, style="bold red")
    else:
        console.print("Parity within what this conversion normally keeps.", markup=False)


def tradeoff(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name: every version of it.")],
    plot: Annotated[
        Path | None,
        typer.Option(help="Also write the plot to PATH.png and PATH.svg."),
    ] = None,
) -> None:
    """One table of every version of a model: format, size, latency, top-1/3/5, parity.

    Accuracy comes from each version's latest finished evaluation; parity is its top-1
    agreement with its parent on the images both latest runs share.

    Example: breedbench tradeoff inception --plot tradeoff
    """
    db = open_db(ctx)
    with db.session() as s:
        rows = tradeoff_rows(s, name)
    # A wide table: piped or redirected output is not limited to 80 columns.
    out = console if console.is_terminal else make_console(width=max(console.width, WIDE_TABLE))
    out.print(_tradeoff_table(name, rows))
    missing = [r.version.ref for r in rows if r.run_id is None]
    if missing:
        console.print(
            f"Not evaluated yet: {', '.join(missing)} (breedbench evaluate NAME:VERSION)",
            highlight=False,
        )
    if plot is not None:
        written = write_plot(rows, plot, f"{name}: accuracy against size and latency")
        console.print(f"Plot written to {', '.join(str(p) for p in written)}", highlight=False)


def _tradeoff_table(name: str, rows: list[TradeoffRow]) -> Table:
    table = Table(title=f"{name}: {len(rows)} versions")
    for col, just in [
        ("version", "left"),
        ("format", "left"),
        ("quantization", "left"),
        ("parent", "left"),
        ("size", "right"),
        ("× parent", "right"),
        ("p50 ms", "right"),
        ("top-1 [95% CI]", "right"),
        ("top-3", "right"),
        ("top-5", "right"),
        ("images", "right"),
        ("parity w/ parent", "right"),
    ]:
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in rows:
        t1 = r.top.get(1)
        table.add_row(
            r.label,
            r.version.format,
            r.quantization,
            r.parent or "-",
            _mb(r.size_bytes),
            "-" if r.size_ratio is None else f"{r.size_ratio:.2f}",
            "-" if r.latency_p50_ms is None else f"{r.latency_p50_ms:.2f}",
            "-" if t1 is None else f"{_pct(t1.rate)} [{_pct(t1.lo)}–{_pct(t1.hi)}]",
            _pct(r.top[3].rate) if 3 in r.top else "-",
            _pct(r.top[5].rate) if 5 in r.top else "-",
            "-" if r.n_images is None else str(r.n_images),
            "-"
            if r.parity_agreement is None
            else f"{_pct(r.parity_agreement)} of {r.parity_images}",
        )
    return table


def register(app: typer.Typer) -> None:
    app.command()(convert)
    app.command()(parity)
    app.command()(tradeoff)
