"""The background process behind "Start an evaluation": ``evaluator.pipeline.evaluate`` with its
progress and outcome written to files the app polls (see ``evaluator.jobs``).

Run as ``python -m curation_app.eval_worker --job ID NAME:VERSION [--limit N]``; the database
and data directory come from ``BREEDBENCH_*`` like every other command.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from core.errors import BreedbenchError
from core.settings import load_settings
from db.database import open_database
from evaluator.jobs import job_files, write_json

MIN_INTERVAL = 0.25  # seconds between progress writes: the page polls every 2 s


class FileProgress:
    """A ``ProgressSink`` that keeps ``{"done": n, "total": m}`` in a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done = 0
        self.total = 0
        self._last = 0.0

    def start(self, total: int, description: str) -> None:
        self.total = total
        self._write(force=True)

    def advance(self, n: int) -> None:
        self.done += n
        self._write(force=self.done >= self.total)

    def _write(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last >= MIN_INTERVAL:
            write_json(self.path, {"done": self.done, "total": self.total})
            self._last = now


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m curation_app.eval_worker")
    parser.add_argument("--job", required=True)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("version")
    args = parser.parse_args(argv)
    settings = load_settings()
    files = job_files(settings, args.job)
    try:
        from evaluator.pipeline import evaluate

        db = open_database(settings)
        try:
            outcome = evaluate(
                db, args.version, limit=args.limit, progress=FileProgress(files["progress"])
            )
        finally:
            db.dispose()
    except BreedbenchError as exc:
        print(f"Error: {exc}", flush=True)
        write_json(files["result"], {"status": "failed", "error": str(exc)})
        return 1
    except KeyboardInterrupt:
        print("Stopped: nothing was recorded.", flush=True)
        write_json(files["result"], {"status": "stopped", "error": "stopped by a user"})
        return 130
    except Exception as exc:  # a bug: keep the traceback in the log, say so on the page
        import traceback

        traceback.print_exc()
        write_json(files["result"], {"status": "failed", "error": f"{type(exc).__name__}: {exc}"})
        return 1
    print(f"Recorded run #{outcome.run_id} of {args.version}", flush=True)
    write_json(files["result"], {"status": "finished", "run_id": outcome.run_id})
    return 0


if __name__ == "__main__":
    sys.exit(main())
