"""Shared test helpers: tolerances (kept here, in one place) and finite differences."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

import nnfs_gpu

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
