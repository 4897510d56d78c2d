"""The CLI's consoles print outside text as it is: no Rich markup, no emoji codes, anywhere."""

from __future__ import annotations

import io

import pytest

from breedbench.cli import common

OUTSIDE = "bo[/i] [bold]ana[/bold] :smile:"


def test_every_console_prints_markup_and_emoji_codes_as_text() -> None:
    out = io.StringIO()
    common.make_console(file=out, width=200).print(OUTSIDE)
    assert out.getvalue() == OUTSIDE + "\n"
    for console in (common.console, common.err_console):
        with console.capture() as captured:
            console.print(OUTSIDE)
        assert captured.get() == OUTSIDE + "\n"


def test_the_rule_cannot_be_switched_off() -> None:
    with pytest.raises(TypeError):
        common.make_console(markup=True)


def test_the_progress_bar_shows_a_model_name_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    made = common.make_console

    def to_buffer(**options: object) -> object:
        return made(**{**options, "stderr": False}, file=out, force_terminal=True, width=120)

    monkeypatch.setattr(common, "make_console", to_buffer)
    with common.progress_bar() as bar:
        bar.start(3, "Evaluating bo[/i]:smile:")
        bar.advance(3)
    assert "Evaluating bo[/i]:smile:" in out.getvalue()
