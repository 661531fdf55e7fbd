"""Fused CUDA kernels for the CuPy backend's hot ops.

One kernel launch instead of a chain of elementwise operations, each with its own temporary.
Kernels are built on first use and cached (CuPy compiles them with NVRTC on their first call), so
importing nnfs_gpu never touches the GPU. Each works for float32 and float64 (``T``); the backend
falls back to the generic code for other dtypes.
"""

from __future__ import annotations

import functools
from typing import Any

FUSED_DTYPES = ("float32", "float64")

_SOURCES = {
    "relu_backward": ("T dvalues, T inputs", "T dinputs", "dinputs = inputs > 0 ? dvalues : (T)0"),
    "softmax_cce_backward": (
        "raw T probabilities, raw L labels, int64 classes, T samples",
        "T dinputs",
        "const long long row = i / classes;"
        "dinputs = (probabilities[i] - (i - row * classes == labels[row] ? (T)1 : (T)0)) / samples",
    ),
    "sgd_update": ("T grad, T learning_rate", "T param", "param -= learning_rate * grad"),
    "momentum_update": (
        "T grad, T learning_rate, T momentum",
        "T param, T momentums",
        "momentums = momentum * momentums - learning_rate * grad; param += momentums",
    ),
    "adagrad_update": (
        "T grad, T learning_rate, T epsilon",
        "T param, T cache",
        "cache += grad * grad; param += (-learning_rate * grad) / (sqrt(cache) + epsilon)",
    ),
    "rmsprop_update": (
        "T grad, T learning_rate, T rho, T one_minus_rho, T epsilon",
        "T param, T cache",
        "cache = rho * cache + one_minus_rho * (grad * grad);"
        "param += (-learning_rate * grad) / (sqrt(cache) + epsilon)",
    ),
    "adam_update": (
        "T grad, T learning_rate, T beta_1, T one_minus_beta_1, T beta_2, T one_minus_beta_2, "
        "T epsilon, T momentum_correction, T cache_correction",
        "T param, T momentums, T cache",
        "momentums = beta_1 * momentums + one_minus_beta_1 * grad;"
        "cache = beta_2 * cache + one_minus_beta_2 * (grad * grad);"
        "param += (-learning_rate * (momentums / momentum_correction))"
        " / (sqrt(cache / cache_correction) + epsilon)",
    ),
}


@functools.lru_cache(maxsize=None)
def kernel(name: str) -> Any:
    """The ElementwiseKernel called ``name``, built once."""
    import cupy

    in_params, out_params, body = _SOURCES[name]
    return cupy.ElementwiseKernel(in_params, out_params, body, f"nnfs_gpu_{name}")
