"""Optimizers with the book's protocol: ``pre_update_params``, ``update_params(layer)``, ``post_update_params``."""

from __future__ import annotations

from typing import Any


class Optimizer:
    """Learning-rate decay and step counting, shared by every optimizer.

    ``current_learning_rate = learning_rate / (1 + decay * iterations)``, where ``iterations``
    counts update steps (batches), as in the book.
    """

    def __init__(self, learning_rate: float, decay: float = 0.0) -> None:
        self.learning_rate = float(learning_rate)
        self.current_learning_rate = float(learning_rate)
        self.decay = float(decay)
        self.iterations = 0

    def pre_update_params(self) -> None:
        if self.decay:
            self.current_learning_rate = self.learning_rate * (1.0 / (1.0 + self.decay * self.iterations))

    def update_params(self, layer: Any) -> None:
        raise NotImplementedError

    def post_update_params(self) -> None:
        self.iterations += 1


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum (state kept on the layer, as the book)."""

    def __init__(self, learning_rate: float = 1.0, decay: float = 0.0, momentum: float = 0.0) -> None:
        super().__init__(learning_rate, decay)
        self.momentum = float(momentum)

    def update_params(self, layer: Any) -> None:
        backend, lr = layer.backend, self.current_learning_rate
        if self.momentum:
            if not hasattr(layer, "weight_momentums"):
                layer.weight_momentums = backend.xp.zeros_like(layer.weights)
                layer.bias_momentums = backend.xp.zeros_like(layer.biases)
            layer.weight_momentums = self.momentum * layer.weight_momentums - lr * layer.dweights
            layer.weights += layer.weight_momentums
            layer.bias_momentums = self.momentum * layer.bias_momentums - lr * layer.dbiases
            layer.biases += layer.bias_momentums
        else:
            backend.sgd_update(layer.weights, layer.dweights, lr)
            backend.sgd_update(layer.biases, layer.dbiases, lr)
