"""Reading a model's label file: one label per line, or one column of a CSV.

Its own module because both the spec (which checks the file when a version is registered) and
the label map (which matches labels to breeds) read it.
"""

from __future__ import annotations

import csv
from pathlib import Path

from core.errors import BreedbenchError

CSV_DEFAULT_COLUMNS = ("breed", "label", "name", "class")


def read_label_file(path: Path, column: str | None = None) -> list[str]:
    """Labels in file order; a ``.csv`` (or any file with ``column``) is read as CSV."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BreedbenchError(f"labels file not found: {path}") from None
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
                f"columns: {', '.join(fields)}"
            )
    if column not in fields:
        raise BreedbenchError(
            f"labels file {path} has no column {column!r}; columns: {', '.join(fields)}"
        )
    values = [(row.get(column) or "").strip() for row in reader]
    # breeds.csv of the classic study lists one row per training image: keep first occurrences.
    return list(dict.fromkeys(v for v in values if v))
