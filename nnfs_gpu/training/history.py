"""The per-epoch numbers ``Model.train`` returns, kept as the device's totals until they are read."""

from __future__ import annotations

from typing import Any

from .watch import NotFiniteError, is_finite

HISTORY_KEYS = ("loss", "data_loss", "regularization_loss", "accuracy", "learning_rate")


class History:
    """The per-epoch numbers ``train`` returns, kept as the device's totals until they are read: all
    at the end of the run, or one epoch's when a callback looks at them (``epoch_values``).

    Training losses are divided as the device would divide them (in the float dtype of their sum, as
    the book's step lines), validation losses in float64 (as ``accumulated_mean``, the book's
    ``calculate_accumulated``), accuracies in float64, a count over a count, as the book's ``np.mean``
    of booleans.
    """

    def __init__(self, validation: bool) -> None:
        self.epochs: list[tuple[list[Any], Any, float]] = []
        self.validations: list[list[Any]] | None = [] if validation else None

    @property
    def keys(self) -> tuple[str, ...]:
        return HISTORY_KEYS + (("val_loss", "val_accuracy") if self.validations is not None else ())

    def add_epoch(self, totals: list[Any], regularization: Any, learning_rate: float) -> None:
        self.epochs.append((totals, regularization, learning_rate))

    def add_validation(self, totals: list[Any]) -> None:
        assert self.validations is not None
        self.validations.append(totals)

    def _wanted(self, epoch: int) -> list[Any]:
        """What epoch ``epoch`` (from 0) needs from the device."""
        totals, regularization, _ = self.epochs[epoch]
        wanted = [totals[0], totals[2], regularization]
        if self.validations is not None:
            wanted += [self.validations[epoch][0], self.validations[epoch][2]]
        return wanted

    def _values(self, epoch: int, numbers: list[Any]) -> dict[str, float]:
        totals, _, learning_rate = self.epochs[epoch]
        loss_sum, right, penalty = numbers[:3]
        data_loss = loss_sum / totals[1]
        values = {"loss": float(data_loss + penalty), "data_loss": float(data_loss), "regularization_loss": float(penalty),
                  "accuracy": float(right / totals[3]), "learning_rate": learning_rate}
        if self.validations is not None:
            validation = self.validations[epoch]
            values.update(val_loss=float(numbers[3]) / validation[1], val_accuracy=float(numbers[4] / validation[3]))
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
