"""The dashboard pages on runs the evaluator really recorded (``tests/fixtures/real_runs.py``):
the numbers shown are the runs' own, and the pages' actions change what they say they do."""

from __future__ import annotations

import math

from sqlalchemy import func, select

from db.database import Database
from db.models import Decision, EvalRun, Image, ImageStatus, Prediction, Review
from evaluator import jobs as eval_jobs
from tests.fixtures.app import open_app
from tests.fixtures.evaluation import wait_for_job
from tests.fixtures.real_runs import PB_REF, RealRuns

RealApp = tuple[Database, RealRuns]


def _top1(db: Database, run_id: int) -> tuple[int, int]:
    """(correct, images) as the run's row recorded them."""
    with db.session() as s:
        run = s.get(EvalRun, run_id)
        assert run is not None
        return run.metrics["top1"]["correct"], run.n_images


def _ranks(db: Database, run_id: int) -> dict[int, int | None]:
    with db.session() as s:
        stmt = select(Prediction.image_id, Prediction.rank).where(Prediction.run_id == run_id)
        return dict(s.execute(stmt).tuples().all())


def _mcnemar(a_right_b_wrong: int, a_wrong_b_right: int) -> float:
    """Exact two-sided McNemar: a binomial test of the discordant pairs at one half."""
    n = a_right_b_wrong + a_wrong_b_right
    if n == 0:
        return 1.0
    k = min(a_right_b_wrong, a_wrong_b_right)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)


def test_models_page_shows_each_real_runs_top1(real_app_read: RealApp) -> None:
    db, runs = real_app_read
    at = open_app("models.py")
    table = at.dataframe[1].value  # the runs, newest first
    assert list(table["run"]) == [runs.lite_run, runs.pb_run]
    for run_id in (runs.lite_run, runs.pb_run):
        correct, n = _top1(db, run_id)
        row = table[table["run"] == run_id].iloc[0]
        assert (row["top-1"], row["images"]) == (f"{correct / n:.1%}", n)
    trade = at.dataframe[0].value
    assert list(trade["version"]) == ["pb", "↳ pb-dynamic"]
    correct, n = _top1(db, runs.lite_run)
    assert trade.iloc[1]["top-1 [95% CI]"].startswith(f"{correct / n:.1%} [")


def test_run_details_shows_the_runs_numbers(real_app_read: RealApp) -> None:
    db, runs = real_app_read
    correct, n = _top1(db, runs.pb_run)
    ranks = _ranks(db, runs.pb_run)
    assert sum(r == 1 for r in ranks.values()) == correct and len(ranks) == n
    at = open_app("run_details.py", query={"run": str(runs.pb_run)})
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["top-1"] == f"{correct / n:.1%}"
    assert metrics["top-5"] == f"{sum(r is not None for r in ranks.values()) / n:.1%}"
    assert metrics["images"] == str(n)
    mistakes = f"{n - correct} mistakes, most confident first"
    assert any(c.value.startswith(mistakes) for c in at.caption)


def test_compare_page_mcnemar_line_for_the_two_runs(real_app_read: RealApp) -> None:
    db, runs = real_app_read
    a, b = _ranks(db, runs.pb_run), _ranks(db, runs.lite_run)
    assert set(a) == set(b)
    fixed = sum(1 for i in a if a[i] != 1 and b[i] == 1)
    broken = sum(1 for i in a if a[i] == 1 and b[i] != 1)
    assert fixed + broken > 0, "the .tflite should disagree with its parent on some images"
    p = _mcnemar(broken, fixed)
    at = open_app("compare_runs.py")  # B: the newest run (.tflite), A: the parent's
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["fixed / broken"] == f"{fixed} / {broken}"
    assert metrics["McNemar p"] == f"{p:.3g}"
    verdict = "a real difference" if p < 0.05 else "within what chance explains"
    line = f"On {len(a)} shared images: {fixed} fixed, {broken} broken; p = {p:.3g}, {verdict}."
    assert line in [c.value for c in at.caption]


def test_send_back_to_review_returns_a_real_mistake_to_the_queue(real_app: RealApp) -> None:
    db, runs = real_app
    at = open_app("run_details.py", query={"run": str(runs.lite_run)}, reviewer="ben")
    button = next(b for b in at.button if b.label == "Send back to review")
    image_id = int(button.key.rsplit("-", 1)[1])
    assert _ranks(db, runs.lite_run)[image_id] != 1  # a mistake of this run
    button.click().run()
    assert not at.exception
    with db.session() as s:
        image = s.get(Image, image_id)
        assert image is not None and image.status == ImageStatus.PENDING
        reset = s.scalars(
            select(Review).where(Review.image_id == image_id, Review.decision == Decision.RESET)
        ).one()
        assert reset.reviewer == "ben"
    assert f"reset-{runs.lite_run}-{image_id}" not in [b.key for b in at.button]


def test_start_evaluation_then_stop_records_no_run(real_app: RealApp) -> None:
    db, runs = real_app
    at = open_app("models.py", reviewer="ana")
    at.selectbox(key="eval_version").select(PB_REF)
    next(b for b in at.button if b.label == "Start evaluation").click().run()
    assert not at.exception
    (job,) = eval_jobs.list_jobs(db.settings)
    assert (job.version, job.started_by) == (PB_REF, "ana")
    # The graph's evaluation imports TensorFlow first (seconds): Stop lands while it runs.
    at.button(key=f"stop-{job.id}").click().run()
    assert not at.exception
    done = wait_for_job(db, job.id)
    assert (done.status, done.stopped_by) == ("stopped", "ana"), done.tail
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(EvalRun)) == 2  # the two seeded runs
    page = open_app("models.py")
    assert "Stopped by ana before it finished: nothing was recorded." in [
        w.value for w in page.warning
    ]
    assert list(page.dataframe[1].value["run"]) == [runs.lite_run, runs.pb_run]
