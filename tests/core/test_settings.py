"""Settings precedence: CLI flag > environment > default."""

from __future__ import annotations

from pathlib import Path

import pytest

from breedbench.cli.common import make_settings
from core.settings import DEFAULT_DATA_DIR, load_settings


def test_defaults() -> None:
    s = load_settings()
    assert s.data_dir == DEFAULT_DATA_DIR
    expected = (DEFAULT_DATA_DIR / "breedbench.db").resolve()
    assert s.resolved_database_url() == f"sqlite:///{expected}"


def test_environment_beats_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BREEDBENCH_DATA_DIR", str(tmp_path / "env"))
    s = load_settings()
    assert s.data_dir == tmp_path / "env"
    assert s.resolved_database_url().endswith("/env/breedbench.db")


def test_flag_beats_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BREEDBENCH_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("BREEDBENCH_DATABASE_URL", "sqlite:///env.db")
    s = make_settings(str(tmp_path / "flag.db"), tmp_path / "flag")
    assert s.data_dir == tmp_path / "flag"
    assert s.resolved_database_url() == f"sqlite:///{(tmp_path / 'flag.db').resolve()}"
    # A flag left out falls back to the environment.
    s = make_settings(None, None)
    assert s.resolved_database_url() == "sqlite:///env.db"
