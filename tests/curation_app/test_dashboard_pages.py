"""AppTest for the "Models & evaluations" pages with seeded runs: what a user sees and does."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from db.database import Database
from db.models import Decision, Image, ImageStatus, Review
from tests.fixtures.app import open_app
from tests.fixtures.seeding import Seeded


def _charts(at: AppTest) -> int:
    return len(at.get("vega_lite_chart"))


def test_models_page_shows_lineage_history_and_trade_offs(
    app_env: Database, seeded: Seeded
) -> None:
    at = open_app("models.py")
    text = " ".join(m.value for m in at.markdown)
    assert "**1** · `frozen_pb` · 96.3 MB" in text
    assert "↳ **1-dynamic** · `tflite` · 30.7 MB" in text
    assert _charts(at) == 2  # run history, top-1 against size
    trade = at.dataframe[0].value
    assert list(trade["version"]) == ["1", "↳ 1-dynamic"]
    child = trade.iloc[1]
    assert child["size vs parent"] == "32%"
    assert child["top-1 [95% CI]"].startswith("75.0% [")
    assert child["top-1 vs parent"] == "-12.5 pts"  # lite-1 75.0 % vs pb-2 87.5 %
    runs = at.dataframe[1].value
    assert list(runs["run"]) == [seeded.runs["lite-1"], seeded.runs["pb-2"], seeded.runs["pb-1"]]
    # Another metric redraws the history chart.
    at.button_group(key="dash_metric").set_value("top-5").run()
    assert not at.exception and _charts(at) == 2


def test_models_page_without_models_says_how_to_register(app_env: Database) -> None:
    at = open_app("models.py")
    assert "breedbench models add" in at.info[0].value


def test_run_details_metrics_breeds_pairs_and_gallery(app_env: Database, seeded: Seeded) -> None:
    run = seeded.runs["pb-1"]
    ranks = seeded.ranks["pb-1"]
    at = open_app("run_details.py", query={"run": str(run)})
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["top-1"] == f"{sum(r == 1 for r in ranks.values()) / len(ranks):.1%}"
    assert metrics["top-5"] == f"{sum(r is not None for r in ranks.values()) / len(ranks):.1%}"
    assert metrics["images"] == str(len(ranks))
    assert _charts(at) == 1  # per-breed accuracy
    pairs = at.dataframe[0].value
    assert set(pairs["predicted as"]) == {"pug"}  # the seeded decoy
    wrong = sum(r != 1 for r in ranks.values())
    sends = [b for b in at.button if b.label == "Send back to review"]
    assert len(sends) == min(wrong, 12)
    assert all(b.disabled for b in sends)  # nobody named yet: nothing can be recorded


def test_send_back_to_review_from_the_gallery(app_env: Database, seeded: Seeded) -> None:
    run = seeded.runs["pb-1"]
    at = open_app("run_details.py", query={"run": str(run)}, reviewer="ben")
    assert "Sending back to review as **ben**" in [m.value for m in at.markdown]
    button = next(b for b in at.button if b.label == "Send back to review")
    image_id = int(button.key.rsplit("-", 1)[1])
    button.click().run()
    assert not at.exception
    with app_env.session() as s:
        assert s.get(Image, image_id).status == ImageStatus.PENDING  # type: ignore[union-attr]
        reset = s.scalars(
            select(Review).where(Review.image_id == image_id, Review.decision == Decision.RESET)
        ).one()
        assert reset.reviewer == "ben"
    # The card now says the image is in the queue instead of offering the button again.
    keys = [b.key for b in at.button if b.label == "Send back to review"]
    assert f"reset-{run}-{image_id}" not in keys


def test_run_details_takes_the_reviewer_from_the_url_only_when_it_is_a_valid_name(
    app_env: Database, seeded: Seeded
) -> None:
    run = str(seeded.runs["pb-1"])
    at = open_app("run_details.py", query={"run": run, "reviewer": "dora"})
    assert "Sending back to review as **dora**" in [m.value for m in at.markdown]
    at = open_app("run_details.py", query={"run": run, "reviewer": "x" * 61})
    sends = [b for b in at.button if b.label == "Send back to review"]
    assert sends and all(b.disabled for b in sends)  # asks for a name instead
    assert at.text_input(key="gallery_reviewer").value == ""


def test_run_details_typed_reviewer_name_enables_the_buttons(
    app_env: Database, seeded: Seeded
) -> None:
    at = open_app("run_details.py", query={"run": str(seeded.runs["pb-1"])})
    at.text_input(key="gallery_reviewer").input("cleo").run()
    sends = [b for b in at.button if b.label == "Send back to review"]
    assert sends and not any(b.disabled for b in sends)


def test_run_details_gallery_filter_by_breed(app_env: Database, seeded: Seeded) -> None:
    run = seeded.runs["lite-1"]
    ranks = seeded.ranks["lite-1"]
    at = open_app("run_details.py", query={"run": str(run)}, reviewer="ben")
    at.selectbox(key="gallery_breed").select("beagle").run()
    wrong_beagles = [i for i in seeded.image_ids["beagle"] if ranks[i] != 1]
    keys = sorted(b.key for b in at.button if b.label == "Send back to review")
    assert keys == sorted(f"reset-{run}-{i}" for i in wrong_beagles)


def test_compare_page_fixed_broken_and_mcnemar(app_env: Database, seeded: Seeded) -> None:
    at = open_app("compare_runs.py")
    # Defaults: B = the newest run (the .tflite child), A = the newest run of another version.
    a, b = seeded.ranks["pb-2"], seeded.ranks["lite-1"]
    fixed = sum(1 for i in a if a[i] != 1 and b[i] == 1)
    broken = sum(1 for i in a if a[i] == 1 and b[i] != 1)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["fixed / broken"] == f"{fixed} / {broken}"
    assert f"Fixed by B ({fixed})" in [h.value for h in at.subheader]
    assert f"Broken by B ({broken})" in [h.value for h in at.subheader]
    assert _charts(at) == 1  # per-breed change
    at.selectbox(key="cmp_a").select(seeded.runs["pb-1"]).run()
    a = seeded.ranks["pb-1"]
    fixed = sum(1 for i in a if a[i] != 1 and b[i] == 1)
    broken = sum(1 for i in a if a[i] == 1 and b[i] != 1)
    assert {m.label: m.value for m in at.metric}["fixed / broken"] == f"{fixed} / {broken}"


@pytest.mark.parametrize("page", ["run_details.py", "compare_runs.py"])
def test_pages_without_runs_explain_what_to_do(app_env: Database, page: str) -> None:
    at = open_app(page)
    assert at.info and "run" in at.info[0].value.lower()
