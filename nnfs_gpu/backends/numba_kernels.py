"""Fused CPU kernels, compiled by numba, for the NumPy backend's hot ops: one pass where NumPy makes several.

Each kernel computes the same floating-point operations as the NumPy code it replaces, in the same
order and dtype: scalars are rounded to the arrays' dtype first, as NumPy rounds Python scalars,
nothing is compiled with fastmath, and LLVM does not contract a multiply and an add into an FMA
unless told to. Sums follow NumPy's pairwise summation exactly (``pairwise_sum``). Exponentials and
logarithms stay NumPy's (its SIMD ``exp``/``log`` differ from libm's in the last bit), so kernels
stop before them and the backend calls NumPy in between. The softmax stays NumPy's: measured, its
pass over transposed rows beats a kernel for the few classes of a classifier's head. Results are therefore bit for bit those of
the NumPy code (tests/test_fast_paths.py checks each kernel, tests/test_numba.py whole runs).

Each element-wise kernel is compiled twice: serially, and with its outer loop spread over threads
for arrays of at least PARALLEL_MIN_ELEMENTS; the sums, the picks and the dropout mask run serially.
Compiled code is cached on disk by numba, so only the first run on a machine pays the compile time.
This module imports numba; the NumPy backend imports it only when numba is installed and
``NNFS_GPU_NUMBA`` is not 0.
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

#: arrays at least this large run on several threads (below it, starting them costs more than they save)
PARALLEL_MIN_ELEMENTS = 1 << 20
#: NumPy's pairwise summation adds blocks of at most this many values with 8 accumulators
PAIRWISE_BLOCK = 128
#: frames of the halving walk: enough for 2**60 values
STACK_DEPTH = 64


def _serial_and_parallel(function: Callable) -> tuple[Any, Any]:
    """The kernel compiled serially and, as a copy under its own name (numba caches by name), in
    parallel over its ``prange`` loop. ``error_model="numpy"``: a division by zero gives inf or NaN
    as in NumPy (Python's model would check each division and keep LLVM from vectorizing the loop)."""
    copy = types.FunctionType(function.__code__, function.__globals__, f"parallel_{function.__name__}",
                              function.__defaults__, function.__closure__)
    copy.__qualname__ = f"parallel_{function.__qualname__}"
    return numba.njit(cache=True, error_model="numpy")(function), numba.njit(cache=True, parallel=True, error_model="numpy")(copy)


MAIN_THREAD = threading.main_thread().ident


def choose(kernels: tuple[Any, Any], size: int) -> Any:
    """The serial kernel for small arrays and in threads other than the main one, the parallel one
    for large arrays in the main thread."""
    return kernels[size >= PARALLEL_MIN_ELEMENTS and threading.get_ident() == MAIN_THREAD]


@numba.njit(cache=True, error_model="numpy", inline="always")
def _in_order(values: np.ndarray, start: int, count: int) -> Any:
    """NumPy's sum of fewer than 8 values (at least one): 0 plus each in order. Starting from the
    first value instead gives the same sum, but for the sign of a zero, which ``0 + -0`` makes +0."""
    total = values[start]
    total = total if total != 0 else abs(total)
    for index in range(1, count):
        total += values[start + index]
    return total


@numba.njit(cache=True, error_model="numpy")
def _block_sum(values: np.ndarray, start: int, count: int) -> Any:
    """NumPy's sum of at most PAIRWISE_BLOCK values: in order below 8 values, else 8 accumulators."""
    if count < 8:
        return _in_order(values, start, count)
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


@numba.njit(cache=True, error_model="numpy")
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


def _add_bias(output: np.ndarray, biases: np.ndarray) -> None:
    """``output += biases``, row by row (NumPy's loop runs once per row: slow for a few columns)."""
    for row in prange(output.shape[0]):
        for column in range(output.shape[1]):
            output[row, column] = output[row, column] + biases[0, column]


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


def _softmax_cce_backward(probabilities: np.ndarray, labels: np.ndarray, out: np.ndarray) -> None:
    """``(probabilities - one_hot(labels)) / samples``."""
    samples = probabilities.dtype.type(probabilities.shape[0])
    one = probabilities.dtype.type(1)
    for row in prange(probabilities.shape[0]):
        label = labels[row]
        for column in range(probabilities.shape[1]):
            value = probabilities[row, column]
            out[row, column] = (value - one if column == label else value) / samples


@numba.njit(cache=True, error_model="numpy")
def scaled_draws(draws: np.ndarray, keep_probability: float, out: np.ndarray) -> None:
    """``(draws / keep_probability).astype(out.dtype)``: a dropout mask, divided in float64 as NumPy
    divides int64 draws, without the float64 array in between."""
    for index in range(draws.size):
        out[index] = draws[index] / keep_probability


@numba.njit(cache=True, error_model="numpy")
def picked_and_clipped(values: np.ndarray, labels: np.ndarray, low: Any, high: Any, out: np.ndarray) -> None:
    """``out[i] = min(max(values[i, labels[i]], low), high)``, as the generic clip of the picked values."""
    for row in range(values.shape[0]):
        value = values[row, labels[row]]
        value = value if value > low or value != value else low
        out[row] = value if value < high or value != value else high


@numba.njit(cache=True, error_model="numpy")
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


# -- optimizer updates, element by element over the arrays as flat views ------------------------------
# ``settings`` are Python floats, rounded here to the arrays' dtype, as NumPy rounds a Python scalar
# that meets a float32 array; passing them as one tuple keeps numba's call cheap. Each flat view is
# assigned on its own line: numba 0.68's parallel lowering miscomputes a loop over views that one
# tuple assignment made (tests/test_numba.py caught it).


@numba.njit(cache=True, inline="always")
def _flat(array: np.ndarray) -> np.ndarray:
    return array.reshape(array.size)


@numba.njit(cache=True, inline="always")
def _setting(like: np.ndarray, settings: Any, index: int) -> Any:
    return like.dtype.type(settings[index])


def _sgd_update(param: np.ndarray, grad: np.ndarray, settings: Any) -> None:
    p = _flat(param)
    g = _flat(grad)
    learning_rate = _setting(p, settings, 0)
    for index in prange(p.size):
        p[index] = p[index] - g[index] * learning_rate


def _momentum_update(param: np.ndarray, grad: np.ndarray, momentums: np.ndarray, settings: Any) -> None:
    p = _flat(param)
    g = _flat(grad)
    m = _flat(momentums)
    learning_rate, momentum = _setting(p, settings, 0), _setting(p, settings, 1)
    for index in prange(p.size):
        velocity = m[index] * momentum - g[index] * learning_rate
        m[index] = velocity
        p[index] = p[index] + velocity


def _adagrad_update(param: np.ndarray, grad: np.ndarray, cache: np.ndarray, settings: Any) -> None:
    p = _flat(param)
    g = _flat(grad)
    c = _flat(cache)
    negative_rate, epsilon = -_setting(p, settings, 0), _setting(p, settings, 1)
    for index in prange(p.size):
        gradient = g[index]
        accumulated = c[index] + gradient * gradient
        c[index] = accumulated
        p[index] = p[index] + (gradient * negative_rate) / (np.sqrt(accumulated) + epsilon)


def _rmsprop_update(param: np.ndarray, grad: np.ndarray, cache: np.ndarray, settings: Any) -> None:
    p = _flat(param)
    g = _flat(grad)
    c = _flat(cache)
    negative_rate, rho = -_setting(p, settings, 0), _setting(p, settings, 1)
    one_minus_rho, epsilon = _setting(p, settings, 2), _setting(p, settings, 3)
    for index in prange(p.size):
        gradient = g[index]
        accumulated = c[index] * rho + (gradient * gradient) * one_minus_rho
        c[index] = accumulated
        p[index] = p[index] + (gradient * negative_rate) / (np.sqrt(accumulated) + epsilon)


def _adam_update(param: np.ndarray, grad: np.ndarray, momentums: np.ndarray, cache: np.ndarray, settings: Any) -> None:
    p = _flat(param)
    g = _flat(grad)
    m = _flat(momentums)
    c = _flat(cache)
    negative_rate, beta_1, one_minus_beta_1 = -_setting(p, settings, 0), _setting(p, settings, 1), _setting(p, settings, 2)
    beta_2, one_minus_beta_2, epsilon = _setting(p, settings, 3), _setting(p, settings, 4), _setting(p, settings, 5)
    momentum_correction, cache_correction = _setting(p, settings, 6), _setting(p, settings, 7)
    for index in prange(p.size):
        gradient = g[index]
        momentum = m[index] * beta_1 + gradient * one_minus_beta_1
        accumulated = c[index] * beta_2 + (gradient * gradient) * one_minus_beta_2
        m[index] = momentum
        c[index] = accumulated
        step = (momentum / momentum_correction) * negative_rate
        p[index] = p[index] + step / (np.sqrt(accumulated / cache_correction) + epsilon)


add_bias = _serial_and_parallel(_add_bias)
bias_relu = _serial_and_parallel(_bias_relu)
relu = _serial_and_parallel(_relu)
relu_backward = _serial_and_parallel(_relu_backward)
softmax_cce_backward = _serial_and_parallel(_softmax_cce_backward)
sgd_update = _serial_and_parallel(_sgd_update)
momentum_update = _serial_and_parallel(_momentum_update)
adagrad_update = _serial_and_parallel(_adagrad_update)
rmsprop_update = _serial_and_parallel(_rmsprop_update)
adam_update = _serial_and_parallel(_adam_update)

#: each update kernel's ``settings`` tuple, in the order the kernel reads it, from the scalar
#: arguments of the backend op of the same name (Python floats: the kernel rounds them to the
#: arrays' dtype, as NumPy rounds Python scalars)
UPDATE_SETTINGS: dict[str, Callable[..., tuple[float, ...]]] = {
    "sgd_update": lambda learning_rate: (learning_rate,),
    "momentum_update": lambda learning_rate, momentum: (learning_rate, momentum),
    "adagrad_update": lambda learning_rate, epsilon: (learning_rate, epsilon),
    "rmsprop_update": lambda learning_rate, rho, epsilon: (learning_rate, rho, 1 - rho, epsilon),
    "adam_update": lambda learning_rate, beta_1, beta_2, epsilon, step: (
        learning_rate, beta_1, 1 - beta_1, beta_2, 1 - beta_2, epsilon, 1 - beta_1**step, 1 - beta_2**step),
}


def set_threads(count: int) -> None:
    """How many threads the parallel kernels use (at most numba's pool)."""
    numba.set_num_threads(max(1, min(count, numba.config.NUMBA_NUM_THREADS)))
