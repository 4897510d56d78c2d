"""The review app as ``breedbench review`` serves it: the Streamlit app plus one file route.

``st.App`` (Streamlit's ASGI app) mounts ``app.py`` and a route for the review copies the
browser's queue preloads, served as files with a long-lived ``immutable`` cache header under
content-hashed names (``review.serving``). Streamlit's own static folder cannot do this (it
serves only files inside the app's folder, with ``no-cache``), and the media files of
``st.image`` live only as long as a session.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import streamlit as st
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from core.settings import load_settings
from db.database import Database, open_database
from review.serving import CACHE_CONTROL, ROUTE, THUMB_ROUTE, servable_copy, servable_thumb

APP = Path(__file__).with_name("app.py")


@cache
def _database() -> Database:
    return open_database(load_settings())


def review_copy_endpoint(request: Request) -> Response:
    """A review copy by its content-hashed name (404 for anything else). A plain function:
    Starlette runs it in its thread pool, so making a missing copy does not block the server."""
    db = _database()
    path = servable_copy(db, request.path_params["name"], db.settings.review_image_side)
    if path is None:
        return PlainTextResponse("not found", status_code=404)
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": CACHE_CONTROL})


def thumb_endpoint(request: Request) -> Response:
    """A stored thumbnail (the reference strip's pictures) by its content-hashed name."""
    path = servable_thumb(_database(), request.path_params["name"])
    if path is None:
        return PlainTextResponse("not found", status_code=404)
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": CACHE_CONTROL})


app = st.App(
    APP,
    routes=[
        Route(f"{ROUTE}/{{name}}", review_copy_endpoint),
        Route(f"{THUMB_ROUTE}/{{name}}", thumb_endpoint),
    ],
)
