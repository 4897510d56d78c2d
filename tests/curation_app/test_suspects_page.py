"""The Suspects page under AppTest: the worst suspect first with both breeds' references, and
keep / send back / relabel recorded with the reviewer's name."""

from __future__ import annotations

from sqlalchemy import select

from db.database import Database
from db.models import Decision, Image, ImageStatus, LabelCheck
from review.suspects import SUSPECT_REASON, send_back
from tests.factories import breed_id
from tests.fixtures.app import open_app, reviews_of


def _page(**state: object):  # type: ignore[no-untyped-def]
    return open_app("suspects.py", reviewer="ana", **state)


def test_worst_suspect_first_with_references_of_both_breeds(
    app_env: Database, suspect_set: dict[str, list[int]]
) -> None:
    at = _page()
    suspect = suspect_set["chihuahua"][0]
    assert at.subheader[0].value == "Labelled Chihuahua"
    assert at.button(key="relabel").label == "Relabel to Pug"
    texts = " ".join(m.value for m in at.markdown)
    assert "Accepted as Chihuahua" in texts and "Accepted as Pug" in texts
    table = at.dataframe[0].value
    assert list(table["image"])[:2] == [suspect, suspect_set["pug"][1]]
    shortcuts = [at.button(key=k).proto.shortcut.lower() for k in ("keep", "send_back", "relabel")]
    assert shortcuts == ["k", "b", "l"]


def test_keep_hides_the_suspect_and_records_the_score(
    app_env: Database, suspect_set: dict[str, list[int]]
) -> None:
    at = _page()
    at.button(key="keep").click().run()
    suspect = suspect_set["chihuahua"][0]
    with app_env.session() as s:
        check = s.scalars(select(LabelCheck)).one()
    assert (check.image_id, check.reviewer) == (suspect, "ana")
    assert abs(check.score - 0.95) < 1e-3
    assert any(f"kept #{suspect}" in m.value for m in at.success)
    assert at.subheader[0].value == "Labelled Pug"  # the next suspect
    assert suspect not in list(at.dataframe[0].value["image"])


def test_send_back_and_relabel_are_decisions(
    app_env: Database, suspect_set: dict[str, list[int]]
) -> None:
    at = _page()
    at.button(key="send_back").click().run()
    first = suspect_set["chihuahua"][0]
    rows = reviews_of(app_env, first)
    assert (rows[-1].decision, rows[-1].reviewer, rows[-1].reason) == (
        Decision.RESET,
        "ana",
        SUSPECT_REASON,
    )
    with app_env.session() as s:
        assert s.get(Image, first).status == ImageStatus.PENDING
    second = suspect_set["pug"][1]
    assert at.button(key="relabel").label == "Relabel to Chihuahua"
    at.button(key="relabel").click().run()
    last = reviews_of(app_env, second)[-1]
    assert (last.decision, last.reason) == (Decision.RELABEL, SUSPECT_REASON)
    with app_env.session() as s:
        assert s.get(Image, second).breed_id == breed_id(app_env, "chihuahua")


def test_no_runs_yet(app_env: Database) -> None:
    at = _page()
    assert any("No suspects" in m.value for m in at.success)


def test_a_suspect_sent_back_elsewhere_meanwhile_is_reported_and_skipped(
    app_env: Database, suspect_set: dict[str, list[int]]
) -> None:
    at = _page()
    first = suspect_set["chihuahua"][0]
    with app_env.session() as s:
        send_back(s, first, "ben")
    at.button(key="keep").click().run()
    assert any(f"image {first} is pending now" in e.value for e in at.error)
    assert at.subheader[0].value == "Labelled Pug"
    with app_env.session() as s:
        assert s.scalars(select(LabelCheck)).first() is None
