"""Losses: the book's ``Loss`` protocol, categorical and binary cross-entropy, MSE, MAE, and the
fused softmax + categorical cross-entropy.

``calculate`` returns Python floats, as the book's printing code expects; that reads values back
from the device. ``Model`` uses ``accumulate`` instead, which keeps everything on the device until
a number is printed.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ._bound import BackendBound
from .activations import Softmax
from .backends import array_origin

CLIP = 1e-7


def clip(xp: Any, values: Any) -> Any:
    """Clips to [CLIP, 1 - CLIP] with two element-wise ops (array-api-compat's generic ``clip``
    uses boolean masks, which read a count back from a GPU)."""
    return xp.minimum(xp.maximum(values, CLIP), 1 - CLIP)


@functools.cache
def is_integral(xp: Any, dtype: Any) -> bool:
    """``xp.isdtype(dtype, "integral")``, remembered: NumPy's takes microseconds, twice a step."""
    return xp.isdtype(dtype, "integral")


def is_host(data: Any) -> bool:
    return array_origin(data) in ("numpy", "builtins")


class Loss(BackendBound):
    """Base of all losses: ``forward`` gives per-sample losses, ``calculate`` their mean."""

    def __init__(self) -> None:
        super().__init__()
        self.trainable_layers: list = []
        self.new_pass()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    # -- targets ------------------------------------------------------------------------------

    def check_host_targets(self, y: np.ndarray, samples: int, outputs: int) -> None:
        """Checks targets for a ``(samples, outputs)`` prediction on the host, before they move."""
        if y.shape != (samples, outputs):
            hint = "; reshape them with y.reshape(-1, 1)" if y.ndim == 1 and outputs == 1 else ""
            raise ValueError(f"targets of shape {y.shape} do not match predictions of shape {(samples, outputs)}{hint}")
        if y.dtype.kind not in "iubf":
            raise TypeError(f"targets must be numbers, got dtype {y.dtype}")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError("targets contain NaN or infinity; clean the data before training")

    #: whether ``targets`` checks the values of host targets; a Model turns it off while it feeds
    #: batches of targets it checked once up front
    checks_target_values = True

    def targets(self, y: Any, predictions: Any) -> Any:
        """Targets on this backend, checked against ``predictions``: host targets fully (cheaply, on
        the host), device targets by shape and dtype only, so that nothing is read back."""
        samples, outputs = predictions.shape
        if is_host(y) and self.checks_target_values:
            self.check_host_targets(np.asarray(y), samples, outputs)
        y = self.backend.asarray(y)
        self.check_device_targets(y, samples, outputs)
        return self.device_targets(y, predictions.dtype)

    def check_device_targets(self, y: Any, samples: int, outputs: int) -> None:
        """Checks targets already on the device by shape only, so that nothing is read back."""
        if tuple(y.shape) != (samples, outputs):
            raise ValueError(f"targets of shape {tuple(y.shape)} do not match predictions of shape {(samples, outputs)}")

    def device_targets(self, y: Any, dtype: Any) -> Any:
        """Targets in the form the loss computes with: the predictions' float dtype."""
        return self.backend.xp.astype(y, dtype) if y.dtype != dtype else y

    # -- the book's protocol --------------------------------------------------------------------

    def forward(self, output: Any, y: Any) -> Any:
        raise NotImplementedError

    def backward(self, dvalues: Any, y: Any) -> None:
        raise NotImplementedError

    def remember_trainable_layers(self, trainable_layers: list) -> None:
        self.trainable_layers = list(trainable_layers)

    def regularization_total(self, layers: list | None = None) -> Any:
        """The L1/L2 penalty of ``layers`` (default: the remembered ones) as a 0-d backend array."""
        xp = self.backend.xp
        total = xp.zeros((), dtype=self.backend.dtype, device=self.backend.device)
        for layer in self.trainable_layers if layers is None else layers:
            if getattr(layer, "has_penalty", True):
                total = total + layer.regularization_loss()
        return total

    def regularization_loss(self, layer: Any = None) -> float:
        """The penalty of one ``layer`` (chapters 14–17) or of the remembered layers (chapter 18 on)."""
        return float(self.regularization_total(None if layer is None else [layer]))

    def accumulate(self, output: Any, y: Any) -> Any:
        """Mean loss of this batch as a 0-d backend array, added to the pass's running sum."""
        sample_losses = self.forward(output, y)
        batch_sum = self.backend.xp.sum(sample_losses)
        self.accumulated_sum = self.accumulated_sum + batch_sum
        self.accumulated_count += sample_losses.shape[0]
        return batch_sum / sample_losses.shape[0]

    def calculate(self, output: Any, y: Any, *, include_regularization: bool = False) -> Any:
        data_loss = float(self.accumulate(output, y))
        if not include_regularization:
            return data_loss
        return data_loss, self.regularization_loss()

    def calculate_accumulated(self, *, include_regularization: bool = False) -> Any:
        if self.accumulated_count == 0:
            raise RuntimeError("no batch was calculated since new_pass()")
        data_loss = float(self.accumulated_sum) / self.accumulated_count
        if not include_regularization:
            return data_loss
        return data_loss, self.regularization_loss()

    def new_pass(self) -> None:
        self.accumulated_sum = 0.0
        self.accumulated_count = 0


class CategoricalCrossentropy(Loss):
    """Categorical cross-entropy for sparse class indices (1-D) or one-hot rows (2-D)."""

    def check_host_targets(self, y: np.ndarray, samples: int, outputs: int) -> None:
        if y.ndim == 2:
            return super().check_host_targets(y, samples, outputs)
        if y.ndim != 1:
            raise ValueError(f"labels must be 1-D class indices or 2-D one-hot rows, got shape {y.shape}")
        if y.shape[0] != samples:
            raise ValueError(f"got {y.shape[0]} labels for {samples} samples")
        if y.dtype.kind not in "iub":
            raise TypeError(f"class labels must be integers, got dtype {y.dtype}; convert them with y.astype(int)")
        if y.size and (y.min() < 0 or y.max() >= outputs):
            raise ValueError(
                f"labels must lie in [0, {outputs - 1}] for {outputs} outputs, got values from {y.min()} to {y.max()}"
            )

    def check_device_targets(self, y: Any, samples: int, outputs: int) -> None:
        if y.ndim == 1:
            if y.shape[0] != samples:
                raise ValueError(f"got {y.shape[0]} labels for {samples} samples")
            if not is_integral(self.backend.xp, y.dtype):
                raise TypeError(f"class labels must be integers, got dtype {y.dtype}; convert them with y.astype(int)")
        else:
            super().check_device_targets(y, samples, outputs)

    def device_targets(self, y: Any, dtype: Any) -> Any:
        return y if y.ndim == 1 else super().device_targets(y, dtype)

    def forward(self, y_pred: Any, y_true: Any) -> Any:
        backend, xp = self.backend, self.backend.xp
        y_pred = backend.asfloat(y_pred)
        y_true = self.targets(y_true, y_pred)
        if y_true.ndim == 1:  # clipping the picked values alone gives the same numbers, n instead of n·k clips
            correct_confidences = clip(xp, backend.pick(y_pred, y_true))
        else:
            correct_confidences = xp.sum(clip(xp, y_pred) * y_true, axis=1)
        return -backend.log(correct_confidences)

    def backward(self, dvalues: Any, y_true: Any) -> None:
        backend = self.backend
        dvalues = backend.asfloat(dvalues)
        y_true = self.targets(y_true, dvalues)
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
        y_true = self.loss.targets(y_true, dvalues)
        if y_true.ndim == 2:
            y_true = backend.xp.argmax(y_true, axis=1)
        self.dinputs = backend.softmax_cce_backward(dvalues, y_true, out=self._step_array("dinputs", dvalues.shape))


class BinaryCrossentropy(Loss):
    """Binary cross-entropy of independent sigmoid outputs, averaged over outputs."""

    def check_host_targets(self, y: np.ndarray, samples: int, outputs: int) -> None:
        super().check_host_targets(y, samples, outputs)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(f"binary targets must lie in [0, 1], got values from {y.min()} to {y.max()}")

    def forward(self, y_pred: Any, y_true: Any) -> Any:
        backend, xp = self.backend, self.backend.xp
        y_pred = backend.asfloat(y_pred)
        y_true = self.targets(y_true, y_pred)
        clipped = clip(xp, y_pred)
        sample_losses = -(y_true * backend.log(clipped) + (1 - y_true) * backend.log(1 - clipped))
        return xp.mean(sample_losses, axis=-1)

    def backward(self, dvalues: Any, y_true: Any) -> None:
        backend = self.backend
        dvalues = backend.asfloat(dvalues)
        y_true = self.targets(y_true, dvalues)
        samples, outputs = dvalues.shape
        clipped = clip(backend.xp, dvalues)
        self.dinputs = (-(y_true / clipped - (1 - y_true) / (1 - clipped)) / outputs) / samples


class MeanSquaredError(Loss):
    def forward(self, y_pred: Any, y_true: Any) -> Any:
        y_pred = self.backend.asfloat(y_pred)
        y_true = self.targets(y_true, y_pred)
        return self.backend.xp.mean((y_true - y_pred) ** 2, axis=-1)

    def backward(self, dvalues: Any, y_true: Any) -> None:
        dvalues = self.backend.asfloat(dvalues)
        y_true = self.targets(y_true, dvalues)
        samples, outputs = dvalues.shape
        self.dinputs = (-2 * (y_true - dvalues) / outputs) / samples


class MeanAbsoluteError(Loss):
    def forward(self, y_pred: Any, y_true: Any) -> Any:
        y_pred = self.backend.asfloat(y_pred)
        y_true = self.targets(y_true, y_pred)
        return self.backend.xp.mean(self.backend.xp.abs(y_true - y_pred), axis=-1)

    def backward(self, dvalues: Any, y_true: Any) -> None:
        """The gradient of the mean absolute error, ``sign(prediction - target) / outputs / samples``."""
        dvalues = self.backend.asfloat(dvalues)
        y_true = self.targets(y_true, dvalues)
        samples, outputs = dvalues.shape
        self.dinputs = (self.backend.xp.sign(dvalues - y_true) / outputs) / samples
