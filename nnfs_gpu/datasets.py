"""The book's toy datasets, made exactly as the ``nnfs`` package makes them, as host NumPy arrays.

With ``dtype="float32"`` (the default) the arithmetic is the one ``nnfs.init()`` produces (random
draws rounded to float32 before use, results stored in float32); with ``dtype="float64"`` it is
that of plain ``nnfs`` without ``init()``. Both draw from NumPy's global legacy RNG in the same
order, so a seed gives the same data as ``nnfs.datasets`` does.
"""

from __future__ import annotations

import numpy as np

FLOAT_DTYPES = ("float32", "float64")


def _check(samples: int, classes: int, dtype: str) -> np.dtype:
    if samples < 1 or classes < 1:
        raise ValueError(f"samples and classes must be >= 1, got samples={samples}, classes={classes}")
    if classes > 256:
        raise ValueError(f"labels are uint8, so at most 256 classes, got {classes}")
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be one of {FLOAT_DTYPES}, got {dtype!r}")
    return np.dtype(dtype)


def _randn(samples: int, dtype: np.dtype) -> np.ndarray:
    return np.random.randn(samples).astype(dtype)


def spiral_data(samples: int, classes: int, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """``classes`` interleaved spiral arms of ``samples`` points each; labels in blocks 0…0, 1…1, …"""
    float_dtype = _check(samples, classes, dtype)
    X = np.zeros((samples * classes, 2), dtype=float_dtype)
    y = np.zeros(samples * classes, dtype="uint8")
    for class_number in range(classes):
        rows = slice(samples * class_number, samples * (class_number + 1))
        r = np.linspace(0.0, 1, samples)
        t = np.linspace(class_number * 4, (class_number + 1) * 4, samples) + _randn(samples, float_dtype) * 0.2
        X[rows] = np.c_[r * np.sin(t * 2.5), r * np.cos(t * 2.5)]
        y[rows] = class_number
    return X, y


def vertical_data(samples: int, classes: int, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """``classes`` vertical clusters of ``samples`` points each around x = class / 3, y = 0.5."""
    float_dtype = _check(samples, classes, dtype)
    X = np.zeros((samples * classes, 2), dtype=float_dtype)
    y = np.zeros(samples * classes, dtype="uint8")
    for class_number in range(classes):
        rows = slice(samples * class_number, samples * (class_number + 1))
        x_noise = _randn(samples, float_dtype) * 0.1
        y_noise = _randn(samples, float_dtype) * 0.1
        X[rows] = np.c_[x_noise + class_number / 3, y_noise + 0.5]
        y[rows] = class_number
    return X, y


def sine_data(samples: int = 1000, dtype: str = "float64") -> tuple[np.ndarray, np.ndarray]:
    """``X = i / samples`` and ``y = sin(2πX)`` as ``(samples, 1)`` columns; float64, as in ``nnfs``."""
    float_dtype = _check(samples, 1, dtype)
    X = np.arange(samples).reshape(-1, 1) / samples
    y = np.sin(2 * np.pi * X).reshape(-1, 1)
    return X.astype(float_dtype), y.astype(float_dtype)
