"""The NumPy backend's hot ops through fused numba kernels (``numba_kernels.py``), when numba is there.

``NumbaOps`` is mixed in before the NumPy backend's own overrides: each op runs its kernel where
the kernel applies (C-contiguous float32 or float64 arrays of one dtype, integer labels) and falls
back with ``super()`` everywhere else, with the same numbers either way. Without numba, or with
``NNFS_GPU_NUMBA=0``, the NumPy backend leaves this layer out (``wanted``), so its ops cost no more
than NumPy's own. Exponentials and logarithms stay NumPy's, called
between the kernels. numba is imported on the first op that could use it, not with nnfs_gpu.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import warnings
from types import ModuleType
from typing import Any

import numpy as np

from .base import CLIP, dropout_draws, running_sum
from .cpu_threads import WORKERS

NUMBA_VARIABLE = "NNFS_GPU_NUMBA"
FUSED_DTYPES = (np.dtype("float32"), np.dtype("float64"))


def wanted() -> bool:
    """Whether numba may run the kernels: installed (found, not yet imported) and not turned off."""
    return os.environ.get(NUMBA_VARIABLE, "").strip() != "0" and importlib.util.find_spec("numba") is not None


@functools.cache
def kernels() -> ModuleType | None:
    """The compiled kernels, or None: numba missing, broken, or turned off by NNFS_GPU_NUMBA=0."""
    if not wanted():
        return None
    try:
        from . import numba_kernels
    except ImportError:
        return None
    except Exception as error:  # a broken numba must not break training: NumPy does it all
        warnings.warn(f"numba failed to load ({error}); the NumPy backend runs without fused kernels", stacklevel=3)
        return None
    numba_kernels.set_threads(WORKERS)
    return numba_kernels


def _fused(*arrays: Any) -> ModuleType | None:
    """The kernels, when they take these arrays: C-contiguous NumPy arrays of one float dtype."""
    compiled = kernels()
    if compiled is None or type(arrays[0]) is not np.ndarray or arrays[0].dtype not in FUSED_DTYPES:
        return None
    dtype = arrays[0].dtype
    for array in arrays:
        if type(array) is not np.ndarray or array.dtype != dtype or not array.flags.c_contiguous:
            return None
    return compiled


def _labels(labels: Any, rows: int) -> bool:
    return isinstance(labels, np.ndarray) and labels.dtype.kind in "iu" and labels.shape == (rows,)


class NumbaOps:
    """Fused kernels for the NumPy backend, each falling back to the backend's own code."""

    def relu(self, x: Any, out: Any = None) -> Any:
        out = np.empty_like(x) if out is None and isinstance(x, np.ndarray) else out
        compiled = _fused(x, out) if getattr(x, "ndim", 0) == 2 else None
        if compiled is None:
            return super().relu(x, out)
        compiled.choose(compiled.relu, x.size)(x, out)
        return out

    def add_bias(self, output: Any, biases: Any) -> None:
        compiled = _fused(output, biases) if getattr(output, "ndim", 0) == 2 and biases.shape == (1, output.shape[1]) else None
        if compiled is None:
            return super().add_bias(output, biases)
        compiled.choose(compiled.add_bias, output.size)(output, biases)
        return None

    def bias_relu(self, z: Any, biases: Any, out: Any = None) -> Any:
        out = np.empty_like(z) if out is None and isinstance(z, np.ndarray) else out
        compiled = _fused(z, biases, out) if getattr(z, "ndim", 0) == 2 and biases.shape == (1, z.shape[1]) else None
        if compiled is None:
            return super().bias_relu(z, biases, out)
        compiled.choose(compiled.bias_relu, z.size)(z, biases, out)
        return out

    def relu_backward(self, dvalues: Any, inputs: Any, out: Any = None) -> Any:
        out = np.empty_like(dvalues) if out is None and isinstance(dvalues, np.ndarray) else out
        compiled = _fused(dvalues, inputs, out) if getattr(dvalues, "ndim", 0) == 2 else None
        if compiled is None or inputs.shape != dvalues.shape:
            return super().relu_backward(dvalues, inputs, out)
        compiled.choose(compiled.relu_backward, dvalues.size)(dvalues, inputs, out)
        return out

    def softmax_cce_backward(self, softmax_output: Any, labels: Any, out: Any = None) -> Any:
        out = np.empty_like(softmax_output) if out is None and isinstance(softmax_output, np.ndarray) else out
        compiled = _fused(softmax_output, out) if getattr(softmax_output, "ndim", 0) == 2 else None
        if compiled is None or not _labels(labels, softmax_output.shape[0]):
            return super().softmax_cce_backward(softmax_output, labels, out)
        compiled.choose(compiled.softmax_cce_backward, softmax_output.size)(softmax_output, labels, out)
        return out

    def crossentropy_sum(self, probabilities: Any, labels: Any, total: Any = None) -> tuple[Any, Any]:
        compiled = _fused(probabilities) if getattr(probabilities, "ndim", 0) == 2 else None
        if compiled is None or not _labels(labels, probabilities.shape[0]) or probabilities.shape[0] == 0:
            return super().crossentropy_sum(probabilities, labels, total)
        scalar = probabilities.dtype.type
        confidences = np.empty(probabilities.shape[0], dtype=probabilities.dtype)
        compiled.picked_and_clipped(probabilities, labels, scalar(CLIP), scalar(1 - CLIP), confidences)
        np.log(confidences, out=confidences)
        batch = -scalar(compiled.pairwise_sum(confidences, 0, confidences.size))
        return batch, running_sum(total, batch)

    def argmax_matches(self, outputs: Any, labels: Any, total: Any = None) -> tuple[Any, Any]:
        compiled = _fused(outputs) if getattr(outputs, "ndim", 0) == 2 and outputs.shape[1] > 0 else None
        if compiled is None or not _labels(labels, outputs.shape[0]):
            return super().argmax_matches(outputs, labels, total)
        batch = np.int64(compiled.argmax_matches(outputs, labels))
        return batch, running_sum(total, batch)

    def dropout_mask(self, shape: tuple[int, ...], keep_probability: float, host_rng: bool = False) -> Any:
        compiled = kernels()
        if compiled is None:
            return super().dropout_mask(shape, keep_probability, host_rng)
        mask = np.empty(shape, dtype=self.dtype_name)
        compiled.scaled_draws(dropout_draws(shape, keep_probability).reshape(-1), float(keep_probability), mask.reshape(-1))
        return mask

    # -- optimizer updates, over the arrays as flat views ---------------------------------------

    def _update(self, op: str, arrays: tuple[Any, ...], *scalars: float) -> bool:
        """Runs the kernel of the update ``op`` (the kernel of the same name) over ``arrays``
        (updated in place) with the op's ``scalars``; False where the kernels do not apply."""
        compiled = _fused(*arrays)
        if compiled is None or any(array.shape != arrays[0].shape for array in arrays):
            return False
        settings = tuple(map(float, compiled.UPDATE_SETTINGS[op](*scalars)))
        compiled.choose(getattr(compiled, op), arrays[0].size)(*arrays, settings)
        return True

    def sgd_update(self, param: Any, grad: Any, learning_rate: float) -> None:
        if not self._update("sgd_update", (param, grad), learning_rate):
            super().sgd_update(param, grad, learning_rate)

    def momentum_update(self, param: Any, grad: Any, momentums: Any, learning_rate: float, momentum: float) -> None:
        if not self._update("momentum_update", (param, grad, momentums), learning_rate, momentum):
            super().momentum_update(param, grad, momentums, learning_rate, momentum)

    def adagrad_update(self, param: Any, grad: Any, cache: Any, learning_rate: float, epsilon: float) -> None:
        if not self._update("adagrad_update", (param, grad, cache), learning_rate, epsilon):
            super().adagrad_update(param, grad, cache, learning_rate, epsilon)

    def rmsprop_update(self, param: Any, grad: Any, cache: Any, learning_rate: float, rho: float, epsilon: float) -> None:
        if not self._update("rmsprop_update", (param, grad, cache), learning_rate, rho, epsilon):
            super().rmsprop_update(param, grad, cache, learning_rate, rho, epsilon)

    def adam_update(self, param: Any, grad: Any, momentums: Any, cache: Any, learning_rate: float, beta_1: float,
                    beta_2: float, epsilon: float, step: int) -> None:
        if not self._update("adam_update", (param, grad, momentums, cache), learning_rate, beta_1, beta_2, epsilon, step):
            super().adam_update(param, grad, momentums, cache, learning_rate, beta_1, beta_2, epsilon, step)
