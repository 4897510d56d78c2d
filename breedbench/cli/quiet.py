"""Library noise off by default: TensorFlow, absl and LiteRT speak only when asked to.

Loading a model prints lines no user of breedbench can act on: ``cpu_feature_guard`` and oneDNN
notices, ``absl::InitializeLog`` warnings, MLIR pass messages, ``Created TensorFlow Lite XNNPACK
delegate for CPU``, the converter's ``fully_quantize: 0, ...`` and Python warnings such as
"Statistics for quantized inputs were expected" (breedbench quantizes inputs with the model's own
scale and zero point). They are silenced in three places, because they come from three:

* ``TF_CPP_MIN_LOG_LEVEL`` (set in ``configure``, before anything imports TensorFlow): TensorFlow's
  C++ INFO and WARNING lines;
* the Python loggers and warnings of ``tensorflow``, ``keras``, ``absl`` and LiteRT;
* ``native_stderr``: what C and C++ code writes straight to file descriptor 2 regardless of any
  level (absl before its initialisation, LiteRT's own logger). Around a command that loads a
  model, descriptor 2 goes through a pipe; library log lines (and the lines continuing them)
  are dropped, anything else passes unchanged. Python's own ``sys.stderr`` (breedbench's
  messages, progress bars, tracebacks) keeps writing to the terminal directly.

``--verbose``, or a ``TF_CPP_MIN_LOG_LEVEL`` the user set, turns all of it off: everything is
shown as the libraries print it. What matters among the dropped lines is said again in
breedbench's words (``RESTATED``), once, after the command's own output.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

LEVEL_VAR = "TF_CPP_MIN_LOG_LEVEL"
# Set with LEVEL_VAR when breedbench set it (not the user): a breedbench started by this one
# (the app's background evaluations) is quiet too, not taken for a user's choice.
MARKER_VAR = "BREEDBENCH_QUIET_LEVEL"
QUIET_LEVEL = "2"  # TensorFlow's C++ errors still show; INFO and WARNING do not
NOISY_MODULES = r"(tensorflow|keras|absl|ai_edge_litert|tf_keras)(\.|$)"
NOISY_LOGGERS = ("tensorflow", "absl", "keras", "ai_edge_litert")

# absl/glog: ``I0000 00:00:1796129009.201186   18879 port.cc:153] message`` (the seconds are
# the epoch's before absl is initialised, ``12:04:07.201186`` after)
_ABSL_LINE = re.compile(r"^([IWEF])\d{4} \d+:\d+:\d+(\.\d+)?\s+\d+ [^\]\s]+\] ")
# LiteRT's minimal logger, and absl before it is initialised: ``INFO: message``
_PLAIN_LINE = re.compile(r"^(INFO|WARNING|VERBOSE|ERROR): ")
_CONVERTER_LINE = re.compile(r"^fully_quantize: \d")
# The second line of a dropped record: indented, or cpu_feature_guard's instruction list. Any
# other line is shown, even right after a dropped one (a crash report must never be lost).
_CONTINUATION = re.compile(r"^(\s|To enable the following instructions)")

# Dropped lines that matter, said in breedbench's words.
RESTATED = (
    (
        re.compile(r"[Ff]ailed to apply .*(XNNPACK|delegate)|XNNPACK delegate failed"),
        "LiteRT could not use its XNNPACK CPU kernels for this model: it ran on the slower "
        "reference kernels, and its latency is theirs",
    ),
)


class _State:
    quiet = False


def configure(verbose: bool, environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Decide whether library output is silenced (True) and set that up; call before anything
    imports TensorFlow. Quiet unless ``--verbose`` or the user set ``TF_CPP_MIN_LOG_LEVEL``."""
    ours = environ.get(MARKER_VAR)
    user_set = LEVEL_VAR in environ and environ[LEVEL_VAR] != ours
    if ours is not None and not user_set:  # ours, from this process or the one that started it
        environ.pop(LEVEL_VAR, None)
        environ.pop(MARKER_VAR, None)
    _State.quiet = not verbose and not user_set
    if _State.quiet:
        environ[LEVEL_VAR] = environ[MARKER_VAR] = QUIET_LEVEL
        _quiet_python()
    return _State.quiet


def is_quiet() -> bool:
    return _State.quiet


class _LibraryRecords(logging.Filter):
    """Drops the libraries' Python log records below ERROR; breedbench's own pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _State.quiet or record.levelno >= logging.ERROR:
            return True
        return not any(record.name == n or record.name.startswith(n + ".") for n in NOISY_LOGGERS)


_FILTER = _LibraryRecords()


def _quiet_python() -> None:
    # Records of ``absl`` reach stderr through the last-resort handler (absl installs none
    # outside absl apps); its logger must not be created here (absl makes its own class).
    logging.getLogger("tensorflow").addFilter(_FILTER)
    if logging.lastResort is not None:
        logging.lastResort.addFilter(_FILTER)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_FILTER)
    warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
    warnings.filterwarnings("ignore", category=UserWarning, module=NOISY_MODULES)
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=NOISY_MODULES)
    warnings.filterwarnings("ignore", category=FutureWarning, module=NOISY_MODULES)


class LineFilter:
    """Decides, line by line, what of the native stderr is shown: a library's log line is
    dropped (and the lines continuing it), unless it is an error; anything else is shown."""

    def __init__(self) -> None:
        self.dropping = False
        self.dropped = 0
        self.notes: list[str] = []

    def keep(self, line: str) -> bool:
        severity = _severity(line)
        if severity is None:  # not a log line: continues the one before, or is something else
            if self.dropping and _CONTINUATION.match(line):
                self.dropped += 1
                return False
            self.dropping = False
            return True
        self.dropping = severity not in ("E", "F")
        if self.dropping:
            self.dropped += 1
            self._restate(line)
        return not self.dropping

    def _restate(self, line: str) -> None:
        for pattern, note in RESTATED:
            if pattern.search(line) and note not in self.notes:
                self.notes.append(note)


def _severity(line: str) -> str | None:
    """I/W/E/F of a library log line; None for any other line."""
    m = _ABSL_LINE.match(line)
    if m:
        return m.group(1)
    m = _PLAIN_LINE.match(line)
    if m:
        return m.group(1)[0]
    if _CONVERTER_LINE.match(line):
        return "I"
    return None


@contextmanager
def native_stderr() -> Iterator[LineFilter]:
    """Inside: what native code writes to descriptor 2 goes through a ``LineFilter`` (when
    quiet); Python's ``sys.stderr`` writes to the real stderr as before."""
    lines = LineFilter()
    if not _State.quiet:
        yield lines
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable descriptor 2: nothing to filter
        yield lines
        return
    read_end, write_end = os.pipe()
    python_stderr = sys.stderr
    direct: IO[str] | None = None
    if _writes_to_fd2(python_stderr):
        direct = os.fdopen(
            os.dup(saved),
            "w",
            buffering=1,
            encoding=getattr(python_stderr, "encoding", None) or "utf-8",
            errors="backslashreplace",
        )
        sys.stderr = direct
    os.dup2(write_end, 2)
    os.close(write_end)
    reader = threading.Thread(
        target=_forward, args=(read_end, saved, lines), name="native-stderr", daemon=True
    )
    reader.start()
    try:
        yield lines
    finally:
        if direct is not None:
            direct.flush()
            sys.stderr = python_stderr
            direct.close()
        os.dup2(saved, 2)  # the pipe's last write end closes: the reader sees its end
        reader.join(timeout=5)
        os.close(saved)


def _writes_to_fd2(stream: object) -> bool:
    try:
        return stream.fileno() == 2  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False


def _forward(read_end: int, target: int, lines: LineFilter) -> None:
    pending = b""
    try:
        while chunk := os.read(read_end, 65536):
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                if lines.keep(raw.decode("utf-8", "replace")):
                    os.write(target, raw + b"\n")
        if pending and lines.keep(pending.decode("utf-8", "replace")):
            os.write(target, pending)
    finally:
        os.close(read_end)
