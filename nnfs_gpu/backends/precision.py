"""The book's precision as a layer over any backend: ``set_backend(name, precision="book")``.

The book runs ``nnfs.init()``, which makes ``np.dot`` compute in float64 and return float32; its
``np.exp``/``np.log`` of float32 arrays are computed here in float64 and rounded, so backends agree
to the last float32 digit except in rare near-ties (a GPU's float64 ``exp`` and ``log`` may differ
from the CPU's in their last bit, which shows only where that bit decides the rounding); and it
sums a batch with ``np.sum(axis=0)``. This layer computes those operations the
book's way and takes the generic code of every op that uses an exponential or a logarithm (whose
``exp`` and ``log`` are then the book's), so the fast paths of the backend below it never need to
ask which precision they run in; a new fused op that takes an ``exp`` or a ``log`` must be listed
here too.

It also keeps the book's dtypes where the book mixes float64 into its float32 arrays: a dropout
mask is ``np.random.binomial(1, keep, size) / keep``, float64, so the dropout's output and its
gradient are float64, and so are float64 data and targets (``sine_data``). Such arrays stay float64
(``asfloat`` keeps them), the array library's promotion carries them on as NumPy's carries the
book's (a ReLU gradient, a bias gradient ``np.sum(dvalues, axis=0)``, the optimizer state the book
assigns from it, a regression loss), and they become float32 again where the book's do: in ``dot``
(``np.dot`` returns float32) and in the in-place update of a float32 parameter. A step then holds
arrays of two dtypes, so it gets fresh arrays and the book's per-layer update, never one float32
buffer. Every rule of book precision lives here, and nowhere else.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from .base import Backend, array_origin, is_host
from .dlpack import HOST_LIBRARIES


class BookPrecision:
    """Mixed in before a backend class (see ``with_book_precision``)."""

    precision = "book"
    reuses_step_arrays = False
    mixes_float64 = True
    #: the backend class this layer sits on
    plain: type[Backend]

    def _in_float64(self: Any, function: Callable[..., Any], *arrays: Any) -> Any:
        xp = self.xp
        result = function(*(xp.astype(array, xp.float64) for array in arrays))
        return xp.astype(result, arrays[0].dtype)

    def _is_float64(self: Any, array: Any) -> bool:
        """Whether ``array`` (this backend's or host data, another library's too) is float64."""
        if self.owns(array):
            return array.dtype == self.xp.float64
        if is_host(array) and array_origin(array) not in HOST_LIBRARIES:
            array = self.host_data(array)
        return is_host(array) and getattr(array, "dtype", None) == np.float64

    def asfloat(self: Any, data: Any) -> Any:
        """Float64 data stays float64, as the book's arrays do; anything else as the backend converts it."""
        if self._is_float64(data):
            return self.asarray(data)
        return super().asfloat(data)

    def dot(self: Any, a: Any, b: Any, out: Any = None) -> Any:
        """The book's ``np.dot``: computed in float64, returned in the backend's dtype."""
        xp = self.xp
        if self.dtype == xp.float64:
            return super().dot(a, b, out)
        product = xp.matmul(xp.astype(a, xp.float64, copy=False), xp.astype(b, xp.float64, copy=False))
        return self._write(out, xp.astype(product, self.dtype))

    def exp(self: Any, x: Any) -> Any:
        return super().exp(x) if self._is_float64(x) else self._in_float64(self.xp.exp, x)

    def log(self: Any, x: Any) -> Any:
        return super().log(x) if self._is_float64(x) else self._in_float64(self.xp.log, x)

    def sum_rows(self: Any, x: Any, out: Any = None) -> Any:
        """The book's ``np.sum(dvalues, axis=0, keepdims=True)``, in its order of additions and its dtype."""
        return self._write(out, self.xp.sum(x, axis=0, keepdims=True))

    # The generic code of every op that takes an exponential or a logarithm, so that a fused
    # override of the backend below (which would use its own) never runs in book precision.

    def softmax(self: Any, x: Any, out: Any = None) -> Any:
        return Backend.softmax(self, x, out)

    def bias_softmax(self: Any, z: Any, biases: Any, out: Any = None) -> Any:
        return Backend.bias_softmax(self, z, biases, out)

    def crossentropy_sum(self: Any, probabilities: Any, labels: Any, total: Any = None) -> tuple[Any, Any]:
        return Backend.crossentropy_sum(self, probabilities, labels, total)

    def _add_into(self: Any, target: Any, value: Any) -> None:
        """The book's ``target += value`` with a float64 ``value``: added in float64 and rounded into a
        float32 ``target``, as NumPy's in-place add does (the array API has no mixed in-place add)."""
        if value.dtype == target.dtype:
            target += value
        else:
            target[...] = self.xp.astype(target + value, target.dtype)

    def dropout_mask(self: Any, shape: tuple[int, ...], keep_probability: float, host_rng: bool = False) -> Any:
        """The book's float64 mask, ``binomial(1, keep, size) / keep``, from the backend's draw."""
        xp = self.xp
        drawn = super().dropout_mask(shape, keep_probability, host_rng)
        return xp.astype(drawn != 0, xp.float64) / keep_probability


@functools.cache
def with_book_precision(backend_class: type[Backend]) -> type[Backend]:
    """``backend_class`` with the book's precision layered over it (one class per backend class)."""
    if issubclass(backend_class, BookPrecision):
        return backend_class
    return type(f"BookPrecision{backend_class.__name__}", (BookPrecision, backend_class), {"plain": backend_class})
