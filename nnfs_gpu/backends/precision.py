"""The book's precision as a layer over any backend: ``set_backend(name, precision="book")``.

The book runs ``nnfs.init()``, which makes ``np.dot`` compute in float64 and round to float32; its
``np.exp``/``np.log`` of float32 arrays, rounded from float64 here, give the same digits on every
backend; and it sums a batch with ``np.sum(axis=0)``. This layer computes those operations the
book's way and takes the generic code of every op that uses an exponential or a logarithm (whose
``exp`` and ``log`` are then the book's), so the fast paths of the backend below it never need to
ask which precision they run in. Every rule of book precision lives here, and nowhere else: a new
fused op that takes an ``exp`` or a ``log`` must be listed here too.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from .base import Backend


class BookPrecision:
    """Mixed in before a backend class (see ``with_book_precision``)."""

    precision = "book"
    #: the backend class this layer sits on
    plain: type[Backend]

    def _in_float64(self: Any, function: Callable[..., Any], *arrays: Any) -> Any:
        xp = self.xp
        result = function(*(xp.astype(array, xp.float64) for array in arrays))
        return xp.astype(result, arrays[0].dtype)

    def _is_float64(self: Any, array: Any) -> bool:
        return array.dtype == self.xp.float64

    def dot(self: Any, a: Any, b: Any, out: Any = None) -> Any:
        if self._is_float64(a):
            return super().dot(a, b, out)
        return self._write(out, self._in_float64(self.xp.matmul, a, b))

    def exp(self: Any, x: Any) -> Any:
        return super().exp(x) if self._is_float64(x) else self._in_float64(self.xp.exp, x)

    def log(self: Any, x: Any) -> Any:
        return super().log(x) if self._is_float64(x) else self._in_float64(self.xp.log, x)

    def sum_rows(self: Any, x: Any, out: Any = None) -> Any:
        """The book's ``np.sum(dvalues, axis=0, keepdims=True)``, in its order of additions."""
        return self._write(out, self.xp.sum(x, axis=0, keepdims=True))

    # The generic code of every op that takes an exponential or a logarithm, so that a fused
    # override of the backend below (which would use its own) never runs in book precision.

    def softmax(self: Any, x: Any, out: Any = None) -> Any:
        return Backend.softmax(self, x, out)

    def bias_softmax(self: Any, z: Any, biases: Any, out: Any = None) -> Any:
        return Backend.bias_softmax(self, z, biases, out)

    def crossentropy_sum(self: Any, probabilities: Any, labels: Any, total: Any = None) -> tuple[Any, Any]:
        return Backend.crossentropy_sum(self, probabilities, labels, total)


@functools.cache
def with_book_precision(backend_class: type[Backend]) -> type[Backend]:
    """``backend_class`` with the book's precision layered over it (one class per backend class)."""
    if issubclass(backend_class, BookPrecision):
        return backend_class
    return type(f"BookPrecision{backend_class.__name__}", (BookPrecision, backend_class), {"plain": backend_class})
