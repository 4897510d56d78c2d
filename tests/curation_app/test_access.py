"""Access in the app: throttled password sign-ins, outdated hashes named, and actions that are
recorded (starting an evaluation, sending an image back) only under a reviewer's name."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.errors import AppTestError

from curation_app import ui
from db.database import Database
from evaluator import jobs as eval_jobs
from review.identity import hash_password
from tests.curation_app.conftest import SteppedClock
from tests.curation_app.test_dashboard_pages import open_page
from tests.fixtures.app import reviews_of
from tests.fixtures.seeding import Seeded

APP = str(Path(ui.__file__).with_name("app.py"))
TOO_MANY = "Too many attempts, try again in {} s."


def _password_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["reviewers"] = {"ana": hash_password("right-password", iterations=1000)}
    return at.run()


def _sign_in(at: AppTest, name: str, password: str) -> list[str]:
    at.text_input(key="name_in").input(name)
    at.text_input(key="password_in").input(password)
    at.button[0].click().run()
    assert not at.exception
    return [e.value for e in at.error]


def test_repeated_wrong_passwords_lock_the_name_out(
    app_env: Database, add_images, sign_in_clock: SteppedClock
) -> None:
    add_images("boxer", 1)
    at = _password_app()
    for _ in range(4):
        assert _sign_in(at, "ana", "guess") == ["Unknown reviewer or wrong password."]
        sign_in_clock.now += 10
    assert _sign_in(at, "ana", "guess") == [
        "Unknown reviewer or wrong password. " + TOO_MANY.format(30)
    ]
    sign_in_clock.now += 12
    # Refused before the password is even checked, the right one included.
    assert _sign_in(at, "ana", "right-password") == [TOO_MANY.format(18)]
    assert "reviewer" not in at.session_state
    # Another name is not locked by ana's failures.
    assert _sign_in(at, "bo", "guess") == ["Unknown reviewer or wrong password."]
    sign_in_clock.now += 18
    assert _sign_in(at, "ana", "right-password") == []
    assert at.session_state["reviewer"] == "ana"


def test_one_client_guessing_many_names_is_locked_out(
    app_env: Database, add_images, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_images("boxer", 1)
    monkeypatch.setattr(ui, "_client_address", lambda: "203.0.113.9")
    at = _password_app()
    for name in ("bo", "cy", "di", "ed"):
        assert _sign_in(at, name, "guess") == ["Unknown reviewer or wrong password."]
    assert TOO_MANY.format(30) in _sign_in(at, "fay", "guess")[0]
    assert _sign_in(at, "ana", "right-password") == [TOO_MANY.format(30)]
    assert "reviewer" not in at.session_state


def test_an_outdated_password_hash_signs_in_and_says_how_to_renew_it(
    app_env: Database, add_images
) -> None:
    add_images("boxer", 1)
    at = _password_app()  # a 1,000-iteration hash: far below the 600,000 of new ones
    assert _sign_in(at, "ana", "right-password") == []
    notes = [c.value for c in at.sidebar.caption]
    assert any("breedbench reviewer-password ana" in n for n in notes)


def _wait_until_done(db: Database, job_id: str) -> None:
    deadline = time.monotonic() + 60
    while eval_jobs.read_job(db.settings, job_id).status == "running":
        if time.monotonic() > deadline:
            eval_jobs.stop_job(db.settings, job_id)
            break
        time.sleep(0.2)


def test_starting_an_evaluation_needs_a_name(app_env: Database, seeded: Seeded) -> None:
    at = open_page("models.py")
    start = next(b for b in at.button if b.label == "Start evaluation")
    assert start.disabled
    assert "Enter your name to start or stop an evaluation." in [c.value for c in at.caption]
    with pytest.raises(AppTestError):
        start.click()
    assert eval_jobs.list_jobs(app_env.settings) == []
    # A name typed on the page becomes the session's reviewer and enables the button.
    at.text_input(key="eval_reviewer").input("  Ana ").run()
    assert at.session_state["reviewer"] == "Ana"
    next(b for b in at.button if b.label == "Start evaluation").click().run()
    assert not at.exception
    (job,) = eval_jobs.list_jobs(app_env.settings)
    _wait_until_done(app_env, job.id)
    assert job.started_by == "Ana"


def test_sending_back_to_review_needs_a_name(app_env: Database, seeded: Seeded) -> None:
    run = str(seeded.runs["pb-1"])
    before = [r.id for r in reviews_of(app_env)]
    at = open_page("run_details.py", query={"run": run})
    sends = [b for b in at.button if b.label == "Send back to review"]
    assert sends and all(b.disabled for b in sends)
    with pytest.raises(AppTestError):
        sends[0].click()
    at.text_input(key="gallery_reviewer").input("x" * 61).run()  # not a valid name
    assert any("longer than 60" in e.value for e in at.error)
    assert all(b.disabled for b in at.button if b.label == "Send back to review")
    # Signed out after the page was drawn: the click from that page records nothing.
    at = open_page("run_details.py", query={"run": run}, reviewer="ben")
    button = next(b for b in at.button if b.label == "Send back to review")
    del at.session_state["reviewer"]
    at.query_params.pop("reviewer", None)
    button.click().run()
    assert not at.exception
    assert [r.id for r in reviews_of(app_env)] == before  # no reset recorded
