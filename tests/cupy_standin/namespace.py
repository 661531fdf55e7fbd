"""The stand-in's ``cupy`` functions, each counting the device work CuPy 14 does for it."""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from .array import elementwise, ndarray, unwrap, wrap
from .recorder import StandinError, active

#: items CUB's DeviceReduce handles in one tile, one kernel (more take a second kernel); an
#: estimate from CUB's tuning policies (256 threads x 16 items), which the device count settles
CUB_SINGLE_TILE = 4096

UFUNCS = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.true_divide,
    "true_divide": np.true_divide, "power": np.power, "negative": np.negative, "maximum": np.maximum,
    "minimum": np.minimum, "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "abs": np.absolute,
    "absolute": np.absolute, "sign": np.sign, "isfinite": np.isfinite, "isnan": np.isnan, "equal": np.equal,
    "not_equal": np.not_equal, "less": np.less, "less_equal": np.less_equal, "greater": np.greater,
    "greater_equal": np.greater_equal, "logical_and": np.logical_and, "logical_or": np.logical_or,
    "logical_not": np.logical_not, "where": np.where, "square": np.square,
}
#: functions of NumPy's that only look at dtypes and shapes: no device work in CuPy either
METADATA = ("isdtype", "result_type", "can_cast", "issubdtype", "promote_types", "dtype", "finfo", "iinfo")


def ufunc(name: str) -> Any:
    def call(*operands: Any, out: ndarray | None = None, **options: Any) -> ndarray:
        if options and name != "where":
            raise StandinError(f"cupy.{name} options {sorted(options)} are not modelled")
        return elementwise(name, UFUNCS[name], *operands, out=out, **options)

    call.__name__ = name
    return call


def _axes(array: ndarray, axis: Any) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(array.ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(sorted(a % array.ndim for a in axes))


def reduction(name: str, function: Any, array: Any, axis: Any, out: Any, keepdims: bool, **options: Any) -> ndarray:
    """A reduction as CuPy 14 runs it with its default CUB accelerator: CUB's DeviceReduce (one
    kernel per tile pass) for a whole contiguous float array, DeviceSegmentedReduce (one kernel)
    over its trailing axes, else CuPy's own reduction kernel (one)."""
    array = asarray(array)
    axes = _axes(array, axis)
    whole = len(axes) == array.ndim
    trailing = axes == tuple(range(array.ndim - len(axes), array.ndim))
    cub = (name in ("sum", "max", "min") and array.flags.c_contiguous and array.dtype.kind == "f"
           and trailing and array.size > 0 and not options.get("dtype"))
    recorder = active()
    if cub and out is not None:
        raise StandinError(f"cupy.{name}(out=...) on CUB's path is not modelled")
    if name == "argmax" and whole and array.ndim > 1:
        raise StandinError("a whole-array argmax of a matrix is not modelled")
    if cub and whole:
        recorder.kernel(f"{name}: CUB DeviceReduce")
        if array.size > CUB_SINGLE_TILE:
            recorder.kernel(f"{name}: CUB DeviceReduce, second pass")
    else:
        recorder.kernel(f"{name}: {'CUB DeviceSegmentedReduce' if cub else 'reduction kernel'}")
    result = np.asarray(function(array._a, axis=axis, keepdims=keepdims, **{k: v for k, v in options.items() if v}))
    if out is None:
        return ndarray(result)
    out._a[...] = result
    return out


def sum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False) -> ndarray:  # noqa: A001
    return reduction("sum", np.sum, a, axis, out, keepdims, dtype=dtype)


def max(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> ndarray:  # noqa: A001
    return reduction("max", np.max, a, axis, out, keepdims)


def min(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> ndarray:  # noqa: A001
    return reduction("min", np.min, a, axis, out, keepdims)


def argmax(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> ndarray:
    return reduction("argmax", np.argmax, a, axis, out, keepdims)


class Device:
    compute_capability = "90"

    def __init__(self, device: Any = None) -> None:
        self.id = device.id if isinstance(device, Device) else int(device or 0)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self) -> int:
        return self.id

    def __enter__(self) -> "Device":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def synchronize(self) -> None:
        active().sync("Device.synchronize")


class Stream:
    def synchronize(self) -> None:
        active().sync("Stream.synchronize")


class Event:
    """A CUDA event: ``record`` marks the work queued so far; ``done`` asks without waiting whether
    the device has finished it (``recorder.DEVICE_LAG`` says when it has); ``synchronize`` waits."""

    def __init__(self, block: bool = False, disable_timing: bool = False, interprocess: bool = False) -> None:
        self._upto = 0  # an event never recorded is done, as in CUDA

    def record(self, stream: Any = None) -> None:
        if stream is not None:
            raise StandinError("Event.record on a given stream is not modelled")
        self._upto = active().queued

    @property
    def done(self) -> bool:
        return active().done(self._upto)

    def synchronize(self) -> None:
        active().sync("Event.synchronize waits for the device", upto=self._upto)


# -- pinned host memory (cupyx) -------------------------------------------------------------------

_PINNED: "weakref.WeakValueDictionary[int, np.ndarray]" = weakref.WeakValueDictionary()


def empty_pinned(shape: Any, dtype: Any = float, order: str = "C") -> np.ndarray:
    """A NumPy array in page-locked memory (from CuPy's pinned pool: no device work)."""
    array = np.empty(shape, dtype=dtype, order=order)
    _PINNED[id(array)] = array
    return array


def is_pinned(array: np.ndarray) -> bool:
    """Whether ``array`` (or the array it is a view of) came from ``empty_pinned``."""
    while isinstance(array, np.ndarray):
        if _PINNED.get(id(array)) is array:
            return True
        array = array.base
    return False


# -- creation and transfers ---------------------------------------------------------------------


def empty(shape: Any, dtype: Any = float, order: str = "C") -> ndarray:
    return ndarray(np.empty(shape, dtype=dtype, order=order))


def empty_like(a: ndarray, dtype: Any = None) -> ndarray:
    return ndarray(np.empty_like(a._a, dtype=dtype))


def zeros(shape: Any, dtype: Any = float, order: str = "C") -> ndarray:
    active().record("memset", "zeros (cudaMemsetAsync)")
    return ndarray(np.zeros(shape, dtype=dtype, order=order))


def zeros_like(a: ndarray, dtype: Any = None) -> ndarray:
    active().record("memset", "zeros_like (cudaMemsetAsync)")
    return ndarray(np.zeros_like(a._a, dtype=dtype))


def full(shape: Any, fill_value: Any, dtype: Any = None) -> ndarray:
    active().kernel("fill")
    return ndarray(np.full(shape, fill_value, dtype=dtype))


def ones(shape: Any, dtype: Any = float) -> ndarray:
    return full(shape, 1, dtype)


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> ndarray:
    active().kernel("arange")
    return ndarray(np.arange(start, stop, step, dtype=dtype) if stop is not None else np.arange(start, dtype=dtype))


def array(obj: Any, dtype: Any = None, copy: bool = True, **options: Any) -> ndarray:
    if options:
        raise StandinError(f"cupy.array options {sorted(options)} are not modelled")
    if isinstance(obj, ndarray):
        if not copy:
            return asarray(obj, dtype)
        active().kernel("copy" if dtype is None or np.dtype(dtype) == obj.dtype else f"astype -> {np.dtype(dtype)}")
        return ndarray(obj._a.astype(obj.dtype if dtype is None else dtype))
    if not isinstance(obj, (np.ndarray, np.generic, list, tuple, bool, int, float, complex)):
        raise StandinError(f"cupy.asarray of a {type(obj).__name__} is not modelled")
    host = np.array(obj, dtype=dtype)  # CuPy converts host data on the host, then copies it over
    active().record("copy", "host to device (pinned staging, asynchronous)")
    return ndarray(host)


def asarray(a: Any, dtype: Any = None, **options: Any) -> ndarray:
    if isinstance(a, ndarray) and not options:
        return a if dtype is None or np.dtype(dtype) == a.dtype else a.astype(dtype)
    return array(a, dtype=dtype, **options)


def asnumpy(a: Any, stream: Any = None) -> np.ndarray:
    return a.get() if isinstance(a, ndarray) else np.asarray(a)


def ascontiguousarray(a: ndarray, dtype: Any = None) -> ndarray:
    if a.flags.c_contiguous and (dtype is None or np.dtype(dtype) == a.dtype):
        return a
    active().kernel("copy to a contiguous array")
    return ndarray(np.ascontiguousarray(a._a, dtype=dtype))


# -- shapes, products, gathers ------------------------------------------------------------------


def reshape(a: ndarray, shape: Any, order: str = "C") -> ndarray:
    return a.reshape(shape, order=order)


def expand_dims(a: ndarray, axis: Any) -> ndarray:
    return ndarray(np.expand_dims(a._a, axis))


def transpose(a: ndarray, axes: Any = None) -> ndarray:
    return ndarray(np.transpose(a._a, axes))


def matmul(a: ndarray, b: ndarray, out: ndarray | None = None) -> ndarray:
    """One cuBLAS GEMM, plus a copy for each operand neither C- nor F-contiguous, and a copy when the
    result cannot be written straight into ``out``. (cuBLAS may split a long inner dimension into
    two kernels; not modelled.)"""
    if a.ndim != 2 or b.ndim != 2 or a.dtype != b.dtype or a.dtype.kind != "f":
        raise StandinError(f"matmul of {a.dtype} {a.shape} and {b.dtype} {b.shape} is not modelled")
    recorder = active()
    for operand in (a, b):
        if not (operand.flags.c_contiguous or operand.flags.f_contiguous):
            recorder.kernel("matmul: copy of a strided operand")
    recorder.kernel("matmul (cuBLAS GEMM)")
    result = np.matmul(a._a, b._a)
    if out is None:
        return ndarray(result)
    if not out.flags.c_contiguous or out.dtype != result.dtype:
        recorder.kernel("matmul: copy into out")
    out._a[...] = result
    return out


def take(a: ndarray, indices: ndarray, axis: Any = None) -> ndarray:
    active().kernel("take")
    return wrap(np.take(a._a, unwrap(indices), axis=axis))


def take_along_axis(a: ndarray, indices: ndarray, axis: int) -> ndarray:
    """CuPy builds an ``arange`` index for every other axis, then fancy-indexes."""
    parts = []
    for dimension, length in enumerate(a.shape):
        if dimension == axis % a.ndim:
            parts.append(indices)
        else:
            shape = (1,) * dimension + (-1,) + (1,) * (a.ndim - dimension - 1)
            parts.append(arange(length).reshape(shape))
    return a[tuple(parts)]
