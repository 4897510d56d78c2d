"""The queue's breed filter (the sidebar's "Review breed"): the window sent to the browser holds
only images of the chosen breed, and "All breeds" brings the others back."""

from __future__ import annotations

from db.database import Database
from tests.curation_app.queue_driver import queue_data
from tests.factories import breed_id
from tests.fixtures.app import open_app


def test_choosing_a_breed_sends_a_window_of_that_breed_only(app_env: Database, add_images) -> None:
    boxers = add_images("boxer", 2)
    pugs = add_images("pug", 3)
    boxers += add_images("boxer", 1)
    at = open_app(query={"reviewer": "ana"})
    data = queue_data(at)
    assert data is not None
    assert sorted(c["id"] for c in data["window"]) == sorted(boxers + pugs)

    pug = breed_id(app_env, "pug")
    at.selectbox(key="queue_breed").select(pug).run()
    assert not at.exception
    data = queue_data(at)
    assert data is not None
    assert [c["id"] for c in data["window"]] == pugs
    assert {c["breed_name"] for c in data["window"]} == {"Pug"}

    at.selectbox(key="queue_breed").select(None).run()
    data = queue_data(at)
    assert data is not None
    assert sorted(c["id"] for c in data["window"]) == sorted(boxers + pugs)
