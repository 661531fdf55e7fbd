"""The per-epoch numbers ``Model.train`` returns, kept as the device's totals until they are read."""

from __future__ import annotations

from typing import Any

from .watch import NotFiniteError, is_finite

HISTORY_KEYS = ("loss", "data_loss", "regularization_loss", "accuracy", "learning_rate")


class History:
    """The per-epoch numbers ``train`` returns, kept as the device's totals until the run ends.

    Losses are divided as the device would divide them (in the float dtype of their sum), accuracies
    in float64, a count over a count, as the book's ``np.mean`` of booleans.
    """

    def __init__(self, validation: bool) -> None:
        self.epochs: list[tuple[list[Any], Any, float]] = []
        self.validations: list[list[Any]] | None = [] if validation else None

    def add_epoch(self, totals: list[Any], regularization: Any, learning_rate: float) -> None:
        self.epochs.append((totals, regularization, learning_rate))

    def add_validation(self, totals: list[Any]) -> None:
        assert self.validations is not None
        self.validations.append(totals)

    def read(self, backend: Any) -> dict[str, list[float]]:
        """The history as host floats; a loss that became NaN or infinite is an error naming its epoch."""
        validations = self.validations or []
        wanted = [value for totals, regularization, _ in self.epochs for value in (totals[0], totals[2], regularization)]
        wanted += [value for totals in validations for value in (totals[0], totals[2])]
        numbers = iter(backend.read_later(wanted).values())
        values: dict[str, list[float]] = {key: [] for key in HISTORY_KEYS}
        for epoch, (totals, _, learning_rate) in enumerate(self.epochs, start=1):
            loss_sum, right, penalty = next(numbers), next(numbers), next(numbers)
            data_loss = loss_sum / totals[1]
            for key, value in (("loss", data_loss + penalty), ("data_loss", data_loss), ("regularization_loss", penalty),
                               ("accuracy", right / totals[3]), ("learning_rate", learning_rate)):
                values[key].append(float(value))
            if not is_finite(values["loss"][-1]):
                raise NotFiniteError(f"epoch {epoch}")
        if self.validations is not None:
            values.update(val_loss=[], val_accuracy=[])
            for totals in validations:
                loss_sum, right = next(numbers), next(numbers)
                values["val_loss"].append(float(loss_sum) / totals[1])
                values["val_accuracy"].append(float(right / totals[3]))
        return values
