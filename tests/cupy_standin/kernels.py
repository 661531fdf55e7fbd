"""The stand-in's ``cupy.ElementwiseKernel``: one launch per call, the body run on the host (g++,
``host_kernels.py``), and the call checked against the kernel's registry entry."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from host_kernels import C_TYPES, HostKernel, parse_params
from nnfs_gpu.backends.cupy_kernels import KERNELS

from .array import ndarray
from .recorder import StandinError, active

_HOST_KERNELS: dict[tuple, HostKernel] = {}


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
        source = KERNELS.get(self.name.removeprefix("nnfs_gpu_"))
        if source is None:
            raise StandinError(f"kernel {self.name} is not in cupy_kernels.KERNELS, so no check covers it")
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
