"""``breedbench suspects``: the ranking as a table, and ``--send-back`` as audited resets."""

from __future__ import annotations

from sqlalchemy import select

from db.models import Decision, Image, ImageStatus, Review
from evaluator.pipeline import evaluate
from review.suspects import SUSPECT_REASON
from tests.cli.helpers import cli
from tests.fixtures.suspects import FILED_AS, PLANTED_CLASS, PlantedSet


def test_suspects_lists_the_planted_mislabel_first_with_its_top_breeds(
    planted: PlantedSet,
) -> None:
    evaluate(planted.db, "tiny:1-lite", threads=1)
    out = cli(planted.db, "suspects", "--limit", "3", width=160)
    assert out.exit_code == 0, out.output
    rows = [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in out.output.splitlines()
        if line.strip().startswith("│")
    ]
    rows = [r for r in rows if r[0].isdigit()]
    assert len(rows) == 3
    image, label, score, *_, top = rows[0]
    assert (int(image), label) == (planted.planted, planted.labels[FILED_AS])
    assert float(score) > 0.5 and top.startswith(planted.labels[PLANTED_CLASS])
    assert "3 of 17 images, 1 versions in 1 lineages" in out.output


def test_send_back_needs_a_reviewer_and_records_resets(planted: PlantedSet) -> None:
    evaluate(planted.db, "tiny:1-lite", threads=1)
    refused = cli(planted.db, "suspects", "--send-back", "1")
    assert refused.exit_code != 0 and "--send-back needs --reviewer" in refused.output
    out = cli(planted.db, "suspects", "--send-back", "1", "--reviewer", "ana", width=160)
    assert out.exit_code == 0, out.output
    assert (
        f"Sent 1 image(s) back to the review queue as suspected label errors: "
        f"#{planted.planted}." in out.output
    )
    with planted.db.session() as s:
        assert s.get(Image, planted.planted).status == ImageStatus.PENDING
        row = s.scalars(select(Review).order_by(Review.id.desc())).first()
        assert (row.image_id, row.decision, row.reason) == (
            planted.planted,
            Decision.RESET,
            SUSPECT_REASON,
        )


def test_no_runs_says_so_and_an_unknown_model_is_an_error(database) -> None:
    out = cli(database, "suspects")
    assert out.exit_code == 0 and "No suspects" in out.output
    bad = cli(database, "suspects", "--model", "nope")
    assert bad.exit_code != 0 and "no model version 'nope'" in bad.output


def test_reviewers_table(database) -> None:
    from db.reviews import record_decision
    from tests.factories import insert_image

    ids = [insert_image(database, "boxer", seed=n) for n in range(2)]
    for who, decision in (("ana", "accept"), ("ben", "reject")):
        for image_id in ids:
            with database.session() as s:
                record_decision(s, image_id, who, decision)
    out = cli(database, "reviewers", width=200)
    assert out.exit_code == 0, out.output
    rows = {
        cells[0]: cells
        for line in out.output.splitlines()
        if line.strip().startswith("│")
        for cells in [[c.strip() for c in line.strip().strip("│").split("│")]]
        if len(cells) == 12  # the reviewers table, not the pairs
    }
    # ana's two accepts were overruled by ben's later rejects; they agree on nothing
    assert rows["ana"][9] == "2" and rows["ana"][-1] == "2 (100%)"
    assert rows["ben"][-1] == "0 (0%)"
    assert "│ ana        │ ben        │      2 │    0% │ 0.000 │" in out.output
    assert cli(database, "--help").output.count("reviewers") >= 1
