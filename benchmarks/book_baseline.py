"""The baseline: the book's framework as the book writes it, in plain NumPy.

Written in the book's style on purpose (``np.dot``, a fresh temporary for every result, the combined
softmax + cross-entropy backward with ``range(n)`` indexing, boolean-mask ReLU backward, the book's
Adam), but in float32 throughout, so the comparison is with the book's code at its best, not with its
float64 ``nnfs.init`` dot workaround.
"""

from __future__ import annotations

import numpy as np


class Dense:
    def __init__(self, n_inputs: int, n_neurons: int) -> None:
        self.weights = (0.01 * np.random.randn(n_inputs, n_neurons)).astype(np.float32)
        self.biases = np.zeros((1, n_neurons), dtype=np.float32)

    def forward(self, inputs: np.ndarray) -> None:
        self.inputs = inputs
        self.output = np.dot(inputs, self.weights) + self.biases

    def backward(self, dvalues: np.ndarray) -> None:
        self.dweights = np.dot(self.inputs.T, dvalues)
        self.dbiases = np.sum(dvalues, axis=0, keepdims=True)
        self.dinputs = np.dot(dvalues, self.weights.T)


class ReLU:
    def forward(self, inputs: np.ndarray) -> None:
        self.inputs = inputs
        self.output = np.maximum(0, inputs)

    def backward(self, dvalues: np.ndarray) -> None:
        self.dinputs = dvalues.copy()
        self.dinputs[self.inputs <= 0] = 0


class SoftmaxCrossentropy:
    def forward(self, inputs: np.ndarray, y_true: np.ndarray) -> float:
        exp_values = np.exp(inputs - np.max(inputs, axis=1, keepdims=True))
        self.output = exp_values / np.sum(exp_values, axis=1, keepdims=True)
        clipped = np.clip(self.output, 1e-7, 1 - 1e-7)
        correct_confidences = clipped[range(len(clipped)), y_true]
        return np.mean(-np.log(correct_confidences))

    def backward(self, dvalues: np.ndarray, y_true: np.ndarray) -> None:
        samples = len(dvalues)
        self.dinputs = dvalues.copy()
        self.dinputs[range(samples), y_true] -= 1
        self.dinputs = self.dinputs / samples


class SGD:
    def __init__(self, learning_rate: float = 1.0) -> None:
        self.learning_rate = learning_rate

    def update_params(self, layer: Dense, iterations: int) -> None:
        layer.weights += -self.learning_rate * layer.dweights
        layer.biases += -self.learning_rate * layer.dbiases


class Adam:
    def __init__(self, learning_rate: float = 0.001, epsilon: float = 1e-7, beta_1: float = 0.9, beta_2: float = 0.999) -> None:
        self.learning_rate, self.epsilon, self.beta_1, self.beta_2 = learning_rate, epsilon, beta_1, beta_2

    def update_params(self, layer: Dense, iterations: int) -> None:
        adam_step(layer, self.learning_rate, iterations, self.epsilon, self.beta_1, self.beta_2)


def adam_step(layer: Dense, learning_rate: float, iterations: int, epsilon: float, beta_1: float, beta_2: float) -> None:
    """The book's Adam update of one layer, line for line (also the W0 contender's, book_chapter10)."""
    if not hasattr(layer, "weight_cache"):
        layer.weight_momentums = np.zeros_like(layer.weights)
        layer.weight_cache = np.zeros_like(layer.weights)
        layer.bias_momentums = np.zeros_like(layer.biases)
        layer.bias_cache = np.zeros_like(layer.biases)
    layer.weight_momentums = beta_1 * layer.weight_momentums + (1 - beta_1) * layer.dweights
    layer.bias_momentums = beta_1 * layer.bias_momentums + (1 - beta_1) * layer.dbiases
    weight_momentums_corrected = layer.weight_momentums / (1 - beta_1 ** (iterations + 1))
    bias_momentums_corrected = layer.bias_momentums / (1 - beta_1 ** (iterations + 1))
    layer.weight_cache = beta_2 * layer.weight_cache + (1 - beta_2) * layer.dweights**2
    layer.bias_cache = beta_2 * layer.bias_cache + (1 - beta_2) * layer.dbiases**2
    weight_cache_corrected = layer.weight_cache / (1 - beta_2 ** (iterations + 1))
    bias_cache_corrected = layer.bias_cache / (1 - beta_2 ** (iterations + 1))
    layer.weights += -learning_rate * weight_momentums_corrected / (np.sqrt(weight_cache_corrected) + epsilon)
    layer.biases += -learning_rate * bias_momentums_corrected / (np.sqrt(bias_cache_corrected) + epsilon)


def train(sizes: tuple[int, ...], X: np.ndarray, y: np.ndarray, optimizer_name: str, learning_rate: float,
          epochs: int, batch_size: int | None) -> float:
    """The book's Model.train loop (forward, loss, accuracy, backward, update per batch); returns the last loss."""
    dense = [Dense(n_in, n_out) for n_in, n_out in zip(sizes, sizes[1:])]
    relus = [ReLU() for _ in dense[:-1]]
    head = SoftmaxCrossentropy()
    optimizer = SGD(learning_rate) if optimizer_name == "sgd" else Adam(learning_rate)
    steps = 1 if batch_size is None else -(-len(X) // batch_size)
    iterations, loss = 0, 0.0
    for _ in range(epochs):
        for step in range(steps):
            if batch_size is None:
                batch_X, batch_y = X, y
            else:
                batch_X, batch_y = X[step * batch_size:(step + 1) * batch_size], y[step * batch_size:(step + 1) * batch_size]
            inputs = batch_X
            for layer, relu in zip(dense, relus):
                layer.forward(inputs)
                relu.forward(layer.output)
                inputs = relu.output
            dense[-1].forward(inputs)
            loss = head.forward(dense[-1].output, batch_y)
            accuracy = np.mean(np.argmax(head.output, axis=1) == batch_y)  # noqa: F841 (the book computes it)
            head.backward(head.output, batch_y)
            dense[-1].backward(head.dinputs)
            for index in reversed(range(len(relus))):
                relus[index].backward(dense[index + 1].dinputs)
                dense[index].backward(relus[index].dinputs)
            for layer in dense:
                optimizer.update_params(layer, iterations)
            iterations += 1
    return float(loss)
