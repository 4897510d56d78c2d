"""Reviewer passwords for shared deployments, kept as salted PBKDF2 hashes in Streamlit secrets.

``.streamlit/secrets.toml``::

    [reviewers]
    ana = "pbkdf2_sha256$600000$<salt hex>$<hash hex>"

``breedbench reviewer-password ana`` prints such a line. Only the hash is stored, and checks
compare in constant time, also for unknown names, so neither passwords nor the list of names
leak through timing.

New hashes use 600,000 iterations of SHA-256 (OWASP's figure for PBKDF2-HMAC-SHA256); hashes
made with fewer (200,000 before) still verify. They are not rewritten on sign-in: the only copy
lives in the secrets file, which the app never writes, and a stronger second copy elsewhere would
add a place to steal a hash from while the weak one stays where it is. ``needs_rehash`` names
them instead, so ``breedbench review`` and the sign-in can say which lines to re-create.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 600_000


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{ALGORITHM}${iterations}${salt.hex()}${digest.hex()}"


def _iterations(stored: str) -> int | None:
    """The iteration count of a well-formed hash, else ``None``."""
    parts = str(stored).split("$")
    if len(parts) != 4 or parts[0] != ALGORITHM or not parts[1].isdigit():
        return None
    return int(parts[1]) if int(parts[1]) > 0 else None


def verify_password(password: str, stored: str) -> bool:
    try:
        algorithm, iterations, salt, expected = stored.split("$")
        if algorithm != ALGORITHM or _iterations(stored) is None:
            return False
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt),
                                     int(iterations))  # fmt: skip
        return hmac.compare_digest(digest, bytes.fromhex(expected))
    except ValueError:
        return False


def needs_rehash(stored: str) -> bool:
    """True for a hash weaker than new ones (fewer iterations) or one that can never match."""
    iterations = _iterations(stored)
    return iterations is None or iterations < ITERATIONS


def check_reviewer(reviewers: Mapping[str, str], name: str, password: str) -> bool:
    """True when ``name`` is listed and ``password`` matches its hash."""
    stored = reviewers.get(name)
    if stored is None:
        verify_password(password, _dummy(reviewers))  # same work as a real check
        return False
    return verify_password(password, str(stored))


def _dummy(reviewers: Mapping[str, str]) -> str:
    """A hash nobody matches, costing what the listed ones cost (the most common count), so an
    unknown name takes as long as a known one even while older hashes are still configured."""
    counts = [n for n in (_iterations(str(v)) for v in reviewers.values()) if n is not None]
    iterations = max(set(counts), key=counts.count) if counts else ITERATIONS
    return f"{ALGORITHM}${iterations}${'00' * 16}${'00' * 32}"
