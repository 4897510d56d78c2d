"""The access rule shared by the app and ``breedbench review``: sign-in mode from the secrets,
the secrets files Streamlit reads, and where an app without sign-in may listen."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import BreedbenchError
from review.access import (
    access_mode,
    check_bind,
    is_loopback,
    read_secrets,
    reviewer_hashes,
    secrets_files,
)

APP = Path("/srv/bb/curation_app/app.py")


def test_access_mode_from_the_secrets() -> None:
    assert access_mode({}) == "open"
    assert access_mode({"other": "x", "reviewers": {}}) == "open"  # an empty table signs nobody in
    assert access_mode({"reviewers": {"ana": "pbkdf2_sha256$1$00$00"}}) == "passwords"
    assert access_mode({"auth": {"client_id": "x"}, "reviewers": {"ana": "h"}}) == "oidc"


@pytest.mark.parametrize(
    ("reviewers", "kind"),
    [("pbkdf2_sha256$600000$00$00", "a string"), ("", "a string"), (3, "a number"),
     (["ana"], "an array"), (True, "a boolean")],
)  # fmt: skip
def test_reviewers_that_are_not_a_table_are_a_one_line_error(reviewers: object, kind: str) -> None:
    """Once read as "passwords", and the first sign-in crashed looking a name up in a string."""
    for secrets in ({"reviewers": reviewers}, {"reviewers": reviewers, "auth": {"x": "y"}}):
        with pytest.raises(BreedbenchError) as refused:
            access_mode(secrets)
        message = str(refused.value)
        assert "\n" not in message
        assert message.startswith(f"[reviewers] in the app's secrets is {kind}, not a table")
        assert (
            "reviewers/ with a single file" in message and "breedbench reviewer-password" in message
        )


def test_a_reviewer_whose_hash_is_not_a_string_is_a_one_line_error() -> None:
    with pytest.raises(BreedbenchError, match=r"^\[reviewers\] entry 'bo' .* is a table, not a"):
        access_mode({"reviewers": {"ana": "h1", "bo": {"hash": "h2"}}})
    with pytest.raises(BreedbenchError, match="entry 'ana' in the app's secrets is a number"):
        reviewer_hashes({"reviewers": {"ana": 600000}})
    assert reviewer_hashes({"reviewers": {"ana": "h1", "bo": "h2"}}) == {"ana": "h1", "bo": "h2"}
    assert reviewer_hashes({"auth": {"client_id": "x"}}) == {}


def test_a_secrets_folder_of_one_reviewer_is_explained(tmp_path: Path) -> None:
    """Streamlit reads a one-file folder as that file's text: no table of one reviewer."""
    k8s = tmp_path / "k8s"
    (k8s / "reviewers").mkdir(parents=True)
    (k8s / "reviewers" / "ana").write_text("pbkdf2_sha256$600000$00$00\n")
    secrets = read_secrets([k8s])
    assert secrets == {"reviewers": "pbkdf2_sha256$600000$00$00"}
    with pytest.raises(BreedbenchError, match="single file is read as that file's text"):
        access_mode(secrets)
    (k8s / "reviewers" / "bo").write_text("pbkdf2_sha256$600000$11$11\n")
    assert access_mode(read_secrets([k8s])) == "passwords"


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1", "[::1]", "::ffff:127.0.0.2"],
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    ["0.0.0.0", "", "::", "192.168.1.10", "10.0.0.1", "169.254.169.254", "example.org",
     "localhost.example.org", "128.0.0.1", "::ffff:10.0.0.1"],
)  # fmt: skip
def test_other_hosts_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_an_open_app_binds_to_loopback_only_unless_allowed() -> None:
    assert check_bind("127.0.0.1", "open", allow_open_network=False) is None
    assert check_bind("::1", "open", allow_open_network=False) is None
    with pytest.raises(BreedbenchError) as refused:
        check_bind("0.0.0.0", "open", allow_open_network=False)
    message = str(refused.value)
    assert "\n" not in message and "--allow-open-network" in message
    assert "[reviewers]" in message and "secrets.toml" in message
    warning = check_bind("0.0.0.0", "open", allow_open_network=True)
    assert warning is not None and "any name" in warning
    for mode in ("passwords", "oidc"):  # with sign-in, any address is fine
        assert check_bind("0.0.0.0", mode, allow_open_network=False) is None


def test_streamlit_default_secrets_files(tmp_path: Path) -> None:
    home, cwd = tmp_path / "home", tmp_path / "work"
    files = secrets_files(APP, home=home, cwd=cwd, environ={})
    assert files == [
        str(home / ".streamlit" / "secrets.toml"),
        str(cwd / ".streamlit" / "secrets.toml"),
        str(APP.parent / ".streamlit" / "secrets.toml"),  # next to the app script
    ]
    # Started from the app's own folder, that folder is listed once.
    assert len(secrets_files(APP, home=home, cwd=APP.parent, environ={})) == 2


def test_secrets_files_configured_in_config_toml_or_the_environment(tmp_path: Path) -> None:
    home, cwd = tmp_path / "home", tmp_path / "work"
    (home / ".streamlit").mkdir(parents=True)
    (home / ".streamlit" / "config.toml").write_text('[secrets]\nfiles = ["/etc/a.toml"]\n')
    assert secrets_files(APP, home=home, cwd=cwd, environ={}) == ["/etc/a.toml"]
    (cwd / ".streamlit").mkdir(parents=True)  # the project's config wins over the user's
    (cwd / ".streamlit" / "config.toml").write_text('[secrets]\nfiles = ["b.toml", "k8s"]\n')
    assert secrets_files(APP, home=home, cwd=cwd, environ={}) == ["b.toml", "k8s"]
    env = {"STREAMLIT_SECRETS_FILES": "/run/s.toml /run/t.toml"}
    assert secrets_files(APP, home=home, cwd=cwd, environ=env) == ["/run/s.toml", "/run/t.toml"]


def test_read_secrets_merges_like_streamlit(tmp_path: Path) -> None:
    user, project = tmp_path / "user.toml", tmp_path / "project.toml"
    user.write_text('[reviewers]\nana = "h1"\n[auth]\nclient_id = "x"\n')
    project.write_text('[reviewers]\nbo = "h2"\n')
    secrets = read_secrets([user, project, tmp_path / "missing.toml"])
    assert secrets == {"reviewers": {"bo": "h2"}, "auth": {"client_id": "x"}}  # top level replaced
    k8s = tmp_path / "k8s"
    (k8s / "reviewers").mkdir(parents=True)
    (k8s / "reviewers" / "ana").write_text("h3\n")
    (k8s / "reviewers" / "bo").write_text("h4")
    assert read_secrets([k8s]) == {"reviewers": {"ana": "h3", "bo": "h4"}}


def test_a_broken_secrets_file_is_an_error_not_an_open_app(tmp_path: Path) -> None:
    broken = tmp_path / "secrets.toml"
    broken.write_text("[reviewers\nana = 1\n")
    with pytest.raises(BreedbenchError, match="not valid TOML"):
        read_secrets([broken])
    with pytest.raises(BreedbenchError, match="neither a .toml file nor a folder"):
        read_secrets([tmp_path / "secrets.txt"])
