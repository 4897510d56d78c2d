"""The docs are checked against the code: every command has help with an example and appears
in the README; every setting appears in the README's settings tables."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from breedbench.cli import app
from core.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _commands() -> list[tuple[str, object]]:
    root = typer.main.get_command(app)
    found: list[tuple[str, object]] = []

    def walk(prefix: str, group: object) -> None:
        for name, cmd in getattr(group, "commands", {}).items():
            path = f"{prefix} {name}".strip()
            if getattr(cmd, "commands", None):
                walk(path, cmd)
            else:
                found.append((path, cmd))

    walk("", root)
    return found


COMMANDS = _commands()


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_command_has_help_with_an_example(path: str, cmd: object) -> None:
    help_text = getattr(cmd, "help", None) or ""
    assert help_text.strip(), f"breedbench {path} has no help text"
    assert "Example:" in help_text, f"breedbench {path}: its docstring needs an 'Example:' line"


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS])
def test_command_is_in_the_readme(path: str) -> None:
    assert f"breedbench {path}" in README, f"README.md does not mention 'breedbench {path}'"


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_setting_is_documented(field: str) -> None:
    env = f"BREEDBENCH_{field.upper()}"
    assert env in README, f"README.md does not document {env}"
    assert Settings.model_fields[field].description, f"{env} has no description"


def test_readme_starts_with_the_two_commands() -> None:
    first_block = README.split("```", 2)[1]
    assert "make run" in first_block and "make test" in first_block
