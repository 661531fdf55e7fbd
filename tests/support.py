"""Shared test helpers: tolerances (kept here, in one place) and finite differences."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

import nnfs_gpu

#: how long a test waits for a program it started before calling it hung: a guard against a hang,
#: far above any run's time on a loaded machine, never a measure of speed
HANG_GUARD_S = 900

ROOT = Path(__file__).resolve().parents[1]


def classifier(*layers: Any, optimizer: Any = None) -> nnfs_gpu.Model:
    """A finalized Model of ``layers`` with the book's classifier head: categorical cross-entropy,
    categorical accuracy, and ``optimizer`` (Adam() when None)."""
    model = nnfs_gpu.Model()
    for layer in layers:
        model.add(layer)
    model.set(loss=nnfs_gpu.CategoricalCrossentropy(), optimizer=optimizer or nnfs_gpu.Adam(),
              accuracy=nnfs_gpu.Categorical())
    model.finalize()
    return model


def fixed_runs(backend: str, package_parent: Path = ROOT, **variables: str) -> dict:
    """Every number of ``tests/fixed_runs.py``'s short runs on ``backend``, from a fresh process with
    the ``nnfs_gpu`` under ``package_parent``, one BLAS and one CPU thread, and ``variables`` set."""
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "NNFS_GPU_CPU_THREADS": "1",
                   "PYTHONPATH": str(package_parent), **variables}
    result = subprocess.run([sys.executable, str(ROOT / "tests" / "fixed_runs.py"), backend], capture_output=True,
                            text=True, env=environment, cwd=ROOT / "tests", timeout=HANG_GUARD_S)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)

#: a backend's result against a NumPy float64 reference, by the backend's dtype
PARITY_TOLERANCE = {
    "float32": {"rtol": 1e-5, "atol": 1e-6},
    "float64": {"rtol": 1e-12, "atol": 1e-14},
}
#: float64 analytic gradients against central differences with step FD_STEP
GRADIENT_TOLERANCE = {"rtol": 1e-6, "atol": 1e-9}
FD_STEP = 1e-6
#: the book's chapter-9 numbers in the default float32 precision (see shared/reference)
BOOK_DEFAULT_PRECISION_TOLERANCE = {"rtol": 1e-5, "atol": 1e-8}

# -- across devices: a CuPy result against the same computation on NumPy ---------------------------
#
# What a GPU can promise, by the kind of operation (cupy_kernels.AGREEMENTS names the kinds):
# - "exact": element-wise +, -, *, / and sqrt round to nearest in IEEE arithmetic on both, and the
#   fused kernels keep every multiply and add separately rounded (--fmad=false): bit for bit, any NaN
#   equal to any NaN (a GPU writes one canonical NaN where x86 keeps sign and payload);
# - "transcendental": CUDA's expf/logf are within 2 ulp and its exp/log within 1 ulp of the true
#   value, NumPy's within 1 (float64) or a few (SIMD float32): a few ulp of the result's dtype;
# - "reduction": a GEMM or a sum of n terms in any order (cuBLAS and CUB choose theirs) lies within
#   (n - 1) · eps · Σ|term| of the exact sum (Higham, Accuracy and Stability, eq. 3.5 / 4.3);
#   results built from several such steps compare against the float64 reference instead
#   (PARITY_TOLERANCE), with a bound stated by the test.
CROSS_DEVICE_ULPS = {"exact": 0, "transcendental": 4}
#: book precision on another device: float64 GEMMs, exp and log rounded to float32 agree unless a
#: float64 result lies next to a float32 rounding boundary (1 ulp); a softmax adds a 3-term row sum
#: and a division (1 ulp each)
BOOK_PRECISION_ULPS = 3
#: a network's outputs (small float32 GEMMs, bias, ReLU, softmax) computed with another summation
#: order, on another device or by another cuBLAS kernel (another batch size picks another): for the
#: suite's networks (inner dimensions up to 64, inputs and weights of order 1 or less) the summation
#: bound of every GEMM, carried through the softmax, stays below this
REORDERED_TOLERANCE = {"float32": {"rtol": 1e-5, "atol": 1e-7}, "float64": {"rtol": 1e-12, "atol": 1e-15}}


# -- across libraries on the CPU: torch's CPU device against NumPy ----------------------------------
#
# torch's element-wise +, -, *, / round as IEEE arithmetic, like NumPy's (bit for bit), but its
# sqrt, exp and log come from MKL's vector math (VML): within 1 ulp of the exact result, where
# NumPy's float32 sqrt is exact and its SIMD exp and log are within 2 and 3 ulp (measured over 10⁶
# float32 inputs, torch 2.13.0+cpu, NumPy 2: sqrt 0/1, exp 2/1, log 3/1 ulp, NumPy/torch), so the
# two lie within CROSS_DEVICE_ULPS["transcendental"] of each other; its GEMMs and sums are MKL's and
# oneDNN's, which sum in another order than OpenBLAS and NumPy (and in another one for another shape
# or memory layout): the "reduction" agreement, REORDERED_TOLERANCE for a network's outputs.
#: backends whose arithmetic is not NumPy's (another device, another math library): a test that
#: compares their results with NumPy's holds them to the bounds of this section, not to equal bits
REROUNDING_BACKENDS = ("cupy", "torch", "torch-cuda")
#: a float32 optimizer step on torch's CPU against the book's NumPy arithmetic: the one sqrt of an
#: Adagrad, RMSprop or Adam step may be 1 ulp off, and so may the division it feeds (1 ulp of the
#: step) and the parameter it is added to (1 more): 2 ulp a step, 4 over the two steps of a test
TORCH_UPDATE_ULPS = 4


def on_gpu(backend: Any) -> bool:
    """Whether ``backend`` computes on a GPU (CuPy, torch on CUDA, MPS or XPU), where another call
    layout may take another kernel, which sums in another order (the agreements above)."""
    return backend.name == "cupy" or getattr(getattr(backend, "device", None), "type", None) in ("cuda", "mps", "xpu")


def ulp_distance(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """How many representable values lie between ``actual`` and ``expected`` (0 for equal bits,
    also for two NaNs of any payload; +0 and -0 are one apart)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype and actual.dtype.kind == "f", (actual.dtype, expected.dtype)
    signed = {2: np.int16, 4: np.int32, 8: np.int64}[actual.dtype.itemsize]

    def ordered(values: np.ndarray) -> np.ndarray:  # bit patterns mapped onto a monotonic integer line
        bits = values.view(signed).astype(np.int64)
        return np.where(bits < 0, np.iinfo(signed).min - bits - 1, bits)

    a, b = ordered(actual), ordered(expected)
    same_side = (a >= 0) == (b >= 0)  # then a - b cannot overflow; across zero, floats are exact enough
    distance = np.where(same_side, np.abs(a - b), np.abs(a.astype(np.float64)) + np.abs(b.astype(np.float64)))
    both_nan = np.isnan(actual) & np.isnan(expected)
    one_nan = np.isnan(actual) != np.isnan(expected)
    return np.where(both_nan, 0.0, np.where(one_nan, np.inf, distance))


def assert_within_ulps(actual: Any, expected: np.ndarray, ulps: int, what: str = "") -> None:
    """``actual`` at most ``ulps`` representable values from ``expected`` (see ``ulp_distance``)."""
    actual, expected = host(actual), np.asarray(expected)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype, (what, actual.dtype, expected.dtype)
    distance = ulp_distance(actual, expected)
    worst = float(distance.max()) if distance.size else 0.0
    assert worst <= ulps, (
        f"{what}: {int((distance > ulps).sum())} values more than {ulps} ulp apart, the worst {worst}, "
        f"first at {np.unravel_index(distance.argmax(), distance.shape)}"
    )


def assert_cross_device(actual: Any, expected: np.ndarray, kind: str, what: str = "") -> None:
    """``actual`` (a CuPy result) within the agreement ``kind`` of ``expected`` (the same on NumPy)."""
    assert_within_ulps(actual, expected, CROSS_DEVICE_ULPS[kind], f"{what} ({kind})")


def assert_reordered(actual: Any, expected: Any) -> None:
    """Network outputs computed in another summation order (see REORDERED_TOLERANCE)."""
    actual = host(actual)
    np.testing.assert_allclose(actual, host(expected), **REORDERED_TOLERANCE[actual.dtype.name])


def summation_bound(terms: np.ndarray, axis: int | None = None) -> np.ndarray:
    """How far any order of summing ``terms`` (along ``axis``) may lie from the exact sum, in their dtype."""
    terms = np.asarray(terms)
    count = terms.size if axis is None else terms.shape[axis]
    return (count - 1) * np.finfo(terms.dtype).eps * np.abs(terms.astype(np.float64)).sum(axis=axis)


def gemm_bound(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``summation_bound`` of each dot product of ``a @ b``, in the dtype of ``a``."""
    a, b = np.asarray(a), np.asarray(b)
    return (a.shape[-1] - 1) * np.finfo(a.dtype).eps * (np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64)))


def assert_sum_within_bound(actual: Any, expected: Any, terms: np.ndarray | None, axis: int | None = None, *,
                            bound: np.ndarray | None = None) -> None:
    """Two sums of ``terms`` (or GEMMs' dot products, given their ``bound``) in different orders: each
    lies within ``summation_bound`` of the exact sum, so they lie within twice that of each other."""
    difference = np.abs(np.asarray(host(actual), np.float64) - np.asarray(host(expected), np.float64))
    bound = (summation_bound(terms, axis) if bound is None else np.asarray(bound)).reshape(difference.shape)
    assert np.all(difference <= 2 * bound), (difference.max(), bound)


def transcendental_sum_bound(terms: np.ndarray) -> np.ndarray:
    """How far two sums of ``terms`` may lie apart when each term went through an ``exp`` or ``log``
    of its own (within CROSS_DEVICE_ULPS["transcendental"] of each other) and each sum took its own
    order: the terms' difference plus twice ``summation_bound``."""
    terms = np.asarray(terms)
    ulps = CROSS_DEVICE_ULPS["transcendental"]
    return 2 * summation_bound(terms) + ulps * np.finfo(terms.dtype).eps * np.abs(terms.astype(np.float64)).sum()


def softmax_bound(probabilities: np.ndarray) -> np.ndarray:
    """How far two softmaxes of the same rows may lie apart, element by element, when each took its
    own ``exp`` (within CROSS_DEVICE_ULPS["transcendental"] of the other's) and summed each row in its
    own order: a probability ``e / s`` moves with its exponential, with the row's sum (by the same
    relative amount, plus ``classes - 1`` roundings of each order) and with its division, so by at
    most ``p · eps · (2 · ulps + classes)``; one more eps for second-order terms, and the smallest
    normal where a value lies where float32 flushes subnormals to zero."""
    probabilities = np.asarray(probabilities)
    info = np.finfo(probabilities.dtype)
    classes = probabilities.shape[-1]
    relative = info.eps * (2 * CROSS_DEVICE_ULPS["transcendental"] + classes + 1)
    return relative * np.abs(probabilities.astype(np.float64)) + 2 * float(info.smallest_normal)


def assert_within_bound(actual: Any, expected: np.ndarray, bound: np.ndarray, what: str = "") -> None:
    """``actual`` within ``bound`` of ``expected`` element by element, NaN where it is NaN and the
    same infinity where it is infinite."""
    actual, expected = host(actual), np.asarray(expected)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype, (what, actual.dtype, expected.dtype)
    special = ~np.isfinite(expected)
    same_specials = np.array_equal(actual[special], expected[special], equal_nan=True) and np.all(
        np.isfinite(actual[~special]))
    assert same_specials, f"{what}: NaN or infinities differ"
    difference = np.abs(actual[~special].astype(np.float64) - expected[~special].astype(np.float64))
    beyond = difference > np.broadcast_to(bound, expected.shape)[~special]
    assert not beyond.any(), f"{what}: {int(beyond.sum())} values beyond the bound, the worst {difference.max()}"


def host(array: Any) -> np.ndarray:
    return nnfs_gpu.to_numpy(array)


def assert_parity(actual: Any, reference: np.ndarray, dtype: str) -> None:
    np.testing.assert_allclose(host(actual), reference, **PARITY_TOLERANCE[dtype])


def numeric_gradient(objective: Callable[[np.ndarray], float], point: np.ndarray) -> np.ndarray:
    """Central finite differences of a scalar objective of a host float64 array."""
    point = np.array(point, dtype=np.float64)
    gradient = np.zeros_like(point)
    for index in np.ndindex(point.shape):
        original = point[index]
        point[index] = original + FD_STEP
        above = objective(point)
        point[index] = original - FD_STEP
        below = objective(point)
        point[index] = original
        gradient[index] = (above - below) / (2 * FD_STEP)
    return gradient


def assert_gradient(analytic: Any, objective: Callable[[np.ndarray], float], point: np.ndarray) -> None:
    np.testing.assert_allclose(host(analytic), numeric_gradient(objective, point), **GRADIENT_TOLERANCE)
