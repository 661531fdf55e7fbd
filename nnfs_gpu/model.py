"""Model: the book's final-chapter API (add, set, finalize, train, evaluate, predict, save, load, to).

Each call is a thin one into the pieces that do the work: ``training`` (the loop, data preparation,
evaluation and prediction), ``serialization`` (files), ``BackendBound.to`` (moving). ``finalize``
links the layers as the book does and checks that they fit together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import batches, checks, serialization
from . import training as training_loop
from .accuracy import Accuracy
from .activations import Softmax
from .backends import Backend, create_backend, get_backend, use_backend
from .distributed import Communicator, DataParallel, communicator
from .layers import Dense, Input
from .losses import CategoricalCrossentropy, Loss, SoftmaxCategoricalCrossentropy
from .optimizers import Optimizer
from .progress import Reporter, make_reporter
from .updates import UpdateCache


class Model:
    def __init__(self) -> None:
        self.layers: list = []
        self.softmax_classifier_output: SoftmaxCategoricalCrossentropy | None = None
        self.loss: Loss | None = None
        self.optimizer: Optimizer | None = None
        self.accuracy: Accuracy | None = None
        self.finalized = False
        self._strategy: training_loop.LocalSteps = training_loop.LOCAL
        self._updates = UpdateCache()

    def __repr__(self) -> str:
        layers = ", ".join(repr(layer) if isinstance(layer, Dense) else type(layer).__name__ for layer in self.layers)
        return f"Model([{layers}], loss={self.loss!r}, optimizer={self.optimizer!r}, accuracy={self.accuracy!r})"

    # -- building -------------------------------------------------------------------------------

    def add(self, layer: Any) -> None:
        """Appends a layer object (each object once: a layer keeps the inputs and outputs of its one place)."""
        checks.object_with(layer, ("forward", "backward"), "the layer", "a layer object such as Dense(2, 64) or ReLU()", owner="add")
        for index, existing in enumerate(self.layers):
            if existing is layer:
                raise ValueError(
                    f"add: {layer!r} is already layer {index} of this model; a layer object keeps the inputs and "
                    f"outputs of one place, so create another {type(layer).__name__}(...) for each place"
                )
        self.layers.append(layer)
        self.finalized = False

    def set(self, *, loss: Loss | None = None, optimizer: Optimizer | None = None, accuracy: Accuracy | None = None) -> None:
        """Sets the loss, optimizer and accuracy; those left out keep their current value."""
        if loss is not None:
            self.loss = checks.instance(loss, Loss, "loss", "a loss object such as CategoricalCrossentropy()", owner="set")
        if optimizer is not None:
            self.optimizer = checks.object_with(
                optimizer, ("pre_update_params", "update_params", "post_update_params"), "optimizer",
                "an optimizer object such as Adam()", owner="set",
            )
        if accuracy is not None:
            self.accuracy = checks.instance(accuracy, Accuracy, "accuracy", "an accuracy object such as Categorical()", owner="set")
        self.finalized = False

    @property
    def backend(self) -> Backend:
        """The backend the layers run on (the current one while the model has no layers)."""
        return self.layers[0].backend if self.layers else get_backend()

    @property
    def trainable_layers(self) -> list:
        """The layers with parameters, in order."""
        return [layer for layer in self.layers if hasattr(layer, "weights")]

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
        self._forward_stages = training_loop.forward_stages(self.layers)
        self.output_layer_activation = self.layers[-1]
        self.loss.remember_trainable_layers(self.trainable_layers)
        self.finalized = True

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
        if action == "evaluate" and self.accuracy is None:
            raise RuntimeError("evaluate needs an accuracy; call model.set(accuracy=...)")

    # -- the book's passes and calls ------------------------------------------------------------

    def forward(self, X: Any, training: bool) -> Any:
        self._require_finalized("forward")
        return training_loop.forward(self, X, training)

    def backward(self, output: Any, y: Any) -> None:
        self._require_finalized("backward")
        training_loop.backward(self, output, y)

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
        Every argument is checked before any work; distributed ranks then compare what they are about
        to train and stop together, naming the differences, unless it is the same.
        """
        self._require_finalized("train")
        if not isinstance(distributed, Communicator):
            checks.flag(distributed, "distributed", owner="train")
        if not distributed:
            self._strategy = training_loop.LOCAL
        else:
            self._strategy = DataParallel(distributed if isinstance(distributed, Communicator) else communicator(self.backend))
        settings = dict(epochs=epochs, batch_size=batch_size, print_every=print_every, shuffle=shuffle, verbose=verbose)
        with self._strategy.stopping_all_on_error():  # a bad argument on one rank stops every rank
            batches.check_arguments(validation_data=validation_data, progress=progress, **settings)
            self._strategy.agree(self, X, y, validation_data, settings)
            return training_loop.fit(
                self, X, y, epochs=epochs, batch_size=batch_size, print_every=print_every, validation_data=validation_data,
                shuffle=shuffle, verbose=verbose, progress=progress, strategy=self._strategy,
            )

    def _make_reporter(self, verbose: bool, progress: bool | None, total_steps: int = 0, shows: bool = True,
                       throttled: bool = True, print_every: int = 1) -> Reporter:
        """What ``train`` and ``evaluate`` report progress through (``progress.make_reporter``); the
        book's Model classes (``nnfs_gpu.book``) print the book's lines instead."""
        return make_reporter(verbose, progress, total_steps, shows, throttled)

    def evaluate(self, X_val: Any, y_val: Any, *, batch_size: int | None = None, verbose: bool = True) -> tuple[float, float]:
        """Prints the book's ``validation, acc: ..., loss: ...`` line and returns (loss, accuracy)."""
        self._require_finalized("evaluate")
        batches.check_batch_size(batch_size, "evaluate")
        checks.flag(verbose, "verbose", owner="evaluate")
        return training_loop.evaluate(self, X_val, y_val, batch_size, verbose)

    def predict(self, X: Any, *, batch_size: int | None = None) -> np.ndarray:
        """The last layer's outputs for ``X``, as a host NumPy array (as the book returns them)."""
        self._require_finalized("predict")
        batches.check_batch_size(batch_size, "predict")
        return training_loop.predict(self, X, batch_size)

    # -- parameters, devices, files ---------------------------------------------------------------

    def get_parameters(self) -> list[tuple[Any, Any]]:
        return [layer.get_parameters() for layer in self.trainable_layers]

    def set_parameters(self, parameters: list[tuple[Any, Any]]) -> None:
        layers = self.trainable_layers
        if not isinstance(parameters, (list, tuple)) or len(parameters) != len(layers):
            got = f"{len(parameters)} items" if isinstance(parameters, (list, tuple)) else checks.shown(parameters)
            raise ValueError(f"set_parameters needs a list of {len(layers)} (weights, biases) pairs, one per trainable layer, got {got}")
        for index, (pair, layer) in enumerate(zip(parameters, layers)):
            if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
                raise ValueError(f"set_parameters: item {index} must be a (weights, biases) pair for {layer!r}, got {checks.shown(pair)}")
            layer.set_parameters(*pair)

    def to(self, name: str | Backend, **options: Any) -> "Model":
        """Moves the model (parameters and optimizer state) to another backend; returns the model."""
        target = create_backend(name, **options)
        self._updates.forget()  # its buffers belong to the old backend
        parts = [*self.layers, self.loss, self.accuracy, getattr(self, "input_layer", None), self.softmax_classifier_output]
        for part in parts:
            if part is not None:
                part.to(target)
        return self

    def save_parameters(self, path: str | Path) -> None:
        """Saves the trainable layers' weights and biases (on rank 0 only after distributed training)."""
        if self._strategy.is_root:
            serialization.save_parameters(self, path)

    def load_parameters(self, path: str | Path) -> None:
        serialization.load_parameters(self, path)

    def save(self, path: str | Path) -> None:
        """Saves architecture, parameters, optimizer state and step count (no pickle; see
        ``nnfs_gpu.serialization``); after distributed training, on rank 0 only."""
        if self._strategy.is_root:
            serialization.save_model(self, path)

    @classmethod
    def load(cls, path: str | Path) -> "Model":
        """Loads a model saved on any backend onto the current backend, as an instance of this class."""
        parts = serialization.load_model(path)
        model = cls()
        for layer in parts.layers:
            model.add(layer)
        model.set(loss=parts.loss, optimizer=parts.optimizer, accuracy=parts.accuracy)
        if model.loss is not None:
            try:
                model.finalize()
            except ValueError as error:
                raise serialization.ModelFileError(f"{path} describes a model that cannot be used ({error})") from error
        return model
