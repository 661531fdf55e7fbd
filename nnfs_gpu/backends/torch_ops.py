"""The torch backend's fast paths: torch's own kernels, in place and into ``out``, for the ops where
the generic array-API code pays for temporaries or a slow kernel. Only where they pay, as
``python benchmarks/torch_ops.py`` measures them (W1-like sizes, one thread; the factors below are
its numbers with torch 2.13.0+cpu on the project's 2-core machine); the bias + ReLU forward gains
through ``relu`` alone, and SGD and momentum keep the generic code (one temporary: nothing to gain).

Each computes the generic code's floating-point operations in its order (bit for bit the same
numbers, tests/test_fast_paths.py), except ``sum_rows``, which sums as torch does (within the
summation bound of the generic product with a row of ones). Arrays of mixed dtypes or devices (book
precision's float64 gradients of float32 parameters) take the generic code.
"""

from __future__ import annotations

import threading
from typing import Any

from .base import Backend
from .scratch import cached


def _torch() -> Any:
    import torch

    return torch


class TorchOps(Backend):
    """Mixed in before the torch backend's class: the overrides, each falling back to the generic code."""

    def __init__(self, dtype: str = "float32", precision: str | None = None, device: Any = None) -> None:
        super().__init__(dtype, precision, device)
        self._per_thread = threading.local()

    def _alike(self, *arrays: Any) -> bool:
        """Whether ``arrays`` are tensors of one dtype on this device (``None`` entries ignored)."""
        given = [array for array in arrays if array is not None]
        return all(self.owns(array) and array.dtype == given[0].dtype for array in given)

    def _buffers(self, like: Any) -> tuple[Any, Any]:
        """Two scratch tensors shaped like ``like``, reused by every update of that shape."""
        torch = _torch()
        return cached(self._per_thread, "scratch", (tuple(like.shape), like.dtype),
                      lambda: (torch.empty_like(like), torch.empty_like(like)))

    # -- products and activations ---------------------------------------------------------------

    def dot(self, a: Any, b: Any, out: Any = None) -> Any:
        """Into ``out`` directly (no temporary and copy): 1.9x faster for a 3000 x 64 product."""
        if out is None or not (self._alike(a, b, out) and out.is_contiguous()):
            return super().dot(a, b, out)
        return _torch().matmul(a, b, out=out)

    def sum_rows(self, x: Any, out: Any = None) -> Any:
        """torch's column sum: 1.7x faster than a product with a fresh row of ones."""
        if not self._alike(x, out):
            return super().sum_rows(x, out)
        return _torch().sum(x, dim=0, keepdim=True, out=out)

    def relu(self, x: Any, out: Any = None) -> Any:
        """Straight into ``out``: 2.5x faster (3000 x 64); the bias + ReLU forward takes it too."""
        if not self._alike(x, out):
            return super().relu(x, out)
        return _torch().clamp_min(x, 0.0, out=out)

    def relu_backward(self, dvalues: Any, inputs: Any, out: Any = None) -> Any:
        """torch's ReLU gradient kernel (``dvalues`` where ``inputs > 0``, else 0): 27x faster than
        the generic ``where`` (3000 x 64)."""
        if not self._alike(dvalues, inputs, out):
            return super().relu_backward(dvalues, inputs, out)
        threshold_backward = _torch().ops.aten.threshold_backward
        if out is None:
            return threshold_backward.default(dvalues, inputs, 0)
        return threshold_backward.grad_input(dvalues, inputs, 0, grad_input=out)

    def softmax_cce_backward(self, softmax_output: Any, labels: Any, out: Any = None) -> Any:
        """``(s - onehot) / n`` as a copy of ``s`` with 1 taken from each label's entry, without the
        one-hot matrix: 1.8x faster (3000 x 3)."""
        if not (self._alike(softmax_output, out) and self.owns(labels) and labels.ndim == 1):
            return super().softmax_cce_backward(softmax_output, labels, out)
        torch = _torch()
        samples = softmax_output.shape[0]
        dinputs = torch.empty_like(softmax_output) if out is None else out
        dinputs.copy_(softmax_output)
        minus_one = torch.full((samples, 1), -1.0, dtype=dinputs.dtype, device=dinputs.device)
        dinputs.scatter_add_(1, labels.to(torch.int64).reshape(-1, 1), minus_one)
        return dinputs.div_(samples)

    # -- optimizer updates: the generic arithmetic, in place, in two scratch tensors --------------
    # (over W2's 118,282-parameter flat buffer 1.1x faster, and Adam's ten temporaries 5x when the
    # C allocator hands them out as fresh pages, as it does in some runs: both are seen)

    def _apply(self, param: Any, numerator_source: Any, denominator_source: Any, learning_rate: float,
               epsilon: float, numerator_scale: float | None = None, denominator_scale: float | None = None) -> None:
        """``param += (-lr * (numerator / n_scale)) / (sqrt(denominator / d_scale) + epsilon)``, a
        scale of None left out as the generic code leaves it out."""
        torch = _torch()
        numerator, denominator = self._buffers(param)
        if numerator_scale is None:
            torch.mul(numerator_source, -learning_rate, out=numerator)
        else:
            torch.div(numerator_source, numerator_scale, out=numerator).mul_(-learning_rate)
        if denominator_scale is None:
            torch.sqrt(denominator_source, out=denominator)
        else:
            torch.div(denominator_source, denominator_scale, out=denominator).sqrt_()
        numerator.div_(denominator.add_(epsilon))
        param.add_(numerator)

    def _add_scaled_square(self, cache: Any, grad: Any, scale: float | None) -> None:
        """``cache += scale * (grad * grad)`` (no scale: ``grad * grad``), in scratch."""
        squared, _ = self._buffers(grad)
        _torch().mul(grad, grad, out=squared)
        if scale is not None:
            squared.mul_(scale)
        cache.add_(squared)

    def adagrad_update(self, param: Any, grad: Any, cache: Any, learning_rate: float, epsilon: float) -> None:
        if not self._alike(param, grad, cache):
            return super().adagrad_update(param, grad, cache, learning_rate, epsilon)
        self._add_scaled_square(cache, grad, None)
        self._apply(param, grad, cache, learning_rate, epsilon)

    def rmsprop_update(self, param: Any, grad: Any, cache: Any, learning_rate: float, rho: float, epsilon: float) -> None:
        if not self._alike(param, grad, cache):
            return super().rmsprop_update(param, grad, cache, learning_rate, rho, epsilon)
        cache.mul_(rho)
        self._add_scaled_square(cache, grad, 1 - rho)
        self._apply(param, grad, cache, learning_rate, epsilon)

    def adam_update(self, param: Any, grad: Any, momentums: Any, cache: Any, learning_rate: float, beta_1: float,
                    beta_2: float, epsilon: float, step: int) -> None:
        if not self._alike(param, grad, momentums, cache):
            return super().adam_update(param, grad, momentums, cache, learning_rate, beta_1, beta_2, epsilon, step)
        scaled, _ = self._buffers(grad)
        momentums.mul_(beta_1).add_(_torch().mul(grad, 1 - beta_1, out=scaled))
        cache.mul_(beta_2)
        self._add_scaled_square(cache, grad, 1 - beta_2)
        self._apply(param, momentums, cache, learning_rate, epsilon, 1 - beta_1**step, 1 - beta_2**step)
