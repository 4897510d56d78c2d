"""``tests.browser.review_server`` serves the app as the tests expect it, whatever the developer's
own Streamlit settings: a ``.streamlit/secrets.toml`` in the home or working directory (a sign-in)
would otherwise change every page the browser tests read."""

from __future__ import annotations

from pathlib import Path

import pytest

from db.database import Database
from tests.browser import review_server


def test_the_server_ignores_the_developers_streamlit_settings(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    for folder, secrets in (
        (home, '[reviewers]\nana = "h"\n'),
        (work, '[auth]\nclient_id = "x"\n'),
    ):
        (folder / ".streamlit").mkdir(parents=True)
        (folder / ".streamlit" / "secrets.toml").write_text(secrets)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    monkeypatch.setenv("STREAMLIT_SECRETS_FILES", str(work / ".streamlit" / "secrets.toml"))
    log = tmp_path / "server.log"
    settings = database.settings
    with review_server(settings.data_dir, settings.resolved_database_url(), log=log):
        pass
    assert "(no sign-in: any name;" in log.read_text()
