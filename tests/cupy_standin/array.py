"""The stand-in's ``cupy.ndarray``: a NumPy array kept out of NumPy's reach, counting what CuPy 14
would put on the GPU for each operation (see the package docstring for the model)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .recorder import StandinError, active

_BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "truediv": np.true_divide, "pow": np.power,
    "floordiv": np.floor_divide, "mod": np.remainder, "and": np.bitwise_and, "or": np.bitwise_or,
}
_COMPARISONS = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
                "eq": np.equal, "ne": np.not_equal}
_BASIC_INDEX = (int, np.integer, slice, type(Ellipsis), type(None))


def wrap(values: Any) -> "ndarray":
    return ndarray(np.asarray(values))


def unwrap(value: Any) -> Any:
    """The NumPy array inside a stand-in array; Python and NumPy scalars as they are; anything else refused."""
    if isinstance(value, ndarray):
        return value._a
    if isinstance(value, (bool, int, float, complex, np.generic)):
        return value
    raise StandinError(
        f"CuPy would refuse (or silently copy) a {type(value).__name__} operand here; the stand-in does not model it"
    )


def elementwise(name: str, function: Any, *operands: Any, out: "ndarray | None" = None, **options: Any) -> "ndarray":
    """One CuPy ufunc call: one kernel, a new array unless ``out``; an input overlapping ``out``
    (another view of its memory) is copied first, as CuPy does."""
    recorder = active()
    if out is not None:
        for operand in operands:
            if isinstance(operand, ndarray) and operand is not out and np.may_share_memory(operand._a, out._a):
                recorder.kernel("copy of an input overlapping the output")
    recorder.kernel(f"ufunc {name}")
    values = [unwrap(operand) for operand in operands]
    if out is None:
        return wrap(function(*values, **options))
    function(*values, out=out._a, **options)
    return out


class Flags:
    def __init__(self, array: np.ndarray) -> None:
        self.c_contiguous = array.flags.c_contiguous
        self.f_contiguous = array.flags.f_contiguous


class ndarray:
    """Holds ``_a``; views share it as NumPy views do, which is what CuPy's views do."""

    __array_ufunc__ = None  # NumPy scalars defer to our reflected operators instead of converting us
    __hash__ = None

    def __init__(self, values: np.ndarray) -> None:
        self._a = values

    # -- metadata (no device work) ---------------------------------------------------------------

    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    flags = property(lambda self: Flags(self._a))
    T = property(lambda self: ndarray(self._a.T))

    @property
    def device(self) -> Any:
        from .namespace import Device

        return Device(0)

    def __len__(self) -> int:
        return len(self._a)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # protocols NumPy and Python probe for: absent, as CuPy's are
            raise AttributeError(name)
        raise StandinError(f"the recording stand-in does not model cupy.ndarray.{name}")

    # -- reading back to the host: a copy and a wait -------------------------------------------

    def get(self, stream: Any = None, order: str = "C", out: np.ndarray | None = None,
            blocking: bool = True) -> np.ndarray:
        """A copy and a wait; with ``blocking=False`` into pinned ``out``, a copy queued on the
        current stream, no wait (CuPy copies into pageable memory synchronously, so that is refused)."""
        if stream is not None or order != "C":
            raise StandinError("ndarray.get on a given stream or in another order is not modelled")
        recorder = active()
        if blocking:
            recorder.record("copy", "device to host (ndarray.get)")
            recorder.sync("ndarray.get waits for the device")
        else:
            from .namespace import is_pinned

            if out is None or not is_pinned(out):
                raise StandinError("ndarray.get(blocking=False) is asynchronous only into pinned memory: "
                                   "pass out=cupyx.empty_pinned(...)")
            recorder.record("copy", "device to host (asynchronous, into pinned memory)")
        if out is None:
            return self._a.copy()
        if out.shape != self.shape or out.dtype != self.dtype or not out.flags.c_contiguous:
            raise StandinError(f"ndarray.get of a {self.dtype} {self.shape} array into a {out.dtype} {out.shape} "
                               "or strided one is not modelled")
        out[...] = self._a
        return out

    def item(self) -> Any:
        return self.get().item()

    def __float__(self) -> float:
        return float(self.get())

    def __int__(self) -> int:
        return int(self.get())

    def __bool__(self) -> bool:
        return bool(self.get())

    def __index__(self) -> int:
        return self.get().__index__()

    def __repr__(self) -> str:  # CuPy prints what it copied back: printing a device array waits for it
        return repr(self.get())

    def __str__(self) -> str:
        return str(self.get())

    def __format__(self, spec: str) -> str:
        return format(self.get(), spec)

    def tolist(self) -> Any:
        return self.get().tolist()

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a "
                        "NumPy array explicitly.")

    # -- element-wise arithmetic: one kernel each --------------------------------------------------

    def _binary(self, name: str, other: Any, reflected: bool = False) -> "ndarray":
        function = _BINARY.get(name) or _COMPARISONS[name]
        operands = (other, self) if reflected else (self, other)
        return elementwise(name, function, *operands)

    def _inplace(self, name: str, other: Any) -> "ndarray":
        return elementwise(f"{name} (in place)", _BINARY[name], self, other, out=self)

    def __matmul__(self, other: "ndarray") -> "ndarray":
        from .namespace import matmul

        return matmul(self, other)

    def __neg__(self) -> "ndarray":
        return elementwise("negative", np.negative, self)

    def __abs__(self) -> "ndarray":
        return elementwise("absolute", np.absolute, self)

    def __invert__(self) -> "ndarray":
        return elementwise("invert", np.invert, self)

    # -- indexing --------------------------------------------------------------------------------

    def __getitem__(self, index: Any) -> "ndarray":
        parts = index if isinstance(index, tuple) else (index,)
        if all(isinstance(part, _BASIC_INDEX) for part in parts):
            return ndarray(self._a[index])  # a view, as in CuPy: no device work
        arrays = [part for part in parts if isinstance(part, ndarray)]
        if any(array.dtype.kind == "b" for array in arrays) or len(arrays) != len(parts):
            raise StandinError("the stand-in models integer-array indexing alone (boolean masks synchronise)")
        recorder = active()
        recorder.kernel("fancy indexing: fill the flat index")
        for _ in arrays:
            recorder.kernel("fancy indexing: add one index array")
        recorder.kernel("fancy indexing: take")
        return wrap(self._a[tuple(array._a for array in arrays)])

    def __setitem__(self, index: Any, value: Any) -> None:
        parts = index if isinstance(index, tuple) else (index,)
        if not all(isinstance(part, _BASIC_INDEX) for part in parts):
            raise StandinError("the stand-in models assignment to basic slices alone")
        active().kernel("copy into a slice" if isinstance(value, ndarray) else "fill a slice")
        self._a[index] = unwrap(value)

    # -- copies, casts, shapes ---------------------------------------------------------------------

    def copy(self) -> "ndarray":
        active().kernel("copy")
        return ndarray(self._a.copy())

    def astype(self, dtype: Any, copy: bool = True, **kwargs: Any) -> "ndarray":
        if kwargs:
            raise StandinError(f"astype options {sorted(kwargs)} are not modelled")
        if not copy and np.dtype(dtype) == self.dtype:
            return self
        active().kernel(f"astype {self.dtype} -> {np.dtype(dtype)}")
        return ndarray(self._a.astype(dtype))

    def reshape(self, *shape: Any, order: str = "C") -> "ndarray":
        if order != "C":
            raise StandinError("only C-order reshapes are modelled")
        result = self._a.reshape(*shape)
        if not np.shares_memory(result, self._a) and self._a.size:
            active().kernel("copy for a reshape that cannot be a view")
        return ndarray(result)

    def ravel(self) -> "ndarray":
        return self.reshape(-1)

    def fill(self, value: Any) -> None:
        active().kernel("fill")
        self._a[...] = value

    # -- reductions ------------------------------------------------------------------------------

    def sum(self, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False) -> "ndarray":
        from .namespace import reduction

        return reduction("sum", np.sum, self, axis, out, keepdims, dtype=dtype)

    def max(self, axis: Any = None, out: Any = None, keepdims: bool = False) -> "ndarray":
        from .namespace import reduction

        return reduction("max", np.max, self, axis, out, keepdims)

    def argmax(self, axis: Any = None, out: Any = None, keepdims: bool = False) -> "ndarray":
        from .namespace import reduction

        return reduction("argmax", np.argmax, self, axis, out, keepdims)


def _add_operators() -> None:
    for name in _BINARY:
        setattr(ndarray, f"__{name}__", lambda self, other, name=name: self._binary(name, other))
        setattr(ndarray, f"__r{name}__", lambda self, other, name=name: self._binary(name, other, True))
        setattr(ndarray, f"__i{name}__", lambda self, other, name=name: self._inplace(name, other))
    for name in _COMPARISONS:
        setattr(ndarray, f"__{name}__", lambda self, other, name=name: self._binary(name, other))


_add_operators()
ndarray.__module__ = "cupy"  # as cupy.ndarray's: nnfs_gpu's array_origin names the library by it
