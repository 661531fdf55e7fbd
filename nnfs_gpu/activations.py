"""Activations: ReLU, Softmax, Sigmoid and Linear, each with the book's ``predictions``."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .protocol import Layer


class Activation(Layer):
    """An activation: ``forward`` sets ``output``, ``backward`` sets ``dinputs``."""

    def forward(self, inputs: Any, training: bool = False) -> None:
        self.inputs = self.backend.asfloat(inputs)
        self.output = self._forward(self.inputs)

    def backward(self, dvalues: Any) -> None:
        self.dinputs = self._backward(self._gradient_of(dvalues, self._kept_by_forward("output").shape))

    def predictions(self, outputs: Any) -> Any:
        """What the outputs mean as answers (classes, 0/1, values); host data in gives host data out."""
        return outputs

    def forward_biased(self, z: Any, biases: Any) -> None:
        """``forward(z + biases)`` for the product ``z`` of the Dense layer before (which gets the
        biases added in place): one fused pass where the backend has one (see ``training.forward``)."""
        self.backend.add_bias(z, biases)
        self.forward(z)

    def _forward(self, inputs: Any) -> Any:
        raise NotImplementedError

    def _backward(self, dvalues: Any) -> Any:
        raise NotImplementedError

    def _into_output(self, op: Any, z: Any, *arguments: Any) -> Any:
        """``op(z, *arguments)`` written into this step's output array (``BackendBound._step_array``)."""
        return op(z, *arguments, out=self._step_array("output", z.shape))


def takes_bias(activation: Any) -> bool:
    """Whether ``activation.forward_biased`` computes what its ``forward`` does: the generic one does;
    a fused one does while the class that defines it also defines the ``forward`` and ``_forward``
    in use (a subclass that changes ``_forward`` is not fused) and the object replaces none of them."""
    if not isinstance(activation, Activation):
        return False
    kind = type(activation)
    owner = next(cls for cls in kind.__mro__ if "forward_biased" in vars(cls))
    methods = ("forward", "_forward", "forward_biased")
    return not set(methods) & set(vars(activation)) and (
        owner is Activation or all(getattr(kind, name) is getattr(owner, name) for name in methods[:2]))


class ReLU(Activation):
    def _forward(self, inputs: Any) -> Any:
        return self._into_output(self.backend.relu, inputs)

    def forward_biased(self, z: Any, biases: Any) -> None:
        self.inputs, self.output = z, self._into_output(self.backend.bias_relu, z, biases)

    def _backward(self, dvalues: Any) -> Any:
        return self.backend.relu_backward(dvalues, self.inputs, out=self._step_array("dinputs", dvalues.shape))


class Softmax(Activation):
    def _forward(self, inputs: Any) -> Any:
        if inputs.ndim != 2:
            raise ValueError(f"Softmax takes a 2-D batch (samples, classes), got inputs of shape {tuple(inputs.shape)}")
        return self._into_output(self.backend.softmax, inputs)

    def forward_biased(self, z: Any, biases: Any) -> None:
        self.inputs, self.output = z, self._into_output(self.backend.bias_softmax, z, biases)

    def _backward(self, dvalues: Any) -> Any:
        return self.backend.softmax_backward(dvalues, self.output)

    def predictions(self, outputs: Any) -> Any:
        return self._where_given(outputs, lambda values: self.backend.xp.argmax(values, axis=1))


@functools.cache
def exp_limit(dtype_name: str) -> float:
    """The largest value of a float dtype whose ``exp`` is finite, computed in that dtype (on whole
    arrays, as NumPy's vector loops do) and in float64 rounded back to it (book precision)."""
    dtype = np.dtype(dtype_name)
    limit = np.log(np.finfo(dtype).max).astype(dtype)
    with np.errstate(over="ignore"):
        while not (np.isfinite(np.exp(np.full(64, limit))).all() and np.isfinite(np.exp(np.float64(limit)).astype(dtype))):
            limit = np.nextafter(limit, dtype.type(0))
    return float(limit)


class Sigmoid(Activation):
    """The book's ``1 / (1 + exp(-x))``, with ``-x`` clamped at the largest value whose ``exp`` is
    finite: the same numbers wherever the book's formula does not overflow, and no overflow (nor its
    RuntimeWarning) below about -88.7 in float32, where the result is a tiny positive number, not 0."""

    def _forward(self, inputs: Any) -> Any:
        clamped = self.backend.xp.minimum(-inputs, exp_limit(self.backend.dtype_name))
        return 1 / (1 + self.backend.exp(clamped))

    def _backward(self, dvalues: Any) -> Any:
        return dvalues * (1 - self.output) * self.output

    def predictions(self, outputs: Any) -> Any:
        xp = self.backend.xp
        return self._where_given(outputs, lambda values: xp.astype(values > 0.5, xp.int64))


class Linear(Activation):
    def _forward(self, inputs: Any) -> Any:
        return inputs

    def _backward(self, dvalues: Any) -> Any:
        return dvalues
