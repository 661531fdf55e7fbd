"""Losses: the book's ``Loss`` protocol, categorical and binary cross-entropy, MSE, MAE, and the
fused softmax + categorical cross-entropy.

``calculate`` returns what the book's ``np.mean`` returns, a NumPy scalar of the losses' dtype (so
``print('loss:', loss)`` shows the book's ``loss: 1.0986104``); on a GPU that reads the value back
from the device. ``Model`` uses ``accumulate`` instead, which keeps everything on the device until
a number is printed.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ._bound import BackendBound, PassMean
from .activations import Softmax
from .backends.base import running_sum

#: how far a row of 2-D categorical targets may sum from 1 (probabilities rounded to a few digits pass)
ROW_SUM_TOLERANCE = 1e-3


@functools.cache
def is_integral(xp: Any, dtype: Any) -> bool:
    """``xp.isdtype(dtype, "integral")``, remembered: NumPy's takes microseconds, twice a step."""
    return xp.isdtype(dtype, "integral")


class Loss(PassMean):
    """Base of all losses: ``forward`` gives per-sample losses, ``calculate`` their mean.

    ``forward`` and ``backward`` convert and check their inputs once (``targets``), then apply the
    formula of the subclass (``_forward``, ``_backward``). ``checked=True`` says the targets are a
    slice of targets whose values were checked already (as ``Model.train`` checks a data set once):
    only their shape is checked again.
    """

    transient = ("dinputs", "forward_targets")
    #: the host targets the last forward pass checked, whose values its backward pass trusts
    forward_targets: Any = None

    def __init__(self) -> None:
        super().__init__()
        self.trainable_layers: list = []

    # -- targets ------------------------------------------------------------------------------

    def predictions_batch(self, values: Any, name: str) -> Any:
        """Predictions (or the output they came from) on this backend, checked to be one row per sample."""
        values = self.backend.asfloat(values)
        if values.ndim != 2:
            raise ValueError(f"{self!r}: {name} must be 2-D (samples, outputs), got shape {tuple(values.shape)}")
        return values

    def targets(self, y: Any, shape: tuple[int, int], dtype: Any, *, checked: bool = False, backward: bool = False) -> Any:
        """Targets for predictions of ``shape`` and float ``dtype``, checked, on this backend, in the
        form the formula takes. Host targets are checked on the host before they move (their values
        too, unless ``checked``, or unless a ``backward`` pass gets the very array its forward pass
        checked, as the book's loops pass it); device targets by shape and dtype only, so that
        nothing is read back."""
        given = y
        if self.backend.comes_from_host(y):
            checked = checked or (backward and y is self.forward_targets)
            y = self.backend.host_data(y)
        self.check_targets(y, *shape, values=not checked)
        if not backward:
            self.forward_targets = given
        return self._computable(y, dtype)

    def check_targets(self, y: Any, samples: int, outputs: int, *, values: bool = True) -> None:
        """Checks the shape and dtype of targets for a ``(samples, outputs)`` prediction, and the
        values of host targets when ``values`` is set."""
        if tuple(y.shape) != (samples, outputs):
            hint = "; reshape them with y.reshape(-1, 1)" if y.ndim == 1 and outputs == 1 else ""
            raise ValueError(f"targets of shape {tuple(y.shape)} do not match predictions of shape {(samples, outputs)}{hint}")
        if self.backend.comes_from_host(y):
            if y.dtype.kind not in "iubf":
                raise TypeError(f"targets must be numbers, got dtype {y.dtype}")
            if values:
                self._check_values(y)

    def _check_values(self, y: np.ndarray) -> None:
        """Checks the values of host targets of the right shape (a subclass adds its range)."""
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError("targets contain NaN or infinity; clean the data before training")

    def _computable(self, y: Any, dtype: Any) -> Any:
        """Targets (host data or this backend's) on this backend in the form the formula computes
        with: floats of the predictions' ``dtype``, or as the backend converts floats (book precision
        keeps float64 targets, as the book's NumPy does). Host targets are cast on the host before
        they move, so a device without float64 (MPS) never receives a float64 array."""
        if self.backend.comes_from_host(y):
            return self.backend.asfloat(y)
        return y if y.dtype == dtype else self.backend.asfloat(y)

    # -- the book's protocol --------------------------------------------------------------------

    def forward(self, y_pred: Any, y_true: Any, *, checked: bool = False) -> Any:
        """Per-sample losses of ``y_pred`` (a backend array of shape (samples, outputs))."""
        y_pred = self.predictions_batch(y_pred, "predictions")
        return self._forward(y_pred, self.targets(y_true, y_pred.shape, y_pred.dtype, checked=checked))

    def backward(self, dvalues: Any, y_true: Any, *, checked: bool = False) -> None:
        """Sets ``dinputs``, the gradient of the mean loss with respect to the predictions ``dvalues``."""
        dvalues = self.predictions_batch(dvalues, "dvalues")
        self.dinputs = self._backward(dvalues, self.targets(y_true, dvalues.shape, dvalues.dtype, checked=checked, backward=True))

    def _forward(self, y_pred: Any, y_true: Any) -> Any:
        raise NotImplementedError

    def _backward(self, dvalues: Any, y_true: Any) -> Any:
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

    def regularization_loss(self, layer: Any = None) -> np.floating:
        """The penalty of one ``layer`` (chapters 14–17) or of the remembered layers (chapter 18 on),
        as a NumPy scalar, as the book's ``np.sum`` gives it."""
        return self._on_host(self.regularization_total(None if layer is None else [layer]))

    def _on_host(self, value: Any) -> np.floating:
        """A 0-d backend array as the NumPy scalar of its dtype."""
        return self.backend.to_numpy(value)[()]

    def accumulate(self, output: Any, y: Any, *, checked: bool = False) -> Any:
        """This batch's summed loss as a 0-d backend array, added to the pass's running total."""
        y_pred = self.predictions_batch(output, "predictions")
        y_true = self.targets(y, y_pred.shape, y_pred.dtype, checked=checked)
        batch, total = self._summed(y_pred, y_true)
        return self._add(batch, total, y_pred.shape[0])

    def _summed(self, y_pred: Any, y_true: Any) -> tuple[Any, Any]:
        """The batch's summed loss and the running total with it (a subclass may fuse the two)."""
        batch = self.backend.xp.sum(self._forward(y_pred, y_true))
        return batch, running_sum(self.running_total, batch)

    def calculate(self, output: Any, y: Any, *, include_regularization: bool = False) -> Any:
        """The mean loss (and the penalty, with ``include_regularization``) as NumPy scalars of the
        losses' dtype, as the book's ``np.mean`` returns it; also added to the pass's running sum."""
        y_pred = self.backend.asfloat(output)
        data_loss = self._on_host(self.accumulate(y_pred, y) / y_pred.shape[0])
        if not include_regularization:
            return data_loss
        return data_loss, self.regularization_loss()

    def calculate_accumulated(self, *, include_regularization: bool = False) -> Any:
        data_loss = self.accumulated_mean()
        if not include_regularization:
            return data_loss
        return data_loss, self.regularization_loss()


class CategoricalCrossentropy(Loss):
    """Categorical cross-entropy for class indices (1-D), or 2-D rows of class probabilities: one-hot
    rows, or soft labels (label smoothing, a teacher's outputs), each in [0, 1] and summing to 1.

    The loss of a row is ``-sum(y * log(clip(y_pred)))``, which for a one-hot row is the book's
    ``-log(clip(y_pred[label]))`` to the last bit; other rows (all zeros, negative, scaled) are
    refused, since nothing then bounds the loss from below.
    """

    def check_targets(self, y: Any, samples: int, outputs: int, *, values: bool = True) -> None:
        if y.ndim == 2:
            return super().check_targets(y, samples, outputs, values=values)
        if y.ndim != 1:
            raise ValueError(f"labels must be 1-D class indices or 2-D one-hot rows, got shape {tuple(y.shape)}")
        if y.shape[0] != samples:
            raise ValueError(f"got {y.shape[0]} labels for {samples} samples")
        host = self.backend.comes_from_host(y)
        integral = y.dtype.kind in "iub" if host else is_integral(self.backend.xp, y.dtype)
        if not integral:
            raise TypeError(f"class labels must be integers, got dtype {y.dtype}; convert them with y.astype(int)")
        if values and host and y.size and (y.min() < 0 or y.max() >= outputs):
            raise ValueError(
                f"labels must lie in [0, {outputs - 1}] for {outputs} outputs, got values from {y.min()} to {y.max()}"
            )

    def _check_values(self, y: np.ndarray) -> None:
        super()._check_values(y)
        if not y.size:
            return
        if y.min() < 0 or y.max() > 1:
            raise ValueError(
                f"2-D categorical targets are class probabilities in [0, 1] (one-hot rows or soft labels), got "
                f"values from {y.min()} to {y.max()}; pass class indices as a 1-D array"
            )
        sums = y.sum(axis=1, dtype=np.float64)
        off = np.flatnonzero(np.abs(sums - 1) > ROW_SUM_TOLERANCE)
        if off.size:
            raise ValueError(
                f"each row of 2-D categorical targets must sum to 1 (one-hot rows or soft labels), but row "
                f"{off[0]} sums to {sums[off[0]]:g}; normalize them with y / y.sum(axis=1, keepdims=True)"
            )

    def _computable(self, y: Any, dtype: Any) -> Any:
        return self.backend.asarray(y) if y.ndim == 1 else super()._computable(y, dtype)

    def _forward(self, y_pred: Any, y_true: Any) -> Any:
        backend = self.backend
        if y_true.ndim == 1:  # clipping the picked values alone gives the same numbers, n instead of n·k clips
            return -backend.log(backend.clip(backend.pick(y_pred, y_true)))
        return -backend.xp.sum(y_true * backend.log(backend.clip(y_pred)), axis=1)

    def _summed(self, y_pred: Any, y_true: Any) -> tuple[Any, Any]:
        if y_true.ndim == 1:
            return self.backend.crossentropy_sum(y_pred, y_true, self.running_total)
        return super()._summed(y_pred, y_true)

    def _backward(self, dvalues: Any, y_true: Any) -> Any:
        samples, classes = dvalues.shape
        if y_true.ndim == 1:
            y_true = self.backend.one_hot(y_true, classes, dvalues.dtype)
        return (-y_true / dvalues) / samples


class SoftmaxCategoricalCrossentropy(BackendBound):
    """Softmax followed by categorical cross-entropy, with the fast combined backward ``(s - y) / n``.

    ``forward(inputs, y)`` (chapters 9–17) runs both and returns the mean loss; a ``Model`` runs
    the Softmax and the loss itself and uses only ``backward``. With 2-D targets (one-hot rows or
    soft labels, rows summing to 1) ``(s - y) / n`` is the gradient of the loss above, so the fused
    and the separate backward agree.
    """

    transient = ("output", "dinputs")

    def __init__(self) -> None:
        super().__init__()
        self.activation = Softmax()
        self.loss = CategoricalCrossentropy()

    def to(self, backend: Any) -> None:
        super().to(backend)
        self.activation.to(backend)
        self.loss.to(backend)

    def forward(self, inputs: Any, y_true: Any) -> np.floating:
        self.activation.forward(inputs)
        self.output = self.activation.output
        return self.loss.calculate(self.output, y_true)

    def backward(self, dvalues: Any, y_true: Any, *, checked: bool = False) -> None:
        backend = self.backend
        dvalues = self.loss.predictions_batch(dvalues, "dvalues")
        y_true = self.loss.targets(y_true, dvalues.shape, dvalues.dtype, checked=checked, backward=True)
        if y_true.ndim == 2:
            self.dinputs = (dvalues - y_true) / dvalues.shape[0]
            return
        self.dinputs = backend.softmax_cce_backward(dvalues, y_true, out=self._step_array("dinputs", dvalues.shape))


class BinaryCrossentropy(Loss):
    """Binary cross-entropy of independent sigmoid outputs, averaged over outputs."""

    def _check_values(self, y: np.ndarray) -> None:
        super()._check_values(y)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(f"binary targets must lie in [0, 1], got values from {y.min()} to {y.max()}")

    def _forward(self, y_pred: Any, y_true: Any) -> Any:
        backend = self.backend
        clipped = backend.clip(y_pred)
        sample_losses = -(y_true * backend.log(clipped) + (1 - y_true) * backend.log(1 - clipped))
        return backend.xp.mean(sample_losses, axis=-1)

    def _backward(self, dvalues: Any, y_true: Any) -> Any:
        samples, outputs = dvalues.shape
        clipped = self.backend.clip(dvalues)
        return (-(y_true / clipped - (1 - y_true) / (1 - clipped)) / outputs) / samples


class MeanSquaredError(Loss):
    def _forward(self, y_pred: Any, y_true: Any) -> Any:
        return self.backend.xp.mean((y_true - y_pred) ** 2, axis=-1)

    def _backward(self, dvalues: Any, y_true: Any) -> Any:
        samples, outputs = dvalues.shape
        return (-2 * (y_true - dvalues) / outputs) / samples


class MeanAbsoluteError(Loss):
    def _forward(self, y_pred: Any, y_true: Any) -> Any:
        xp = self.backend.xp
        return xp.mean(xp.abs(y_true - y_pred), axis=-1)

    def _backward(self, dvalues: Any, y_true: Any) -> Any:
        """The gradient of the mean absolute error, ``sign(prediction - target) / outputs / samples``."""
        samples, outputs = dvalues.shape
        return (self.backend.xp.sign(dvalues - y_true) / outputs) / samples
