"""``breedbench review``: binds to 127.0.0.1 unless told, and hands its settings to the app."""

from __future__ import annotations

import subprocess

import pytest
from typer.testing import CliRunner

from breedbench.cli import app
from db.database import Database

runner = CliRunner()


def test_review_passes_settings_through_the_environment(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[list[str], dict[str, str]]] = []

    def fake_call(cmd: list[str], env: dict[str, str]) -> int:
        calls.append((cmd, env))
        return 0

    monkeypatch.setattr(subprocess, "call", fake_call)
    base = ["--db", database.settings.resolved_database_url(),
            "--data-dir", str(database.settings.data_dir)]  # fmt: skip
    result = runner.invoke(app, [*base, "review", "--min-reviews", "2", "--port", "8599"])
    assert result.exit_code == 0, result.output
    (cmd, env) = calls[0]
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.port") + 1] == "8599"
    assert cmd[cmd.index("--client.toolbarMode") + 1] == "viewer"  # no "Deploy" for reviewers
    assert env["BREEDBENCH_MIN_REVIEWS"] == "2"
    assert env["BREEDBENCH_DATABASE_URL"] == database.settings.resolved_database_url()
    bad = runner.invoke(app, [*base, "review", "--min-reviews", "0"])
    assert bad.exit_code != 0 and not calls[1:]
