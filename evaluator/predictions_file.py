"""``breedbench predictions``: the per-image results of runs as one flat table, for pandas,
Polars, DuckDB or a spreadsheet.

One row per image and run, in the order the runs are given, then by image id. The columns
(``COLUMNS``):

- ``run_id``, ``model``, ``version``: the run and the version it measured;
- ``image_id``, ``sha256``: the image (its id in this database; its content, anywhere);
- ``breed``: the image's true breed (its slug, as in the export's manifest);
- ``rank``: where the true breed came among the model's five most probable breeds (1 = top-1
  correct), empty when it is not among them;
- ``top1_breed``, ``top1_prob`` … ``top5_breed``, ``top5_prob``: the model's five most probable
  breeds, best first, and their probabilities (a model that ranks only the breed classes of a
  larger label set, such as an ImageNet model, ranks the breeds among themselves; empty when
  it has fewer than five breed classes);
- ``latency_ms``: the inference time of the image's batch divided by the images in it (the
  first batch's includes the model's warm-up, which the run's p50/p95 leave out).

The file's extension says its format (``FORMATS``): ``.csv`` (UTF-8, a header row, CRLF line
ends, empty cells for missing values, and every text cell ``core.text.spreadsheet_safe``, since
model and version names come from people), ``.jsonl`` (one JSON object per line, ``null`` for
missing values) or ``.parquet`` (typed columns: 64-bit integers, strings, 64-bit floats, with
nulls). These are the same values ``report RUN --format json`` gives per image.

An existing file is replaced only when asked (``force``); the new file is written whole or not
at all (``core.files.atomic_write``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from core.errors import BreedbenchError
from core.files import atomic_write
from core.text import spreadsheet_safe
from evaluator.results import PredictionRow, RunSummary, get_run, predictions

TOP_K = 5
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet"}
_TOP_COLUMNS = tuple(
    name for k in range(1, TOP_K + 1) for name in (f"top{k}_breed", f"top{k}_prob")
)
COLUMNS: tuple[str, ...] = (
    "run_id",
    "model",
    "version",
    "image_id",
    "sha256",
    "breed",
    "rank",
    *_TOP_COLUMNS,
    "latency_ms",
)
_INT_COLUMNS = frozenset({"run_id", "image_id", "rank"})
_FLOAT_COLUMNS = frozenset({"latency_ms", *(f"top{k}_prob" for k in range(1, TOP_K + 1))})


@dataclass(frozen=True)
class PredictionsFile:
    """What was written: where, in which format, how many rows, from which runs."""

    path: Path
    format: str
    rows: int
    run_ids: list[int]


def predictions_format(path: Path) -> str:
    """The format the file's extension names; anything else is a one-line error listing them."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        *others, last = FORMATS
        what = f"extension {path.suffix!r}" if path.suffix else "no extension"
        raise BreedbenchError(
            f"{path.name} has {what}: a predictions file is {', '.join(others)} or {last}"
        )
    return fmt


def flat_row(run: RunSummary, p: PredictionRow) -> dict[str, Any]:
    """One image of one run as a row of ``COLUMNS`` (None where there is no value)."""
    row: dict[str, Any] = {
        "run_id": run.id,
        "model": run.model_name,
        "version": run.version,
        "image_id": p.image_id,
        "sha256": p.sha256,
        "breed": p.true_slug,
        "rank": p.rank,
    }
    for k in range(1, TOP_K + 1):
        guess = p.top5[k - 1] if k <= len(p.top5) else None
        row[f"top{k}_breed"] = guess.slug if guess else None
        row[f"top{k}_prob"] = guess.probability if guess else None
    row["latency_ms"] = p.latency_ms
    return row


def prediction_rows(session: Session, run_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The rows of the given runs (each once, in the order given), by image id within a run.

    Raises ``BreedbenchError`` naming the first run that does not exist.
    """
    runs = [get_run(session, run_id).summary for run_id in dict.fromkeys(run_ids)]
    return [flat_row(run, p) for run in runs for p in predictions(session, run.id)]


def render_predictions(rows: Iterable[dict[str, Any]], fmt: str) -> bytes:
    """The rows as the bytes of a ``fmt`` file."""
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    if fmt == "parquet":
        return _parquet(list(rows))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: "" if v is None else spreadsheet_safe(v) for k, v in r.items()})
    return buf.getvalue().encode()


def _parquet(rows: list[dict[str, Any]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def kind(name: str) -> Any:
        if name in _INT_COLUMNS:
            return pa.int64()
        return pa.float64() if name in _FLOAT_COLUMNS else pa.string()

    schema = pa.schema([(name, kind(name)) for name in COLUMNS])
    table = pa.Table.from_pylist(rows, schema=schema)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def check_target(path: Path, *, force: bool) -> str:
    """The format ``path`` names, once it is known that writing there loses nothing unasked."""
    fmt = predictions_format(path)
    if path.is_dir():
        raise BreedbenchError(f"{path} is a folder: name a {fmt} file to write")
    if path.exists() and not force:
        raise BreedbenchError(f"{path} exists: name another file, or replace it with --force")
    return fmt


def write_predictions(
    session: Session, run_ids: Sequence[int], path: Path, *, force: bool = False
) -> PredictionsFile:
    """Write the per-image predictions of ``run_ids`` to ``path`` (format by extension).

    Raises ``BreedbenchError``, writing nothing, for an unknown extension, an existing file
    without ``force``, no run or a run that does not exist.
    """
    path = Path(path)
    fmt = check_target(path, force=force)
    if not run_ids:
        raise BreedbenchError("name at least one run (see breedbench history)")
    rows = prediction_rows(session, run_ids)
    atomic_write(path, render_predictions(rows, fmt))
    return PredictionsFile(path, fmt, len(rows), list(dict.fromkeys(run_ids)))
