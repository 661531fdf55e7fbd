"""The stand-in's ``cupy.ElementwiseKernel`` and ``cupy.RawKernel``: one launch per call, the code run
on the host (g++, ``host_kernels.py``), and the call checked against the kernel's registry entry."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from host_kernels import C_TYPES, HostKernel, HostRawKernel, parse_params
from nnfs_gpu.backends.cupy_kernels import KERNELS, RawSource

from .array import ndarray
from .recorder import StandinError, active

_HOST_KERNELS: dict[tuple, Any] = {}


def registry_entry(name: str) -> Any:
    """The registry entry of the kernel CuPy knows as ``name``; a kernel outside it is refused."""
    source = KERNELS.get(name.removeprefix("nnfs_gpu_"))
    if source is None:
        raise StandinError(f"kernel {name} is not in cupy_kernels.KERNELS, so no check covers it")
    return source


class ElementwiseKernel:
    def __init__(self, in_params: str, out_params: str, operation: str, name: str = "kernel",
                 reduce_dims: bool = True, preamble: str = "", **kwargs: Any) -> None:
        if preamble or set(kwargs) - {"options"}:
            raise StandinError(f"ElementwiseKernel options {sorted(kwargs)} or a preamble are not modelled")
        self.texts = (in_params, out_params, operation)
        self.params = parse_params(in_params, out_params)
        self.nin = sum(not param.output for param in self.params)
        self.name = name

    def _types(self, args: tuple[Any, ...]) -> dict[str, str]:
        dtypes: dict[str, str] = {}
        for param, arg in zip(self.params, args):
            if isinstance(arg, ndarray) and param.type not in C_TYPES:
                if dtypes.setdefault(param.type, arg.dtype.name) != arg.dtype.name:
                    raise StandinError(f"{self.name}: {param.type} is both {dtypes[param.type]} and {arg.dtype.name}")
        return dtypes

    def _check_against_registry(self, args: tuple[Any, ...], dtypes: dict[str, str], scalars: set[str]) -> None:
        """The compile check generates code from the registry entry: the call must be the one it describes."""
        source = registry_entry(self.name)
        raw_ndim = {param.name: arg.ndim for param, arg in zip(self.params, args) if param.raw}
        problems = []
        if scalars != set(source.scalars):
            problems.append(f"scalars {sorted(scalars)} (registry: {sorted(source.scalars)})")
        if raw_ndim != dict(source.raw_ndim):
            problems.append(f"raw dimensions {raw_ndim} (registry: {dict(source.raw_ndim)})")
        problems += [f"{name}={dtype} (registry: {source.type_dtypes.get(name)})" for name, dtype in dtypes.items()
                     if dtype not in source.type_dtypes.get(name, ())]
        if problems:
            raise StandinError(f"{self.name} is called with {'; '.join(problems)}: the compile check covers other code")

    def __call__(self, *args: Any, size: int | None = None) -> Any:
        if len(args) not in (self.nin, len(self.params)):
            raise TypeError(f"Wrong number of arguments for {self.name!r}")
        dtypes = self._types(args)
        scalars = {param.name for param, arg in zip(self.params, args) if not isinstance(arg, ndarray)}
        self._check_against_registry(args, dtypes, scalars)
        shapes = [arg.shape for param, arg in zip(self.params, args) if isinstance(arg, ndarray) and not param.raw]
        shape = np.broadcast_shapes(*shapes) if shapes else (size,)
        outputs = list(args[self.nin:]) or [
            ndarray(np.empty(shape, dtype=dtypes.get(param.type, param.type))) for param in self.params[self.nin:]
        ]
        recorder = active()
        for arg in args[:self.nin]:
            if isinstance(arg, ndarray) and any(arg is not out and np.may_share_memory(arg._a, out._a) for out in outputs):
                recorder.kernel(f"{self.name}: copy of an input overlapping an output")
        recorder.kernel(f"ElementwiseKernel {self.name}")
        self._run(dtypes, scalars, [*args[:self.nin], *outputs], shape)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def _run(self, dtypes: dict[str, str], scalars: set[str], args: list[Any], shape: tuple[int, ...]) -> None:
        key = (self.texts, tuple(sorted(dtypes.items())), tuple(sorted(scalars)))
        if key not in _HOST_KERNELS:
            _HOST_KERNELS[key] = HostKernel(*self.texts, dtypes, scalars)
        host = _HOST_KERNELS[key]
        values, write_back = [], []
        for param, arg in zip(self.params, args):
            dtype = np.dtype(dtypes.get(param.type, param.type))
            if param.name in scalars:
                values.append(dtype.type(arg))
                continue
            view = arg._a if param.raw else np.broadcast_to(arg._a, shape)
            contiguous = np.ascontiguousarray(view, dtype=dtype)
            if param.output and contiguous is not arg._a:
                write_back.append((arg._a, contiguous))
            values.append(contiguous)
        host(math.prod(shape), values)
        for target, computed in write_back:
            target[...] = computed


class RawKernel:
    """One launch per call of ``grid`` blocks of ``block`` threads; the arguments are checked against
    the parameters the source declares (CuPy passes them by their own dtype without a check, so a
    mismatch would read other bits on a GPU) and the source and launch against the registry."""

    def __init__(self, code: str, name: str, options: tuple[str, ...] = (), **kwargs: Any) -> None:
        if kwargs:
            raise StandinError(f"RawKernel options {sorted(kwargs)} are not modelled")
        self.code, self.name, self.options = code, name, tuple(options)

    def _host(self) -> HostRawKernel:
        key = (self.code, self.name)
        if key not in _HOST_KERNELS:
            _HOST_KERNELS[key] = HostRawKernel(self.code, self.name)
        return _HOST_KERNELS[key]

    def _check_against_registry(self, host: HostRawKernel, block: tuple[int, ...]) -> None:
        source = registry_entry(self.name)
        if not isinstance(source, RawSource):
            raise StandinError(f"{self.name} is a {source.kind} kernel in the registry, not a RawKernel")
        problems = []
        try:
            if self.code != source.code_for(host.typedefs):
                problems.append("a source other than the registry's")
        except ValueError as error:
            problems.append(str(error))
        if self.options != source.options:
            problems.append(f"options {self.options} (registry: {source.options})")
        if block != (source.threads,):
            problems.append(f"blocks of {block} threads (registry: {source.threads})")
        if problems:
            raise StandinError(f"{self.name} is built or launched with {'; '.join(problems)}: "
                               "the checks cover other code")

    def __call__(self, grid: Any, block: Any, args: tuple[Any, ...], *, shared_mem: int = 0) -> None:
        grid, block = tuple(np.atleast_1d(grid).tolist()), tuple(np.atleast_1d(block).tolist())
        if len(grid) != 1 or len(block) != 1 or shared_mem:
            raise StandinError("only one-dimensional launches without dynamic shared memory are modelled")
        host = self._host()
        self._check_against_registry(host, block)
        if len(args) != len(host.params):
            raise StandinError(f"{self.name} takes {len(host.params)} arguments, got {len(args)}")
        values = []
        for param, arg in zip(host.params, args):
            if isinstance(arg, ndarray):
                if not arg.flags.c_contiguous:
                    raise StandinError(f"{self.name}: {param.name} is not C-contiguous, but a RawKernel reads "
                                       "its arrays as contiguous memory")
                values.append(arg._a)
            elif isinstance(arg, np.generic):
                values.append(arg)
            else:
                raise StandinError(f"{self.name}: {param.name} is a {type(arg).__name__}; pass NumPy scalars "
                                   "(CuPy converts Python numbers by its own rules)")
        active().kernel(f"RawKernel {self.name}")
        try:
            host(grid[0], block[0], values)
        except TypeError as error:
            raise StandinError(f"{self.name}: {error}") from error
