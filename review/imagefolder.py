"""The Hugging Face ``imagefolder`` metadata of a folders export: ``metadata.jsonl`` at its root.

``datasets.load_dataset("imagefolder", data_dir=ROOT)`` reads a ``metadata.csv``,
``metadata.jsonl`` or ``metadata.parquet`` beside the images: each row names one image by
``file_name``, relative to the metadata file's folder, and every other column becomes a feature.
When such a file is there, the rows *are* the dataset (one example per row) and the labels the
loader would infer from folder names are dropped, so the breed travels as a column.

JSON lines rather than CSV: the values reach the user exactly as recorded. The loader reads a
CSV through pandas, which turns a licence version ``4.0`` into the number 4.0 and an empty cell
into NaN, and a CSV cell guarded against spreadsheets (``'@alice``) would reach a training script
with the guard in it; ``manifest.csv`` is the file for spreadsheets. The loader takes its feature
types from the first rows, so every text column is always a string (empty when unknown): a
column that starts empty and fills in later would otherwise be typed ``null`` and then fail.
Addresses are those of the manifest (``review.manifest.portable``): no local path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from db.provenance import PROVENANCE_FIELDS
from review.manifest import ManifestRow

METADATA_NAME = "metadata.jsonl"

# One row per exported image: its file, label and identity, then where it came from.
METADATA_FIELDS: tuple[str, ...] = (
    "file_name",
    "breed",
    "synset",
    "sha256",
    *PROVENANCE_FIELDS,
    "image_id",
)


def metadata_record(row: ManifestRow) -> dict[str, str | int]:
    """The ``imagefolder`` row of one exported image (keys in ``METADATA_FIELDS`` order)."""
    text = {
        "file_name": row.file,
        "breed": row.breed,
        "synset": row.synset,
        "sha256": row.sha256,
        **row.provenance.columns(),
    }
    return {**{k: "" if v is None else str(v) for k, v in text.items()}, "image_id": row.image_id}


def render_metadata(rows: Iterable[ManifestRow]) -> str:
    """``metadata.jsonl``: one JSON object per line, UTF-8."""
    return "".join(json.dumps(metadata_record(r), ensure_ascii=False) + "\n" for r in rows)
