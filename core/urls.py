"""Database URLs as they may be shown: a password never reaches the screen, a log or an error.

``BREEDBENCH_DATABASE_URL`` may carry a PostgreSQL password, and commands print the URL they use
(``init``, ``status``) or name it when it fails; all of them print ``mask_url(url)`` instead.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

MASK = "***"

# ``scheme://user:password@host``, for a URL SQLAlchemy cannot parse: everything between the
# user's ``:`` and the last ``@`` is taken as the password (masking too much is harmless).
_USERINFO_PASSWORD = re.compile(r"(?P<head>://[^/?#@:]*:)(?P<secret>.*)(?=@)")
# ``?password=...``: libpq and psycopg take the password as a query parameter too.
_QUERY_SECRET_KEYS = frozenset({"password", "passwd", "pwd", "sslpassword"})
_QUERY_SECRET = re.compile(
    r"(?P<head>[?&](?:" + "|".join(sorted(_QUERY_SECRET_KEYS)) + r")=)(?P<secret>[^&#]*)",
    re.IGNORECASE,
)
# Shorter passwords are not scrubbed from free text: replacing every "pw" would garble a message.
MIN_SCRUB_LENGTH = 4


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, whether or not SQLAlchemy can parse it."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - any URL, however broken, must still print masked
        return _mask_text(url)
    return _QUERY_SECRET.sub(
        lambda m: m.group("head") + MASK, parsed.render_as_string(hide_password=True)
    )


def scrub(text: str, url: str) -> str:
    """``text`` (e.g. a driver's error about ``url``) with the URL's passwords as ``***``.

    Drivers do not normally repeat the password, but a message that quotes the connection
    string would; this is the last guard before it reaches the screen.
    """
    for secret in _secrets(url):
        text = text.replace(secret, MASK)
    return text


def _secrets(url: str) -> list[str]:
    from sqlalchemy.engine import make_url

    found = [m.group("secret") for m in _USERINFO_PASSWORD.finditer(url)]
    found += [v for k, v in parse_qsl(url.partition("?")[2]) if k.lower() in _QUERY_SECRET_KEYS]
    try:
        password = make_url(url).password
    except Exception:  # noqa: BLE001 - the patterns above found what there is
        password = None
    if password:
        found.append(str(password))
    return sorted({s for s in found if len(s) >= MIN_SCRUB_LENGTH}, key=len, reverse=True)


def _mask_text(url: str) -> str:
    masked = _USERINFO_PASSWORD.sub(lambda m: m.group("head") + MASK, url)
    return _QUERY_SECRET.sub(lambda m: m.group("head") + MASK, masked)
