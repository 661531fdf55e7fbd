"""Accuracy: the share of predictions that count as right, per batch and accumulated over a pass."""

from __future__ import annotations

import math
from typing import Any

from ._bound import PassMean


class Accuracy(PassMean):
    """Base: ``compare`` says which predictions are right; ``calculate`` gives their mean.

    The accumulated accuracy divides by the number of compared values (the book divides by rows,
    which is the same for one output column and overshoots for several).
    """

    def init(self, y: Any, reinit: bool = False) -> None:
        """Learns what it needs from the training targets (nothing, except for regression)."""

    def compare(self, predictions: Any, y: Any) -> Any:
        raise NotImplementedError

    def accumulate(self, predictions: Any, y: Any) -> Any:
        """This batch's accuracy as a 0-d backend array, added to the pass's running sum."""
        xp = self.backend.xp
        comparisons = xp.astype(self.compare(self.backend.asarray(predictions), self.backend.asarray(y)), self.backend.dtype)
        return self._add_batch(xp.sum(comparisons), math.prod(comparisons.shape))

    def calculate(self, predictions: Any, y: Any) -> float:
        return float(self.accumulate(predictions, y))

    def calculate_accumulated(self) -> float:
        return self.accumulated_mean()


class Categorical(Accuracy):
    """Predicted class equals the label; with ``binary=True``, each 0/1 output equals its target."""

    def __init__(self, *, binary: bool = False) -> None:
        super().__init__()
        self.binary = binary

    def __repr__(self) -> str:
        return f"Categorical(binary={self.binary})"

    def compare(self, predictions: Any, y: Any) -> Any:
        xp = self.backend.xp
        if not self.binary and y.ndim == 2:
            y = xp.argmax(y, axis=1)
        return predictions == xp.astype(y, predictions.dtype)


class Regression(Accuracy):
    """A prediction counts as right within ``precision`` of its target, by default ``std(y) / 250``."""

    def __init__(self) -> None:
        super().__init__()
        self.precision: float | None = None

    def init(self, y: Any, reinit: bool = False) -> None:
        if self.precision is None or reinit:
            xp = self.backend.xp
            self.precision = float(xp.std(xp.astype(self.backend.asarray(y), xp.float64))) / 250

    def compare(self, predictions: Any, y: Any) -> Any:
        if self.precision is None:
            self.init(y)
        return self.backend.xp.abs(predictions - y) < self.precision
