"""NumPy on the CPU: the reference backend, its hot ops fused by numba where it is installed.

``NumpyBackend`` takes each op from the first of: the fused numba kernels (``numba_ops.py``), the
NumPy rewrites here (``NumpyUfuncs``), the generic code. The rewrites compute the same
floating-point operations as the generic code, so results are the same numbers (ReLU's gradient
may be -0.0 where the generic code gives 0.0), but they write into preallocated buffers: on large
layers a fresh temporary costs more than the arithmetic, because the operating system must hand
over and zero new pages. Scratch buffers are per thread, so models trained in parallel threads on
one backend do not share them.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np

from .base import Backend
from .cpu_threads import WORKERS
from .scratch import CACHED_OTHER_SHAPES, cached
from . import numba_ops

#: rows up to this long are handled as a transposed copy: a few long passes instead of NumPy's
#: per-row loop, which costs far more than the arithmetic for the few classes of a classifier. A
#: softmax's row sum goes that way only below 8 columns, where NumPy's own sum still adds in order
#: (pairwise summation starts at 8), so the results stay bit for bit the same.
SHORT_ROW_MAX = 32
SHORT_ROW_SUM = 7
#: a row (a bias, ReLU's zeros) narrower than this is tiled to about this width before it is
#: broadcast over a batch, for the same reason
TILED_ROW_WIDTH = 1024
#: how many shapes of each kind of scratch array a thread keeps: those keyed by a batch size (a
#: training run has two or three, a program predicting on many sizes must not keep one for each),
#: and the others, keyed by a parameter's or a layer's shape (scratch.CACHED_OTHER_SHAPES: one per shape a model has)
CACHED_BATCH_SHAPES = 8


#: element-wise updates of arrays at least this large run block by block: the dozen passes of an
#: optimizer update then stay within a block that fits in the cache instead of streaming the whole
#: array through memory a dozen times, and the blocks are shared among threads
BLOCKED_MIN_ELEMENTS = 1 << 20
BLOCK_ELEMENTS = 1 << 18


@functools.lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="nnfs_gpu")


if hasattr(os, "register_at_fork"):  # a forked child inherits the pool but not its threads
    os.register_at_fork(after_in_child=_pool.cache_clear)


def _in_blocks(update: Callable) -> Callable:
    """Runs an in-place element-wise update of a large array over blocks of rows, in threads.

    NumPy releases the GIL inside its loops, so the cores share a memory-bound optimizer step; each
    element sees the same operations, so the numbers are the same. The leading array arguments are
    split (their rows line up); the trailing scalars are passed to every block. Each thread takes a
    contiguous run of blocks (the calling thread the first). Arrays of mixed dtypes (book precision's
    float64 gradients of float32 parameters) take the generic update: the scratch passes here would
    compute in the gradient's dtype where the generic code rounds to the parameter's.
    """

    @functools.wraps(update)
    def run(self: "NumpyUfuncs", *args: Any) -> None:
        count = next(index for index, arg in enumerate(args) if not isinstance(arg, np.ndarray))
        arrays, scalars = args[:count], args[count:]
        first = arrays[0]
        if any(array.dtype != first.dtype for array in arrays):
            return getattr(Backend, update.__name__)(self, *args)
        if first.size < BLOCKED_MIN_ELEMENTS:
            return update(self, *args)
        rows = first.shape[0]
        block = max(1, BLOCK_ELEMENTS * rows // first.size)
        starts = range(0, rows, block)
        per_thread = -(-len(starts) // WORKERS)

        def work(part: range) -> None:
            for start in part:
                update(self, *(array[start : start + block] for array in arrays), *scalars)

        parts = [starts[index : index + per_thread] for index in range(0, len(starts), per_thread)]
        jobs = [_pool().submit(work, part) for part in parts[1:]]
        try:
            work(parts[0])
        finally:
            concurrent.futures.wait(jobs)  # every block finishes before an error reaches the caller
        for job in jobs:
            job.result()
        return None

    return run


def _row_max(x: np.ndarray) -> np.ndarray:
    """``np.max(x, axis=1, keepdims=True)``, short rows over a transposed copy."""
    if x.shape[1] > SHORT_ROW_MAX or x.shape[1] == 0:
        return np.maximum.reduce(x, axis=1, keepdims=True)
    return np.maximum.reduce(np.ascontiguousarray(x.T), axis=0)[:, np.newaxis]


class NumpyUfuncs(Backend):
    """NumPy on the CPU with the hot ops as NumPy calls into reused buffers."""

    name = "numpy"
    array_library = "numpy"
    supports_views = True
    reuses_step_arrays = True

    def __init__(self, dtype: str = "float32", precision: str | None = None, device: Any = None) -> None:
        super().__init__(dtype, precision, device)
        self._per_thread = threading.local()

    def _load_namespace(self) -> Any:
        import array_api_compat.numpy

        return array_api_compat.numpy

    def _default_device(self) -> Any:
        return "cpu"

    def describe(self) -> str:
        return f"NumPy {np.__version__} on the CPU, {self.dtype_name}"

    def owns(self, array: Any) -> bool:
        return isinstance(array, np.ndarray)

    def _cached(self, kind: str, key: tuple, make: Any, keep: int = CACHED_OTHER_SHAPES) -> Any:
        """This thread's cached ``make()`` for ``key`` (scratch buffers, rows of zeros or ones); the
        last ``keep`` keys of each kind stay."""
        return cached(self._per_thread, kind, key, make, keep)

    def _buffers(self, like: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Two scratch arrays shaped like ``like``, reused by every update of that shape."""
        return self._cached("scratch", (like.shape, like.dtype), lambda: (np.empty_like(like), np.empty_like(like)))

    def dot(self, a: Any, b: Any, out: Any = None) -> Any:
        """NumPy's matmul itself (not array-api-compat's wrapper around it), into ``out`` directly
        when it is given, with no temporary (matmul, not np.dot: nnfs.init() replaces np.dot with
        a float64 round trip)."""
        if out is None:
            return np.matmul(a, b)
        if out.dtype == np.result_type(a, b) and out.flags.c_contiguous:
            return np.matmul(a, b, out=out)
        return super().dot(a, b, out)

    def sum_rows(self, x: Any, out: Any = None) -> Any:
        """With a cached row of ones, straight into ``out``."""
        if out is not None and not out.flags.c_contiguous:
            return super().sum_rows(x, out)
        ones = self._cached("ones_rows", (x.shape[0], x.dtype), lambda: np.ones((1, x.shape[0]), dtype=x.dtype),
                            keep=CACHED_BATCH_SHAPES)
        return np.matmul(ones, x, out=out)

    def _with_row(self, ufunc: np.ufunc, x: Any, row: Any, out: Any) -> Any:
        """``ufunc(x, row, out=out)`` for one row broadcast over every row of ``x``. Rows narrower
        than TILED_ROW_WIDTH go over a wider view with the row tiled, since NumPy's inner loop would
        otherwise run once per short row: the same operation on every element."""
        rows, width = x.shape
        repeats = TILED_ROW_WIDTH // width if width else 0
        if repeats < 2 or rows < repeats or not x.flags.c_contiguous or not (out is None or out.flags.c_contiguous):
            return ufunc(x, row, out=out)
        out = np.empty_like(x) if out is None else out
        tiled = self._cached("tiled_rows", (repeats, width, x.dtype), lambda: np.empty((repeats, width), x.dtype))
        np.copyto(tiled, row)
        whole = rows - rows % repeats
        wide = (-1, repeats * width)
        ufunc(x[:whole].reshape(wide), tiled.reshape(1, -1), out=out[:whole].reshape(wide))
        ufunc(x[whole:], row, out=out[whole:])
        return out

    def relu(self, x: Any, out: Any = None) -> Any:
        """``max(x, 0)`` against a row of zeros: NumPy's scalar-operand loop is 2-3x slower."""
        zeros = self._cached("zero_rows", (x.shape[1:], x.dtype), lambda: np.zeros((1, *x.shape[1:]), dtype=x.dtype))
        return self._with_row(np.maximum, x, zeros, out)

    def relu_backward(self, dvalues: Any, inputs: Any, out: Any = None) -> Any:
        return np.multiply(dvalues, inputs > 0, out=out)

    def add_bias(self, output: Any, biases: Any) -> None:
        self._with_row(np.add, output, biases, output)

    def softmax(self, x: Any, out: Any = None) -> Any:
        if 0 < x.shape[1] <= SHORT_ROW_SUM:
            return self._softmax_of_short_rows(x, out)
        exp_values = np.subtract(x, _row_max(x), out=out)
        np.exp(exp_values, out=exp_values)
        exp_values /= np.add.reduce(exp_values, axis=1, keepdims=True)
        return exp_values

    def _softmax_of_short_rows(self, x: Any, out: Any) -> Any:
        """The whole softmax on the transposed rows (one long pass per class), then back."""
        columns = x.T.copy()  # always a copy: for one row or one class x.T is contiguous already
        np.subtract(columns, np.maximum.reduce(columns, axis=0), out=columns)
        np.exp(columns, out=columns)
        columns /= np.add.reduce(columns, axis=0)
        if out is None:
            return columns.T.copy()
        np.copyto(out, columns.T)
        return out

    def _flat_indices(self, labels: Any, rows: int, classes: int) -> Any:
        """Where ``values[i, labels[i]]`` lies in ``values.reshape(-1)``: one gather instead of
        fancy indexing over two axes (labels are range-checked on the host before they get here)."""
        row_starts = self._cached("row_starts", (rows, classes), lambda: np.arange(0, rows * classes, classes),
                                  keep=CACHED_BATCH_SHAPES)
        return row_starts + labels.astype(np.intp, copy=False)  # uint64 + int64 would give float64

    def pick(self, values: Any, labels: Any) -> Any:
        rows, classes = values.shape
        return np.take(values.reshape(-1), self._flat_indices(labels, rows, classes))

    def softmax_cce_backward(self, softmax_output: Any, labels: Any, out: Any = None) -> Any:
        samples, classes = softmax_output.shape
        contiguous = out is not None and out.flags.c_contiguous
        dinputs = out if contiguous else np.empty_like(softmax_output, order="C")
        np.copyto(dinputs, softmax_output)
        dinputs.reshape(-1)[self._flat_indices(labels, samples, classes)] -= 1
        dinputs /= samples
        return dinputs if out is None or contiguous else self._write(out, dinputs)

    @_in_blocks
    def momentum_update(self, param: Any, grad: Any, momentums: Any, learning_rate: float, momentum: float) -> None:
        step, _ = self._buffers(grad)
        momentums *= momentum
        np.multiply(grad, learning_rate, out=step)
        momentums -= step
        param += momentums

    @_in_blocks
    def sgd_update(self, param: Any, grad: Any, learning_rate: float) -> None:
        step, _ = self._buffers(grad)
        np.multiply(grad, learning_rate, out=step)
        param -= step

    def _apply(self, param: Any, grad: Any, denominator_source: Any, learning_rate: float, epsilon: float,
               numerator_source: Any = None, numerator_scale: float = 1.0, denominator_scale: float = 1.0) -> None:
        """``param += (-lr * (numerator / n_scale)) / (sqrt(denominator / d_scale) + epsilon)``, in scratch."""
        numerator, denominator = self._buffers(grad)
        source = grad if numerator_source is None else numerator_source
        if numerator_scale == 1.0:  # x / 1 is x exactly: skip the pass
            np.multiply(source, -learning_rate, out=numerator)
        else:
            np.divide(source, numerator_scale, out=numerator)
            numerator *= -learning_rate
        if denominator_scale == 1.0:
            np.sqrt(denominator_source, out=denominator)
        else:
            np.divide(denominator_source, denominator_scale, out=denominator)
            np.sqrt(denominator, out=denominator)
        denominator += epsilon
        numerator /= denominator
        param += numerator

    @_in_blocks
    def adagrad_update(self, param: Any, grad: Any, cache: Any, learning_rate: float, epsilon: float) -> None:
        squared, _ = self._buffers(grad)
        np.multiply(grad, grad, out=squared)
        cache += squared
        self._apply(param, grad, cache, learning_rate, epsilon)

    @_in_blocks
    def rmsprop_update(self, param: Any, grad: Any, cache: Any, learning_rate: float, rho: float, epsilon: float) -> None:
        squared, _ = self._buffers(grad)
        np.multiply(grad, grad, out=squared)
        squared *= 1 - rho
        cache *= rho
        cache += squared
        self._apply(param, grad, cache, learning_rate, epsilon)

    @_in_blocks
    def adam_update(self, param: Any, grad: Any, momentums: Any, cache: Any, learning_rate: float, beta_1: float,
                    beta_2: float, epsilon: float, step: int) -> None:
        scaled, _ = self._buffers(grad)
        momentums *= beta_1
        np.multiply(grad, 1 - beta_1, out=scaled)
        momentums += scaled
        np.multiply(grad, grad, out=scaled)
        scaled *= 1 - beta_2
        cache *= beta_2
        cache += scaled
        self._apply(param, grad, cache, learning_rate, epsilon, momentums, 1 - beta_1**step, 1 - beta_2**step)


#: numba's layer only where it can run: without it, each op would step through a layer that falls back
_FUSED_LAYERS = (numba_ops.NumbaOps,) if numba_ops.wanted() else ()


class NumpyBackend(*_FUSED_LAYERS, NumpyUfuncs):  # type: ignore[misc]
    """NumPy on the CPU: numba's fused kernels where they apply, NumPy's own passes elsewhere."""
