"""A runner with no model behind it, for tests of the pipeline (metrics, storage, interruption)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from evaluator.runners.base import Item, stack


class FakeRunner:
    """Calls ``fn(batch_array) -> (batch, classes)``; counts calls and items."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], max_batch: int = 8) -> None:
        self.fn = fn
        self.max_batch = max_batch
        self.calls = 0
        self.items = 0

    def predict(self, batch: Sequence[Item]) -> np.ndarray:
        self.calls += 1
        self.items += len(batch)
        return np.asarray(self.fn(stack(batch)), dtype=np.float32)

    def close(self) -> None:
        pass
