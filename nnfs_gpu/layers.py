"""The book's layers: Dense (with the book's L1/L2 regularizers), Dropout and the Model's Input,
each a ``protocol.Layer`` (Dense declares ``weights`` and ``biases``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import checks
from ._bound import BackendBound
from .backends import is_host
from .protocol import BOOK_PARAMETERS, BiasedProduct, Layer

#: the constructor's regularizer strengths, in its order
REGULARIZERS = ("weight_regularizer_l1", "weight_regularizer_l2", "bias_regularizer_l1", "bias_regularizer_l2")


class Dense(BiasedProduct):
    """A fully connected layer, ``output = inputs · weights + biases``.

    Weights start as the book starts them, ``0.01 * np.random.randn(n_inputs, n_neurons)`` drawn on
    the host from NumPy's global legacy RNG (then moved), so ``np.random.seed(0)`` or ``nnfs.init()``
    gives the same start on every backend; biases start at zero. Chapter 17's regression network
    starts from ``weight_scale=0.1``.
    """

    transient = ("inputs", "output", "dinputs", "dweights", "dbiases")
    parameters = BOOK_PARAMETERS
    #: the scale of the initial weights when the constructor is given none
    weight_scale = 0.01

    def __init__(
        self,
        n_inputs: int,
        n_neurons: int,
        weight_regularizer_l1: float = 0.0,
        weight_regularizer_l2: float = 0.0,
        bias_regularizer_l1: float = 0.0,
        bias_regularizer_l2: float = 0.0,
        weight_scale: float | None = None,
    ) -> None:
        super().__init__()
        strengths = (weight_regularizer_l1, weight_regularizer_l2, bias_regularizer_l1, bias_regularizer_l2)
        self._configure(n_inputs, n_neurons, **dict(zip(REGULARIZERS, strengths)))
        scale = checks.real_number(self.weight_scale if weight_scale is None else weight_scale, "weight_scale",
                                   at_least=0, owner="Dense")
        host_weights = np.random.randn(self.n_inputs, self.n_neurons).astype(self.backend.dtype_name)
        self.weights = self.backend.asarray(scale * host_weights)
        self.biases = self.backend.zeros((1, self.n_neurons))

    @classmethod
    def from_parameters(cls, weights: Any, biases: Any, **config: Any) -> Dense:  # type: ignore[override]
        """A layer holding copies of ``weights`` (n_inputs, n_neurons) and ``biases`` (1, n_neurons),
        made without drawing initial weights: loading a file neither draws weights only to overwrite
        them nor moves NumPy's global RNG. ``config`` is ``config()``'s (the sizes may be left out)."""
        layer = cls.__new__(cls)
        BackendBound.__init__(layer)
        shape = tuple(np.shape(weights)) if is_host(weights) else tuple(weights.shape)
        if len(shape) != 2:
            raise ValueError(f"Dense.from_parameters: weights must be 2-D (n_inputs, n_neurons), got shape {shape}")
        sizes = dict(zip(("n_inputs", "n_neurons"), shape))
        sizes.update((name, config.pop(name)) for name in ("n_inputs", "n_neurons") if name in config)
        layer._configure(**sizes, **config)
        layer.set_parameters(weights, biases)
        return layer

    def _configure(self, n_inputs: int, n_neurons: int, **regularizers: float) -> None:
        """Checks and sets the sizes and the regularizer strengths (everything but the parameters)."""
        unknown = sorted(set(regularizers) - set(REGULARIZERS))
        if unknown:
            raise TypeError(f"Dense: unknown arguments {', '.join(unknown)}; the regularizers are {', '.join(REGULARIZERS)}")
        self.n_inputs = checks.whole_number(n_inputs, "n_inputs", minimum=1, owner="Dense")
        self.n_neurons = checks.whole_number(n_neurons, "n_neurons", minimum=1, owner="Dense")
        for name in REGULARIZERS:
            setattr(self, name, checks.real_number(regularizers.get(name, 0.0), name, at_least=0, owner="Dense"))

    def __repr__(self) -> str:
        penalties = "".join(f", {name}={getattr(self, name):g}" for name in REGULARIZERS if getattr(self, name))
        return f"Dense({self.n_inputs}, {self.n_neurons}{penalties})"

    def config(self) -> dict[str, Any]:
        return {"n_inputs": self.n_inputs, "n_neurons": self.n_neurons, **{name: getattr(self, name) for name in REGULARIZERS}}

    @property
    def input_width(self) -> int:  # type: ignore[override]
        return self.n_inputs

    def output_width(self, input_width: int | None) -> int:
        return self.n_neurons

    def summary_row(self) -> tuple[str, str]:
        notes = ", ".join(f"{name.split('_')[0]} {name[-2:].upper()} {getattr(self, name):g}"
                          for name in REGULARIZERS if getattr(self, name))
        return f"Dense({self.n_inputs}, {self.n_neurons})", notes

    def forward_product(self, inputs: Any) -> None:
        """The forward without the biases: ``output = inputs · weights``."""
        inputs = self.backend.asfloat(inputs)
        if inputs.ndim != 2 or inputs.shape[1] != self.n_inputs:
            raise ValueError(
                f"{self!r} expects inputs of shape (samples, {self.n_inputs}), got {tuple(inputs.shape)}"
            )
        self.inputs = inputs
        self.output = self.backend.dot(inputs, self.weights, out=self._step_array("output", (inputs.shape[0], self.n_neurons)))

    def backward(self, dvalues: Any) -> None:
        """Sets ``dweights``, ``dbiases`` and, unless ``needs_input_gradient`` is off, ``dinputs``.

        ``dweights`` and ``dbiases`` are rewritten in place from the second call on (the optimizer
        consumes them right away, and a Model keeps them in one flat buffer), which saves allocating
        a weight-sized array per step. A Model turns
        ``needs_input_gradient`` off for its first Dense layer, whose input gradient nobody reads.
        """
        backend = self.backend
        inputs = self._kept_by_forward("inputs")
        dvalues = self._gradient_of(dvalues, (inputs.shape[0], self.n_neurons))
        self.dweights = backend.dot(inputs.T, dvalues, out=getattr(self, "dweights", None))
        self.dbiases = backend.sum_rows(dvalues, out=getattr(self, "dbiases", None))
        self._add_penalty_gradient(self.dweights, self.weights, self.weight_regularizer_l1, self.weight_regularizer_l2)
        self._add_penalty_gradient(self.dbiases, self.biases, self.bias_regularizer_l1, self.bias_regularizer_l2)
        if self.needs_input_gradient:
            dinputs = self._step_array("dinputs", (dvalues.shape[0], self.n_inputs))
            self.dinputs = backend.dot(dvalues, self.weights.T, out=dinputs)

    def _add_penalty_gradient(self, grad: Any, param: Any, l1: float, l2: float) -> None:
        """Adds the book's L1 (sign, with sign(0) = +1) and L2 (2·λ·w) penalty gradients, in place."""
        xp = self.backend.xp
        if l1 > 0:
            grad += l1 * (2 * xp.astype(param >= 0, param.dtype) - 1)
        if l2 > 0:
            grad += 2 * l2 * param

    @property
    def has_penalty(self) -> bool:
        """Whether any L1/L2 regularizer is set (without one the penalty is zero: nothing to compute)."""
        return any(getattr(self, name) > 0 for name in REGULARIZERS)

    def regularization_loss(self) -> Any:
        """The book's penalty for this layer, as a 0-d backend array."""
        xp = self.backend.xp
        loss = xp.zeros((), dtype=self.backend.dtype, device=self.backend.device)
        if self.weight_regularizer_l1 > 0:
            loss = loss + self.weight_regularizer_l1 * xp.sum(xp.abs(self.weights))
        if self.weight_regularizer_l2 > 0:
            loss = loss + self.weight_regularizer_l2 * xp.sum(self.weights * self.weights)
        if self.bias_regularizer_l1 > 0:
            loss = loss + self.bias_regularizer_l1 * xp.sum(xp.abs(self.biases))
        if self.bias_regularizer_l2 > 0:
            loss = loss + self.bias_regularizer_l2 * xp.sum(self.biases * self.biases)
        return loss

    @classmethod
    def parameter_shapes(cls, n_inputs: Any = None, n_neurons: Any = None, **regularizers: Any) -> tuple[tuple[int, ...], ...]:
        n_inputs = checks.whole_number(n_inputs, "n_inputs", minimum=1, owner="Dense")
        n_neurons = checks.whole_number(n_neurons, "n_neurons", minimum=1, owner="Dense")
        return (n_inputs, n_neurons), (1, n_neurons)


class Dropout(Layer):
    """Inverted dropout: while training, zeroes each input with probability ``rate`` and scales the
    rest by ``1 / keep_probability``; at inference it passes inputs through.

    ``keep_probability`` is ``1 - rate``; the book stores it as ``self.rate``, so that attribute
    means the keep probability here too. Masks come from the backend's RNG (the host's legacy
    NumPy RNG on the NumPy and strict backends, as the book draws them; CuPy's, or torch's on any
    of its devices, CPU included, seeded with ``torch.manual_seed``); ``host_rng=True``
    draws them on the host everywhere, so runs match across backends. ``training`` defaults to True
    because chapters 15–17 call ``forward(inputs)`` and expect dropout.
    """

    transient = ("inputs", "output", "dinputs", "binary_mask")

    def __init__(self, rate: float, host_rng: bool = False) -> None:
        super().__init__()
        self.keep_probability = 1 - checks.real_number(rate, "rate", at_least=0, below=1, owner="Dropout")
        self.host_rng = checks.flag(host_rng, "host_rng", owner="Dropout")

    @property
    def rate(self) -> float:
        """The book's name for the keep probability (``Layer_Dropout`` stores ``1 - rate`` in it)."""
        return self.keep_probability

    @rate.setter
    def rate(self, keep_probability: float) -> None:
        self.keep_probability = keep_probability

    @property
    def drop_rate(self) -> float:
        """The share of inputs dropped while training, as the constructor takes it."""
        return 1 - self.keep_probability

    def __repr__(self) -> str:
        return f"Dropout({self.drop_rate:g})"

    def config(self) -> dict[str, Any]:
        return {"rate": self.drop_rate, "host_rng": self.host_rng}

    def summary_row(self) -> tuple[str, str]:
        return repr(self), f"drops {self.drop_rate:.0%} while training" + (", host RNG" if self.host_rng else "")

    def forward(self, inputs: Any, training: bool = True) -> None:
        self.inputs = self.backend.asfloat(inputs)
        if not training:
            self.__dict__.pop("binary_mask", None)  # backward needs the mask of a training forward
            self.output = self.inputs
            return
        self.binary_mask = self.backend.dropout_mask(tuple(self.inputs.shape), self.keep_probability, self.host_rng)
        self.output = self.inputs * self.binary_mask

    def backward(self, dvalues: Any) -> None:
        mask = self._kept_by_forward("binary_mask", "forward(inputs, training=True)")
        self.dinputs = self._gradient_of(dvalues, mask.shape) * mask


class Input(Layer):
    """The Model's first node: hands the batch to the first layer."""

    def forward(self, inputs: Any, training: bool = False) -> None:
        self.output = self.backend.asfloat(inputs)
