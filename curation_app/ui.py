"""Streamlit pieces shared by the frame and the pages: who is reviewing, and the page style.

Reviewer identity, by what is configured in Streamlit secrets:

* ``[auth]`` (OpenID Connect): ``st.login``; the reviewer is the signed-in e-mail address;
* ``[reviewers]`` (name = password hash): a name and password form, checked in constant time;
* nothing: any name; it is kept in the URL (``?reviewer=ana``) and the session, so a bookmark
  or a reload keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from core.errors import BreedbenchError
from review.decisions import clean_reviewer
from review.identity import check_reviewer

REVIEWER_KEY = "reviewer"
QUERY_PARAM = "reviewer"

CSS = """
<style>
.st-key-review-image img { max-height: 72vh; width: auto !important; max-width: 100%;
  object-fit: contain; margin: 0 auto; display: block; }
.st-key-review-image { min-height: 72vh; }
.st-key-preload { position: fixed; left: -10000px; top: 0; width: 600px; height: 1px;
  overflow: hidden; pointer-events: none; }
[class*="st-key-cell-marked"] { outline: 4px solid #d33; border-radius: 6px; opacity: 0.55; }
[class*="st-key-cell-"] img { aspect-ratio: 1 / 1; object-fit: cover; }
.bb-breed { font-size: 1.6rem; font-weight: 700; margin: 0; }
</style>
"""


def _secrets() -> Mapping[str, Any]:
    try:
        return st.secrets.to_dict()
    except (StreamlitSecretNotFoundError, FileNotFoundError):
        return {}


def access_mode() -> str:
    """``oidc``, ``passwords`` or ``open`` (see the module docstring)."""
    secrets = _secrets()
    if secrets.get("auth"):
        return "oidc"
    if secrets.get("reviewers"):
        return "passwords"
    return "open"


def frame_reviewer() -> str | None:
    """Called by the frame on every page: who is reviewing, if known.

    With access control configured, nobody gets past the sign-in; in the open mode pages that
    record decisions ask for a name themselves (``require_reviewer``).
    """
    mode = access_mode()
    if mode == "oidc":
        name = _oidc_reviewer()
    else:
        name = st.session_state.get(REVIEWER_KEY)
        if name is None and mode == "open" and st.query_params.get(QUERY_PARAM):
            try:
                name = clean_reviewer(st.query_params[QUERY_PARAM])
            except BreedbenchError:
                name = None
            st.session_state[REVIEWER_KEY] = name
        if name is not None:
            if st.query_params.get(QUERY_PARAM) != name:
                st.query_params[QUERY_PARAM] = name
            with st.sidebar:
                st.markdown(f"Reviewer: **{name}**")
                st.button("Change reviewer", key="change_reviewer", on_click=_sign_out)
    if name is None and mode != "open":
        if mode == "passwords":
            _sign_in_form(mode)
        st.stop()
    return name


def require_reviewer() -> str:
    """The reviewer's name; asks for it (and stops the page) when none is chosen yet."""
    name = st.session_state.get(REVIEWER_KEY)
    if not name:
        _sign_in_form(access_mode())
        st.stop()
    return str(name)


def _sign_out() -> None:
    st.session_state.pop(REVIEWER_KEY, None)
    st.query_params.pop(QUERY_PARAM, None)


def _sign_in_form(mode: str) -> None:
    narrow = st.columns([2, 3])[0]
    narrow.subheader("Who is reviewing?", anchor=False)
    narrow.caption("Every decision is recorded with this name.")
    with narrow.form("sign_in"):
        name = st.text_input("Your name", value=st.query_params.get(QUERY_PARAM, ""), key="name_in")
        password = st.text_input("Password", type="password") if mode == "passwords" else ""
        submitted = st.form_submit_button("Start reviewing", type="primary")
    if not submitted:
        return
    try:
        cleaned = clean_reviewer(name)
    except BreedbenchError as exc:
        narrow.error(str(exc))
        return
    if mode == "passwords" and not check_reviewer(_secrets()["reviewers"], cleaned, password):
        narrow.error("Unknown reviewer or wrong password.")
        return
    st.session_state[REVIEWER_KEY] = cleaned
    st.query_params[QUERY_PARAM] = cleaned
    st.rerun()


def _oidc_reviewer() -> str | None:
    if not st.user.is_logged_in:
        st.subheader("Sign in to review")
        st.button("Log in", type="primary", on_click=st.login)
        return None
    name = clean_reviewer(str(st.user.get("email") or st.user.get("name") or ""))
    st.session_state[REVIEWER_KEY] = name
    with st.sidebar:
        st.markdown(f"Reviewer: **{name}**")
        st.button("Log out", on_click=st.logout)
    return name


def page_style() -> None:
    st.html(CSS)
