"""NumPy on the CPU: the reference backend, with the hot ops rewritten to avoid temporaries.

The overrides compute the very same floating-point operations as the generic code (so results are
bit for bit the same), but write into preallocated buffers: on large layers a fresh temporary costs
more than the arithmetic, because the operating system must hand over and zero new pages.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend


#: rows up to this long are reduced column by column: NumPy's per-row reduction loop costs far more
#: than the arithmetic for the few classes of a classifier. Sums stop below 8 columns, where NumPy
#: switches from adding in order to pairwise summation, so the results stay bit for bit the same.
SHORT_ROW_MAX = 32
SHORT_ROW_SUM = 7


def _row_reduce(ufunc: np.ufunc, x: np.ndarray, short: int) -> np.ndarray:
    """``ufunc.reduce(x, axis=1, keepdims=True)``, the same numbers, faster for short rows."""
    if x.shape[1] > short or x.shape[1] == 0:
        return ufunc.reduce(x, axis=1, keepdims=True)
    result = x[:, 0:1].copy()
    for column in range(1, x.shape[1]):
        ufunc(result, x[:, column : column + 1], out=result)
    return result


class NumpyBackend(Backend):
    name = "numpy"
    array_library = "numpy"

    def __init__(self, dtype: str = "float32", precision: str = "default") -> None:
        super().__init__(dtype, precision)
        self._scratch: dict[tuple[tuple[int, ...], Any], tuple[np.ndarray, np.ndarray]] = {}
        self._zeros: dict[tuple[tuple[int, ...], Any], np.ndarray] = {}

    def _load_namespace(self) -> Any:
        import array_api_compat.numpy

        return array_api_compat.numpy

    def _default_device(self) -> Any:
        return "cpu"

    def describe(self) -> str:
        return f"NumPy {np.__version__} on the CPU, {self.dtype_name}"

    def owns(self, array: Any) -> bool:
        return isinstance(array, np.ndarray)

    def _buffers(self, like: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Two scratch arrays shaped like ``like``, reused by every update of that shape."""
        key = (like.shape, like.dtype)
        if key not in self._scratch:
            self._scratch[key] = (np.empty_like(like), np.empty_like(like))
        return self._scratch[key]

    def dot(self, a: Any, b: Any, out: Any = None) -> Any:
        if self.precision == "book" and a.dtype != np.float64:
            return super().dot(a, b)
        if (
            out is not None
            and out.shape == (a.shape[0], b.shape[1])
            and out.dtype == np.result_type(a, b)
            and out.flags.c_contiguous
        ):
            return np.matmul(a, b, out=out)
        return np.matmul(a, b)  # not np.dot, which nnfs.init() replaces with a float64 round trip

    def relu(self, x: Any) -> Any:
        """``max(x, 0)`` against an array of zeros: NumPy's scalar-operand loop is ~3x slower."""
        key = (x.shape, x.dtype)
        zeros = self._zeros.get(key)
        if zeros is None:
            zeros = self._zeros[key] = np.zeros_like(x)
        return np.maximum(x, zeros)

    def relu_backward(self, dvalues: Any, inputs: Any) -> Any:
        return dvalues * (inputs > 0)

    def softmax(self, x: Any) -> Any:
        if self.precision == "book":
            return super().softmax(x)
        exp_values = np.subtract(x, _row_reduce(np.maximum, x, SHORT_ROW_MAX))
        np.exp(exp_values, out=exp_values)
        exp_values /= _row_reduce(np.add, exp_values, SHORT_ROW_SUM)
        return exp_values

    def softmax_cce_backward(self, softmax_output: Any, labels: Any) -> Any:
        samples = softmax_output.shape[0]
        dinputs = softmax_output.copy()
        dinputs[np.arange(samples), labels] -= 1
        dinputs /= samples
        return dinputs

    def momentum_update(self, param: Any, grad: Any, momentums: Any, learning_rate: float, momentum: float) -> None:
        step, _ = self._buffers(grad)
        momentums *= momentum
        np.multiply(grad, learning_rate, out=step)
        momentums -= step
        param += momentums

    def sgd_update(self, param: Any, grad: Any, learning_rate: float) -> None:
        step, _ = self._buffers(grad)
        np.multiply(grad, learning_rate, out=step)
        param -= step

    def _apply(self, param: Any, grad: Any, denominator_source: Any, learning_rate: float, epsilon: float,
               numerator_source: Any = None, numerator_scale: float = 1.0, denominator_scale: float = 1.0) -> None:
        """``param += (-lr * (numerator / n_scale)) / (sqrt(denominator / d_scale) + epsilon)``, in scratch."""
        numerator, denominator = self._buffers(grad)
        np.divide(grad if numerator_source is None else numerator_source, numerator_scale, out=numerator)
        np.divide(denominator_source, denominator_scale, out=denominator)
        np.sqrt(denominator, out=denominator)
        denominator += epsilon
        numerator *= -learning_rate
        numerator /= denominator
        param += numerator

    def adagrad_update(self, param: Any, grad: Any, cache: Any, learning_rate: float, epsilon: float) -> None:
        squared, _ = self._buffers(grad)
        np.multiply(grad, grad, out=squared)
        cache += squared
        self._apply(param, grad, cache, learning_rate, epsilon)

    def rmsprop_update(
        self, param: Any, grad: Any, cache: Any, learning_rate: float, rho: float, epsilon: float
    ) -> None:
        squared, _ = self._buffers(grad)
        np.multiply(grad, grad, out=squared)
        squared *= 1 - rho
        cache *= rho
        cache += squared
        self._apply(param, grad, cache, learning_rate, epsilon)

    def adam_update(
        self,
        param: Any,
        grad: Any,
        momentums: Any,
        cache: Any,
        learning_rate: float,
        beta_1: float,
        beta_2: float,
        epsilon: float,
        step: int,
    ) -> None:
        scaled, _ = self._buffers(grad)
        momentums *= beta_1
        np.multiply(grad, 1 - beta_1, out=scaled)
        momentums += scaled
        np.multiply(grad, grad, out=scaled)
        scaled *= 1 - beta_2
        cache *= beta_2
        cache += scaled
        self._apply(param, grad, cache, learning_rate, epsilon, momentums, 1 - beta_1**step, 1 - beta_2**step)
