"""Crawls from the app (AppTest): a real background ``breedbench crawl`` of the look-alike
Openverse started from the Breeds overview, followed live on the Crawls page and cancelled there;
a second crawl refused; the controls kept from anonymous users; an empty database's first page."""

from __future__ import annotations

import pytest

from core.errors import BreedbenchError
from crawler import background
from db.database import Database
from db.models import RunStatus
from tests.curation_app.queue_driver import queue_data
from tests.fixtures.app import open_app
from tests.fixtures.crawl_jobs import (
    HeldBreed,
    latest_run,
    running_run_with_images,
    stored_count,
    wait_until,
)


def buttons(at) -> list[str]:  # type: ignore[no-untyped-def]
    return [b.label for b in at.button]


def markdown(at) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(str(m.value) for m in at.markdown)


def test_top_up_started_followed_and_cancelled_from_the_app(
    crawl_app_env: Database, held_breed: HeldBreed
) -> None:
    db = crawl_app_env
    at = open_app("breeds.py", reviewer="ana")
    at.multiselect(key="top_up_breeds").select(held_breed.slug)
    top_up = next(b for b in at.button if b.label.startswith("Top up ("))
    top_up.click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Crawl started (otterhound)" in m.value for m in at.success), at.error
    run = wait_until(lambda: running_run_with_images(db, held_breed.good), "the first images")
    assert run.settings["started_by"] == "ana" and run.settings["breeds"] == [held_breed.slug]

    # The Crawls page of another session shows it live: its own tallies, from its progress file.
    at = open_app("crawls.py", reviewer="bo")
    progress = at.get("progress")
    assert progress and f"{held_breed.good} / 50 images stored" in progress[0].proto.text
    assert f"**Crawl run {run.id}** · running since" in markdown(at)
    assert "started by ana" in markdown(at)

    # A second crawl is refused while it runs, in the app and by the database.
    with pytest.raises(BreedbenchError, match=f"already running .*crawl run {run.id}"):
        background.start_crawl(db, started_by="bo")
    at.button(key="crawls_top_up").click().run()
    assert any(f"crawl run {run.id}" in e.value for e in at.error), [e.value for e in at.error]

    # The held images stay held: only the cancel can end this crawl.
    at.button(key=f"cancel-crawl-{run.id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    job = wait_until(
        lambda: (j := background.job_of_run(db.settings, run.id)) and not j.active and j,
        "the cancelled crawl to end",
    )
    assert job.status == "interrupted", job.tail
    done = latest_run(db)
    assert done is not None and done.id == run.id
    assert done.status == RunStatus.INTERRUPTED and done.settings["cancelled_by"] == "bo"
    kept = stored_count(db, run.id)
    assert kept >= held_breed.good  # what was stored is kept
    assert done.stats["breeds"][held_breed.slug]["stored"] == kept

    at = open_app("crawls.py", reviewer="bo")
    assert "No crawl is running." in [c.value for c in at.caption]
    history = at.dataframe[0].value
    assert list(history["run"]) == [run.id] and list(history["status"]) == ["interrupted"]
    assert list(history["cancelled by"]) == ["bo"] and list(history["stored"]) == [kept]
    assert len(at.get("vega_lite_chart")) >= 1  # the per-breed yield


def test_anonymous_users_see_crawls_but_not_the_controls(crawl_app_env: Database) -> None:
    for page in ("crawls.py", "breeds.py"):
        at = open_app(page)
        assert not [lb for lb in buttons(at) if "Top up" in lb or "Cancel" in lb], page
        assert not [b for b in at.get("form_submit_button") if "Top up" in b.label], page
        assert "Crawls are started and cancelled by named reviewers: enter your name." in [
            c.value for c in at.caption
        ]
    with pytest.raises(BreedbenchError, match="named reviewer"):
        background.start_crawl(crawl_app_env, started_by=" ")
    assert background.list_crawl_jobs(crawl_app_env.settings) == []
    # A name typed in makes the controls appear (the open mode).
    at = open_app("crawls.py")
    at.text_input(key="crawls_reviewer").input("ana").run()
    assert "Top up every breed under its target" in buttons(at)


def test_an_empty_database_explains_how_to_get_candidates(crawl_app_env: Database) -> None:
    at = open_app()  # the queue, as `make run` opens it
    assert "Nothing left to review here. Thank you!" not in [s.value for s in at.success]
    assert [h.value for h in at.subheader] == ["No candidate images yet"]
    text = markdown(at)
    assert "Top up from here" in text
    assert "breedbench crawl" in text and "breedbench import FOLDER" in text
    assert "Top up every breed to its target" not in buttons(at)  # anonymous: no button
    at = open_app(reviewer="ana")
    assert "Top up every breed to its target" in buttons(at)


def test_a_database_with_images_still_thanks_the_reviewer_at_the_end(
    crawl_app_env: Database, add_images
) -> None:  # type: ignore[no-untyped-def]
    from db.models import Decision
    from db.reviews import record_decision

    (image_id,) = add_images("beagle", 1)
    with crawl_app_env.session() as s:
        record_decision(s, image_id, "ana", Decision.ACCEPT)
    at = open_app(reviewer="ana")
    data = queue_data(at)  # the queue (its empty window reads "Nothing left to review here")
    assert data is not None and data["window"] == [] and data["remaining"] == 0
    assert "No candidate images yet" not in [h.value for h in at.subheader]


def test_the_crawls_page_marks_a_dead_crawl_interrupted(crawl_app_env: Database) -> None:
    import subprocess

    from core.processes import host_name
    from db.models import CrawlRun

    proc = subprocess.Popen(["true"])
    proc.wait()  # its pid is recorded on a run that will never end by itself
    with crawl_app_env.session() as s:
        row = CrawlRun(kind="crawl", status=RunStatus.RUNNING, pid=proc.pid, host=host_name())
        s.add(row)
        s.flush()
        run_id = row.id
    at = open_app("crawls.py")
    assert (
        f"Crawl run {run_id} was left running by pid {proc.pid} on {host_name()}, which is gone: "
        "marked interrupted (the images it stored are kept)."
    ) in [w.value for w in at.warning]
    assert latest_run(crawl_app_env).status == RunStatus.INTERRUPTED  # type: ignore[union-attr]
    assert list(at.dataframe[0].value["status"]) == ["interrupted"]
