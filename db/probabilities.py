"""A prediction's breed probabilities as compact bytes: float16, little-endian.

One value per breed the model predicts (120 for the Stanford Dogs breeds: 240 bytes a row), in
the order its run lists in ``eval_runs.prob_breed_ids``. float16 keeps about three significant
digits, plenty to rank images by how much a model believes their label; the same bytes read back
the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.errors import BreedbenchError

DTYPE = np.dtype("<f2")


def pack_probs(values: np.ndarray | Sequence[float]) -> bytes:
    """One row of probabilities as stored."""
    return np.asarray(values, dtype=np.float32).astype(DTYPE).tobytes()


def unpack_probs(data: bytes, n_breeds: int | None = None) -> np.ndarray:
    """One stored row back as float32; ``n_breeds`` checks the length against its run."""
    arr = np.frombuffer(data, dtype=DTYPE).astype(np.float32)
    if n_breeds is not None and arr.size != n_breeds:
        raise BreedbenchError(
            f"stored probabilities hold {arr.size} values but their run lists {n_breeds} breeds"
        )
    return arr


def unpack_rows(rows: Sequence[bytes], n_breeds: int) -> np.ndarray:
    """Many stored rows of one run as an ``(rows, n_breeds)`` float32 matrix, in one pass."""
    if not rows:
        return np.zeros((0, n_breeds), dtype=np.float32)
    joined = b"".join(rows)
    if len(joined) != len(rows) * n_breeds * DTYPE.itemsize:
        raise BreedbenchError(f"stored probabilities do not match their run's {n_breeds} breeds")
    return np.frombuffer(joined, dtype=DTYPE).reshape(len(rows), n_breeds).astype(np.float32)
