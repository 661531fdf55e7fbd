"""Accuracy: the share of predictions that count as right, per batch and accumulated over a pass."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import checks
from ._bound import PassMean
from .activations import Softmax
from .backends import is_host


class Accuracy(PassMean):
    """Base: ``compare`` says which predictions are right; ``calculate`` gives their share.

    Right answers are counted (exact integers on the device) and divided on the host in float64,
    as the book's ``np.mean`` of booleans divides. The accumulated accuracy divides by the number of
    compared values (the book divides by rows, which is the same for one output column and
    overshoots for several).
    """

    @property
    def name(self) -> str:
        """What progress lines call this accuracy."""
        return "acc"

    def init(self, y: Any, reinit: bool = False) -> None:
        """Learns what it needs from the training targets (nothing, except for regression)."""

    def compare(self, predictions: Any, y: Any) -> Any:
        raise NotImplementedError

    def accumulate(self, predictions: Any, y: Any) -> Any:
        """This batch's count of right answers (a 0-d int64 backend array), added to the pass's."""
        xp = self.backend.xp
        predictions, y = self.backend.asarray(predictions), self.backend.asarray(y)
        self.check_shapes(tuple(predictions.shape), tuple(y.shape))
        comparisons = self.compare(predictions, y)
        return self._add_sum(xp.sum(xp.astype(comparisons, xp.int64)), math.prod(comparisons.shape))

    def accumulate_outputs(self, activation: Any, outputs: Any, y: Any) -> Any:
        """``accumulate`` for the outputs of the model's last ``activation``, in one fused op where
        the backend has one."""
        return self.accumulate(activation.predictions(outputs), y)

    def check_shapes(self, predictions: tuple[int, ...], targets: tuple[int, ...]) -> None:
        """Refuses predictions and targets that would be compared by broadcasting, not one to one."""
        if predictions != targets:
            raise ValueError(
                f"{self!r}: predictions of shape {predictions} and targets of shape {targets} do not match; "
                f"give one target per output{'; reshape them with y.reshape(-1, 1)' if predictions[1:] == (1,) else ''}"
            )

    def calculate(self, predictions: Any, y: Any) -> float:
        before = self.accumulated_count
        right = self.accumulate(predictions, y)
        return int(right) / (self.accumulated_count - before)

    def calculate_accumulated(self) -> float:
        return self.accumulated_mean()


class Categorical(Accuracy):
    """Predicted class equals the label; with ``binary=True``, each 0/1 output equals its target."""

    def __init__(self, *, binary: bool = False) -> None:
        super().__init__()
        self.binary = checks.flag(binary, "binary", owner="Categorical")

    def __repr__(self) -> str:
        return f"Categorical(binary={self.binary})"

    def check_shapes(self, predictions: tuple[int, ...], targets: tuple[int, ...]) -> None:
        if self.binary:
            return super().check_shapes(predictions, targets)
        if len(predictions) != 1:
            raise ValueError(
                f"{self!r} compares one predicted class per sample, got predictions of shape {predictions}; "
                "for independent 0/1 outputs (Sigmoid) use Categorical(binary=True)"
            )
        if len(targets) not in (1, 2) or targets[0] != predictions[0]:
            raise ValueError(
                f"{self!r}: {predictions[0]} predicted classes need {predictions[0]} labels (1-D) or one-hot "
                f"rows (2-D), got targets of shape {targets}"
            )

    def compare(self, predictions: Any, y: Any) -> Any:
        xp = self.backend.xp
        if not self.binary and y.ndim == 2:
            y = xp.argmax(y, axis=1)
        return predictions == (y if y.dtype == predictions.dtype else xp.astype(y, predictions.dtype))

    def accumulate_outputs(self, activation: Any, outputs: Any, y: Any) -> Any:
        if self.binary or not isinstance(activation, Softmax) or y.ndim != 1:
            return super().accumulate_outputs(activation, outputs, y)
        batch, total = self.backend.argmax_matches(outputs, y, self.running_total)
        return self._add(batch, total, outputs.shape[0])


class Regression(Accuracy):
    """A prediction counts as right within ``precision`` of its target, by default ``std(y) / 250``.

    Constant targets have no spread, and nothing would count as right: their magnitude ``max|y|``
    stands in for the spread then, and 1 when they are all zero.
    """

    def __init__(self) -> None:
        super().__init__()
        self.precision: float | None = None

    @property
    def name(self) -> str:
        """Says what counts: a regression's "accuracy" is the share of predictions within ``precision``."""
        return "acc" if self.precision is None else f"acc(|error|<{self.precision:.3g})"

    def init(self, y: Any, reinit: bool = False) -> None:
        """The scale is computed on the host in float64 (a device may have no float64: MPS); targets
        on the device are read back for it once, before training starts."""
        if self.precision is None or reinit:
            y = (np.asarray(y) if is_host(y) else self.backend.to_numpy(self.backend.asarray(y))).astype(np.float64)
            scale = float(np.std(y)) or float(np.max(np.abs(y))) or 1.0
            self.precision = scale / 250

    def compare(self, predictions: Any, y: Any) -> Any:
        if self.precision is None:
            self.init(y)
        return self.backend.xp.abs(predictions - y) < self.precision
