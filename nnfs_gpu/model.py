"""Model: the book's final-chapter API (add, set, finalize, train, evaluate, predict, save, load, to).

Each call is a thin one into the pieces that do the work: ``training`` (the loop, data preparation,
evaluation and prediction), ``serialization`` (files), ``BackendBound.to`` (moving). ``finalize``
links the layers as the book does and checks that they fit together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import assembly, checks, inspection, serialization
from . import training as training_loop
from .accuracy import Accuracy
from .assembly import Assembly
from .backends import Backend, create_backend, get_backend
from .distributed import Communicator, strategy_for
from .protocol import parameters_of, set_each_layers_parameters
from .losses import Loss
from .optimizers import Optimizer
from .progress import Reporter, make_reporter
from .training.arguments import check_arguments, check_batch_size
from .training.updates import UpdateCache


class Model:
    def __init__(self) -> None:
        self.layers: list = []
        self.loss: Loss | None = None
        self.optimizer: Optimizer | None = None
        self.accuracy: Accuracy | None = None
        #: what ``finalize`` worked out from the layers and the loss; None until then, and after add or set
        self.assembly: Assembly | None = None
        self._strategy: training_loop.LocalSteps = training_loop.LOCAL
        self._updates = UpdateCache()
        #: what each class index means (e.g. the text labels of a CSV file); saved with the model,
        #: and ``predict_classes`` answers with them
        self.class_labels: list[Any] | None = None

    def __repr__(self) -> str:
        return inspection.model_repr(self)

    def summary(self) -> inspection.ModelSummary:
        """A table of the layers (output shapes, parameter counts, regularizers, dropout) with the
        totals, the backend, device and dtype, and the loss, optimizer and accuracy."""
        return inspection.summary(self)

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
        self.assembly = None

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
        self.assembly = None

    @property
    def backend(self) -> Backend:
        """The backend the layers run on (the current one while the model has no layers)."""
        return self.layers[0].backend if self.layers else get_backend()

    @property
    def trainable_layers(self) -> list:
        """The layers that declare parameters (``Layer.parameters``), in order."""
        return [layer for layer in self.layers if parameters_of(layer)]

    @property
    def finalized(self) -> bool:
        return self.assembly is not None

    input_layer = assembly.assembled("input_layer", "The Input node that hands each batch to the first layer (the book's name).")
    output_layer_activation = assembly.assembled(
        "output_layer_activation", "The last layer, whose ``predictions`` turn outputs into answers (the book's name).")
    softmax_classifier_output = assembly.assembled(
        "softmax_classifier_output", "The fused softmax + cross-entropy backward, when the model uses it (the book's name).")
    n_inputs = assembly.assembled("n_inputs", "The width of the inputs the first layer takes.")
    n_outputs = assembly.assembled("n_outputs", "The width of the last layer's outputs.")

    def finalize(self) -> None:
        """Links the layers, checks that their shapes chain, and picks the softmax + CCE fast path."""
        self.assembly = assembly.finalize(self)

    def _require_finalized(self, action: str) -> Assembly:
        return assembly.require_finalized(self, action)

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
        epochs: int = 1,
        *,
        batch_size: int | None = None,
        print_every: int | None = None,
        validation_data: tuple[Any, Any] | None = None,
        validation_split: float = 0.0,
        shuffle: bool = False,
        verbose: bool = True,
        progress: bool | None = None,
        callbacks: list[Any] = (),  # type: ignore[assignment]
        distributed: bool | Communicator = False,
    ) -> dict[str, list[float]]:
        """Trains as the book's Model does and returns the per-epoch history (loss, data_loss,
        regularization_loss, accuracy, learning_rate; val_loss and val_accuracy with validation).

        ``validation_data=(X_val, y_val)``, or ``validation_split=0.2`` to hold out a random fifth.
        ``shuffle`` reorders the samples every epoch (NumPy's global RNG: seeds reproduce).
        ``callbacks`` (``nnfs_gpu.callbacks``: EarlyStopping, ModelCheckpoint, ...) run at each
        epoch and step. Output: a progress bar on a terminal or in a notebook (``progress=None``,
        the default; ``True`` always), else a line per epoch, plus a line every ``print_every``
        steps when given; ``verbose=False`` shows nothing. The book's ``Model`` (``nnfs_gpu.book``)
        prints the book's lines instead. ``distributed=True`` (or a ``Communicator``) trains
        data-parallel across the ranks of an ``mpiexec`` launch (``nnfs_gpu.distributed``).
        Every argument is checked before any work; distributed ranks compare what they are about to
        train and stop together, naming the differences, unless it is the same.
        """
        self._require_finalized("train")
        print_every = self.default_print_every if print_every is None else print_every
        self._strategy = strategy_for(distributed, self.backend)
        settings = dict(epochs=epochs, batch_size=batch_size, print_every=print_every, shuffle=shuffle, verbose=verbose)
        with self._strategy.stopping_all_on_error():  # a bad argument on one rank stops every rank
            check_arguments(validation_data=validation_data, progress=progress, validation_split=validation_split,
                                    callbacks=callbacks, **settings)
            self._strategy.agree(self, X, y, validation_data, settings)
            return training_loop.fit(self, X, y, validation_data=validation_data, validation_split=validation_split,
                                     progress=progress, callbacks=list(callbacks), strategy=self._strategy, **settings)

    #: ``print_every`` when ``train`` is given none: no step lines (the book's Model: every step)
    default_print_every: int | None = None

    def _make_reporter(self, verbose: bool, progress: bool | None, total_steps: int = 0, shows: bool = True,
                       throttled: bool = True, print_every: int | None = 1) -> Reporter:
        """What ``train`` and ``evaluate`` report progress through (``progress.make_reporter``); the
        book's Model classes (``nnfs_gpu.book``) print the book's lines instead."""
        name = self.accuracy.name if self.accuracy is not None else "acc"
        return make_reporter(verbose, progress, total_steps, shows, throttled, name)

    def evaluate(self, X_val: Any, y_val: Any, *, batch_size: int | None = None, verbose: bool = True) -> tuple[float, float]:
        """Prints the book's ``validation, acc: ..., loss: ...`` line and returns (loss, accuracy)."""
        self._require_finalized("evaluate")
        check_batch_size(batch_size, "evaluate")
        checks.flag(verbose, "verbose", owner="evaluate")
        return training_loop.evaluate(self, X_val, y_val, batch_size, verbose)

    def predict(self, X: Any, *, batch_size: int | None = None) -> np.ndarray:
        """The last layer's outputs for ``X``, as a host NumPy array (as the book returns them)."""
        self._require_finalized("predict")
        check_batch_size(batch_size, "predict")
        return training_loop.predict(self, X, batch_size)

    def predict_proba(self, X: Any, *, batch_size: int | None = None) -> np.ndarray:
        """A classifier's probabilities: per class (Softmax), or of the positive class per output
        (Sigmoid); host NumPy, as ``predict``."""
        if type(self._require_finalized("predict_proba").output_layer_activation).__name__ == "Linear":
            raise TypeError("predict_proba: this model ends in Linear, a regressor's values are no probabilities; use predict")
        return self.predict(X, batch_size=batch_size)

    def predict_classes(self, X: Any, *, batch_size: int | None = None) -> np.ndarray:
        """Each sample's class: an index (Softmax), 0/1 per output (Sigmoid), or the model's
        ``class_labels`` for those indices when it has them."""
        self._require_finalized("predict_classes")
        probabilities = self.predict_proba(X, batch_size=batch_size)
        classes = np.asarray(self.output_layer_activation.predictions(probabilities))
        return classes if self.class_labels is None else np.asarray(self.class_labels)[classes]

    # -- parameters, devices, files ---------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Parameters and optimizer state as host NumPy arrays (see ``serialization.state_dict``)."""
        return serialization.state_dict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Puts back what ``state_dict`` returned, on this model's backend."""
        serialization.load_state_dict(self, state)

    def get_parameters(self) -> list[tuple[Any, Any]]:
        return [layer.get_parameters() for layer in self.trainable_layers]

    def set_parameters(self, parameters: list[tuple[Any, ...]]) -> None:
        """Sets each trainable layer's arrays from a tuple of them (``(weights, biases)`` for Dense)."""
        set_each_layers_parameters(self.trainable_layers, parameters)

    def to(self, name: str | Backend, **options: Any) -> "Model":
        """Moves the model (parameters and optimizer state) to another backend; returns the model."""
        target = create_backend(name, **options)
        self._updates.forget()  # its buffers belong to the old backend
        for part in (*self.layers, self.loss, self.accuracy):
            if part is not None:
                part.to(target)
        if self.assembly is not None:
            self.finalize()  # the input layer and the fused softmax + loss, anew on the target
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
        return serialization.load_model(path).assembled(cls())
