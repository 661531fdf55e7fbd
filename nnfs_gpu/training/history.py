"""The per-epoch numbers ``Model.train`` returns, kept as the device's totals until they are read."""

from __future__ import annotations

from typing import Any, NamedTuple

from .watch import NotFiniteError, is_finite

HISTORY_KEYS = ("loss", "data_loss", "regularization_loss", "accuracy", "learning_rate")


class PassTotals(NamedTuple):
    """A pass's (or a step's) numbers as they stand: sums stay 0-d device arrays until read back,
    counts are host numbers (floats once summed over the ranks of a data-parallel run)."""

    #: the summed loss, and how many samples it sums
    loss_sum: Any
    samples: Any
    #: how many answers were right, and how many values were compared
    right: Any
    compared: Any


class History:
    """The per-epoch numbers ``train`` returns, kept as the device's totals until they are read: all
    at the end of the run, or one epoch's when a callback looks at them (``epoch_values``).

    Training losses are divided as the device would divide them (in the float dtype of their sum, as
    the book's step lines), validation losses in float64 (as ``accumulated_mean``, the book's
    ``calculate_accumulated``), accuracies in float64, a count over a count, as the book's ``np.mean``
    of booleans.
    """

    def __init__(self, validation: bool) -> None:
        self.epochs: list[tuple[PassTotals, Any, float]] = []
        self.validations: list[PassTotals] | None = [] if validation else None

    @property
    def keys(self) -> tuple[str, ...]:
        return HISTORY_KEYS + (("val_loss", "val_accuracy") if self.validations is not None else ())

    def add_epoch(self, totals: PassTotals, regularization: Any, learning_rate: float) -> None:
        self.epochs.append((totals, regularization, learning_rate))

    def add_validation(self, totals: PassTotals) -> None:
        assert self.validations is not None
        self.validations.append(totals)

    def _wanted(self, epoch: int) -> list[Any]:
        """What epoch ``epoch`` (from 0) needs from the device."""
        totals, regularization, _ = self.epochs[epoch]
        wanted = [totals.loss_sum, totals.right, regularization]
        if self.validations is not None:
            wanted += [self.validations[epoch].loss_sum, self.validations[epoch].right]
        return wanted

    def _values(self, epoch: int, numbers: list[Any]) -> dict[str, float]:
        totals, _, learning_rate = self.epochs[epoch]
        loss_sum, right, penalty = numbers[:3]
        data_loss = loss_sum / totals.samples
        values = {"loss": float(data_loss + penalty), "data_loss": float(data_loss), "regularization_loss": float(penalty),
                  "accuracy": float(right / totals.compared), "learning_rate": learning_rate}
        if self.validations is not None:
            validation = self.validations[epoch]
            values.update(val_loss=float(numbers[3]) / validation.samples, val_accuracy=float(numbers[4] / validation.compared))
        if not is_finite(values["loss"]):
            raise NotFiniteError(f"epoch {epoch + 1}")
        return values

    def epoch_values(self, backend: Any, epoch: int) -> dict[str, float]:
        """The numbers of epoch ``epoch`` (from 0), read from the device now."""
        return self._values(epoch, backend.read_later(self._wanted(epoch)).values())

    def read(self, backend: Any) -> dict[str, list[float]]:
        """The history as host floats; a loss that became NaN or infinite is an error naming its epoch."""
        numbers = backend.read_later([value for epoch in range(len(self.epochs)) for value in self._wanted(epoch)]).values()
        width = len(numbers) // len(self.epochs) if self.epochs else 0
        history: dict[str, list[float]] = {key: [] for key in self.keys}
        for epoch in range(len(self.epochs)):
            for key, value in self._values(epoch, numbers[epoch * width:(epoch + 1) * width]).items():
                history[key].append(value)
        return history
