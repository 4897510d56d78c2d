"""Passwords in database URLs never reach the screen: masked in URLs, scrubbed from messages."""

from __future__ import annotations

import pytest

from core.settings import Settings
from core.urls import mask_url, scrub


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql+psycopg://u:secret@127.0.0.1:1/x",
            "postgresql+psycopg://u:***@127.0.0.1:1/x",
        ),
        # An encoded "@" in the password, and the password as a query parameter too.
        (
            "postgresql://u:p%40ssword@db/x?password=secret2&sslmode=require",
            "postgresql://u:***@db/x?password=***&sslmode=require",
        ),
        ("postgresql://u:secret@db/x?PWD=secret2", "postgresql://u:***@db/x?PWD=***"),
        # SQLAlchemy cannot parse these (a port that is not a number): masked all the same.
        (
            "postgresql+psycopg://u:sec ret@127.0.0.1:[1/x",
            "postgresql+psycopg://u:***@127.0.0.1:[1/x",
        ),
        ("pg://u:a@b@host:zz/x", "pg://u:***@host:zz/x"),
        # Nothing to hide.
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
        ("postgresql://u@db/x", "postgresql://u@db/x"),
    ],
)
def test_mask_url_hides_every_password(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_scrub_removes_the_password_from_a_driver_message() -> None:
    url = "postgresql://u:hunter22@db/x?password=other-secret"
    message = 'connection failed: dsn "user=u password=hunter22 password=other-secret"'
    assert scrub(message, url) == 'connection failed: dsn "user=u password=*** password=***"'


def test_scrub_leaves_a_message_readable_for_a_very_short_password() -> None:
    """Replacing every "pw" would garble the message more than it protects."""
    assert scrub("open pw file", "postgresql://u:pw@db/x") == "open pw file"


def test_settings_display_the_url_masked(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql+psycopg://u:secret@h/x")
    assert settings.display_database_url() == "postgresql+psycopg://u:***@h/x"
    assert settings.resolved_database_url().endswith("u:secret@h/x")  # still used to connect
    sqlite = Settings(data_dir=tmp_path)
    assert sqlite.display_database_url() == sqlite.resolved_database_url()
