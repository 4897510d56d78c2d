"""Streamlit pieces shared by the frame and the pages: who is reviewing, and the page style.

Reviewer identity, by what is configured in Streamlit secrets:

* ``[auth]`` (OpenID Connect): ``st.login``; the reviewer is the signed-in e-mail address;
* ``[reviewers]`` (name = password hash): a name and password form, checked in constant time;
* nothing: any name; it is kept in the URL (``?reviewer=ana``) and the session, so a bookmark
  or a reload keeps it. ``breedbench review`` serves this open mode on loopback only
  (``review.access``).

Password sign-ins are throttled per name and per client address (``review.throttle``); an action
that is recorded (a decision, an evaluation started or stopped, an image sent back) always needs a
named reviewer (``require_reviewer`` or ``named_reviewer``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit.errors import StreamlitSecretNotFoundError

from core.errors import BreedbenchError
from core.text import inline_code, plain
from review import access
from review.decisions import clean_reviewer
from review.identity import check_reviewer, needs_rehash
from review.throttle import SignInThrottle

REVIEWER_KEY = "reviewer"
QUERY_PARAM = "reviewer"
REHASH_KEY = "reviewer_password_outdated"
# One per app process: every session counts against the same names and addresses.
THROTTLE = SignInThrottle()
_LOG = logging.getLogger(__name__)

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
    """The app's secrets; none at all is the open mode, but unreadable ones stop the app, since
    reading a broken file as "no sign-in" would let anyone in."""
    try:
        return st.secrets.to_dict()
    except StreamlitSecretNotFoundError as exc:
        if getattr(exc, "error_id", None) == "no-secrets-found":
            return {}
        st.error(f"The app's secrets cannot be read, so nobody can sign in: {plain(exc)}")
        st.stop()
    except FileNotFoundError:
        return {}


def access_mode() -> access.AccessMode:
    """``oidc``, ``passwords`` or ``open`` (see the module docstring); secrets that configure
    no usable sign-in stop the page, as unreadable ones do."""
    try:
        return access.access_mode(_secrets())
    except BreedbenchError as exc:
        st.error(f"The app's secrets cannot be used, so nobody can sign in: {plain(exc)}")
        st.stop()


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
                st.markdown(f"Reviewer: **{plain(name)}**")
                if st.session_state.get(REHASH_KEY):
                    st.caption(
                        "Your password is stored with an older, weaker hash: print a new line "
                        f"with {inline_code(f'breedbench reviewer-password {name}')} and have it "
                        "replace yours in the app's secrets."
                    )
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


def named_reviewer(where: DeltaGenerator, *, key: str, label: str) -> str | None:
    """The reviewer's name for an action on a page anyone may read, or ``None`` while unnamed.

    With sign-in configured the frame has already asked; in the open mode this asks inline, and a
    valid name becomes the session's reviewer (as the sign-in form would make it).
    """
    name = st.session_state.get(REVIEWER_KEY)
    if name:
        return str(name)
    if access_mode() != "open":
        return None
    typed = where.text_input(label, key=key)
    if not typed.strip():
        return None
    try:
        cleaned = clean_reviewer(typed)
    except BreedbenchError as exc:
        where.error(plain(exc))
        return None
    st.session_state[REVIEWER_KEY] = cleaned
    st.query_params[QUERY_PARAM] = cleaned
    return cleaned


def _sign_out() -> None:
    st.session_state.pop(REVIEWER_KEY, None)
    st.session_state.pop(REHASH_KEY, None)
    st.query_params.pop(QUERY_PARAM, None)


def _client_address() -> str | None:
    """The client's address as the server sees it, or ``None`` on loopback, where every user of
    a local reverse proxy would share one key and lock each other out. Streamlit itself hides
    only exactly ``127.0.0.1`` and ``::1``; a proxy on ``127.0.0.2`` or ``::ffff:127.0.0.1`` is
    loopback too (``review.access.is_loopback``)."""
    address = st.context.ip_address
    if not isinstance(address, str) or not address or access.is_loopback(address):
        return None
    return address


def too_many_attempts(seconds: int) -> str:
    return f"Too many attempts, try again in {seconds} s."


def _sign_in_form(mode: str) -> None:
    narrow = st.columns([2, 3])[0]
    narrow.subheader("Who is reviewing?", anchor=False)
    narrow.caption("Every decision is recorded with this name.")
    with narrow.form("sign_in"):
        name = st.text_input("Your name", value=st.query_params.get(QUERY_PARAM, ""), key="name_in")
        password = (
            st.text_input("Password", type="password", key="password_in")
            if mode == "passwords"
            else ""
        )
        submitted = st.form_submit_button("Start reviewing", type="primary")
    if not submitted:
        return
    try:
        cleaned = clean_reviewer(name)
    except BreedbenchError as exc:
        narrow.error(plain(exc))
        return
    if mode == "passwords":
        name_key = ("name", cleaned)
        keys = [name_key]
        if (address := _client_address()) is not None:
            keys.append(("client", address))
        if wait := THROTTLE.retry_after(keys):
            narrow.error(too_many_attempts(wait))
            return
        reviewers = access.reviewer_hashes(_secrets())
        if not check_reviewer(reviewers, cleaned, password):
            wait = THROTTLE.failure(keys)
            message = "Unknown reviewer or wrong password."
            narrow.error(f"{message} {too_many_attempts(wait)}" if wait else message)
            return
        THROTTLE.success([name_key])
        if needs_rehash(reviewers[cleaned]):
            st.session_state[REHASH_KEY] = True
            _LOG.warning(
                "reviewer %r signed in with an outdated password hash; "
                "re-create it with: breedbench reviewer-password",
                cleaned,
            )
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
        st.markdown(f"Reviewer: **{plain(name)}**")
        st.button("Log out", on_click=st.logout)
    return name


def page_style() -> None:
    st.html(CSS)
