"""Reviewer quality on a seeded review history whose figures are worked out by hand."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from db.database import Database
from db.models import Decision, Review
from db.reviews import record_decision
from review.quality import cohen_kappa, pace, reviewer_quality
from review.suspects import relabel_suspect
from tests.factories import breed_id, insert_image

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_cohen_kappa_of_a_worked_example() -> None:
    # both accept 4, both reject 3, a accepts / b rejects 2, a rejects / b accepts 1:
    # p_o = 0.7; a accepts 6/10, b 5/10 → p_e = 0.6·0.5 + 0.4·0.5 = 0.5; κ = 0.2 / 0.5 = 0.4
    a = ["A"] * 4 + ["R"] * 3 + ["A"] * 2 + ["R"]
    b = ["A"] * 4 + ["R"] * 3 + ["R"] * 2 + ["A"]
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(a, a) == pytest.approx(1.0)
    assert cohen_kappa(["A", "R"], ["R", "A"]) == pytest.approx(-1.0)
    assert cohen_kappa(["A", "A"], ["A", "A"]) is None  # chance agreement is certain
    assert cohen_kappa([], []) is None
    with pytest.raises(ValueError, match="same items"):
        cohen_kappa(["A"], [])


def test_cohen_kappa_matches_scikit_learn_on_random_labels() -> None:
    metrics = pytest.importorskip("sklearn.metrics")  # installed with cleanlab
    rng = random.Random(3)
    for _ in range(20):
        n = rng.randint(2, 60)
        a = [rng.choice("ARX") for _ in range(n)]
        b = [x if rng.random() < 0.6 else rng.choice("ARX") for x in a]
        if len(set(a) | set(b)) < 2:
            continue
        assert cohen_kappa(a, b) == pytest.approx(metrics.cohen_kappa_score(a, b))


def test_pace_splits_sittings_at_long_pauses() -> None:
    at = [T0 + timedelta(seconds=s) for s in (0, 10, 40, 50, 60, 2000, 2030)]
    assert pace(at) == (2, 10.0)  # steps 10, 30, 10, 10, (1940: a new sitting), 30
    assert pace(at[:1]) == (1, None)
    assert pace([]) == (0, None)


def _decide(db: Database, image_id: int, who: str, decision: Decision, second: int, **kw) -> None:
    with db.session() as s:
        row = record_decision(s, image_id, who, decision, **kw)
        s.execute(
            update(Review)
            .where(Review.id == row.id)
            .values(created_at=T0 + timedelta(seconds=second))
        )


def test_counts_pace_overturns_and_kappa_of_a_seeded_history(database: Database) -> None:
    db = database
    i1, i2, i3, i4, i5, i6 = [insert_image(db, "chihuahua", seed=n) for n in range(6)]
    _decide(db, i1, "ana", Decision.ACCEPT, 0)
    _decide(db, i2, "ana", Decision.ACCEPT, 10)
    _decide(db, i3, "ana", Decision.REJECT, 40, reason="not_a_dog")
    _decide(db, i4, "ana", Decision.ACCEPT, 50)
    _decide(db, i4, "ana", Decision.UNDO, 55)  # her accept of i4: undone
    _decide(db, i4, "ana", Decision.REJECT, 60, reason="not_a_dog")
    _decide(db, i5, "ana", Decision.ACCEPT, 2000)  # a new sitting
    _decide(db, i6, "ana", Decision.SKIP, 2030)
    _decide(db, i1, "ben", Decision.REJECT, 100, reason="not_a_dog")  # i1 rejected: ana overruled
    _decide(db, i3, "ben", Decision.REJECT, 130, reason="not_a_dog")
    _decide(db, i2, "ben", Decision.ACCEPT, 160)
    _decide(db, i4, "ben", Decision.ACCEPT, 700)  # i4 accepted: ana's reject overruled
    with db.session() as s:  # i5 relabelled from the suspects page
        relabel_suspect(s, i5, "cleo", breed_id(db, "pug"))
    with db.session() as s:
        report = reviewer_quality(s)
    by = {r.reviewer: r for r in report.reviewers}
    ana, ben, cleo = by["ana"], by["ben"], by["cleo"]
    assert (ana.decisions, ana.votes, ana.accepts, ana.rejects, ana.skips) == (7, 6, 4, 2, 1)
    assert (ana.sittings, ana.median_seconds) == (2, 10.0)
    assert (ana.undone, ana.overruled, ana.suspect_relabelled) == (1, 2, 1)
    assert ana.overturned == 4 and ana.overturned_rate == pytest.approx(4 / 6)
    assert (ben.votes, ben.overturned, ben.sittings, ben.median_seconds) == (4, 0, 1, 30.0)
    assert (cleo.relabels, cleo.overturned, cleo.median_seconds) == (1, 0, None)
    pairs = {(p.a, p.b): p for p in report.pairs}
    assert set(pairs) == {("ana", "ben"), ("ana", "cleo")}  # ben and cleo share no image
    # ana/ben on i1 (A/R), i2 (A/A), i3 (R/R), i4 (R/A): p_o = 0.5, p_e = 0.5 → κ = 0
    ab = pairs[("ana", "ben")]
    assert (ab.shared, ab.agreed, ab.agreement) == (4, 2, 0.5)
    assert ab.kappa == pytest.approx(0.0)
    ac = pairs[("ana", "cleo")]
    assert (ac.shared, ac.agreed, ac.kappa) == (1, 0, pytest.approx(0.0))
