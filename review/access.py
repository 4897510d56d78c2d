"""Who may reach the review app: the sign-in its secrets configure, and where it may listen.

One rule for both sides. The app reads its sign-in mode from ``st.secrets``; ``breedbench review``
reads the same files with ``tomllib`` before any server starts (and hands Streamlit that exact
list), so the command that refuses to expose an app without sign-in agrees with the app it starts.

Without ``[auth]`` or ``[reviewers]`` the app is *open*: anyone who reaches it types any name and
acts as that reviewer. That is fine on this machine and nowhere else, so an open app listens on a
loopback address only, unless whoever starts it says otherwise (``--allow-open-network``).
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from core.errors import BreedbenchError

AccessMode = Literal["oidc", "passwords", "open"]

STREAMLIT_DIR = ".streamlit"
SECRETS_FILE = "secrets.toml"
CONFIG_FILE = "config.toml"
# ``streamlit run`` takes every config option from STREAMLIT_<SECTION>_<OPTION> too.
SECRETS_FILES_ENV = "STREAMLIT_SECRETS_FILES"


def access_mode(secrets: Mapping[str, Any]) -> AccessMode:
    """``oidc`` with an ``[auth]`` section, else ``passwords`` with ``[reviewers]``, else open.

    A ``[reviewers]`` entry that is not a table of password hashes is an error here, before any
    server starts, rather than an app that says it wants passwords and fails at the first sign-in.
    """
    reviewers = reviewer_hashes(secrets)
    if secrets.get("auth"):
        return "oidc"
    if reviewers:
        return "passwords"
    return "open"


def reviewer_hashes(secrets: Mapping[str, Any]) -> dict[str, str]:
    """The ``[reviewers]`` table: reviewer name → password hash (empty when there is none).

    Raises ``BreedbenchError`` for anything else: ``reviewers = "..."``, a name whose value is
    not a string, or a secrets folder ``reviewers/`` holding a single file, which Streamlit reads
    as that file's text instead of a table of one.
    """
    reviewers = secrets.get("reviewers")
    if reviewers is None:
        return {}
    if not isinstance(reviewers, Mapping):
        raise BreedbenchError(
            f"[reviewers] in the app's secrets is {_kind(reviewers)}, not a table of "
            "NAME = HASH lines (see 'breedbench reviewer-password'); a secrets folder "
            "reviewers/ with a single file is read as that file's text: list a lone reviewer "
            "in secrets.toml instead"
        )
    for name, stored in reviewers.items():
        if not isinstance(stored, str):
            raise BreedbenchError(
                f"[reviewers] entry {str(name)!r} in the app's secrets is {_kind(stored)}, not a "
                "password hash string (see 'breedbench reviewer-password')"
            )
    return {str(name): stored for name, stored in reviewers.items()}


def _kind(value: object) -> str:
    """What a misplaced secrets value is, in TOML's words."""
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "an array"
    return f"a {type(value).__name__}"


def streamlit_dirs(
    app_script: Path, *, home: Path | None = None, cwd: Path | None = None
) -> list[Path]:
    """Streamlit's ``.streamlit`` folders, in the order it reads them (a later one wins).

    Streamlit 1.67 looks in the user's home, then the working directory, then the folder of the
    app script (``streamlit.config.get_config_files``).
    """
    dirs = [(home or Path.home()) / STREAMLIT_DIR, (cwd or Path.cwd()) / STREAMLIT_DIR]
    script_dir = app_script.resolve().parent / STREAMLIT_DIR
    if script_dir not in dirs:
        dirs.append(script_dir)
    return dirs


def secrets_files(
    app_script: Path,
    *,
    home: Path | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """The secrets locations the app reads, first to last.

    ``STREAMLIT_SECRETS_FILES`` if set, else ``[secrets] files`` of the last ``config.toml`` that
    sets it, else Streamlit's default: ``secrets.toml`` in each ``.streamlit`` folder.
    """
    environ = os.environ if environ is None else environ
    if environ.get(SECRETS_FILES_ENV, "").strip():
        return environ[SECRETS_FILES_ENV].split()
    dirs = streamlit_dirs(app_script, home=home, cwd=cwd)
    configured: list[str] | None = None
    for folder in dirs:
        section = _read_toml(folder / CONFIG_FILE).get("secrets")
        files = section.get("files") if isinstance(section, dict) else None
        if files is not None:
            configured = [str(files)] if isinstance(files, str) else [str(f) for f in files]
    if configured is not None:
        return configured
    return [str(folder / SECRETS_FILE) for folder in dirs]


def read_secrets(paths: Iterable[str | Path]) -> dict[str, Any]:
    """The secrets as Streamlit merges them: top-level keys of a later file replace earlier ones.

    A missing ``.toml`` file is skipped, as Streamlit does; one that does not parse is an error,
    because guessing "no sign-in" from a broken file would open the app.
    """
    secrets: dict[str, Any] = {}
    for entry in paths:
        path = Path(entry)
        if path.suffix == ".toml":
            secrets.update(_read_toml(path))
        elif path.is_dir():
            secrets.update(_read_secrets_dir(path))
        else:
            raise BreedbenchError(f"secrets location {path} is neither a .toml file nor a folder")
    return secrets


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise BreedbenchError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BreedbenchError(f"{path} is not valid TOML: {exc}") from None


def _read_secrets_dir(path: Path) -> dict[str, Any]:
    """Kubernetes-style secrets: one folder per key, one file per value (one file: the value)."""
    secrets: dict[str, Any] = {}
    for folder in sorted(path.iterdir()):
        if not folder.is_dir():
            raise BreedbenchError(f"{folder} is not a folder: mount each secret in a folder")
        values = {
            f.name: f.read_text(encoding="utf-8").strip()
            for f in sorted(folder.iterdir())
            if not f.is_dir()
        }
        secrets[folder.name] = next(iter(values.values())) if len(values) == 1 else values
    return secrets


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ``::1`` (also IPv4-mapped, or in brackets)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False  # any other name may resolve to a public address
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def check_bind(host: str, mode: AccessMode, *, allow_open_network: bool) -> str | None:
    """May an app in ``mode`` listen on ``host``? A warning to show, or ``None``.

    Raises ``BreedbenchError`` for an open app on a non-loopback address unless allowed.
    """
    if mode != "open" or is_loopback(host):
        return None
    if not allow_open_network:
        raise BreedbenchError(
            f"the review app has no sign-in, so it only listens on a loopback address such as "
            f"127.0.0.1, not {host or 'every address'}: "
            "configure sign-in ([reviewers] or [auth] in .streamlit/secrets.toml, see "
            "'breedbench reviewer-password'), or pass --allow-open-network to let anyone who "
            "reaches it review under any name"
        )
    return (
        f"Warning: no sign-in is configured and the app listens on {host or 'every address'}: "
        "anyone who reaches it can review under any name and start evaluations."
    )
