"""The progress file of a background evaluation: its shape while running, its outcome, and how it
is read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import BreedbenchError
from evaluator import progress as progress_mod
from evaluator.progress import FileProgress, ProgressState, ProgressTee, read_progress


def content(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_running_shape_is_done_and_total(tmp_path: Path) -> None:
    path = tmp_path / "jobs" / "j.progress.json"  # the folder is made
    sink = FileProgress(path)
    assert not path.exists()  # nothing until the images are counted
    sink.start(10, "tiny:1")
    assert content(path) == {"done": 0, "total": 10}
    sink.advance(10)
    assert content(path) == {"done": 10, "total": 10}
    assert read_progress(path) == ProgressState(done=10, total=10)


def test_writes_are_spaced_but_the_last_one_always_lands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress_mod, "MIN_INTERVAL", 3600.0)
    path = tmp_path / "p.json"
    sink = FileProgress(path)
    sink.start(6, "tiny:1")
    sink.advance(2)
    sink.advance(2)
    assert content(path) == {"done": 0, "total": 6}  # too soon after the last write
    sink.advance(2)
    assert content(path) == {"done": 6, "total": 6}  # all done: written at once


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        (lambda p: p.finished(7), {"status": "finished", "run_id": 7}),
        (lambda p: p.failed("bad model"), {"status": "failed", "error": "bad model"}),
        (lambda p: p.stopped(), {"status": "stopped", "error": "stopped by a user"}),
    ],
)
def test_the_outcome_is_added_to_the_counts(tmp_path: Path, end, expected) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "p.json"
    sink = FileProgress(path)
    sink.start(4, "tiny:1")
    sink.advance(1)
    end(sink)
    assert content(path) == {"done": 1, "total": 4, **expected}
    state = read_progress(path)
    assert (state.done, state.total, state.status) == (1, 4, expected["status"])
    assert (state.run_id, state.error) == (expected.get("run_id"), expected.get("error"))


def test_an_outcome_before_the_images_are_counted_has_no_counts(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    FileProgress(path).failed("no accepted images")
    assert content(path) == {"status": "failed", "error": "no accepted images"}
    assert read_progress(path) == ProgressState(status="failed", error="no accepted images")


def test_a_missing_or_unreadable_file_reads_as_nothing_yet(tmp_path: Path) -> None:
    assert read_progress(tmp_path / "none.json") == ProgressState()
    bad = tmp_path / "bad.json"
    bad.write_text("{half")
    assert read_progress(bad) == ProgressState()
    bad.write_text("[1, 2]")
    assert read_progress(bad) == ProgressState()
    bad.write_text('{"done": 3, "total": 5, "unknown": true}')
    assert read_progress(bad) == ProgressState(done=3, total=5)


def test_a_path_that_cannot_be_written_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(BreedbenchError, match="cannot write the progress file .*: it is a folder"):
        FileProgress(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(BreedbenchError, match="cannot write the progress file"):
        FileProgress(blocker / "p.json")


def test_tee_feeds_every_sink(tmp_path: Path) -> None:
    calls: list[tuple] = []

    class Recorder:
        def start(self, total: int, description: str) -> None:
            calls.append(("start", total, description))

        def advance(self, n: int) -> None:
            calls.append(("advance", n))

    path = tmp_path / "p.json"
    tee = ProgressTee(Recorder(), FileProgress(path))
    tee.start(3, "tiny:1")
    tee.advance(3)
    assert calls == [("start", 3, "tiny:1"), ("advance", 3)]
    assert content(path) == {"done": 3, "total": 3}
