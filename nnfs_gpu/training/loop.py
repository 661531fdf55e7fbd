"""The training loop: the step, the update, the pass totals, progress and the history.

``Model`` keeps the book's API and calls in here. A batch goes down from ``fit`` through the layers,
the loss and the update, and never back up into the Model. What differs when several processes
train together (which rows of a batch are this rank's, gradients and numbers summed over the ranks,
one shuffle for all) is the step strategy: ``LocalSteps`` here, ``DataParallel`` in
``nnfs_gpu.distributed``, with the same small interface, so the loop has no branch for it.

Data is checked on the host and moved to the backend once per call (``batches``); batches are
slices of the moved arrays. Per-batch numbers stay on the device and are read back only when a line
is shown (``watch``) or the run ends (``history``).
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np

from .._bound import reusing_step_arrays
from ..activations import ReLU, Softmax
from .data import batch_slices, prepare, prepare_inputs, split_validation
from ..callbacks import Callbacks
from .history import History
from ..layers import Dense
from ..progress import Reporter
from .watch import NotFiniteError, Watch, is_finite

class LocalSteps:
    """One process trains on every row of every batch: each call is the identity or does nothing."""

    is_root = True
    #: whether steps call collectives (every rank must then decide alike which steps show numbers)
    collective = False

    def agree(self, model: Any, X: Any, y: Any, validation_data: Any, settings: dict[str, Any]) -> None:
        """Checks, before any work, that every process is about to train the same run."""

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

    def sums(self, numbers: list[Any]) -> list[Any]:
        """Sums over all processes (0-d arrays stay on the device)."""
        return numbers

    @contextlib.contextmanager
    def stopping_all_on_error(self) -> Iterator[None]:
        """Where an error on one process must stop the others too."""
        yield


LOCAL = LocalSteps()


# -- the passes -------------------------------------------------------------------------------


def forward_stages(layers: list[Any]) -> list[tuple[Any, Any]]:
    """The forward pass as stages: ``(layer, None)``, or ``(dense, activation)`` for a Dense layer
    and the ReLU or Softmax after it, whose biases and activation run as one fused op
    (``Dense.forward_product``, then ``Activation.forward_biased``). Layers whose class or instance
    replaces ``forward`` (or the activation's ``_forward``) are never fused, so their own code runs;
    ``fit``, ``evaluate`` and ``predict`` make the stages anew each call."""
    stages: list[tuple[Any, Any]] = []
    remaining = list(layers)
    while remaining:
        layer = remaining.pop(0)
        following = remaining[0] if remaining else None
        fusable = _keeps(layer, Dense, "forward", "forward_product") and any(
            isinstance(following, kind) and _keeps(following, kind, "forward", "_forward", "forward_biased")
            for kind in (ReLU, Softmax)
        )
        stages.append((layer, remaining.pop(0) if fusable else None))
    return stages


def _keeps(obj: Any, kind: type, *methods: str) -> bool:
    """Whether ``obj`` is a ``kind`` that keeps ``kind``'s ``methods`` (in its class and on itself)."""
    return isinstance(obj, kind) and all(
        getattr(type(obj), name) is getattr(kind, name) and name not in vars(obj) for name in methods
    )


def forward(model: Any, X: Any, training: bool) -> Any:
    model.input_layer.forward(X, training)
    for layer, activation in model._forward_stages:
        if activation is None:
            layer.forward(layer.prev.output, training)
        else:
            layer.forward_product(layer.prev.output)
            activation.forward_biased(layer.output, layer.biases)
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


def regularization(model: Any) -> Any:
    """The loss's L1/L2 penalty now (a 0-d array), or 0.0 when no layer has one (nothing to compute)."""
    layers = model.loss.trainable_layers
    return model.loss.regularization_total() if any(getattr(layer, "has_penalty", True) for layer in layers) else 0.0


def pass_totals(model: Any) -> list[Any]:
    """The pass's summed loss, its count, right answers and compared values, as they stand."""
    loss, accuracy = model.loss, model.accuracy
    return [loss.accumulated_sum, loss.accumulated_count, accuracy.accumulated_sum, accuracy.accumulated_count]


class TrainingRun:
    """One ``Model.train`` call: its epochs and steps, with what they share."""

    def __init__(self, model: Any, strategy: LocalSteps, report: Reporter, batches: list[slice], print_every: int | None,
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
        totals, penalty = self.strategy.sums(pass_totals(model)), regularization(model)
        history.add_epoch(totals, penalty, model.optimizer.current_learning_rate)
        if self.report.shows_epoch(number):
            self.show("training", totals, penalty, f"epoch {number}")

    def step(self, X: Any, y: Any, rows: slice, step: int, epoch: int) -> None:
        model, strategy, report = self.model, self.strategy, self.report
        local = strategy.shard(rows)
        sizes = (local.stop - local.start, rows.stop - rows.start)
        batch_X, batch_y = X[local, ...], y[local, ...]
        output = forward(model, batch_X, training=True)
        compared_before = model.accuracy.accumulated_count
        batch_loss = model.loss.accumulate(output, batch_y, checked=True)
        right = model.accuracy.accumulate_outputs(model.output_layer_activation, output, batch_y)
        shown = report.shows_step(epoch, step, step == len(self.batches) - 1, self.print_every)
        if shown:  # the numbers before the update, as the book prints them
            numbers = strategy.sums([batch_loss, sizes[0], right, model.accuracy.accumulated_count - compared_before])
            penalty = regularization(model)
        backward(model, output, batch_y, checked=True)
        strategy.average_gradients(self.update, *sizes)
        self.update.apply(model.optimizer)
        where = f"epoch {epoch}, step {step}"
        if shown:
            self.show(f"step: {step}", numbers, penalty, where)
        report.advance()
        self.watch.step_done(where, batch_loss, model.loss.running_total)

    def show(self, label: str, totals: list[Any], penalty: Any, where: str) -> None:
        """Reports one of the book's progress lines once its numbers are on the host (see ``pass_totals``)."""
        learning_rate = self.model.optimizer.current_learning_rate

        def line(loss_sum: Any, right: Any, penalty: Any) -> None:
            data_loss = loss_sum / totals[1]
            if not is_finite(data_loss, penalty):
                raise NotFiniteError(where)
            self.report.progress(label, right / totals[3], float(data_loss), float(penalty), learning_rate)

        self.watch.when_read([totals[0], totals[2], penalty], line)


def fit(
    model: Any,
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
    model._forward_stages = forward_stages(model.layers)
    if validation_split:
        X, y, validation_data = split_validation(X, y, validation_split, model.backend)
    X, y = prepare(model, X, y)
    validation = prepare(model, *validation_data) if validation_data is not None else None
    model.accuracy.init(y)
    batches = batch_slices(X.shape[0], batch_size)
    strategy.start(X.shape[0], batches, model.trainable_layers)
    history = History(validation is not None)
    hooks = Callbacks(model, callbacks, history)
    step_objects = [*model.layers, model.softmax_classifier_output or model.loss]
    report = model._make_reporter(verbose, progress, epochs * len(batches), shows=strategy.is_root,
                                  throttled=not strategy.collective, print_every=print_every)
    with report, reusing_step_arrays(step_objects):
        run = TrainingRun(model, strategy, report, batches, print_every, hooks)
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


def evaluate_pass(model: Any, X: Any, y: Any, batch_size: int | None) -> list[Any]:
    """One pass over prepared data without training; returns its totals (see ``pass_totals``)."""
    model.loss.new_pass()
    model.accuracy.new_pass()
    for rows in batch_slices(X.shape[0], batch_size):
        batch_y = y[rows, ...]
        output = forward(model, X[rows, ...], training=False)
        model.loss.accumulate(output, batch_y, checked=True)
        model.accuracy.accumulate_outputs(model.output_layer_activation, output, batch_y)
    return pass_totals(model)


def show_validation(watch: Watch, report: Reporter, totals: list[Any]) -> None:
    """The book's ``validation`` line, once its numbers are on the host."""
    watch.when_read([totals[0], totals[2]], lambda loss_sum, right: report.validation(right / totals[3], float(loss_sum) / totals[1]))


def evaluate(model: Any, X: Any, y: Any, batch_size: int | None, verbose: bool) -> tuple[float, float]:
    """``Model.evaluate``: the validation line, and (loss, accuracy)."""
    model._forward_stages = forward_stages(model.layers)
    X, y = prepare(model, X, y)
    model.accuracy.init(y)
    totals = evaluate_pass(model, X, y, batch_size)
    loss_sum, right = model.backend.read_later([totals[0], totals[2]]).values()  # one read of both
    loss, accuracy = float(loss_sum) / totals[1], float(right) / totals[3]  # as accumulated_mean divides
    model._make_reporter(verbose, progress=False).validation(accuracy, loss)
    return loss, accuracy


def predict(model: Any, X: Any, batch_size: int | None) -> np.ndarray:
    """``Model.predict``: the last layer's outputs as a host NumPy array."""
    model._forward_stages = forward_stages(model.layers)
    X = prepare_inputs(model, X)
    outputs = [forward(model, X[rows, ...], training=False) for rows in batch_slices(X.shape[0], batch_size)]
    return model.backend.to_numpy(model.backend.xp.concat(outputs, axis=0))
