"""A runner with no model behind it, for tests of the pipeline (metrics, storage, interruption)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from evaluator.runners.base import Item, stack


class FakeRunner:
    """Calls ``fn(batch_array) -> (batch, classes)``; counts calls and items.

    ``first_call_seconds`` makes the first ``predict`` that long, as a real model's first batch
    is slow (graph initialisation): what the evaluation must keep out of its latency figures.
    """

    def __init__(
        self,
        fn: Callable[[np.ndarray], np.ndarray],
        max_batch: int = 8,
        first_call_seconds: float = 0.0,
    ) -> None:
        self.fn = fn
        self.max_batch = max_batch
        self.first_call_seconds = first_call_seconds
        self.calls = 0
        self.items = 0

    def predict(self, batch: Sequence[Item]) -> np.ndarray:
        self.calls += 1
        self.items += len(batch)
        if self.calls == 1 and self.first_call_seconds > 0:
            time.sleep(self.first_call_seconds)
        return np.asarray(self.fn(stack(batch)), dtype=np.float32)

    def close(self) -> None:
        pass
