"""Losses: the book's ``Loss`` protocol, categorical cross-entropy and the fused softmax + CCE."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._bound import BackendBound
from .activations import Softmax
from .backends import array_origin

CLIP = 1e-7


class Loss(BackendBound):
    """Base of all losses: ``forward`` gives per-sample losses, ``calculate`` their mean.

    ``calculate`` returns a Python float, as the book's printing code expects; that reads the
    value back from the device, so training loops that only print now and then keep the mean on
    the device with ``mean_loss`` instead.
    """

    trainable_layers: list = []

    def remember_trainable_layers(self, trainable_layers: list) -> None:
        self.trainable_layers = list(trainable_layers)

    def regularization_loss(self, layer: Any = None) -> float:
        """The layers' L1/L2 penalty: of one ``layer`` (chapters 14–17), else of the remembered layers."""
        layers = self.trainable_layers if layer is None else [layer]
        return float(sum(float(item.regularization_loss()) for item in layers))

    def forward(self, output: Any, y: Any) -> Any:
        raise NotImplementedError

    def mean_loss(self, output: Any, y: Any) -> Any:
        """Mean of the sample losses as a 0-d backend array (no device-to-host read)."""
        return self.backend.xp.mean(self.forward(output, y))

    def calculate(self, output: Any, y: Any) -> float:
        return float(self.mean_loss(output, y))


def _is_host(data: Any) -> bool:
    return array_origin(data) in ("numpy", "builtins")


class CategoricalCrossentropy(Loss):
    """Categorical cross-entropy for sparse integer labels (1-D) or one-hot rows (2-D)."""

    def labels(self, y: Any, predictions: Any) -> Any:
        """Checks labels against the predictions' shape and returns them on this backend.

        Host labels are checked for range and kind on the host, before moving; device labels only
        for shape and dtype, so that no value is read back from the device.
        """
        samples, classes = predictions.shape
        if _is_host(y):
            host = np.asarray(y)
            if host.ndim == 1:
                if host.dtype.kind not in "iub":
                    raise TypeError(f"sparse labels must be integers, got dtype {host.dtype}; use y.astype(int)")
                if host.size and (host.min() < 0 or host.max() >= classes):
                    raise ValueError(
                        f"labels must lie in [0, {classes - 1}] for {classes} outputs, "
                        f"got values from {host.min()} to {host.max()}"
                    )
        y = self.backend.asarray(y)
        if y.ndim == 1:
            if y.shape[0] != samples:
                raise ValueError(f"got {y.shape[0]} labels for {samples} samples")
        elif y.ndim == 2:
            if tuple(y.shape) != (samples, classes):
                raise ValueError(f"one-hot labels of shape {tuple(y.shape)} do not match predictions {(samples, classes)}")
            y = self.backend.xp.astype(y, predictions.dtype)
        else:
            raise ValueError(f"labels must be 1-D class indices or 2-D one-hot rows, got shape {tuple(y.shape)}")
        return y

    def forward(self, y_pred: Any, y_true: Any) -> Any:
        backend, xp = self.backend, self.backend.xp
        y_pred = backend.asfloat(y_pred)
        y_true = self.labels(y_true, y_pred)
        clipped = xp.clip(y_pred, CLIP, 1 - CLIP)
        if y_true.ndim == 1:
            correct_confidences = backend.pick(clipped, y_true)
        else:
            correct_confidences = xp.sum(clipped * y_true, axis=1)
        return -backend.log(correct_confidences)

    def backward(self, dvalues: Any, y_true: Any) -> None:
        backend = self.backend
        dvalues = backend.asfloat(dvalues)
        y_true = self.labels(y_true, dvalues)
        samples, classes = dvalues.shape
        if y_true.ndim == 1:
            y_true = backend.one_hot(y_true, classes, dvalues.dtype)
        self.dinputs = (-y_true / dvalues) / samples


class SoftmaxCategoricalCrossentropy(BackendBound):
    """Softmax followed by categorical cross-entropy, with the fast combined backward ``(s - y) / n``.

    ``forward(inputs, y)`` (chapters 9–17) runs both and returns the mean loss; a ``Model`` runs
    the Softmax and the loss itself and uses only ``backward``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.activation = Softmax()
        self.loss = CategoricalCrossentropy()

    def forward(self, inputs: Any, y_true: Any) -> float:
        self.activation.forward(inputs)
        self.output = self.activation.output
        return self.loss.calculate(self.output, y_true)

    def backward(self, dvalues: Any, y_true: Any) -> None:
        backend = self.backend
        dvalues = backend.asfloat(dvalues)
        y_true = self.loss.labels(y_true, dvalues)
        if y_true.ndim == 2:
            y_true = backend.xp.argmax(y_true, axis=1)
        self.dinputs = backend.softmax_cce_backward(dvalues, y_true)
