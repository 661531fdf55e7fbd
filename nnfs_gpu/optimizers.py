"""Optimizers with the book's protocol: ``pre_update_params``, ``update_params(layer)``, ``post_update_params``.

As in the book, an optimizer's per-parameter state (momentums, caches) lives on the layer it
updates, created on the layer's backend the first time the layer is seen. The optimizer itself holds
only hyper-parameters and the step count, so ``state_dict`` is plain data.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Optimizer:
    """Learning-rate decay and step counting, shared by every optimizer.

    ``current_learning_rate = learning_rate / (1 + decay * iterations)``, where ``iterations``
    counts update steps (batches), as in the book.
    """

    #: the layer attributes this optimizer keeps its state in
    state_attributes: ClassVar[tuple[str, ...]] = ()
    #: constructor arguments, saved and restored with the optimizer
    hyperparameters: ClassVar[tuple[str, ...]] = ("learning_rate", "decay")

    def __init__(self, learning_rate: float, decay: float = 0.0) -> None:
        if learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {learning_rate}")
        if decay < 0:
            raise ValueError(f"decay must be >= 0, got {decay}")
        self.learning_rate = float(learning_rate)
        self.current_learning_rate = float(learning_rate)
        self.decay = float(decay)
        self.iterations = 0

    def __repr__(self) -> str:
        arguments = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.hyperparameters)
        return f"{type(self).__name__}({arguments})"

    def pre_update_params(self) -> None:
        if self.decay:
            self.current_learning_rate = self.learning_rate * (1.0 / (1.0 + self.decay * self.iterations))

    def update_params(self, layer: Any) -> None:
        for name in self.state_attributes:
            if not hasattr(layer, name):
                source = layer.weights if name.startswith("weight") else layer.biases
                setattr(layer, name, layer.backend.xp.zeros_like(source))
        self._update(layer, layer.weights, layer.dweights, "weight")
        self._update(layer, layer.biases, layer.dbiases, "bias")

    def _update(self, layer: Any, param: Any, grad: Any, prefix: str) -> None:
        raise NotImplementedError

    def post_update_params(self) -> None:
        self.iterations += 1

    def state_dict(self) -> dict[str, Any]:
        """Hyper-parameters and progress, as plain data (the per-layer arrays live on the layers)."""
        return {
            "type": type(self).__name__,
            "hyperparameters": {name: getattr(self, name) for name in self.hyperparameters},
            "iterations": self.iterations,
            "current_learning_rate": self.current_learning_rate,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("type") != type(self).__name__:
            raise ValueError(f"state of a {state.get('type')} optimizer cannot be loaded into {type(self).__name__}")
        for name, value in state["hyperparameters"].items():
            setattr(self, name, value)
        self.iterations = int(state["iterations"])
        self.current_learning_rate = float(state["current_learning_rate"])


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum."""

    hyperparameters = ("learning_rate", "decay", "momentum")

    def __init__(self, learning_rate: float = 1.0, decay: float = 0.0, momentum: float = 0.0) -> None:
        super().__init__(learning_rate, decay)
        self.momentum = float(momentum)

    @property
    def state_attributes(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("weight_momentums", "bias_momentums") if self.momentum else ()

    def _update(self, layer: Any, param: Any, grad: Any, prefix: str) -> None:
        if self.momentum:
            momentums = getattr(layer, f"{prefix}_momentums")
            layer.backend.momentum_update(param, grad, momentums, self.current_learning_rate, self.momentum)
        else:
            layer.backend.sgd_update(param, grad, self.current_learning_rate)


class Adagrad(Optimizer):
    state_attributes = ("weight_cache", "bias_cache")
    hyperparameters = ("learning_rate", "decay", "epsilon")

    def __init__(self, learning_rate: float = 1.0, decay: float = 0.0, epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate, decay)
        self.epsilon = float(epsilon)

    def _update(self, layer: Any, param: Any, grad: Any, prefix: str) -> None:
        cache = getattr(layer, f"{prefix}_cache")
        layer.backend.adagrad_update(param, grad, cache, self.current_learning_rate, self.epsilon)


class RMSprop(Optimizer):
    state_attributes = ("weight_cache", "bias_cache")
    hyperparameters = ("learning_rate", "decay", "epsilon", "rho")

    def __init__(self, learning_rate: float = 0.001, decay: float = 0.0, epsilon: float = 1e-7, rho: float = 0.9) -> None:
        super().__init__(learning_rate, decay)
        self.epsilon = float(epsilon)
        self.rho = float(rho)

    def _update(self, layer: Any, param: Any, grad: Any, prefix: str) -> None:
        cache = getattr(layer, f"{prefix}_cache")
        layer.backend.rmsprop_update(param, grad, cache, self.current_learning_rate, self.rho, self.epsilon)


class Adam(Optimizer):
    state_attributes = ("weight_momentums", "weight_cache", "bias_momentums", "bias_cache")
    hyperparameters = ("learning_rate", "decay", "epsilon", "beta_1", "beta_2")

    def __init__(
        self,
        learning_rate: float = 0.001,
        decay: float = 0.0,
        epsilon: float = 1e-7,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
    ) -> None:
        super().__init__(learning_rate, decay)
        self.epsilon = float(epsilon)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)

    def _update(self, layer: Any, param: Any, grad: Any, prefix: str) -> None:
        layer.backend.adam_update(
            param,
            grad,
            getattr(layer, f"{prefix}_momentums"),
            getattr(layer, f"{prefix}_cache"),
            self.current_learning_rate,
            self.beta_1,
            self.beta_2,
            self.epsilon,
            self.iterations + 1,
        )
