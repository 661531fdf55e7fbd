"""Activations: ReLU and Softmax, with the book's ``predictions``."""

from __future__ import annotations

from typing import Any

from ._bound import BackendBound


class ReLU(BackendBound):
    def forward(self, inputs: Any, training: bool = False) -> None:
        self.inputs = self.backend.asfloat(inputs)
        self.output = self.backend.relu(self.inputs)

    def backward(self, dvalues: Any) -> None:
        self.dinputs = self.backend.relu_backward(self.backend.asfloat(dvalues), self.inputs)

    def predictions(self, outputs: Any) -> Any:
        return outputs


class Softmax(BackendBound):
    def forward(self, inputs: Any, training: bool = False) -> None:
        self.inputs = self.backend.asfloat(inputs)
        self.output = self.backend.softmax(self.inputs)

    def backward(self, dvalues: Any) -> None:
        self.dinputs = self.backend.softmax_backward(self.backend.asfloat(dvalues), self.output)

    def predictions(self, outputs: Any) -> Any:
        return self.backend.xp.argmax(outputs, axis=1)
