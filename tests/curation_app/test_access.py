"""Access in the app: password sign-ins throttled per name and per client address (not for a
loopback address), outdated hashes named, secrets that configure no usable sign-in, and actions
that are recorded (starting or stopping an evaluation, sending an image back) only under a
reviewer's name."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.errors import AppTestError

from core.errors import BreedbenchError
from curation_app import ui
from db.database import Database
from evaluator import jobs as eval_jobs
from review.identity import hash_password
from tests.fixtures.app import SteppedClock, open_app, reviews_of
from tests.fixtures.evaluation import RunningJob, wait_for_job
from tests.fixtures.seeding import Seeded

TOO_MANY = "Too many attempts, try again in {} s."


def _password_app() -> AppTest:
    return open_app(
        secrets={"reviewers": {"ana": hash_password("right-password", iterations=1000)}}
    )


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


@pytest.mark.parametrize("reviewers", ["pbkdf2_sha256$600000$00$00", {"ana": {"hash": "x"}}])
def test_reviewers_that_are_not_a_table_stop_the_app_before_any_sign_in(
    app_env: Database, add_images, reviewers: object
) -> None:
    """Once the app showed the password form and crashed at the first sign-in."""
    add_images("boxer", 1)
    at = open_app(secrets={"reviewers": reviewers}, query={"reviewer": "ana"})
    (error,) = [e.value for e in at.error]
    assert error.startswith("The app's secrets cannot be used, so nobody can sign in:")
    assert "not a" in error and "reviewer-password" in error
    assert not at.text_input and not any(b.key == "accept" for b in at.button)
    assert "reviewer" not in at.session_state


@pytest.mark.parametrize(
    ("remote_ip", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8::7", "2001:db8::7"),
        # Streamlit itself hides only these two ...
        ("127.0.0.1", None),
        ("::1", None),
        # ... but a reverse proxy on any other loopback address is every user's address too.
        ("127.0.0.2", None),
        ("::ffff:127.0.0.1", None),
        ("", None),
    ],
)
def test_sign_ins_are_counted_per_client_except_from_loopback(
    monkeypatch: pytest.MonkeyPatch, remote_ip: str, key: str | None
) -> None:
    """The address comes from Streamlit's own ``st.context.ip_address``, given the connection."""
    from streamlit.runtime import context

    monkeypatch.setattr(
        context, "_get_client_context", lambda: SimpleNamespace(remote_ip=remote_ip)
    )
    assert ui._client_address() == key


def test_an_outdated_password_hash_signs_in_and_says_how_to_renew_it(
    app_env: Database, add_images
) -> None:
    add_images("boxer", 1)
    at = _password_app()  # a 1,000-iteration hash: far below the 600,000 of new ones
    assert _sign_in(at, "ana", "right-password") == []
    notes = [c.value for c in at.sidebar.caption]
    assert any("breedbench reviewer-password ana" in n for n in notes)


def test_starting_an_evaluation_needs_a_name(app_env: Database, seeded: Seeded) -> None:
    at = open_app("models.py")
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
    wait_for_job(app_env, job.id)
    assert job.started_by == "Ana"


def test_stopping_an_evaluation_needs_a_name_and_records_it(
    app_env: Database, seeded: Seeded, running_job: RunningJob
) -> None:
    job, proc = running_job
    assert job.status == "running"
    at = open_app("models.py")
    stop = at.button(key=f"stop-{job.id}")
    assert stop.disabled
    with pytest.raises(AppTestError):
        stop.click()
    # Signed out after the page was drawn: the click from that page stops nothing.
    at = open_app("models.py", reviewer="ana")
    stop = at.button(key=f"stop-{job.id}")
    assert not stop.disabled
    del at.session_state["reviewer"]
    at.query_params.pop("reviewer", None)
    stop.click().run()
    assert not at.exception
    assert proc.poll() is None and eval_jobs.read_job(app_env.settings, job.id).stopped_by == ""
    # Named: the evaluation is interrupted, and every session sees who stopped it.
    at = open_app("models.py", reviewer="ana")
    at.button(key=f"stop-{job.id}").click().run()
    assert not at.exception
    proc.wait(timeout=30)
    stopped = eval_jobs.read_job(app_env.settings, job.id)
    assert (stopped.status, stopped.stopped_by, stopped.started_by) == ("stopped", "ana", "bo")
    other = open_app("models.py")
    assert "Stopped by ana before it finished: nothing was recorded." in [
        w.value for w in other.warning
    ]


def test_a_job_that_ends_before_stop_is_clicked_is_one_line(
    app_env: Database,
    seeded: Seeded,
    running_job: RunningJob,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Listed as running, finished by the time Stop is read: said on the page, not a traceback."""
    job, _ = running_job
    at = open_app("models.py", reviewer="ana")

    def finished_meanwhile(*args: object, **kwargs: object) -> eval_jobs.Job:
        raise BreedbenchError(f"evaluation job {job.id} is not running (finished)")

    monkeypatch.setattr(eval_jobs, "stop_job", finished_meanwhile)
    at.button(key=f"stop-{job.id}").click().run()
    assert not at.exception
    assert f"evaluation job {job.id} is not running (finished)" in [e.value for e in at.error]


def test_sending_back_to_review_needs_a_name(app_env: Database, seeded: Seeded) -> None:
    run = str(seeded.runs["pb-1"])
    before = [r.id for r in reviews_of(app_env)]
    at = open_app("run_details.py", query={"run": run})
    sends = [b for b in at.button if b.label == "Send back to review"]
    assert sends and all(b.disabled for b in sends)
    with pytest.raises(AppTestError):
        sends[0].click()
    at.text_input(key="gallery_reviewer").input("x" * 61).run()  # not a valid name
    assert any("longer than 60" in e.value for e in at.error)
    assert all(b.disabled for b in at.button if b.label == "Send back to review")
    # Signed out after the page was drawn: the click from that page records nothing.
    at = open_app("run_details.py", query={"run": run}, reviewer="ben")
    button = next(b for b in at.button if b.label == "Send back to review")
    del at.session_state["reviewer"]
    at.query_params.pop("reviewer", None)
    button.click().run()
    assert not at.exception
    assert [r.id for r in reviews_of(app_env)] == before  # no reset recorded
