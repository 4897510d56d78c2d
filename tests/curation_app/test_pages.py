"""Every page of the review app, run by AppTest against a temporary database.

The frame (``app.py``) runs first on each page, as in the browser; session state and query
parameters are seeded to reach a state, and the rows written are read back from the database.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from db.database import Database
from db.models import Breed, Decision, FlagKind, ImageFlag, ImageStatus
from review.identity import hash_password
from tests.curation_app.queue_driver import QueueDriver, queue_data
from tests.factories import breed_id, image_row, insert_image, jpeg_bytes
from tests.fixtures.app import open_app, reviews_of


def _app(reviewer: str | None = "ana", page: str | None = None) -> AppTest:
    """A page opened with ``?reviewer=`` in the URL, as a bookmark keeps it."""
    return open_app(page, query={"reviewer": reviewer} if reviewer else None)


def _queue(reviewer: str | None = "ana") -> QueueDriver:
    """The queue page, and the browser's side of its component."""
    return QueueDriver(_app(reviewer))


def test_queue_decisions_are_recorded_with_reviewer_and_reason(app_env: Database, add_images):
    ids = add_images("boxer", 4)
    q = _queue()
    assert q.shown == ids[0]
    assert q.card["breed_name"] == "Boxer"
    assert (q.card["source"], q.card["license"]) == ("test", "cc0")
    q.press("accept")
    assert q.shown == ids[1]
    q.press("reject", "not_a_dog")
    ack = q.press("skip")
    assert q.shown == ids[3]
    rows = reviews_of(app_env)
    assert [(r.image_id, r.reviewer, r.decision, r.reason) for r in rows] == [
        (ids[0], "ana", Decision.ACCEPT, None),
        (ids[1], "ana", Decision.REJECT, "not_a_dog"),
        (ids[2], "ana", Decision.SKIP, None),
    ]
    assert image_row(app_env, ids[1]).status == ImageStatus.REJECTED
    assert ack["message"].startswith(f"skip #{ids[2]}")  # shown as "Last: ..."


def test_undo_appends_a_row_and_shows_the_image_again(app_env: Database, add_images) -> None:
    ids = add_images("pug", 3)
    q = _queue()
    q.press("reject", "poor_quality")
    assert q.shown == ids[1]
    q.press("undo")
    assert q.shown == ids[0]
    rows = reviews_of(app_env)
    assert [r.decision for r in rows] == [Decision.REJECT, Decision.UNDO]
    assert rows[1].undoes_id == rows[0].id and rows[1].reviewer == "ana"
    assert image_row(app_env, ids[0]).status == ImageStatus.PENDING


def test_relabel_with_the_breed_select(app_env: Database, add_images) -> None:
    (img,) = add_images("boxer", 1)
    pug = breed_id(app_env, "pug")
    q = _queue()
    # The breeds offered for a relabel: every breed, by its label (the browser leaves out the
    # image's own breed and keeps the relabel button disabled until one is chosen).
    assert [pug, "Pug (pug)"] in q.data["breeds"] and len(q.data["breeds"]) == 120
    ack = q.press("relabel", target=pug)
    assert ack["message"] == f"relabel #{img} → Pug (pug) · image is now accepted"
    (row,) = reviews_of(app_env)
    assert (row.decision, row.target_breed_id, row.reviewer) == (Decision.RELABEL, pug, "ana")
    assert image_row(app_env, img).breed_id == pug
    assert q.data["window"] == []  # "Nothing left to review here"


def test_shortcuts_are_shown_on_the_buttons(app_env: Database, add_images) -> None:
    add_images("boxer", 1)
    q = _queue()
    # The keys 1..6 are the reasons in this order (A, S, U and L are fixed in queue.js; the
    # browser test presses them).
    codes = [code for code, _ in q.data["reasons"]]
    assert codes[0] == "not_this_breed" and codes[5] == "poor_quality" and len(codes) == 6


def test_reviewer_is_chosen_and_kept_in_the_url(app_env: Database, add_images) -> None:
    add_images("boxer", 1)
    at = _app(reviewer=None)
    assert queue_data(at) is None
    at.text_input(key="name_in").input("   ")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["a decision needs a reviewer name"]
    assert "reviewer" not in at.session_state
    at.text_input(key="name_in").input("  Ana  Maria ")
    at.button[0].click().run()  # the form's submit button
    assert at.session_state["reviewer"] == "Ana Maria"
    assert at.query_params["reviewer"] == "Ana Maria"
    QueueDriver(at).press("accept")
    assert reviews_of(app_env)[0].reviewer == "Ana Maria"


def test_password_access_control(app_env: Database, add_images) -> None:
    add_images("boxer", 1)
    at = open_app(
        secrets={"reviewers": {"ana": hash_password("right-password", iterations=1000)}},
        query={"reviewer": "ana"},  # the URL alone does not sign anyone in
    )
    assert queue_data(at) is None
    at.text_input(key="name_in").input("ana")
    at.text_input[1].input("wrong-password")
    at.button[0].click().run()
    assert any("wrong password" in e.value for e in at.error)
    assert "reviewer" not in at.session_state
    at.text_input[1].input("right-password")
    at.button[0].click().run()
    assert at.session_state["reviewer"] == "ana"
    assert queue_data(at) is not None


@pytest.mark.parametrize("logged_in", [False, True])
def test_oidc_login(app_env: Database, add_images, logged_in: bool) -> None:
    add_images("boxer", 1)
    auth = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32}
    at = open_app(
        secrets={"auth": auth}, user={"is_logged_in": logged_in, "email": "ana@example.org"}
    )
    if not logged_in:
        assert [b.label for b in at.button] == ["Log in"]
        return
    QueueDriver(at).press("accept")
    assert reviews_of(app_env)[0].reviewer == "ana@example.org"


def test_grid_marks_rejects_and_accepts_the_rest(app_env: Database, add_images) -> None:
    ids = add_images("papillon", 5)
    at = _app(page="grid.py")
    at.selectbox(key="grid_breed").set_value(breed_id(app_env, "papillon")).run()
    assert len(at.checkbox) == 5
    at.checkbox(key=f"mark_{ids[1]}").check().run()
    at.checkbox(key=f"mark_{ids[3]}").check().run()
    at.selectbox(key="grid_reason").set_value("drawing_or_toy").run()
    button = at.button(key="accept_rest")
    assert button.label == "Reject 2 marked, accept the other 3"
    button.click().run()
    rows = {r.image_id: r for r in reviews_of(app_env)}
    assert {i for i, r in rows.items() if r.decision == Decision.REJECT} == {ids[1], ids[3]}
    assert rows[ids[1]].reason == "drawing_or_toy"
    assert {i for i, r in rows.items() if r.decision == Decision.ACCEPT} == {ids[0], ids[2], ids[4]}
    assert all(r.reviewer == "ana" for r in rows.values())
    assert any("Accepted 3, rejected 2" in s.value for s in at.success)


def test_breeds_overview_stores_the_query_flag(app_env: Database, add_images) -> None:
    at = _app(page="breeds.py")
    assert at.metric[0].value == "0 / 6000"
    at.selectbox(key="flag_breed").set_value("papillon").run()
    at.button(key="use_dog_keyword").click().run()
    assert any("papillon dog" in s.value for s in at.success)
    with app_env.session() as s:
        breed = s.get(Breed, breed_id(app_env, "papillon"))
        assert breed is not None
        assert breed.dog_keyword and breed.query_flagged_by == "ana"
        assert breed.query_flagged_at is not None


def test_breeds_overview_shows_a_refused_flag_as_an_error(app_env: Database, add_images) -> None:
    at = open_app("breeds.py", reviewer="x" * 61)  # a name no decision accepts
    at.selectbox(key="flag_breed").set_value("papillon").run()
    at.button(key="use_dog_keyword").click().run()
    assert [e.value for e in at.error] == ["reviewer name is longer than 60 characters"]
    assert not at.success
    with app_env.session() as s:
        assert not s.get(Breed, breed_id(app_env, "papillon")).dog_keyword  # type: ignore[union-attr]


def test_conflicts_page_resolves_a_duplicate(app_env: Database, add_images) -> None:
    a, b = add_images("boxer", 2)
    with app_env.session() as s:
        flag = ImageFlag(image_id=a, kind=FlagKind.NEAR_DUPLICATE, other_image_id=b, distance=1)
        s.add(flag)
        s.flush()
        flag_id = flag.id
    at = _app(page="conflicts.py")
    assert at.tabs[0].label == "Near-duplicates (1)"
    at.button(key=f"flag_{flag_id}_keep_image").click().run()
    assert any("kept image" in s.value for s in at.success)
    assert image_row(app_env, b).status == ImageStatus.REJECTED
    with app_env.session() as s:
        stored = s.get(ImageFlag, flag_id)
        assert stored is not None and stored.resolved_by == "ana"


def test_conflicts_page_relabels_a_cross_breed_picture(app_env: Database) -> None:
    data = jpeg_bytes(seed=321)
    a = insert_image(app_env, "boxer", data=data)
    b = insert_image(app_env, "pug", data=data)
    with app_env.session() as s:
        flag = ImageFlag(image_id=a, kind=FlagKind.CROSS_BREED, other_image_id=b, distance=0)
        s.add(flag)
        s.flush()
        flag_id = flag.id
    at = _app(page="conflicts.py")
    assert at.button(key=f"flag_{flag_id}_keep_image").label == "Keep left (Boxer), reject right"
    beagle = breed_id(app_env, "beagle")
    at.selectbox(key=f"relabel_{flag_id}").set_value(beagle).run()
    at.button(key=f"flag_{flag_id}_relabel_image").click().run()
    assert any("relabelled image" in s.value and "beagle" in s.value for s in at.success)
    assert image_row(app_env, a).breed_id == beagle
    (row,) = reviews_of(app_env, a)
    assert (row.decision, row.target_breed_id, row.reviewer) == (Decision.RELABEL, beagle, "ana")


def test_conflict_queue_under_consensus(app_env: Database, add_images, monkeypatch) -> None:
    monkeypatch.setenv("BREEDBENCH_MIN_REVIEWS", "2")
    (img,) = add_images("pug", 1)
    _queue("ana").press("accept")
    _queue("bo").press("reject", "not_this_breed")
    assert image_row(app_env, img).status == ImageStatus.PENDING
    at = _app("cy", page="conflicts.py")
    at.button(key=f"dis_acc_{img}").click().run()
    assert image_row(app_env, img).status == ImageStatus.ACCEPTED
    assert [r.reviewer for r in reviews_of(app_env)] == ["ana", "bo", "cy"]


def test_two_sessions_deciding_the_same_image(app_env: Database, add_images) -> None:
    (img,) = add_images("boxer", 1)
    ana, bo = _queue("ana"), _queue("bo")
    # The image is in Ana's window (leased to her): Bo is not handed it meanwhile.
    assert ana.shown == img and bo.shown is None
    ana.press("accept")
    # A decision Bo's browser still sends for it (an older window, another tab) is recorded.
    bo.press("reject", "several_breeds", image_id=img)
    rows = reviews_of(app_env)
    assert [(r.reviewer, r.decision) for r in rows] == [
        ("ana", Decision.ACCEPT),
        ("bo", Decision.REJECT),
    ]
    assert image_row(app_env, img).status == ImageStatus.REJECTED  # the latest decision wins


def test_a_missing_picture_is_reported_and_can_still_be_rejected(app_env: Database) -> None:
    img = insert_image(app_env, "boxer", seed=404)
    app_env.store.absolute(image_row(app_env, img).path).unlink()
    q = _queue()
    assert "missing from the store" in q.card["error"]
    q.press("reject", "poor_quality")
    (row,) = reviews_of(app_env)
    assert (row.image_id, row.reason) == (img, "poor_quality")
