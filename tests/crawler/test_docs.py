"""Every crawler setting and command is documented: in the README and in ``--help``."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from breedbench.cli import app
from breedbench.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
CRAWLER_FIELDS = [
    name
    for name in Settings.model_fields
    if name.startswith(("crawl_", "openverse_", "wikimedia_", "flickr_")) or name == "contact"
]


@pytest.mark.parametrize("field", CRAWLER_FIELDS)
def test_setting_is_described_and_in_the_readme(field: str) -> None:
    assert Settings.model_fields[field].description
    assert f"BREEDBENCH_{field.upper()}" in README


@pytest.mark.parametrize("command", ["crawl", "import", "leakcheck"])
def test_command_has_help_with_an_example(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example: breedbench " + command in result.output
    assert f"breedbench {command}" in README
