"""Callbacks: code that ``Model.train`` runs at the start and end of the run, of each epoch and of
each step, for early stopping, checkpoints, learning-rate schedules and logs.

    model.train(X, y, epochs=200, validation_data=(X_val, y_val),
                callbacks=[EarlyStopping(patience=10), ModelCheckpoint("best.model")])

A hook gets the model, and the epoch hooks the epoch's ``logs``: a read-only mapping of the
epoch's numbers (``loss``, ``data_loss``, ``regularization_loss``, ``accuracy``, ``learning_rate``,
and ``val_loss``, ``val_accuracy`` with validation data). Looking a number up brings the epoch's
numbers from the device, which waits for the epoch to finish on a GPU; a callback that reads nothing
never makes a step wait. Setting ``model.stop_training = True`` ends training after the epoch.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Iterator

from . import checks
from .backends import Backend


#: every hook ``train`` calls on each callback: one that is not a Callback must define them all
HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_step_begin", "on_step_end")


class Callback:
    """The base class: every hook does nothing. Override the ones you need."""

    def on_train_begin(self, model: Any) -> None:
        """Before the first epoch."""

    def on_train_end(self, model: Any, logs: Mapping[str, float] | None) -> None:
        """After the last epoch (also after an early stop); ``logs`` are the last epoch's, or None."""

    def on_epoch_begin(self, model: Any, epoch: int) -> None:
        """Before epoch ``epoch`` (counted from 1)."""

    def on_epoch_end(self, model: Any, epoch: int, logs: Mapping[str, float]) -> None:
        """After the epoch's steps and its validation pass."""

    def on_step_begin(self, model: Any, epoch: int, step: int) -> None:
        """Before a training step (``step`` counts from 0 in each epoch)."""

    def on_step_end(self, model: Any, epoch: int, step: int) -> None:
        """After a training step's update."""


class EpochLogs(Mapping):
    """An epoch's numbers, read from the device the first time one is looked up."""

    def __init__(self, keys: tuple[str, ...], read: Callable[[], dict[str, float]]) -> None:
        self._keys, self._read, self._values = keys, read, None

    def __getitem__(self, key: str) -> float:
        if key not in self._keys:
            raise KeyError(f"{key!r}: an epoch's logs hold {', '.join(self._keys)}")
        if self._values is None:
            self._values = self._read()
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"EpochLogs({dict(self)})"


class _Monitor(Callback):
    """Watches one of the logs for improvement: down for losses, up for accuracies (``mode='auto'``)."""

    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        owner = type(self).__name__
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        checks.instance(monitor, str, "monitor", "'val_loss'", owner=owner)
        self.monitor, self.min_delta = monitor, checks.real_number(min_delta, "min_delta", at_least=0, owner=owner)
        self.mode = mode if mode != "auto" else ("max" if "acc" in monitor else "min")
        self.best: float | None = None
        self.best_epoch = 0

    def on_train_begin(self, model: Any) -> None:
        self.best, self.best_epoch = None, 0

    def _value(self, logs: Mapping[str, float]) -> float:
        if self.monitor not in logs:
            hint = "; train with validation_data (or validation_split) to have it" if self.monitor.startswith("val_") else ""
            raise ValueError(f"{type(self).__name__} monitors {self.monitor!r}, which the logs lack ({', '.join(logs)}){hint}")
        return logs[self.monitor]

    def _improved(self, epoch: int, logs: Mapping[str, float]) -> bool:
        """Whether this epoch beats the best by more than ``min_delta`` (and remembers it if so)."""
        value = self._value(logs)
        if math.isnan(value):
            return False
        better = (self.best is None or (value < self.best - self.min_delta if self.mode == "min"
                                        else value > self.best + self.min_delta))
        if better:
            self.best, self.best_epoch = value, epoch
        return better


class EarlyStopping(_Monitor):
    """Stops training when ``monitor`` has not improved for ``patience`` epochs; with
    ``restore_best_weights`` (the default) the model ends with the parameters of its best epoch."""

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0, mode: str = "auto",
                 restore_best_weights: bool = True) -> None:
        super().__init__(monitor, mode, min_delta)
        self.patience = checks.whole_number(patience, "patience", minimum=0, owner="EarlyStopping")
        self.restore_best_weights = checks.flag(restore_best_weights, "restore_best_weights", owner="EarlyStopping")
        self.stopped_epoch = 0
        self._best_parameters: list[tuple[Any, Any]] | None = None

    def on_train_begin(self, model: Any) -> None:
        super().on_train_begin(model)
        self.stopped_epoch, self._best_parameters = 0, None

    def on_epoch_end(self, model: Any, epoch: int, logs: Mapping[str, float]) -> None:
        if self._improved(epoch, logs):
            if self.restore_best_weights:
                self._best_parameters = _copies(model)
        elif epoch - self.best_epoch >= self.patience:
            self.stopped_epoch = epoch
            model.stop_training = True

    def on_train_end(self, model: Any, logs: Mapping[str, float] | None) -> None:
        if self._best_parameters is not None:
            model.set_parameters(self._best_parameters)


def _copies(model: Any) -> list[tuple[Any, ...]]:
    """The model's parameters, copied on their device."""
    backend: Backend = model.backend
    return [tuple(backend.copy(array) for array in arrays) for arrays in model.get_parameters()]


class ModelCheckpoint(_Monitor):
    """Saves the model (``Model.save``: atomic, the previous file survives a failed save) after each
    epoch that improves ``monitor``, or after every epoch with ``save_best_only=False``. ``path``
    may hold ``{epoch}`` to keep one file per epoch."""

    def __init__(self, path: str | os.PathLike[str], monitor: str = "val_loss", save_best_only: bool = True,
                 mode: str = "auto", min_delta: float = 0.0) -> None:
        super().__init__(monitor, mode, min_delta)
        self.path = str(path)
        self.save_best_only = checks.flag(save_best_only, "save_best_only", owner="ModelCheckpoint")

    def on_epoch_end(self, model: Any, epoch: int, logs: Mapping[str, float]) -> None:
        if not self.save_best_only or self._improved(epoch, logs):
            model.save(self.path.format(epoch=epoch))


class ReduceLROnPlateau(_Monitor):
    """Multiplies the optimizer's learning rate by ``factor`` when ``monitor`` has not improved for
    ``patience`` epochs (then waits ``patience`` epochs again), down to ``min_learning_rate``."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, min_delta: float = 1e-4,
                 min_learning_rate: float = 0.0, mode: str = "auto") -> None:
        super().__init__(monitor, mode, min_delta)
        owner = "ReduceLROnPlateau"
        self.factor = checks.real_number(factor, "factor", above=0, below=1, owner=owner)
        self.patience = checks.whole_number(patience, "patience", minimum=1, owner=owner)
        self.min_learning_rate = checks.real_number(min_learning_rate, "min_learning_rate", at_least=0, owner=owner)

    def on_epoch_end(self, model: Any, epoch: int, logs: Mapping[str, float]) -> None:
        if self._improved(epoch, logs) or epoch - self.best_epoch < self.patience:
            return
        optimizer = model.optimizer
        reduced = max(optimizer.learning_rate * self.factor, self.min_learning_rate)
        scale = reduced / optimizer.learning_rate
        optimizer.learning_rate = reduced
        optimizer.current_learning_rate *= scale
        self.best_epoch = epoch  # wait another ``patience`` epochs before the next cut


class CSVLogger(Callback):
    """Writes a row per epoch (the epoch and every log) to a CSV file, each row appended and closed
    as it is written, so a run that fails keeps the rows of its finished epochs. With ``append``, a
    run adds its rows under the file's header (a log it lacks stays empty)."""

    def __init__(self, path: str | os.PathLike[str], append: bool = False) -> None:
        self.path, self.append = Path(path), checks.flag(append, "append", owner="CSVLogger")
        self._columns: list[str] | None = None

    def on_train_begin(self, model: Any) -> None:
        self._columns = None
        if self.append and self.path.is_file():
            with open(self.path, newline="", encoding="utf-8") as file:
                self._columns = next(csv.reader(file), None)
        elif not self.append:
            self.path.write_text("", encoding="utf-8")

    def on_epoch_end(self, model: Any, epoch: int, logs: Mapping[str, float]) -> None:
        new_file = self._columns is None
        if new_file:
            self._columns = ["epoch", *logs]
        unknown = [key for key in logs if key not in self._columns]
        if unknown:
            raise ValueError(f"CSVLogger: {self.path} has the columns {', '.join(self._columns)}; this run also logs "
                             f"{', '.join(unknown)}: write it to another file")
        with open(self.path, "a", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=self._columns, restval="")
            if new_file:
                writer.writeheader()
            writer.writerow({"epoch": epoch, **logs})


class Callbacks:
    """The callbacks of one ``train`` call, called in their order (and nothing at all without any)."""

    def __init__(self, model: Any, callbacks: list[Callback], history: Any) -> None:
        self.model, self.callbacks, self.history = model, list(callbacks), history
        self.logs: EpochLogs | None = None

    def train_begin(self) -> None:
        self.model.stop_training = False
        for callback in self.callbacks:
            callback.on_train_begin(self.model)

    def epoch_begin(self, epoch: int) -> None:
        for callback in self.callbacks:
            callback.on_epoch_begin(self.model, epoch)

    def step_begin(self, epoch: int, step: int) -> None:
        for callback in self.callbacks:
            callback.on_step_begin(self.model, epoch, step)

    def step_end(self, epoch: int, step: int) -> None:
        for callback in self.callbacks:
            callback.on_step_end(self.model, epoch, step)

    def epoch_end(self, epoch: int) -> bool:
        """Calls ``on_epoch_end`` with the epoch's logs; True when a callback stops training."""
        if not self.callbacks:
            return False
        self.logs = EpochLogs(self.history.keys, lambda: self.history.epoch_values(self.model.backend, epoch - 1))
        for callback in self.callbacks:
            callback.on_epoch_end(self.model, epoch, self.logs)
        return bool(self.model.stop_training)

    def train_end(self) -> None:
        for callback in self.callbacks:
            callback.on_train_end(self.model, self.logs)
