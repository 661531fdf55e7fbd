"""Model: the book's final-chapter API (add, set, finalize, train, evaluate, predict, save, load).

Data handed to ``train``, ``evaluate`` and ``predict`` is checked on the host and moved to the
backend once; batches are slices of the moved arrays. Per-batch numbers stay on the device and are
read back only when a line is printed or a pass ends.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ._bound import reusing_step_arrays
from .accuracy import Accuracy
from .activations import Softmax
from .backends import Backend, get_backend, use_backend
from .distributed import Communicator, DataParallel, communicator
from .flat import FlatParameters
from .layers import Dense, Input
from .losses import CategoricalCrossentropy, Loss, SoftmaxCategoricalCrossentropy, is_host
from .optimizers import Optimizer
from .progress import Reporter, make_reporter

HISTORY_KEYS = ("loss", "data_loss", "regularization_loss", "accuracy", "learning_rate")


class Model:
    def __init__(self) -> None:
        self.layers: list = []
        self.softmax_classifier_output: SoftmaxCategoricalCrossentropy | None = None
        self.loss: Loss | None = None
        self.optimizer: Optimizer | None = None
        self.accuracy: Accuracy | None = None
        self.finalized = False
        self.data_parallel = None
        self._flat: FlatParameters | None = None

    def __repr__(self) -> str:
        layers = ", ".join(repr(layer) if isinstance(layer, Dense) else type(layer).__name__ for layer in self.layers)
        return f"Model([{layers}], loss={self.loss!r}, optimizer={self.optimizer!r}, accuracy={self.accuracy!r})"

    # -- building -------------------------------------------------------------------------------

    def add(self, layer: Any) -> None:
        self.layers.append(layer)
        self.finalized = False

    def set(self, *, loss: Loss | None = None, optimizer: Optimizer | None = None, accuracy: Accuracy | None = None) -> None:
        """Sets the loss, optimizer and accuracy; those left out keep their current value."""
        if loss is not None:
            self.loss = loss
        if optimizer is not None:
            self.optimizer = optimizer
        if accuracy is not None:
            self.accuracy = accuracy
        self.finalized = False

    @property
    def backend(self) -> Backend:
        """The backend the layers run on (the current one while the model has no layers)."""
        return self.layers[0].backend if self.layers else get_backend()

    def finalize(self) -> None:
        """Links the layers, checks that their shapes chain, and picks the softmax + CCE fast path."""
        if not self.layers:
            raise ValueError("the model has no layers; add some with model.add(...) before finalize()")
        if self.loss is None:
            raise ValueError("the model has no loss; call model.set(loss=...) before finalize()")
        self._check_one_backend()
        self._check_shapes()
        backend = self.backend
        for part in (self.loss, self.accuracy):
            if part is not None:
                part.backend = backend
        with use_backend(backend):
            self.input_layer = Input()
            self.softmax_classifier_output = None
            if isinstance(self.layers[-1], Softmax) and isinstance(self.loss, CategoricalCrossentropy):
                self.softmax_classifier_output = SoftmaxCategoricalCrossentropy()
        chain = [self.input_layer, *self.layers, self.loss]
        for previous, layer, following in zip(chain, chain[1:], chain[2:]):
            layer.prev, layer.next = previous, following
        first = self.layers.index(self.trainable_layers[0])
        for index, layer in enumerate(self.trainable_layers):
            layer.needs_input_gradient = index > 0
        self._backward_layers = self.layers[first:]  # nothing before the first Dense has parameters
        self.output_layer_activation = self.layers[-1]
        self.loss.remember_trainable_layers(self.trainable_layers)
        self.finalized = True

    @property
    def trainable_layers(self) -> list:
        """The layers with parameters, in order."""
        return [layer for layer in self.layers if hasattr(layer, "weights")]

    def _check_one_backend(self) -> None:
        kinds = {(b.name, b.dtype_name, b.precision, str(b.device)) for b in (layer.backend for layer in self.layers)}
        if len(kinds) > 1:
            found = ", ".join(f"{layer!r} on {layer.backend.name}/{layer.backend.dtype_name}" for layer in self.layers)
            raise ValueError(f"all layers must share one backend, got {found}; create them under one backend or use model.to(name)")

    def _check_shapes(self) -> None:
        dense = [(index, layer) for index, layer in enumerate(self.layers) if isinstance(layer, Dense)]
        if not dense:
            raise ValueError("the model needs at least one Dense layer")
        for (_, previous), (index, layer) in zip(dense, dense[1:]):
            if layer.n_inputs != previous.n_neurons:
                raise ValueError(
                    f"layer {index} {layer!r} takes {layer.n_inputs} inputs, but the Dense layer before it, "
                    f"{previous!r}, gives {previous.n_neurons}; make them match"
                )
        self.n_inputs = dense[0][1].n_inputs
        self.n_outputs = dense[-1][1].n_neurons
        if not hasattr(self.layers[-1], "predictions"):
            raise ValueError(
                f"the last layer, {self.layers[-1]!r}, is not an activation; end the model with Softmax, "
                f"Sigmoid or Linear (the activation that turns outputs into predictions)"
            )

    def _require_finalized(self, action: str) -> None:
        if not self.finalized:
            raise RuntimeError(f"call model.finalize() before {action} (after add and set)")
        if action == "train" and (self.optimizer is None or self.accuracy is None):
            raise RuntimeError("training needs model.set(loss=..., optimizer=..., accuracy=...)")

    # -- data -----------------------------------------------------------------------------------

    def _prepare_inputs(self, X: Any) -> Any:
        """Checks inputs (on the host when they are host data) and moves them to the backend once."""
        backend = self.backend
        if is_host(X):
            X = np.asarray(X)
            if X.dtype.kind not in "iubf":
                raise TypeError(f"inputs must be numbers, got dtype {X.dtype}")
        self._check_input_shape(tuple(X.shape))
        if X.shape[0] == 0:
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

    def _check_input_shape(self, shape: tuple[int, ...]) -> None:
        if len(shape) != 2 or shape[1] != self.n_inputs:
            raise ValueError(
                f"the first layer {self.layers[0]!r} expects inputs of shape (samples, {self.n_inputs}), "
                f"got {shape}" + ("; flatten them with X.reshape(len(X), -1)" if len(shape) > 2 else "")
            )

    def _prepare(self, X: Any, y: Any) -> tuple[Any, Any]:
        X = self._prepare_inputs(X)
        samples = X.shape[0]
        if is_host(y):
            self.loss.check_host_targets(np.asarray(y), samples, self.n_outputs)
        y = self.backend.asarray(y)
        self.loss.check_device_targets(y, samples, self.n_outputs)
        return X, self.loss.device_targets(y, self.backend.dtype)

    @staticmethod
    def _batches(samples: int, batch_size: int | None) -> list[slice]:
        if batch_size is None:
            return [slice(0, samples)]
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        return [slice(start, min(start + batch_size, samples)) for start in range(0, samples, batch_size)]

    # -- the passes -----------------------------------------------------------------------------

    def forward(self, X: Any, training: bool) -> Any:
        self.input_layer.forward(X, training)
        for layer in self.layers:
            layer.forward(layer.prev.output, training)
        return self.layers[-1].output

    def backward(self, output: Any, y: Any) -> None:
        """Backpropagates from the loss down to the first Dense layer's parameters (the gradient of
        the data itself is never needed, so it is not computed)."""
        layers = self._backward_layers
        if self.softmax_classifier_output is not None:
            self.softmax_classifier_output.backward(output, y)
            self.layers[-1].dinputs = self.softmax_classifier_output.dinputs
            layers = layers[:-1]
        else:
            self.loss.backward(output, y)
        for layer in reversed(layers):
            layer.backward(layer.next.dinputs)

    def train(
        self,
        X: Any,
        y: Any,
        *,
        epochs: int = 1,
        batch_size: int | None = None,
        print_every: int = 1,
        validation_data: tuple[Any, Any] | None = None,
        shuffle: bool = False,
        verbose: bool = True,
        progress: bool | None = None,
        distributed: bool | Communicator = False,
    ) -> dict[str, list[float]]:
        """Trains as the book's Model does and returns the per-epoch history.

        ``shuffle`` reorders the samples every epoch (from NumPy's global RNG, so seeds reproduce).
        Progress shows as a progress bar with live loss and accuracy when ``progress`` is True, or is
        None (the default) and stdout is a terminal; otherwise as the book's lines. ``verbose=False``
        shows neither.
        The history has loss, data_loss, regularization_loss, accuracy and learning_rate per
        epoch, and val_loss and val_accuracy with ``validation_data``.
        ``distributed=True`` (or a ``nnfs_gpu.distributed.Communicator``, to set a timeout) trains
        data-parallel across the ranks of an ``mpiexec`` launch: see ``nnfs_gpu.distributed``.
        """
        self._require_finalized("train")
        if epochs < 0 or print_every < 1:
            raise ValueError(f"epochs must be >= 0 and print_every >= 1, got {epochs} and {print_every}")
        if not distributed:
            self.data_parallel = None
            return self._train(X, y, epochs, batch_size, print_every, validation_data, shuffle, verbose, progress)
        comm = distributed if isinstance(distributed, Communicator) else communicator(self.backend)
        self.data_parallel = DataParallel(comm)
        try:
            return self._train(X, y, epochs, batch_size, print_every, validation_data, shuffle, verbose, progress)
        except BaseException as error:  # one rank failing must not leave the others waiting
            comm.abort(f"{type(error).__name__}: {error}")

    def _train(
        self,
        X: Any,
        y: Any,
        epochs: int,
        batch_size: int | None,
        print_every: int,
        validation_data: tuple[Any, Any] | None,
        shuffle: bool,
        verbose: bool,
        progress: bool | None,
    ) -> dict[str, list[float]]:
        parallel = self.data_parallel
        X, y = self._prepare(X, y)
        validation = self._prepare(*validation_data) if validation_data is not None else None
        self.accuracy.init(y)
        backend, xp = self.backend, self.backend.xp
        batches = self._batches(X.shape[0], batch_size)
        if parallel is not None:
            parallel.check_batches(X.shape[0], batches)
            parallel.broadcast_parameters(self.trainable_layers)
        flat = self._flat_parameters() if self._can_update_flat() else None
        on_device: dict[str, list[Any]] = {key: [] for key in HISTORY_KEYS if key != "learning_rate"}
        history: dict[str, list[float]] = {key: [] for key in HISTORY_KEYS}
        if validation is not None:
            history.update(val_loss=[], val_accuracy=[])
        shows = verbose and (parallel is None or parallel.is_root)
        step_objects = [*self.layers, self.softmax_classifier_output or self.loss]
        with (
            make_reporter(shows, progress, epochs * len(batches)) as report,
            reusing_step_arrays(step_objects),
            self._targets_checked_up_front(),
        ):
            for epoch in range(1, epochs + 1):
                report.epoch(epoch, epochs)
                self.loss.new_pass()
                self.accuracy.new_pass()
                if shuffle:
                    order = np.random.permutation(X.shape[0]) if parallel is None else parallel.shuffled_order(X.shape[0])
                    order = backend.asarray(order)
                    X_epoch, y_epoch = xp.take(X, order, axis=0), xp.take(y, order, axis=0)
                else:
                    X_epoch, y_epoch = X, y
                for step, rows in enumerate(batches):
                    local = rows if parallel is None else parallel.shard(rows)
                    batch_X, batch_y = X_epoch[local, ...], y_epoch[local, ...]
                    output = self.forward(batch_X, training=True)
                    data_loss = self.loss.accumulate(output, batch_y)
                    accuracy = self.accuracy.accumulate(self.output_layer_activation.predictions(output), batch_y)
                    # every rank takes part in the sums behind a printed line, only rank 0 prints it
                    printing = (report.active or (verbose and parallel is not None)) and (
                        not step % print_every or step == len(batches) - 1
                    )
                    if printing:
                        regularization = self.loss.regularization_total()
                        if parallel is not None:
                            share = (local.stop - local.start) / (rows.stop - rows.start)
                            data_loss, accuracy = parallel.sum_numbers([float(data_loss) * share, float(accuracy) * share])
                    self.backward(output, batch_y)
                    if parallel is not None:
                        self._average_gradients(parallel, flat, local.stop - local.start, rows.stop - rows.start)
                    self._update(flat)
                    if printing:
                        self._print_progress(report, f"step: {step}", accuracy, data_loss, regularization, f"epoch {epoch}, step {step}")
                    report.advance()
                epoch_loss, epoch_accuracy = self._pass_means(parallel)
                regularization = self.loss.regularization_total()
                on_device["data_loss"].append(epoch_loss)
                on_device["regularization_loss"].append(regularization)
                on_device["loss"].append(epoch_loss + regularization)
                on_device["accuracy"].append(epoch_accuracy)
                history["learning_rate"].append(self.optimizer.current_learning_rate)
                if report.active:
                    self._print_progress(report, "training", epoch_accuracy, epoch_loss, regularization, f"epoch {epoch}")
                if validation is not None:
                    val_loss, val_accuracy = self._evaluate(*validation, batch_size, report)
                    history["val_loss"].append(val_loss)
                    history["val_accuracy"].append(val_accuracy)
        for key, values in on_device.items():
            history[key] = [float(value) for value in values]
        self._check_finite(history["loss"])
        return history

    def _can_update_flat(self) -> bool:
        """Whether one flat update can replace the per-layer ones: the backend has views, every
        trainable layer is a Dense that writes its gradients in place, and the optimizer is one of
        ours with an unchanged ``update_params`` (a custom or book-style one keeps the per-layer loop)."""
        optimizer = type(self.optimizer)
        return (
            self.backend.supports_views
            and all(isinstance(layer, Dense) and type(layer).backward is Dense.backward for layer in self.trainable_layers)
            and issubclass(optimizer, Optimizer)
            and optimizer.update_params is Optimizer.update_params
            and optimizer._step is not Optimizer._step
        )

    def _flat_parameters(self) -> FlatParameters:
        """The model's flat buffers, kept from the last call unless a layer's array was replaced."""
        layers, kinds = self.trainable_layers, self.optimizer.state_kinds
        flat = self._flat
        if flat is None or not flat.serves(layers, self.backend, kinds):
            flat = self._flat = FlatParameters(layers, self.backend, kinds)
        return flat

    def _update(self, flat: FlatParameters | None) -> None:
        """One optimizer step: over the flat buffers at once, or layer by layer as the book does."""
        self.optimizer.pre_update_params()
        if flat is not None:
            self.optimizer.update_flat(flat)
        else:
            for layer in self.trainable_layers:
                self.optimizer.update_params(layer)
        self.optimizer.post_update_params()

    def _average_gradients(self, parallel: Any, flat: FlatParameters | None, local: int, total: int) -> None:
        if flat is not None:
            parallel.average_flat(flat.grads, local, total)
            return
        layers = self.trainable_layers
        gradients = [array for layer in layers for array in (layer.dweights, layer.dbiases)]
        averaged = parallel.average_gradients(gradients, local, total)
        for layer, dweights, dbiases in zip(layers, averaged[0::2], averaged[1::2]):
            layer.dweights, layer.dbiases = dweights, dbiases

    def _pass_means(self, parallel: Any) -> tuple[Any, Any]:
        """The pass's mean loss and accuracy: on the device, or summed over the ranks."""
        loss, accuracy = self.loss, self.accuracy
        if parallel is None:
            return loss.accumulated_sum / loss.accumulated_count, accuracy.accumulated_sum / accuracy.accumulated_count
        loss_sum, loss_count, accuracy_sum, accuracy_count = parallel.sum_numbers(
            [float(loss.accumulated_sum), loss.accumulated_count, float(accuracy.accumulated_sum), accuracy.accumulated_count]
        )
        return loss_sum / loss_count, accuracy_sum / accuracy_count

    def _print_progress(self, report: Reporter, label: str, accuracy: Any, data_loss: Any, regularization: Any, where: str) -> None:
        """Reports one of the book's progress lines (reading the numbers back from the device)."""
        data_loss, regularization = float(data_loss), float(regularization)
        if not math.isfinite(data_loss + regularization):
            self._raise_not_finite(where)
        report.progress(label, float(accuracy), data_loss, regularization, self.optimizer.current_learning_rate)

    def _check_finite(self, losses: list[float]) -> None:
        for epoch, value in enumerate(losses, start=1):
            if not math.isfinite(value):
                self._raise_not_finite(f"epoch {epoch}")

    @staticmethod
    def _raise_not_finite(where: str) -> None:
        raise FloatingPointError(
            f"the loss became NaN or infinite at {where}; lower the learning rate, scale the inputs, "
            f"or check the data for extreme values"
        )

    def evaluate(self, X_val: Any, y_val: Any, *, batch_size: int | None = None, verbose: bool = True) -> tuple[float, float]:
        """Prints the book's ``validation, acc: ..., loss: ...`` line and returns (loss, accuracy)."""
        self._require_finalized("evaluate")
        if self.accuracy is None:
            raise RuntimeError("evaluate needs an accuracy; call model.set(accuracy=...)")
        X_val, y_val = self._prepare(X_val, y_val)
        self.accuracy.init(y_val)
        with self._targets_checked_up_front():
            return self._evaluate(X_val, y_val, batch_size, make_reporter(verbose, progress=False))

    @contextlib.contextmanager
    def _targets_checked_up_front(self) -> Iterator[None]:
        """While the batches' targets are slices of targets ``_prepare`` checked, the losses check
        each batch's shape only (not its values again, two reductions per batch and loss call)."""
        losses = [self.loss] + ([self.softmax_classifier_output.loss] if self.softmax_classifier_output else [])
        before = [(loss, loss.checks_target_values) for loss in losses]
        for loss in losses:
            loss.checks_target_values = False
        try:
            yield
        finally:
            for loss, checked in before:
                loss.checks_target_values = checked

    def _evaluate(self, X: Any, y: Any, batch_size: int | None, report: Reporter) -> tuple[float, float]:
        self.loss.new_pass()
        self.accuracy.new_pass()
        for rows in self._batches(X.shape[0], batch_size):
            batch_y = y[rows, ...]
            output = self.forward(X[rows, ...], training=False)
            self.loss.accumulate(output, batch_y)
            self.accuracy.accumulate(self.output_layer_activation.predictions(output), batch_y)
        loss = self.loss.calculate_accumulated()
        accuracy = self.accuracy.calculate_accumulated()
        report.validation(accuracy, loss)
        return loss, accuracy

    def predict(self, X: Any, *, batch_size: int | None = None) -> np.ndarray:
        """The last layer's outputs for ``X``, as a host NumPy array (as the book returns them)."""
        self._require_finalized("predict")
        X = self._prepare_inputs(X)
        xp = self.backend.xp
        outputs = [self.forward(X[rows, ...], training=False) for rows in self._batches(X.shape[0], batch_size)]
        return self.backend.to_numpy(xp.concat(outputs, axis=0))

    # -- parameters, devices, files ---------------------------------------------------------------

    def get_parameters(self) -> list[tuple[Any, Any]]:
        return [layer.get_parameters() for layer in self.trainable_layers]

    def set_parameters(self, parameters: list[tuple[Any, Any]]) -> None:
        layers = self.trainable_layers
        if len(parameters) != len(layers):
            raise ValueError(f"got parameters for {len(parameters)} layers, the model has {len(layers)} trainable layers")
        for pair, layer in zip(parameters, layers):
            layer.set_parameters(*pair)

    def to(self, name: str, **options: Any) -> "Model":
        """Moves the model (parameters and optimizer state) to another backend; returns the model."""
        from .serialization import move_model

        move_model(self, name, options)
        return self

    def _not_saving_rank(self) -> bool:
        """After distributed training only rank 0 writes files (all ranks hold the same model)."""
        return self.data_parallel is not None and not self.data_parallel.is_root

    def save_parameters(self, path: str | Path) -> None:
        from .serialization import save_parameters

        if not self._not_saving_rank():
            save_parameters(self, path)

    def load_parameters(self, path: str | Path) -> None:
        from .serialization import load_parameters

        load_parameters(self, path)

    def save(self, path: str | Path) -> None:
        """Saves architecture, parameters, optimizer state and step count (no pickle); see serialization."""
        from .serialization import save_model

        if not self._not_saving_rank():
            save_model(self, path)

    @staticmethod
    def load(path: str | Path) -> "Model":
        """Loads a model saved on any backend onto the current backend."""
        from .serialization import load_model

        return load_model(path)
