"""Workload W0: chapter 10's script as the book publishes it, on the book's own classes or on any
module of the book's names (``nnfs_gpu.book``), so the two run the very same loop.

``BOOK`` holds the book's chapter-10 classes (dense layer, ReLU, softmax, the combined softmax and
cross-entropy, Adam), written as the book writes them (the lines it shares with the baseline come
from ``book_baseline``), for the benchmark's comparison; ``loop`` is
the chapter's training loop, printing a line every 100 epochs into a string buffer; workload
W1-book runs the same loop on nnfs_gpu's book names with SGD. ``book_numpy``
applies what ``nnfs.init()`` applies to NumPy (the book's script calls it) and undoes it afterwards,
so the other workloads' baselines keep NumPy's own ``np.dot``.
"""

from __future__ import annotations

import contextlib
import io
import types
from typing import Any, Iterator

import numpy as np

import book_baseline


class Layer_Dense(book_baseline.Dense):
    """The book's Dense as the baseline's, with the book's float64 start."""

    def __init__(self, n_inputs: int, n_neurons: int) -> None:
        self.weights = 0.01 * np.random.randn(n_inputs, n_neurons)
        self.biases = np.zeros((1, n_neurons))


Activation_ReLU = book_baseline.ReLU


class Activation_Softmax:
    def forward(self, inputs: np.ndarray) -> None:
        self.inputs = inputs
        exp_values = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
        self.output = exp_values / np.sum(exp_values, axis=1, keepdims=True)


class Loss:
    def calculate(self, output: np.ndarray, y: np.ndarray) -> Any:
        return np.mean(self.forward(output, y))


class Loss_CategoricalCrossentropy(Loss):
    def forward(self, y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
        samples = len(y_pred)
        y_pred_clipped = np.clip(y_pred, 1e-7, 1 - 1e-7)
        if len(y_true.shape) == 1:
            correct_confidences = y_pred_clipped[range(samples), y_true]
        else:
            correct_confidences = np.sum(y_pred_clipped * y_true, axis=1)
        return -np.log(correct_confidences)


class Activation_Softmax_Loss_CategoricalCrossentropy:
    def __init__(self) -> None:
        self.activation = Activation_Softmax()
        self.loss = Loss_CategoricalCrossentropy()

    def forward(self, inputs: np.ndarray, y_true: np.ndarray) -> Any:
        self.activation.forward(inputs)
        self.output = self.activation.output
        return self.loss.calculate(self.output, y_true)

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> None:
        samples = len(dvalues)
        if len(y_true.shape) == 2:
            y_true = np.argmax(y_true, axis=1)
        self.dinputs = dvalues.copy()
        self.dinputs[range(samples), y_true] -= 1
        self.dinputs = self.dinputs / samples


class Optimizer_Adam:
    def __init__(self, learning_rate: float = 0.001, decay: float = 0.0, epsilon: float = 1e-7, beta_1: float = 0.9,
                 beta_2: float = 0.999) -> None:
        self.learning_rate = self.current_learning_rate = learning_rate
        self.decay, self.iterations, self.epsilon, self.beta_1, self.beta_2 = decay, 0, epsilon, beta_1, beta_2

    def pre_update_params(self) -> None:
        if self.decay:
            self.current_learning_rate = self.learning_rate * (1.0 / (1.0 + self.decay * self.iterations))

    def update_params(self, layer: Layer_Dense) -> None:
        book_baseline.adam_step(layer, self.current_learning_rate, self.iterations, self.epsilon, self.beta_1, self.beta_2)

    def post_update_params(self) -> None:
        self.iterations += 1


BOOK = types.SimpleNamespace(np=np, **{name: value for name, value in globals().items() if name[:1].isupper()})


def loop(names: Any, X: np.ndarray, y: np.ndarray, epochs: int, optimizer: Any, out: io.StringIO) -> None:
    """Chapter 10's training loop over the classes in ``names`` (and its ``np``), line for line."""
    np_ = names.np
    dense1 = names.Layer_Dense(2, 64)
    activation1 = names.Activation_ReLU()
    dense2 = names.Layer_Dense(64, 3)
    loss_activation = names.Activation_Softmax_Loss_CategoricalCrossentropy()
    for epoch in range(epochs):
        dense1.forward(X)
        activation1.forward(dense1.output)
        dense2.forward(activation1.output)
        loss = loss_activation.forward(dense2.output, y)
        predictions = np_.argmax(loss_activation.output, axis=1)
        accuracy = np_.mean(predictions == y)
        if not epoch % 100:
            print(f"epoch: {epoch}, acc: {accuracy:.3f}, loss: {loss:.3f}, lr: {optimizer.current_learning_rate}", file=out)
        loss_activation.backward(loss_activation.output, y)
        dense2.backward(loss_activation.dinputs)
        activation1.backward(dense2.dinputs)
        dense1.backward(activation1.dinputs)
        optimizer.pre_update_params()
        optimizer.update_params(dense1)
        optimizer.update_params(dense2)
        optimizer.post_update_params()


@contextlib.contextmanager
def book_numpy() -> Iterator[None]:
    """NumPy as ``nnfs.init()`` leaves it (float64 ``np.dot`` rounded to float32, float32 ``zeros``
    and ``randn``, seed 0), restored afterwards."""
    import nnfs

    saved = (np.dot, np.zeros, np.eye, np.random.randn)
    nnfs.init()
    try:
        yield
    finally:
        np.dot, np.zeros, np.eye, np.random.randn = saved
