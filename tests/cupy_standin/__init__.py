"""A recording stand-in for CuPy 14: runs the cupy backend's own code on the CPU and counts the
device operations and host synchronisations CuPy would make.

``with recording_cupy() as recorder:`` puts a stand-in ``cupy`` module in ``sys.modules`` (and
re-imports ``array_api_compat.cupy`` over it), so that ``nnfs_gpu.use_backend("cupy")`` gives the
real ``CupyBackend``, its ``xp`` and its kernels, computing with NumPy and recording an ``Event``
per device operation. Afterwards the real modules are back.

What it models (from CuPy 14.2's source, cupy/_core/*.pyx):
- each ufunc call or operator, ``astype`` (which copies by default), ``copy``, ``fill``, ``arange``,
  ``full``/``ones``, a copy into a slice, a reshape that cannot be a view: one kernel; an input that
  overlaps the output (another view of it) costs one more copy kernel, as CuPy makes it;
- ``zeros``/``zeros_like``: one memset; ``empty``: nothing; views, slices, ``.T``: nothing;
- ``matmul``: one cuBLAS GEMM, plus a copy per operand neither C- nor F-contiguous and one when the
  result cannot go straight into ``out``;
- reductions: CUB DeviceReduce over a whole contiguous float array (one kernel up to
  ``CUB_SINGLE_TILE`` items, two beyond), DeviceSegmentedReduce over trailing axes (one), CuPy's own
  reduction kernel otherwise (one, e.g. a sum over axis 0);
- integer-array indexing: fill the flat index, one kernel per index array, the gather (so
  ``take_along_axis`` on a matrix is five: CuPy adds an ``arange``);
- ``ElementwiseKernel`` and ``RawKernel``: one launch, the code compiled for the host
  (``host_kernels.py``: a RawKernel's block runs its threads one after another between barriers) so
  the numbers are the kernel's; each call is checked against the kernel's registry entry (a
  RawKernel's arguments also against the types its source declares);
- host to device (``asarray`` of host data): one asynchronous copy, no wait (pinned staging);
  device to host (``get``, ``float``, ``int``, ``bool``, ``item``, ``asnumpy``): a copy and a wait;
  ``get(out=pinned, blocking=False)`` (``cupyx.empty_pinned``): a copy, no wait;
  ``Stream.synchronize``/``Device.synchronize``/``Event.synchronize``: a wait;
- timing, as a model: the device runs ``recorder.DEVICE_LAG`` operations behind the host, so
  ``Event.done`` (which never waits) is true once that many were queued after the event's record.

What it cannot know: cuBLAS's choice of kernels (a split inner dimension takes two), CUB's exact
tile size, launches inside libraries (cuRAND), the memory pool's own work, and real timing. Anything it
does not model, every other CuPy function, attribute or option, raises ``StandinError`` naming it:
a count that would be a guess fails instead. ``scripts/gpu_launch_count.py`` counts the real
launches on a GPU (``scripts/gpu_check.sh`` runs it) to check this model.
"""

from __future__ import annotations

import contextlib
import sys
import types
from typing import Any, Iterator

import numpy as np

from . import array as _array
from . import kernels as _kernels
from . import namespace as _namespace
from .namespace import Device, Stream
from .recorder import Event, Recorder, StandinError, Window, _active

__all__ = ["Event", "Recorder", "StandinError", "Window", "recording_cupy"]



class Unmodelled:
    """Any CuPy callable the stand-in does not model: calling it fails, naming it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise StandinError(f"the recording stand-in does not model {self.name}; model it in tests/cupy_standin "
                           "(with the device work CuPy 14 does for it) or avoid it")

    def __getattr__(self, name: str) -> Any:
        raise StandinError(f"the recording stand-in does not model {self.name}.{name}")


class StandinModule(types.ModuleType):
    """Holds the real module's public names (modelled or ``Unmodelled``); others do not exist, as there."""

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")


def _module(name: str, real: Any, modelled: dict[str, Any]) -> StandinModule:
    """A stand-in for the real module ``real``: every public name of it, modelled or failing when used."""
    module = StandinModule(name)
    public = getattr(real, "__all__", None) or [n for n in dir(real) if not n.startswith("_")]
    for attribute in public:
        value = getattr(real, attribute, None)
        keep = isinstance(value, type) and issubclass(value, (np.generic, Warning, Exception))
        module.__dict__[attribute] = value if keep or isinstance(value, (float, str)) else Unmodelled(f"{name}.{attribute}")
    module.__dict__.update(modelled)
    module.__all__ = list(public)
    return module


def _cupy_modules() -> dict[str, types.ModuleType]:
    try:
        import cupy as real
    except ImportError as error:
        raise StandinError(f"the stand-in copies CuPy 14's names, so CuPy must be installed ({error}); "
                           "pip install 'cupy-cuda13x>=14,<15'") from error
    modelled: dict[str, Any] = {name: _namespace.ufunc(name) for name in _namespace.UFUNCS}
    modelled.update({name: getattr(np, name) for name in _namespace.METADATA if hasattr(np, name)})
    modelled.update({name: getattr(_namespace, name) for name in (
        "sum", "max", "min", "argmax", "empty", "empty_like", "zeros", "zeros_like", "full", "ones", "arange",
        "array", "asarray", "asnumpy", "ascontiguousarray", "reshape", "expand_dims", "transpose", "matmul",
        "take", "take_along_axis")})
    modelled.update(ndarray=_array.ndarray, ElementwiseKernel=_kernels.ElementwiseKernel,
                    RawKernel=_kernels.RawKernel, bool_=np.bool_, __version__=real.__version__)
    cuda = _module("cupy.cuda", real.cuda, {"Device": Device, "Stream": Stream, "Event": _namespace.Event,
                                            "is_available": lambda: True, "get_current_stream": lambda: Stream()})
    cuda.__path__ = []  # a package, as the real one: array_api_compat imports cupy.cuda.device
    device = _module("cupy.cuda.device", real.cuda.device, {"Device": Device})
    cupy = _module("cupy", real, modelled)
    modules = {"cupy": cupy, "cupy.cuda": cuda, "cupy.cuda.device": device}
    for name in ("linalg", "fft", "random"):
        modules[f"cupy.{name}"] = _module(f"cupy.{name}", getattr(real, name), {})
    for name, module in modules.items():
        if name.count(".") == 1:
            setattr(cupy, name.split(".")[1], module)
    import cupyx as real_cupyx

    modules["cupyx"] = _module("cupyx", real_cupyx, {"empty_pinned": _namespace.empty_pinned})
    return modules


@contextlib.contextmanager
def recording_cupy() -> Iterator[Recorder]:
    """Runs the block against the stand-in ``cupy``; yields the recorder of its events."""
    from nnfs_gpu.backends.cupy_kernels import kernel

    standins = _cupy_modules()
    saved = {name: module for name, module in sys.modules.items() if name.split(".")[0] in ("cupy", "cupyx")
             or name.startswith("array_api_compat.cupy")}
    for name in saved:
        del sys.modules[name]
    sys.modules.update(standins)
    recorder = Recorder()
    _active.append(recorder)
    kernel.cache_clear()
    try:
        yield recorder
    finally:
        _active.remove(recorder)
        kernel.cache_clear()
        for name in [name for name in sys.modules if name.split(".")[0] in ("cupy", "cupyx")
                     or name.startswith("array_api_compat.cupy")]:
            del sys.modules[name]
        sys.modules.update(saved)
