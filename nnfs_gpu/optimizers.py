"""Optimizers with the book's protocol: ``pre_update_params``, ``update_params(layer)``, ``post_update_params``.

As in the book, an optimizer's per-parameter state (momentums, caches) lives on the layer it
updates, created on the layer's backend the first time the layer is seen. The optimizer itself holds
only hyper-parameters and the step count, so ``state_dict`` is plain data.

``flat`` chooses how ``Model.train`` applies an optimizer, as PyTorch's ``foreach``/``fused`` do:
``None`` (the default) updates every parameter of the model at once, over flat buffers that the
layers' arrays are views of (``nnfs_gpu.training.flat``), where that applies: a backend whose arrays are
views (NumPy, CuPy, torch). ``True`` insists (and says why when it cannot apply), ``False``
keeps the book's loop of ``update_params`` per layer. The numbers are the same either way. A
subclass that changes the per-layer rule in ``update_params`` must pass ``flat=False``.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

from . import checks
from .protocol import Parameter, parameters_of


@functools.cache
def _names(parameters: tuple[Parameter, ...], state_kinds: tuple[str, ...]) -> tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...]:
    """``(parameter, gradient, ((kind, state attribute), ...))`` for each declared parameter: built
    once per kind of layer and optimizer, not per update."""
    return tuple((parameter.name, parameter.gradient, tuple((kind, parameter.state(kind)) for kind in state_kinds))
                 for parameter in parameters)


class Optimizer:
    """Learning-rate decay and step counting, shared by every optimizer.

    ``current_learning_rate = learning_rate / (1 + decay * iterations)``, where ``iterations``
    counts update steps (batches), as in the book.
    """

    #: the kinds of per-parameter state: layer attributes ``<prefix>_<kind>`` (``weight_cache``, ...)
    state_kinds: ClassVar[tuple[str, ...]] = ()
    #: constructor arguments, saved and restored with the optimizer
    hyperparameters: ClassVar[tuple[str, ...]] = ("learning_rate", "decay")
    #: whether the book updates the state in place (``cache += g**2``, keeping the parameter's
    #: dtype) rather than assigning it anew (``m = b1 * m + (1 - b1) * g``, whose dtype is that of
    #: the gradient too: float64 below a book-precision dropout, as in the book)
    state_updated_in_place: ClassVar[bool] = False

    def __init__(self, learning_rate: float, decay: float = 0.0, *, flat: bool | None = None) -> None:
        if flat not in (None, True, False):
            raise ValueError(f"{type(self).__name__}: flat must be None (where it applies), True or False, got {flat!r}")
        self.learning_rate = self._checked(learning_rate, "learning_rate", above=0)
        self.current_learning_rate = self.learning_rate
        self.decay = self._checked(decay, "decay", at_least=0)
        self.iterations = 0
        self.flat = flat

    def _checked(self, value: Any, name: str, **bounds: float) -> float:
        """A hyper-parameter as a finite float within ``bounds`` (see ``checks.real_number``)."""
        return checks.real_number(value, name, owner=type(self).__name__, **bounds)

    def __repr__(self) -> str:
        arguments = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.hyperparameters)
        return f"{type(self).__name__}({arguments})"

    def pre_update_params(self) -> None:
        if self.decay:
            self.current_learning_rate = self.learning_rate * (1.0 / (1.0 + self.decay * self.iterations))

    def state_names(self, layer: Any) -> tuple[str, ...]:
        """The attributes of ``layer`` this optimizer keeps its state in, as the book names them."""
        return tuple(name for _, _, names in _names(parameters_of(layer), self.state_kinds) for _, name in names)

    def update_params(self, layer: Any) -> None:
        """The book's per-layer update of each declared parameter (state created on the layer the first time it is seen)."""
        for name, gradient, names in _names(parameters_of(layer), self.state_kinds):
            param, grad = getattr(layer, name), getattr(layer, gradient)
            state = {}
            for kind, attribute in names:
                array = getattr(layer, attribute, None)
                if array is None:
                    xp = layer.backend.xp
                    dtype = param.dtype if self.state_updated_in_place else xp.result_type(param, grad)
                    array = xp.zeros_like(param, dtype=dtype)
                    setattr(layer, attribute, array)
                state[kind] = array
            self._step(layer.backend, param, grad, state)

    def update_flat(self, flat: Any) -> None:
        """The same update for every parameter of a model at once (see ``nnfs_gpu.training.flat``)."""
        self._step(flat.backend, flat.params, flat.grads, flat.states)

    def _step(self, backend: Any, param: Any, grad: Any, state: dict[str, Any]) -> None:
        """Updates ``param`` (and its ``state`` arrays) in place from ``grad``."""
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
        name = type(self).__name__
        if state.get("type") != name:
            raise ValueError(f"state of a {state.get('type')} optimizer cannot be loaded into {name}")
        hyperparameters = state.get("hyperparameters")
        if not isinstance(hyperparameters, dict) or set(hyperparameters) != set(self.hyperparameters):
            raise ValueError(f"{name} state needs the hyper-parameters {', '.join(self.hyperparameters)}, got {hyperparameters!r}")
        checked = type(self)(**hyperparameters, flat=self.flat)  # the constructor's checks, on the loaded values
        iterations = checks.whole_number(state.get("iterations"), "iterations", minimum=0, owner=name)
        current_learning_rate = self._checked(state.get("current_learning_rate"), "current_learning_rate", above=0)
        for key in self.hyperparameters:  # all checked: only now does anything change
            setattr(self, key, getattr(checked, key))
        self.iterations, self.current_learning_rate = iterations, current_learning_rate


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum."""

    hyperparameters = ("learning_rate", "decay", "momentum")

    def __init__(self, learning_rate: float = 1.0, decay: float = 0.0, momentum: float = 0.0, *,
                 flat: bool | None = None) -> None:
        super().__init__(learning_rate, decay, flat=flat)
        self.momentum = self._checked(momentum, "momentum", at_least=0, below=1)

    @property
    def state_kinds(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("momentums",) if self.momentum else ()

    def _step(self, backend: Any, param: Any, grad: Any, state: dict[str, Any]) -> None:
        if self.momentum:
            backend.momentum_update(param, grad, state["momentums"], self.current_learning_rate, self.momentum)
        else:
            backend.sgd_update(param, grad, self.current_learning_rate)


class Adagrad(Optimizer):
    state_kinds = ("cache",)
    state_updated_in_place = True
    hyperparameters = ("learning_rate", "decay", "epsilon")

    def __init__(self, learning_rate: float = 1.0, decay: float = 0.0, epsilon: float = 1e-7, *,
                 flat: bool | None = None) -> None:
        super().__init__(learning_rate, decay, flat=flat)
        self.epsilon = self._checked(epsilon, "epsilon", above=0)

    def _step(self, backend: Any, param: Any, grad: Any, state: dict[str, Any]) -> None:
        backend.adagrad_update(param, grad, state["cache"], self.current_learning_rate, self.epsilon)


class RMSprop(Optimizer):
    state_kinds = ("cache",)
    hyperparameters = ("learning_rate", "decay", "epsilon", "rho")

    def __init__(self, learning_rate: float = 0.001, decay: float = 0.0, epsilon: float = 1e-7, rho: float = 0.9, *,
                 flat: bool | None = None) -> None:
        super().__init__(learning_rate, decay, flat=flat)
        self.epsilon = self._checked(epsilon, "epsilon", above=0)
        self.rho = self._checked(rho, "rho", at_least=0, below=1)

    def _step(self, backend: Any, param: Any, grad: Any, state: dict[str, Any]) -> None:
        backend.rmsprop_update(param, grad, state["cache"], self.current_learning_rate, self.rho, self.epsilon)


class Adam(Optimizer):
    state_kinds = ("momentums", "cache")
    hyperparameters = ("learning_rate", "decay", "epsilon", "beta_1", "beta_2")

    def __init__(self, learning_rate: float = 0.001, decay: float = 0.0, epsilon: float = 1e-7, beta_1: float = 0.9,
                 beta_2: float = 0.999, *, flat: bool | None = None) -> None:
        super().__init__(learning_rate, decay, flat=flat)
        self.epsilon = self._checked(epsilon, "epsilon", above=0)
        self.beta_1 = self._checked(beta_1, "beta_1", at_least=0, below=1)
        self.beta_2 = self._checked(beta_2, "beta_2", at_least=0, below=1)

    def _step(self, backend: Any, param: Any, grad: Any, state: dict[str, Any]) -> None:
        backend.adam_update(
            param,
            grad,
            state["momentums"],
            state["cache"],
            self.current_learning_rate,
            self.beta_1,
            self.beta_2,
            self.epsilon,
            self.iterations + 1,
        )
