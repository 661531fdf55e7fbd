"""The training loop: data preparation, batches, the step, the update, the pass means and progress.

``Model`` keeps the book's API and calls in here. A batch goes down from ``fit`` through the layers,
the loss and the update, and never back up into the Model. What differs when several processes
train together (which rows of a batch are this rank's, gradients and numbers summed over the ranks,
one shuffle for all) is the step strategy: ``LocalSteps`` here, ``DataParallel`` in
``nnfs_gpu.distributed``, with the same small interface, so the loop has no branch for it.

Data is checked on the host and moved to the backend once per call; batches are slices of the
moved arrays. Per-batch numbers stay on the device and are read back only when a line is shown or
the run ends.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Iterator

import numpy as np

from ._bound import reusing_step_arrays
from .backends import is_host
from .progress import Reporter

HISTORY_KEYS = ("loss", "data_loss", "regularization_loss", "accuracy", "learning_rate")


class LocalSteps:
    """One process trains on every row of every batch: each call is the identity or does nothing."""

    is_root = True

    def start(self, samples: int, batches: list[slice], layers: list[Any]) -> None:
        """Checks and set-up before the first step."""

    def shard(self, rows: slice) -> slice:
        """The rows of a batch this process trains on."""
        return rows

    def shuffled_order(self, samples: int) -> np.ndarray:
        """An epoch's order of the samples, from NumPy's global RNG (so seeds reproduce)."""
        return np.random.permutation(samples)

    def average_gradients(self, update: Any, local_samples: int, global_samples: int) -> None:
        """Makes the gradients those of the whole batch."""

    def batch_means(self, numbers: list[Any], local_samples: int, global_samples: int) -> list[Any]:
        """The whole batch's means, from this process's means of its rows."""
        return numbers

    def sums(self, numbers: list[Any]) -> list[Any]:
        """Sums over all processes."""
        return numbers

    @contextlib.contextmanager
    def stopping_all_on_error(self) -> Iterator[None]:
        """Where an error on one process must stop the others too."""
        yield


LOCAL = LocalSteps()


# -- data -------------------------------------------------------------------------------------


def check_arguments(epochs: int, print_every: int) -> None:
    if epochs < 0 or print_every < 1:
        raise ValueError(f"epochs must be >= 0 and print_every >= 1, got {epochs} and {print_every}")


def batch_slices(samples: int, batch_size: int | None) -> list[slice]:
    if batch_size is None:
        return [slice(0, samples)]
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return [slice(start, min(start + batch_size, samples)) for start in range(0, samples, batch_size)]


def prepare_inputs(model: Any, X: Any) -> Any:
    """Checks inputs (on the host when they are host data) and moves them to the backend once."""
    backend = model.backend
    if is_host(X):
        X = np.asarray(X)
        if X.dtype.kind not in "iubf":
            raise TypeError(f"inputs must be numbers, got dtype {X.dtype}")
    shape = tuple(X.shape)
    if len(shape) != 2 or shape[1] != model.n_inputs:
        raise ValueError(
            f"the first layer {model.layers[0]!r} expects inputs of shape (samples, {model.n_inputs}), "
            f"got {shape}" + ("; flatten them with X.reshape(len(X), -1)" if len(shape) > 2 else "")
        )
    if shape[0] == 0:
        raise ValueError("got no samples (inputs of shape (0, ...)); pass at least one")
    # NaN and infinity survive min and max: two passes, without a data-sized mask
    if is_host(X):
        if X.dtype.kind == "f" and not (np.isfinite(X.min()) and np.isfinite(X.max())):
            row = int(np.argwhere(~np.isfinite(X))[0][0])
            raise ValueError(f"inputs contain NaN or infinity (first in row {row}); clean the data first")
        return backend.asfloat(X)
    X = backend.asfloat(X)
    xp = backend.xp
    if not bool(xp.isfinite(xp.min(X)) & xp.isfinite(xp.max(X))):
        raise ValueError("inputs contain NaN or infinity; clean the data first")
    return X


def prepare(model: Any, X: Any, y: Any) -> tuple[Any, Any]:
    """Inputs and targets, checked once and moved to the backend."""
    X = prepare_inputs(model, X)
    return X, model.loss.targets(y, (X.shape[0], model.n_outputs), model.backend.dtype)


# -- the passes -------------------------------------------------------------------------------


def forward(model: Any, X: Any, training: bool) -> Any:
    model.input_layer.forward(X, training)
    for layer in model.layers:
        layer.forward(layer.prev.output, training)
    return model.layers[-1].output


def backward(model: Any, output: Any, y: Any, *, checked: bool = False) -> None:
    """Backpropagates from the loss down to the first Dense layer's parameters (the gradient of
    the data itself is never needed, so it is not computed)."""
    layers = model._backward_layers
    if model.softmax_classifier_output is not None:
        model.softmax_classifier_output.backward(output, y, checked=checked)
        model.layers[-1].dinputs = model.softmax_classifier_output.dinputs
        layers = layers[:-1]
    else:
        model.loss.backward(output, y, checked=checked)
    for layer in reversed(layers):
        layer.backward(layer.next.dinputs)


def raise_not_finite(where: str) -> None:
    raise FloatingPointError(
        f"the loss became NaN or infinite at {where}; lower the learning rate, scale the inputs, "
        f"or check the data for extreme values"
    )


class History:
    """The per-epoch numbers ``train`` returns; those computed on the device stay there until the end."""

    def __init__(self, validation: bool) -> None:
        self.on_device: dict[str, list[Any]] = {key: [] for key in HISTORY_KEYS if key != "learning_rate"}
        self.values: dict[str, list[float]] = {key: [] for key in HISTORY_KEYS}
        if validation:
            self.values.update(val_loss=[], val_accuracy=[])

    def add_epoch(self, data_loss: Any, regularization: Any, accuracy: Any, learning_rate: float) -> None:
        for key, value in (("data_loss", data_loss), ("regularization_loss", regularization),
                           ("loss", data_loss + regularization), ("accuracy", accuracy)):
            self.on_device[key].append(value)
        self.values["learning_rate"].append(learning_rate)

    def add_validation(self, loss: float, accuracy: float) -> None:
        self.values["val_loss"].append(loss)
        self.values["val_accuracy"].append(accuracy)

    def read(self) -> dict[str, list[float]]:
        """The history as host floats; a loss that became NaN or infinite is an error naming its epoch."""
        for key, values in self.on_device.items():
            self.values[key] = [float(value) for value in values]
        for epoch, value in enumerate(self.values["loss"], start=1):
            if not math.isfinite(value):
                raise_not_finite(f"epoch {epoch}")
        return self.values


class TrainingRun:
    """One ``Model.train`` call: its epochs and steps, with what they share."""

    def __init__(self, model: Any, strategy: LocalSteps, report: Reporter, batches: list[slice], print_every: int) -> None:
        self.model, self.strategy, self.report = model, strategy, report
        self.batches, self.print_every = batches, print_every
        self.update = model._updates.for_training(model.trainable_layers, model.optimizer, model.backend)

    def epoch(self, X: Any, y: Any, shuffle: bool, number: int) -> tuple[Any, Any]:
        """Trains on every batch once; returns the epoch's mean loss and accuracy (on the device)."""
        model, xp = self.model, self.model.backend.xp
        model.loss.new_pass()
        model.accuracy.new_pass()
        if shuffle:
            order = model.backend.asarray(self.strategy.shuffled_order(X.shape[0]))
            X, y = xp.take(X, order, axis=0), xp.take(y, order, axis=0)
        for step, rows in enumerate(self.batches):
            self.step(X, y, rows, step, number)
        loss, accuracy = model.loss, model.accuracy
        loss_sum, loss_count, accuracy_sum, accuracy_count = self.strategy.sums(
            [loss.accumulated_sum, loss.accumulated_count, accuracy.accumulated_sum, accuracy.accumulated_count]
        )
        return loss_sum / loss_count, accuracy_sum / accuracy_count

    def step(self, X: Any, y: Any, rows: slice, step: int, epoch: int) -> None:
        model, strategy, report = self.model, self.strategy, self.report
        local = strategy.shard(rows)
        sizes = (local.stop - local.start, rows.stop - rows.start)
        batch_X, batch_y = X[local, ...], y[local, ...]
        output = forward(model, batch_X, training=True)
        data_loss = model.loss.accumulate(output, batch_y, checked=True)
        accuracy = model.accuracy.accumulate(model.output_layer_activation.predictions(output), batch_y)
        shown = report.active and (not step % self.print_every or step == len(self.batches) - 1)
        if shown:  # the numbers before the update, as the book prints them
            regularization = model.loss.regularization_total()
            data_loss, accuracy = strategy.batch_means([data_loss, accuracy], *sizes)
        backward(model, output, batch_y, checked=True)
        strategy.average_gradients(self.update, *sizes)
        self.update.apply(model.optimizer)
        if shown:
            self.show(f"step: {step}", accuracy, data_loss, regularization, f"epoch {epoch}, step {step}")
        report.advance()

    def show(self, label: str, accuracy: Any, data_loss: Any, regularization: Any, where: str) -> None:
        """Reports one of the book's progress lines (reading the numbers back from the device)."""
        data_loss, regularization = float(data_loss), float(regularization)
        if not math.isfinite(data_loss + regularization):
            raise_not_finite(where)
        self.report.progress(label, float(accuracy), data_loss, regularization, self.model.optimizer.current_learning_rate)


def fit(
    model: Any,
    X: Any,
    y: Any,
    *,
    epochs: int,
    batch_size: int | None,
    print_every: int,
    validation_data: tuple[Any, Any] | None,
    shuffle: bool,
    verbose: bool,
    progress: bool | None,
    strategy: LocalSteps,
) -> dict[str, list[float]]:
    """``Model.train``: trains and returns the per-epoch history."""
    X, y = prepare(model, X, y)
    validation = prepare(model, *validation_data) if validation_data is not None else None
    model.accuracy.init(y)
    batches = batch_slices(X.shape[0], batch_size)
    strategy.start(X.shape[0], batches, model.trainable_layers)
    history = History(validation is not None)
    step_objects = [*model.layers, model.softmax_classifier_output or model.loss]
    report = model._make_reporter(verbose, progress, epochs * len(batches), strategy.is_root, print_every)
    with report, reusing_step_arrays(step_objects):
        run = TrainingRun(model, strategy, report, batches, print_every)
        for epoch in range(1, epochs + 1):
            report.epoch(epoch, epochs)
            loss, accuracy = run.epoch(X, y, shuffle, epoch)
            regularization = model.loss.regularization_total()
            history.add_epoch(loss, regularization, accuracy, model.optimizer.current_learning_rate)
            if report.active:
                run.show("training", accuracy, loss, regularization, f"epoch {epoch}")
            if validation is not None:
                history.add_validation(*evaluate_pass(model, *validation, batch_size, report))
    return history.read()


def evaluate_pass(model: Any, X: Any, y: Any, batch_size: int | None, report: Reporter) -> tuple[float, float]:
    """Loss and accuracy over prepared data, reported as the book's ``validation`` line."""
    model.loss.new_pass()
    model.accuracy.new_pass()
    for rows in batch_slices(X.shape[0], batch_size):
        batch_y = y[rows, ...]
        output = forward(model, X[rows, ...], training=False)
        model.loss.accumulate(output, batch_y, checked=True)
        model.accuracy.accumulate(model.output_layer_activation.predictions(output), batch_y)
    loss = model.loss.calculate_accumulated()
    accuracy = model.accuracy.calculate_accumulated()
    report.validation(accuracy, loss)
    return loss, accuracy


def evaluate(model: Any, X: Any, y: Any, batch_size: int | None, verbose: bool) -> tuple[float, float]:
    """``Model.evaluate``."""
    X, y = prepare(model, X, y)
    model.accuracy.init(y)
    return evaluate_pass(model, X, y, batch_size, model._make_reporter(verbose, progress=False))


def predict(model: Any, X: Any, batch_size: int | None) -> np.ndarray:
    """``Model.predict``: the last layer's outputs as a host NumPy array."""
    X = prepare_inputs(model, X)
    outputs = [forward(model, X[rows, ...], training=False) for rows in batch_slices(X.shape[0], batch_size)]
    return model.backend.to_numpy(model.backend.xp.concat(outputs, axis=0))
