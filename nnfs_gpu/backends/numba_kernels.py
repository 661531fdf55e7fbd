"""Fused CPU kernels, compiled by numba, for the NumPy backend's hot ops: one pass where NumPy makes several.

Each kernel computes the same floating-point operations as the NumPy code it replaces, in the same
order and dtype: scalars are rounded to the arrays' dtype first, as NumPy rounds Python scalars,
nothing is compiled with fastmath, and LLVM does not contract a multiply and an add into an FMA
unless told to. Sums follow NumPy's pairwise summation exactly (``pairwise_sum``). Exponentials and
logarithms stay NumPy's (its SIMD ``exp``/``log`` differ from libm's in the last bit), so kernels
stop before them and the backend calls NumPy in between. Results are therefore bit for bit those of
the NumPy code (tests/test_fast_paths.py checks each kernel, tests/test_numba.py whole runs).

Each kernel is compiled twice: serially, and with its outer loop spread over threads for arrays of
at least PARALLEL_MIN_ELEMENTS. Compiled code is cached on disk by numba, so only the first run on a
machine pays the compile time. This module imports numba; the NumPy backend imports it only when
numba is installed and ``NNFS_GPU_NUMBA`` is not 0.
"""

from __future__ import annotations

import os
import threading
import types
from typing import Any, Callable

import numba
import numpy as np
from numba import prange

if "NUMBA_THREADING_LAYER" not in os.environ:
    # numba's own pool survives a fork (GNU OpenMP kills a forked child that computes in parallel);
    # it must not run two parallel regions at once, so only the main thread uses it (``choose``)
    numba.config.THREADING_LAYER = "workqueue"

#: arrays at least this large run on several threads (below it, starting them costs more)
PARALLEL_MIN_ELEMENTS = 1 << 16
#: NumPy's pairwise summation adds blocks of at most this many values with 8 accumulators
PAIRWISE_BLOCK = 128
#: frames of the halving walk: enough for 2**60 values
STACK_DEPTH = 64


def _serial_and_parallel(function: Callable) -> tuple[Any, Any]:
    """The kernel compiled serially and, as a copy under its own name (numba caches by name), in
    parallel over its ``prange`` loop."""
    copy = types.FunctionType(function.__code__, function.__globals__, f"parallel_{function.__name__}",
                              function.__defaults__, function.__closure__)
    copy.__qualname__ = f"parallel_{function.__qualname__}"
    return numba.njit(cache=True)(function), numba.njit(cache=True, parallel=True)(copy)


def choose(kernels: tuple[Any, Any], size: int) -> Any:
    """The serial kernel for small arrays and in threads other than the main one, the parallel one
    for large arrays in the main thread."""
    return kernels[size >= PARALLEL_MIN_ELEMENTS and threading.current_thread() is threading.main_thread()]


@numba.njit(cache=True)
def _block_sum(values: np.ndarray, start: int, count: int) -> Any:
    """NumPy's sum of at most PAIRWISE_BLOCK values: in order below 8 values, else 8 accumulators."""
    if count < 8:
        total = values[start] - values[start]
        for index in range(count):
            total += values[start + index]
        return total
    r0, r1, r2, r3 = values[start], values[start + 1], values[start + 2], values[start + 3]
    r4, r5, r6, r7 = values[start + 4], values[start + 5], values[start + 6], values[start + 7]
    index = 8
    while index < count - count % 8:
        at = start + index
        r0 += values[at]
        r1 += values[at + 1]
        r2 += values[at + 2]
        r3 += values[at + 3]
        r4 += values[at + 4]
        r5 += values[at + 5]
        r6 += values[at + 6]
        r7 += values[at + 7]
        index += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while index < count:
        total += values[start + index]
        index += 1
    return total


@numba.njit(cache=True)
def pairwise_sum(values: np.ndarray, start: int, count: int) -> Any:
    """``values[start:start + count].sum()`` exactly as NumPy adds (``pairwise_sum`` in its
    loops_utils.h): blocks of up to 128 values, and above that the sum of the two halves (split at
    a multiple of 8). The halving is walked with an explicit stack (numba's disk cache cannot hold
    recursive functions)."""
    if count <= PAIRWISE_BLOCK:
        return _block_sum(values, start, count)
    starts = np.empty(STACK_DEPTH, np.int64)
    counts = np.empty(STACK_DEPTH, np.int64)
    halves_done = np.zeros(STACK_DEPTH, np.int64)  # 0: none, 1: the left half, 2: both
    sums = np.empty(STACK_DEPTH, values.dtype)
    starts[0], counts[0], frames, results = start, count, 1, 0
    while frames:
        top = frames - 1
        here, size = starts[top], counts[top]
        if size <= PAIRWISE_BLOCK:
            sums[results] = _block_sum(values, here, size)
            results += 1
            frames -= 1
            continue
        half = size // 2
        half -= half % 8
        if halves_done[top] == 2:
            sums[results - 2] = sums[results - 2] + sums[results - 1]
            results -= 1
            frames -= 1
            continue
        left = halves_done[top] == 0
        halves_done[top] += 1
        starts[frames], counts[frames], halves_done[frames] = (here, half, 0) if left else (here + half, size - half, 0)
        frames += 1
    return sums[0]


# -- forward and backward ---------------------------------------------------------------------


def _bias_relu(z: np.ndarray, biases: np.ndarray, out: np.ndarray) -> None:
    """``z += biases`` (in place) and ``out = max(z, 0)`` as ``np.maximum`` (NaN stays NaN)."""
    zero = z.dtype.type(0)
    for row in prange(z.shape[0]):
        for column in range(z.shape[1]):
            value = z[row, column] + biases[0, column]
            z[row, column] = value
            out[row, column] = value if value > zero or value != value else zero


def _relu(x: np.ndarray, out: np.ndarray) -> None:
    zero = x.dtype.type(0)
    for row in prange(x.shape[0]):
        for column in range(x.shape[1]):
            value = x[row, column]
            out[row, column] = value if value > zero or value != value else zero


def _relu_backward(dvalues: np.ndarray, inputs: np.ndarray, out: np.ndarray) -> None:
    """``dvalues * (inputs > 0)``, as NumPy multiplies by a boolean (so 0 * NaN is NaN)."""
    one, zero = dvalues.dtype.type(1), dvalues.dtype.type(0)
    for row in prange(dvalues.shape[0]):
        for column in range(dvalues.shape[1]):
            out[row, column] = dvalues[row, column] * (one if inputs[row, column] > zero else zero)


def _shift_rows(z: np.ndarray, biases: np.ndarray, add_biases: bool, out: np.ndarray) -> None:
    """``z += biases`` in place when ``add_biases``, then ``out = z - max(z, axis=1)``: a
    softmax up to its exponential (NaN rows stay NaN, as ``np.max`` keeps NaN)."""
    for row in prange(z.shape[0]):
        if add_biases:
            for column in range(z.shape[1]):
                z[row, column] = z[row, column] + biases[0, column]
        largest = z[row, 0]
        for column in range(1, z.shape[1]):
            value = z[row, column]
            if value > largest or value != value:
                largest = value
        for column in range(z.shape[1]):
            out[row, column] = z[row, column] - largest


def _normalize_rows(exponentials: np.ndarray) -> None:
    """Divides each row by its sum, added as NumPy adds a contiguous row."""
    for row in prange(exponentials.shape[0]):
        total = pairwise_sum(exponentials[row], 0, exponentials.shape[1])
        for column in range(exponentials.shape[1]):
            exponentials[row, column] = exponentials[row, column] / total


def _softmax_cce_backward(probabilities: np.ndarray, labels: np.ndarray, out: np.ndarray) -> None:
    """``(probabilities - one_hot(labels)) / samples``."""
    samples = probabilities.dtype.type(probabilities.shape[0])
    one = probabilities.dtype.type(1)
    for row in prange(probabilities.shape[0]):
        label = labels[row]
        for column in range(probabilities.shape[1]):
            value = probabilities[row, column]
            out[row, column] = (value - one if column == label else value) / samples


@numba.njit(cache=True)
def picked_and_clipped(values: np.ndarray, labels: np.ndarray, low: Any, high: Any, out: np.ndarray) -> None:
    """``out[i] = min(max(values[i, labels[i]], low), high)``, as the generic clip of the picked values."""
    for row in range(values.shape[0]):
        value = values[row, labels[row]]
        value = value if value > low or value != value else low
        out[row] = value if value < high or value != value else high


@numba.njit(cache=True)
def argmax_matches(outputs: np.ndarray, labels: np.ndarray) -> int:
    """How many rows have their largest value (the first; a NaN counts as largest, as in
    ``np.argmax``) at their label."""
    right = 0
    for row in range(outputs.shape[0]):
        best, best_value = 0, outputs[row, 0]
        if best_value == best_value:
            for column in range(1, outputs.shape[1]):
                value = outputs[row, column]
                if value != value:
                    best = column
                    break
                if value > best_value:
                    best, best_value = column, value
        right += best == labels[row]
    return right


# -- optimizer updates, element by element over flat arrays -----------------------------------------


def _sgd(param: np.ndarray, grad: np.ndarray, learning_rate: Any) -> None:
    for index in prange(param.size):
        param[index] = param[index] - grad[index] * learning_rate


def _momentum(param: np.ndarray, grad: np.ndarray, momentums: np.ndarray, learning_rate: Any, momentum: Any) -> None:
    for index in prange(param.size):
        velocity = momentums[index] * momentum - grad[index] * learning_rate
        momentums[index] = velocity
        param[index] = param[index] + velocity


def _adagrad(param: np.ndarray, grad: np.ndarray, cache: np.ndarray, learning_rate: Any, epsilon: Any) -> None:
    negative_rate = -learning_rate
    for index in prange(param.size):
        gradient = grad[index]
        accumulated = cache[index] + gradient * gradient
        cache[index] = accumulated
        param[index] = param[index] + (gradient * negative_rate) / (np.sqrt(accumulated) + epsilon)


def _rmsprop(param: np.ndarray, grad: np.ndarray, cache: np.ndarray, learning_rate: Any, rho: Any,
             one_minus_rho: Any, epsilon: Any) -> None:
    negative_rate = -learning_rate
    for index in prange(param.size):
        gradient = grad[index]
        accumulated = cache[index] * rho + (gradient * gradient) * one_minus_rho
        cache[index] = accumulated
        param[index] = param[index] + (gradient * negative_rate) / (np.sqrt(accumulated) + epsilon)


def _adam(param: np.ndarray, grad: np.ndarray, momentums: np.ndarray, cache: np.ndarray, learning_rate: Any,
          beta_1: Any, one_minus_beta_1: Any, beta_2: Any, one_minus_beta_2: Any, epsilon: Any,
          momentum_correction: Any, cache_correction: Any) -> None:
    negative_rate = -learning_rate
    for index in prange(param.size):
        gradient = grad[index]
        momentum = momentums[index] * beta_1 + gradient * one_minus_beta_1
        accumulated = cache[index] * beta_2 + (gradient * gradient) * one_minus_beta_2
        momentums[index] = momentum
        cache[index] = accumulated
        step = (momentum / momentum_correction) * negative_rate
        param[index] = param[index] + step / (np.sqrt(accumulated / cache_correction) + epsilon)


bias_relu = _serial_and_parallel(_bias_relu)
relu = _serial_and_parallel(_relu)
relu_backward = _serial_and_parallel(_relu_backward)
shift_rows = _serial_and_parallel(_shift_rows)
normalize_rows = _serial_and_parallel(_normalize_rows)
softmax_cce_backward = _serial_and_parallel(_softmax_cce_backward)
sgd = _serial_and_parallel(_sgd)
momentum = _serial_and_parallel(_momentum)
adagrad = _serial_and_parallel(_adagrad)
rmsprop = _serial_and_parallel(_rmsprop)
adam = _serial_and_parallel(_adam)


def set_threads(count: int) -> None:
    """How many threads the parallel kernels use (at most numba's pool)."""
    numba.set_num_threads(max(1, min(count, numba.config.NUMBA_NUM_THREADS)))
