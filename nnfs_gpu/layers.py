"""Layers: Dense (with the book's L1/L2 regularizers), Dropout and the Model's Input."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._bound import BackendBound


class Dense(BackendBound):
    """A fully connected layer, ``output = inputs · weights + biases``.

    Weights start as the book starts them, ``0.01 * np.random.randn(n_inputs, n_neurons)`` drawn on
    the host from NumPy's global legacy RNG (then moved), so ``np.random.seed(0)`` or ``nnfs.init()``
    gives the same start on every backend; biases start at zero. Chapter 17's regression network
    starts from ``weight_scale=0.1``.
    """

    transient = ("inputs", "output", "dinputs", "dweights", "dbiases")
    #: the scale of the initial weights when the constructor is given none
    weight_scale = 0.01
    #: whether ``backward`` computes ``dinputs``; a Model turns it off for its first layer
    needs_input_gradient = True

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
        if int(n_inputs) < 1 or int(n_neurons) < 1:
            raise ValueError(f"Dense needs n_inputs >= 1 and n_neurons >= 1, got ({n_inputs}, {n_neurons})")
        self.n_inputs, self.n_neurons = int(n_inputs), int(n_neurons)
        host_weights = np.random.randn(self.n_inputs, self.n_neurons).astype(self.backend.dtype_name)
        scale = self.weight_scale if weight_scale is None else weight_scale
        self.weights = self.backend.asarray(float(scale) * host_weights)
        self.biases = self.backend.zeros((1, self.n_neurons))
        self.weight_regularizer_l1 = weight_regularizer_l1
        self.weight_regularizer_l2 = weight_regularizer_l2
        self.bias_regularizer_l1 = bias_regularizer_l1
        self.bias_regularizer_l2 = bias_regularizer_l2

    def __repr__(self) -> str:
        return f"Dense({self.n_inputs}, {self.n_neurons})"

    def forward(self, inputs: Any, training: bool = False) -> None:
        inputs = self.backend.asfloat(inputs)
        if inputs.ndim != 2 or inputs.shape[1] != self.n_inputs:
            raise ValueError(
                f"{self!r} expects inputs of shape (samples, {self.n_inputs}), got {tuple(inputs.shape)}"
            )
        self.inputs = inputs
        output = self.backend.dot(inputs, self.weights, out=self._step_array("output", (inputs.shape[0], self.n_neurons)))
        self.backend.add_bias(output, self.biases)
        self.output = output

    def backward(self, dvalues: Any) -> None:
        """Sets ``dweights``, ``dbiases`` and, unless ``needs_input_gradient`` is off, ``dinputs``.

        ``dweights`` and ``dbiases`` are rewritten in place from the second call on (the optimizer
        consumes them right away, and a Model keeps them in one flat buffer), which saves allocating
        a weight-sized array per step. A Model turns
        ``needs_input_gradient`` off for its first Dense layer, whose input gradient nobody reads.
        """
        backend = self.backend
        dvalues = backend.asfloat(dvalues)
        self.dweights = backend.dot(self.inputs.T, dvalues, out=getattr(self, "dweights", None))
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
        return any(strength > 0 for strength in (self.weight_regularizer_l1, self.weight_regularizer_l2,
                                                 self.bias_regularizer_l1, self.bias_regularizer_l2))

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

    def get_parameters(self) -> tuple[Any, Any]:
        return self.weights, self.biases

    def set_parameters(self, weights: Any, biases: Any) -> None:
        """Sets weights and biases (copies, so training never changes the caller's arrays) from host
        or same-backend arrays, checking their shapes."""
        weights, biases = self.backend.copy(self.backend.asfloat(weights)), self.backend.copy(self.backend.asfloat(biases))
        expected = ((self.n_inputs, self.n_neurons), (1, self.n_neurons))
        if (tuple(weights.shape), tuple(biases.shape)) != expected:
            raise ValueError(
                f"{self!r} needs weights {expected[0]} and biases {expected[1]}, "
                f"got {tuple(weights.shape)} and {tuple(biases.shape)}"
            )
        self.weights, self.biases = weights, biases


class Dropout(BackendBound):
    """Inverted dropout: while training, zeroes each input with probability ``rate`` and scales the
    rest by ``1 / keep_probability``; at inference it passes inputs through.

    ``keep_probability`` is ``1 - rate``; the book stores it as ``self.rate``, so that attribute
    means the keep probability here too. Masks come from the backend's RNG (the host's legacy
    NumPy RNG on CPU backends, as the book draws them; the device's on a GPU); ``host_rng=True``
    draws them on the host everywhere, so runs match across backends. ``training`` defaults to True
    because chapters 15–17 call ``forward(inputs)`` and expect dropout.
    """

    transient = ("inputs", "output", "dinputs", "binary_mask")

    def __init__(self, rate: float, host_rng: bool = False) -> None:
        super().__init__()
        if not 0 <= rate < 1:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        self.keep_probability = 1 - float(rate)
        self.host_rng = host_rng

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

    def forward(self, inputs: Any, training: bool = True) -> None:
        self.inputs = self.backend.asfloat(inputs)
        if not training:
            self.output = self.inputs
            return
        self.binary_mask = self.backend.dropout_mask(tuple(self.inputs.shape), self.keep_probability, self.host_rng)
        self.output = self.inputs * self.binary_mask

    def backward(self, dvalues: Any) -> None:
        self.dinputs = self.backend.asfloat(dvalues) * self.binary_mask


class Input(BackendBound):
    """The Model's first node: hands the batch to the first layer."""

    def forward(self, inputs: Any, training: bool = False) -> None:
        self.output = self.backend.asfloat(inputs)
