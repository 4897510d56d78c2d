"""Reviewer passwords for shared deployments, kept as salted PBKDF2 hashes in Streamlit secrets.

``.streamlit/secrets.toml``::

    [reviewers]
    ana = "pbkdf2_sha256$200000$<salt hex>$<hash hex>"

``breedbench reviewer-password ana`` prints such a line. Only the hash is stored, and checks
compare in constant time, also for unknown names, so neither passwords nor the list of names
leak through timing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 200_000
_DUMMY = f"{ALGORITHM}${ITERATIONS}${'00' * 16}${'00' * 32}"


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{ALGORITHM}${iterations}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        algorithm, iterations, salt, expected = stored.split("$")
        if algorithm != ALGORITHM:
            return False
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt),
                                     int(iterations))  # fmt: skip
        return hmac.compare_digest(digest, bytes.fromhex(expected))
    except ValueError:
        return False


def check_reviewer(reviewers: Mapping[str, str], name: str, password: str) -> bool:
    """True when ``name`` is listed and ``password`` matches its hash."""
    stored = reviewers.get(name)
    if stored is None:
        verify_password(password, _DUMMY)  # same work as a real check
        return False
    return verify_password(password, str(stored))
