"""The multi-layer perceptrons the book builds, for callers that build them from settings (the
command line, the scikit-learn estimators): Dense layers with ReLU (and dropout) after each, then
the output layer, loss and accuracy of the problem kind."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .accuracy import Categorical, Regression
from .activations import Linear, ReLU, Sigmoid, Softmax
from .layers import Dense, Dropout
from .losses import BinaryCrossentropy, CategoricalCrossentropy, MeanSquaredError
from .model import Model

#: output activation, loss and accuracy of each problem kind (the book's chapters 18, 16 and 17)
TASKS: dict[str, tuple[type, type, Callable[[], Any]]] = {
    "classification": (Softmax, CategoricalCrossentropy, Categorical),
    "binary": (Sigmoid, BinaryCrossentropy, lambda: Categorical(binary=True)),
    "regression": (Linear, MeanSquaredError, Regression),
}
#: chapter 17: a regression network learns only from larger initial weights
REGRESSION_WEIGHT_SCALE = 0.1


def perceptron(n_inputs: int, hidden: Sequence[int], n_outputs: int, task: str, optimizer: Any, *, l2: float = 0.0,
               dropout: float = 0.0) -> Model:
    """A finalized Model: Dense layers of the ``hidden`` sizes (L2 penalty ``l2`` on their weights
    and biases), each followed by ReLU and, with ``dropout``, Dropout; then the ``task``'s output."""
    scale = REGRESSION_WEIGHT_SCALE if task == "regression" else 0.01
    model = Model()
    width = n_inputs
    for size in hidden:
        model.add(Dense(width, size, weight_regularizer_l2=l2, bias_regularizer_l2=l2, weight_scale=scale))
        model.add(ReLU())
        if dropout:
            model.add(Dropout(dropout))
        width = size
    model.add(Dense(width, n_outputs, weight_scale=scale))
    activation, loss, accuracy = TASKS[task]
    model.add(activation())
    model.set(loss=loss(), optimizer=optimizer, accuracy=accuracy())
    model.finalize()
    return model
