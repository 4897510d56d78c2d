"""Reading a model's label file: one label per line, or one column of a CSV.

Its own module because both the spec (which checks the file when a version is registered) and
the label map (which matches labels to breeds) read it.
"""

from __future__ import annotations

import csv
import stat
from pathlib import Path

from core.errors import BreedbenchError

CSV_DEFAULT_COLUMNS = ("breed", "label", "name", "class")


MAX_LABEL_FILE_BYTES = 4 * 1024 * 1024  # ImageNet-21k's label list is ~0.4 MB


def read_label_file(path: Path, column: str | None = None) -> list[str]:
    """Labels in file order; a ``.csv`` (or any file with ``column``) is read as CSV.

    A spec names this file, and specs travel between people: it must be a regular file of
    reasonable size, and no error here quotes its contents. The label map's errors quote
    labels in two cases only: labels that match no breed, listed when they look like class
    names (``labels.LABEL_LIKE``; the others are only counted), and two labels that match the
    same breed. A spec pointing at ``/etc/shadow`` learns nothing from the message.
    """
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise BreedbenchError(f"labels file not found: {path}") from None
    except OSError as exc:
        raise BreedbenchError(f"labels file {path} cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise BreedbenchError(f"labels file {path} is not a regular file")
    if info.st_size > MAX_LABEL_FILE_BYTES:
        raise BreedbenchError(
            f"labels file {path} is {info.st_size:,} bytes; a label file is at most "
            f"{MAX_LABEL_FILE_BYTES:,}"
        )
    try:
        with path.open("rb") as fh:
            text = fh.read(MAX_LABEL_FILE_BYTES + 1).decode("utf-8-sig")
    except OSError as exc:
        raise BreedbenchError(f"labels file {path} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BreedbenchError(f"labels file {path} is not UTF-8 text") from None
    if column is not None or path.suffix.lower() == ".csv":
        labels = _csv_column(text, column, path)
    else:
        labels = [line.strip() for line in text.splitlines() if line.strip()]
    if not labels:
        raise BreedbenchError(f"labels file {path} has no labels")
    return labels


def _csv_column(text: str, column: str | None, path: Path) -> list[str]:
    reader = csv.DictReader(text.splitlines())
    fields = reader.fieldnames or []
    if column is None:
        found = [c for c in CSV_DEFAULT_COLUMNS if c in fields]
        if len(fields) == 1:
            column = fields[0]
        elif found:
            column = found[0]
        else:
            raise BreedbenchError(
                f"labels file {path}: say which column holds the labels (labels.column); "
                f"its header has {len(fields)} columns, none named "
                f"{' or '.join(CSV_DEFAULT_COLUMNS)}"
            )
    if column not in fields:
        raise BreedbenchError(
            f"labels file {path} has no column {column!r} (its header has {len(fields)} columns)"
        )
    values = [(row.get(column) or "").strip() for row in reader]
    # breeds.csv of the classic study lists one row per training image: keep first occurrences.
    return list(dict.fromkeys(v for v in values if v))
