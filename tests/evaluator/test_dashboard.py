"""The dashboard's data: version tree, history, trade-offs, mistakes ordering, comparisons."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from core.errors import BreedbenchError
from db.database import Database
from evaluator import dashboard as ev
from tests.fixtures.seeding import Seeded, add_run, seed_evaluations


def test_version_tree_puts_children_under_their_parent(database: Database, seeded: Seeded) -> None:
    with database.session() as s:
        tree = ev.version_tree(s, "inception-breeds")
    assert [(n.info.version, n.depth) for n in tree] == [("1", 0), ("1-dynamic", 1)]
    assert tree[1].info.parent_id == tree[0].info.id


def test_history_has_three_points_per_finished_run_oldest_first(
    database: Database, seeded: Seeded
) -> None:
    with database.session() as s:
        points = ev.history(s, "inception-breeds")
    assert [p.run_id for p in points[::3]] == [
        seeded.runs["pb-1"],
        seeded.runs["pb-2"],
        seeded.runs["lite-1"],
    ]
    ranks = seeded.ranks["pb-2"]
    top1 = next(p for p in points if p.run_id == seeded.runs["pb-2"] and p.k == 1)
    assert top1.rate == pytest.approx(sum(r == 1 for r in ranks.values()) / len(ranks))
    assert top1.ci_low < top1.rate < top1.ci_high


def test_trade_off_delta_only_on_the_same_dataset(database: Database, seeded: Seeded) -> None:
    with database.session() as s:
        rows = ev.trade_offs(s, "inception-breeds")
        deltas = ev.top1_delta_vs_parent(rows)
    parent, child = rows
    assert child.size_ratio == pytest.approx(30.7 / 96.3)
    assert deltas[child.version.id] == pytest.approx(child.top[1].rate - parent.top[1].rate)
    # A newer run of the child on another image set: no like-for-like delta any more.
    add_run(
        database,
        seeded.child_id,
        seeded.ranks["lite-1"],
        started=child.version.created_at.replace(year=2027),
        dataset_hash="e" * 64,
    )
    with database.session() as s:
        assert ev.top1_delta_vs_parent(ev.trade_offs(s, "inception-breeds")) == {}


def test_mistakes_most_confident_first_with_filters(database: Database, seeded: Seeded) -> None:
    run = seeded.runs["lite-1"]
    ranks = seeded.ranks["lite-1"]
    wrong = {i for i, r in ranks.items() if r != 1}
    outside = {i for i, r in ranks.items() if r is None}
    with database.session() as s:
        page = ev.mistakes(s, run, limit=100)
        assert {m.prediction.image_id for m in page.items} == wrong
        assert page.total == len(wrong)
        confidences = [m.confidence for m in page.items]
        assert confidences == sorted(confidences, reverse=True)
        only_out = ev.mistakes(s, run, worst="top5", limit=100)
        assert {m.prediction.image_id for m in only_out.items} == outside
        beagles = set(seeded.image_ids["beagle"])
        by_breed = ev.mistakes(s, run, breed="beagle", limit=100)
        assert {m.prediction.image_id for m in by_breed.items} == wrong & beagles
        second = ev.mistakes(s, run, offset=2, limit=2)
        assert [m.prediction.image_id for m in second.items] == [
            m.prediction.image_id for m in page.items[2:4]
        ]
        with pytest.raises(BreedbenchError, match="no breed 'wolf'"):
            ev.mistakes(s, run, breed="wolf")


def test_mistakes_past_the_end_gives_the_last_page(database: Database, seeded: Seeded) -> None:
    """A pager left on page 5 after a filter shortened the list shows the last page, not none."""
    run = seeded.runs["lite-1"]
    with database.session() as s:
        everything = ev.mistakes(s, run, limit=100)
        assert everything.total > 2
        last_start = (everything.total - 1) // 2 * 2
        late = ev.mistakes(s, run, offset=everything.total + 10, limit=2)
        assert late.offset == last_start
        assert [m.prediction.image_id for m in late.items] == [
            m.prediction.image_id for m in everything.items[last_start:]
        ]
        assert ev.mistakes(s, run, offset=2, limit=2).offset == 2


def test_compare_counts_fixed_and_broken_with_mcnemar(database: Database, seeded: Seeded) -> None:
    a, b = seeded.ranks["pb-1"], seeded.ranks["pb-2"]
    fixed = {i for i in a if a[i] != 1 and b[i] == 1}
    broken = {i for i in a if a[i] == 1 and b[i] != 1}
    with database.session() as s:
        cmp = ev.compare(s, seeded.runs["pb-1"], seeded.runs["pb-2"])
        with pytest.raises(BreedbenchError, match="two different runs"):
            ev.compare(s, seeded.runs["pb-1"], seeded.runs["pb-1"])
    assert {c.image_id for c in cmp.result.fixed} == fixed
    assert {c.image_id for c in cmp.result.broken} == broken
    assert set(cmp.thumbs) == fixed | broken and all(cmp.thumbs.values())
    expected = binomtest(len(fixed), len(fixed) + len(broken), 0.5).pvalue
    assert cmp.result.p_value == pytest.approx(expected)


def test_dashboard_queries_on_sqlite_and_postgresql(any_database: Database) -> None:
    seeded = seed_evaluations(any_database, per_breed=2)
    run = seeded.runs["lite-1"]
    ranks = seeded.ranks["lite-1"]
    with any_database.session() as s:
        assert [n.depth for n in ev.version_tree(s)] == [0, 1]
        assert len(ev.history(s, "inception-breeds")) == 9
        assert len(ev.trade_offs(s, "inception-breeds")) == 2
        assert sum(b.n for b in ev.per_breed(s, run)) == len(ranks)
        page = ev.mistakes(s, run, limit=100)
        assert page.total == sum(r != 1 for r in ranks.values())
        cmp = ev.compare(s, seeded.runs["pb-1"], run)
        assert cmp.result.shared == len(ranks)
