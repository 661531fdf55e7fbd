"""A trainable layer of a user's own, written outside the package: the recipe for a new layer
(docs/ARCHITECTURE.md). tests/test_custom_layer.py and the data-parallel test train it."""

from __future__ import annotations

from typing import Any

import numpy as np

import nnfs_gpu
from nnfs_gpu import Layer, Parameter


@nnfs_gpu.register_layer
class ScaleShift(Layer):
    """``output = inputs * scale + shift``, a scale and a shift per feature (both trained)."""

    parameters = (Parameter("scale"), Parameter("shift"))
    transient = ("inputs", "output", "dinputs", "dscale", "dshift")

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.n_features = n_features
        self.scale = self.backend.asarray(np.ones((1, n_features), dtype=self.backend.dtype_name))
        self.shift = self.backend.zeros((1, n_features))

    def config(self) -> dict[str, Any]:
        return {"n_features": self.n_features}

    @classmethod
    def parameter_shapes(cls, n_features: int) -> tuple[tuple[int, ...], ...]:
        """What a file's arrays must hold for this config, checked before the layer is built."""
        if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1:
            raise ValueError(f"n_features must be a whole number >= 1, got {n_features!r}")
        return (1, n_features), (1, n_features)

    @property
    def input_width(self) -> int:
        return self.n_features

    def output_width(self, input_width: int | None) -> int:
        return self.n_features

    def __repr__(self) -> str:
        return f"ScaleShift({self.n_features})"

    def forward(self, inputs: Any, training: bool = False) -> None:
        self.inputs = self.backend.asfloat(inputs)
        self.output = self.inputs * self.scale + self.shift

    def backward(self, dvalues: Any) -> None:
        xp = self.backend.xp
        dvalues = self.backend.asfloat(dvalues)
        self.dscale = xp.sum(dvalues * self.inputs, axis=0, keepdims=True)
        self.dshift = xp.sum(dvalues, axis=0, keepdims=True)
        self.dinputs = dvalues * self.scale
