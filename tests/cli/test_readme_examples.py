"""Every ``breedbench ...`` line in the README's code blocks parses as printed.

The commands do not run: each one's function is swapped for a recorder, so this checks the
options, arguments and their types (``db downgrade -1`` once failed with "No such option: -1").
Optional parts written ``[--threads 2]`` are checked both left out and given.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from breedbench.cli import app

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
_OPTIONAL = re.compile(r"\s*\[([^\]]*)\]")


def readme_examples() -> list[str]:
    """The ``breedbench`` command lines of the README's code blocks, continuations joined."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", README, flags=re.DOTALL)
    lines: list[str] = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("breedbench "):
                lines.append(line)
    return lines


def variants(line: str) -> list[list[str]]:
    """Argument lists of ``line``: without its ``[optional]`` parts and, if any, with them."""
    words = shlex.split(line, comments=True)[1:]
    if not _OPTIONAL.search(line):
        return [words]
    plain = shlex.split(_OPTIONAL.sub("", line), comments=True)[1:]
    full = shlex.split(_OPTIONAL.sub(r" \1", line), comments=True)[1:]
    return [plain, full]


EXAMPLES = readme_examples()


def test_the_readme_has_examples_to_check() -> None:
    assert len(EXAMPLES) > 20 and "breedbench db downgrade -1" in " ".join(EXAMPLES)


@pytest.mark.parametrize("line", EXAMPLES)
def test_readme_example_parses(line: str) -> None:
    root = typer.main.get_command(app)
    called: list[tuple[str, dict[str, Any]]] = []
    groups: list[tuple[str, dict[str, Any]]] = []  # a group run for itself, with no subcommand

    def record(group: Any, prefix: str) -> None:
        for name, cmd in getattr(group, "commands", {}).items():
            if getattr(cmd, "commands", None):
                if getattr(cmd, "invoke_without_command", False):  # ``breeds`` alone: its table
                    cmd.callback = lambda _n=f"{prefix}{name}", **kw: groups.append((_n, kw))
                record(cmd, f"{prefix}{name} ")
            else:
                cmd.callback = lambda _n=f"{prefix}{name}", **kw: called.append((_n, kw))

    record(root, "")
    for args in variants(line):
        called.clear()
        groups.clear()
        with CliRunner().isolation(input="typed\ntyped\n"):  # for a command that prompts
            root.main(args, prog_name="breedbench", standalone_mode=False)
        if not called:
            called.extend(groups)
        assert len(called) == 1, f"{line!r} ran no command"
        assert " ".join(args).startswith(called[0][0]), (line, called)
        if called[0][0] == "db downgrade":
            assert called[0][1]["revision"] == "-1"
