"""The training loop: the passes, the step, the update, the pass totals and what is shown of them.

``Model`` keeps the book's API and calls in here. A batch goes down from ``fit`` through the layers,
the loss and the update, and never back up into the Model; the passes read what ``finalize`` worked
out from ``model.assembly``. What differs when several processes train together is the step
strategy (``strategy.LocalSteps``, ``nnfs_gpu.distributed.DataParallel``).

Data is checked on the host and moved to the backend once per call (``data``); batches are
slices of the moved arrays. Per-batch numbers stay on the device and are read back only when a line
is shown (``watch``) or the run ends (``history``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._bound import reusing_step_arrays
from ..activations import takes_bias
from ..callbacks import Callbacks
from ..protocol import fuses_bias
from ..progress import ProgressNumbers, Reporter
from .data import batch_slices, prepare, prepare_inputs, split_validation
from .history import History, PassTotals
from .strategy import LocalSteps
from .watch import NotFiniteError, Watch, is_finite

if TYPE_CHECKING:
    from ..model import Model


def forward_stages(layers: list[Any]) -> list[tuple[Any, Any]]:
    """The forward pass as stages: ``(layer, None)``, or ``(layer, activation)`` for a layer whose
    forward is a product plus biases (``protocol.fuses_bias``) and the activation after it, whose
    ``forward_biased`` adds the biases and activates in one fused op (``activations.takes_bias``).
    Layers whose class or instance replaces those methods are never fused, so their own code runs."""
    stages: list[tuple[Any, Any]] = []
    remaining = list(layers)
    while remaining:
        layer = remaining.pop(0)
        fusable = fuses_bias(layer) and bool(remaining) and takes_bias(remaining[0])
        stages.append((layer, remaining.pop(0) if fusable else None))
    return stages


def forward(model: Model, X: Any, training: bool) -> Any:
    assembly = model.assembly
    assembly.input_layer.forward(X, training)
    for layer, activation in assembly.forward_stages:
        if activation is None:
            layer.forward(layer.prev.output, training)
        else:
            layer.forward_product(layer.prev.output)
            activation.forward_biased(layer.output, layer.biases)
    return model.layers[-1].output


def backward(model: Model, output: Any, y: Any, *, checked: bool = False) -> None:
    """Backpropagates from the loss down to the first trainable layer's parameters (the gradient of
    the data itself is never needed, so it is not computed)."""
    assembly = model.assembly
    layers = assembly.backward_layers
    fused = assembly.softmax_classifier_output
    if fused is not None:
        fused.backward(output, y, checked=checked)
        model.layers[-1].dinputs = fused.dinputs
        layers = layers[:-1]
    else:
        model.loss.backward(output, y, checked=checked)
    for layer in reversed(layers):
        layer.backward(layer.next.dinputs)


def regularization(model: Model) -> Any:
    """The loss's L1/L2 penalty now (a 0-d array), or 0.0 when no layer has one (nothing to compute)."""
    layers = model.loss.trainable_layers
    return model.loss.regularization_total() if any(getattr(layer, "has_penalty", True) for layer in layers) else 0.0


def pass_totals(model: Model) -> PassTotals:
    """The pass's totals as they stand."""
    loss, accuracy = model.loss, model.accuracy
    return PassTotals(loss.accumulated_sum, loss.accumulated_count, accuracy.accumulated_sum, accuracy.accumulated_count)


class TrainingRun:
    """One ``Model.train`` call: its epochs and steps, with what they share."""

    def __init__(self, model: Model, strategy: LocalSteps, report: Reporter, batches: list[slice], print_every: int | None,
                 hooks: Callbacks) -> None:
        self.model, self.strategy, self.report, self.hooks = model, strategy, report, hooks
        self.batches, self.print_every = batches, print_every
        self.update = model._updates.for_training(model.trainable_layers, model.optimizer, model.backend)
        self.watch = Watch(model.backend)

    def epoch(self, X: Any, y: Any, shuffle: bool, number: int, history: History) -> None:
        """Trains on every batch once, and adds the pass's numbers (over all ranks) to ``history``."""
        model, xp = self.model, self.model.backend.xp
        model.loss.new_pass()
        model.accuracy.new_pass()
        if shuffle:
            order = model.backend.asarray(self.strategy.shuffled_order(X.shape[0]))
            X, y = xp.take(X, order, axis=0), xp.take(y, order, axis=0)
        for step, rows in enumerate(self.batches):
            self.hooks.step_begin(number, step)
            self.step(X, y, rows, step, number)
            self.hooks.step_end(number, step)
        self.watch.pass_ended(model.loss.accumulated_sum)
        totals, penalty = self.summed(pass_totals(model)), regularization(model)
        history.add_epoch(totals, penalty, model.optimizer.current_learning_rate)
        if self.report.shows_epoch(number):
            self.show(None, totals, penalty, f"epoch {number}")

    def step(self, X: Any, y: Any, rows: slice, step: int, epoch: int) -> None:
        model, report = self.model, self.report
        local = self.strategy.shard(rows)
        sizes = (local.stop - local.start, rows.stop - rows.start)
        batch_X, batch_y = X[local, ...], y[local, ...]
        output = forward(model, batch_X, training=True)
        compared_before = model.accuracy.accumulated_count
        batch_loss = model.loss.accumulate(output, batch_y, checked=True)
        right = model.accuracy.accumulate_outputs(model.assembly.output_layer_activation, output, batch_y)
        shown = report.shows_step(epoch, step, step == len(self.batches) - 1, self.print_every)
        if shown:  # the numbers before the update, as the book prints them
            numbers = self.summed(PassTotals(batch_loss, sizes[0], right, model.accuracy.accumulated_count - compared_before))
            penalty = regularization(model)
        backward(model, output, batch_y, checked=True)
        self.strategy.average_gradients(self.update, *sizes)
        self.update.apply(model.optimizer)
        where = f"epoch {epoch}, step {step}"
        if shown:
            self.show(step, numbers, penalty, where)
        report.advance()
        self.watch.step_done(where, batch_loss, model.loss.running_total)

    def summed(self, totals: PassTotals) -> PassTotals:
        """``totals`` summed over the ranks (the strategy's ``sums``)."""
        return PassTotals(*self.strategy.sums(list(totals)))

    def show(self, step: int | None, totals: PassTotals, penalty: Any, where: str) -> None:
        """Reports the numbers of training step ``step`` (None: of the epoch so far) once they are on the host."""
        learning_rate = self.model.optimizer.current_learning_rate

        def report(loss_sum: Any, right: Any, penalty: Any) -> None:
            data_loss = loss_sum / totals.samples
            if not is_finite(data_loss, penalty):
                raise NotFiniteError(where)
            self.report.progress(ProgressNumbers(step, right / totals.compared, float(data_loss), float(penalty), learning_rate))

        self.watch.when_read([totals.loss_sum, totals.right, penalty], report)


def fit(
    model: Model,
    X: Any,
    y: Any,
    *,
    epochs: int,
    batch_size: int | None,
    print_every: int | None,
    validation_data: tuple[Any, Any] | None,
    validation_split: float,
    shuffle: bool,
    verbose: bool,
    progress: bool | None,
    callbacks: list[Any],
    strategy: LocalSteps,
) -> dict[str, list[float]]:
    """``Model.train``: trains and returns the per-epoch history."""
    model.assembly.restage(model.layers)
    if validation_split:
        X, y, validation_data = split_validation(X, y, validation_split, model.backend)
    X, y = prepare(model, X, y)
    validation = prepare(model, *validation_data) if validation_data is not None else None
    model.accuracy.init(y)
    batches = batch_slices(X.shape[0], batch_size)
    history = History(validation is not None)
    hooks = Callbacks(model, callbacks, history)
    step_objects = [*model.layers, model.assembly.softmax_classifier_output or model.loss]
    report = model._make_reporter(verbose, progress, epochs * len(batches), shows=strategy.is_root,
                                  throttled=not strategy.collective, print_every=print_every)
    with report, reusing_step_arrays(step_objects):
        run = TrainingRun(model, strategy, report, batches, print_every, hooks)
        strategy.start(X.shape[0], batches, run.update)
        watch = run.watch
        hooks.train_begin()
        for epoch in range(1, epochs + 1):
            watch.when_read([], lambda epoch=epoch: report.epoch(epoch, epochs))
            hooks.epoch_begin(epoch)
            run.epoch(X, y, shuffle, epoch, history)
            if validation is not None:
                validation_totals = evaluate_pass(model, *validation, batch_size)
                history.add_validation(validation_totals)
                show_validation(watch, report, validation_totals)
            watch.when_read([], lambda epoch=epoch: report.epoch_done(epoch))
            if hooks.epoch_end(epoch):
                break
        watch.check()
        watch.finish()
        hooks.train_end()
    return history.read(model.backend)


def evaluate_pass(model: Model, X: Any, y: Any, batch_size: int | None) -> PassTotals:
    """One pass over prepared data without training; returns its totals."""
    model.loss.new_pass()
    model.accuracy.new_pass()
    for rows in batch_slices(X.shape[0], batch_size):
        batch_y = y[rows, ...]
        output = forward(model, X[rows, ...], training=False)
        model.loss.accumulate(output, batch_y, checked=True)
        model.accuracy.accumulate_outputs(model.assembly.output_layer_activation, output, batch_y)
    return pass_totals(model)


def show_validation(watch: Watch, report: Reporter, totals: PassTotals) -> None:
    """The book's ``validation`` line, once its numbers are on the host."""
    watch.when_read([totals.loss_sum, totals.right],
                    lambda loss_sum, right: report.validation(right / totals.compared, float(loss_sum) / totals.samples))


def evaluate(model: Model, X: Any, y: Any, batch_size: int | None, verbose: bool) -> tuple[float, float]:
    """``Model.evaluate``: the validation line, and (loss, accuracy)."""
    model.assembly.restage(model.layers)
    X, y = prepare(model, X, y)
    model.accuracy.init(y)
    totals = evaluate_pass(model, X, y, batch_size)
    loss_sum, right = model.backend.read_later([totals.loss_sum, totals.right]).values()  # one read of both
    loss, accuracy = float(loss_sum) / totals.samples, float(right) / totals.compared  # as accumulated_mean divides
    model._make_reporter(verbose, progress=False).validation(accuracy, loss)
    return loss, accuracy


def predict(model: Model, X: Any, batch_size: int | None) -> np.ndarray:
    """``Model.predict``: the last layer's outputs as a host NumPy array."""
    model.assembly.restage(model.layers)
    X = prepare_inputs(model, X)
    outputs = [forward(model, X[rows, ...], training=False) for rows in batch_slices(X.shape[0], batch_size)]
    return model.backend.to_numpy(model.backend.xp.concat(outputs, axis=0))
