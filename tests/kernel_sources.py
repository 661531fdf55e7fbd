"""The CUDA source CuPy compiles for each kernel of ``cupy_kernels.KERNELS``, and NVRTC compiling it
without a GPU or driver (``tests/test_kernel_compile.py`` runs it).

CuPy generates an ElementwiseKernel's source at its first call, from the arguments' dtypes, number
of dimensions (contiguous operands are folded to one), contiguity and indexing width; these helpers
call CuPy's own generator with the argument descriptions such a call makes, and compile the result
with the options CuPy passes (``cupy._core.core.assemble_cupy_compiler_options`` plus ``-ftz=true``,
``-arch=sm_XX`` and ``--device-as-default-execution-space``, from ``cupy/cuda/compiler.py``).

The generator is private CuPy API: ``CHECKED_CUPY`` names the CuPy versions it was written for, and
any other version, or a moved name, fails with a message instead of skipping.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import multiprocessing
import os
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

#: the CuPy major versions whose private code generator these helpers call
CHECKED_CUPY = ("14",)
ARCHITECTURES = ("80", "90")
LAYOUTS = ("contiguous", "strided")
INDEX_BITS = (32, 64)
ARG_KIND_NDARRAY, ARG_KIND_INDEXER, ARG_KIND_SCALAR = 1, 2, 3
REDUCTION_BLOCK = 512  # CuPy's default block size for its reduction kernels on CUDA
INSTALL = "pip install 'cupy-cuda13x>=14,<15' nvidia-cuda-nvrtc nvidia-cuda-runtime"


class KernelCheckError(RuntimeError):
    """The check cannot run here, or a kernel failed it; the message says which and what to do."""


@dataclass(frozen=True)
class Variant:
    """One compiled form of a kernel: dtypes for its type placeholders, operand layout, indexing."""

    dtypes: tuple[tuple[str, str], ...]
    layout: Any  # "contiguous" or "strided"; a reduction's (input ndim, output ndim, input contiguous)
    index_bits: int

    def __str__(self) -> str:
        types = ",".join(f"{name}={dtype}" for name, dtype in self.dtypes)
        return f"{types} {self.layout} {self.index_bits}-bit"


def variants(source: Any) -> list[Variant]:
    """Every dtype combination, operand layout and indexing width (a RawKernel's source has one
    layout, as written, and does its own indexing: 64-bit)."""
    names = sorted(source.type_dtypes)
    layouts = {"reduction": getattr(source, "layouts", ()), "raw": ("as written",)}.get(source.kind, LAYOUTS)
    return [
        Variant(tuple(zip(names, dtypes)), layout, bits)
        for dtypes in itertools.product(*(source.type_dtypes[name] for name in names))
        for layout in layouts
        for bits in ((64,) if source.kind == "raw" else INDEX_BITS)
    ]


def cupy_internals() -> SimpleNamespace:
    """CuPy's private code generator and NVRTC binding, or a KernelCheckError saying what is missing."""
    try:
        import cupy
        from cupy._core import _carray, _kernel, _reduction, _scalar, core
        from cupy_backends.cuda.libs import nvrtc
    except ImportError as error:
        raise KernelCheckError(f"the kernel checks need CuPy and NVRTC ({error}); {INSTALL}") from error
    if cupy.__version__.split(".")[0] not in CHECKED_CUPY:
        raise KernelCheckError(
            f"CuPy {cupy.__version__} is not a version this check was written for ({CHECKED_CUPY}): its private "
            "code generator may have moved; check tests/kernel_sources.py against it and extend CHECKED_CUPY"
        )
    wanted = {_kernel: ("_ArgInfo", "_get_elementwise_kernel_code", "_decide_params_type", "_TypeMap"),
              _reduction: ("_ReductionKernel_get_cached_function_code",), _scalar: ("CScalar",),
              _carray: ("Indexer",), core: ("assemble_cupy_compiler_options", "_cupy_header_list")}
    missing = [f"{module.__name__}.{name}" for module, names in wanted.items() for name in names
               if not hasattr(module, name)]
    if missing:
        raise KernelCheckError(f"CuPy {cupy.__version__} lacks {', '.join(missing)}: update tests/kernel_sources.py")
    try:
        nvrtc.getVersion()
    except Exception as error:  # CuPy raises its own error types when libnvrtc is absent
        raise KernelCheckError(f"NVRTC cannot be loaded ({error}); {INSTALL}") from error
    return SimpleNamespace(cupy=cupy, kernel=_kernel, reduction=_reduction, scalar=_scalar, carray=_carray, core=core,
                           nvrtc=nvrtc)


def _param_dtype(param: Any, dtypes: dict[str, str]) -> np.dtype:
    return np.dtype(dtypes[param.ctype]) if param.ctype in dtypes else np.dtype(param.dtype)


def elementwise_code(source: Any, variant: Variant, cp: SimpleNamespace) -> str:
    """The source CuPy generates for ``source``'s ElementwiseKernel called as ``variant`` describes."""
    kernel = source.build()
    dtypes = dict(variant.dtypes)
    contiguous = variant.layout == "contiguous"
    index_32 = variant.index_bits == 32
    ndim = 1 if contiguous else 2  # CuPy folds contiguous operands to one dimension
    arginfos, in_types = [], []
    for position, param in enumerate(kernel.in_params + kernel.out_params):
        dtype = _param_dtype(param, dtypes)
        if param.name in source.scalars:
            arginfos.append(cp.kernel._ArgInfo(ARG_KIND_SCALAR, cp.scalar.CScalar, dtype, 0, True, True))
        else:
            dims = source.raw_ndim[param.name] if param.raw else ndim
            arginfos.append(cp.kernel._ArgInfo(ARG_KIND_NDARRAY, cp.cupy.ndarray, dtype, dims, contiguous, index_32))
        if position < len(kernel.in_params):
            in_types.append(None if param.name in source.scalars else dtype)
    arginfos.append(cp.kernel._ArgInfo(ARG_KIND_INDEXER, cp.carray.Indexer, None, ndim, True, index_32))
    out_types = tuple(_param_dtype(param, dtypes) for param in kernel.out_params)
    _, _, type_map = kernel._decide_params_type(tuple(in_types), out_types)
    code = cp.kernel._get_elementwise_kernel_code(
        tuple(arginfos), type_map, kernel.params, kernel.operation, kernel.name, kernel.preamble, **kernel.kwargs
    )
    return "".join(f"#include <{header}>\n" for header in cp.core._cupy_header_list) + code


def reduction_code(source: Any, variant: Variant, cp: SimpleNamespace) -> str:
    """The source of CuPy's own reduction kernel (``_ReductionKernel_get_cached_function_code``) for
    ``source`` called as ``variant`` describes; its arguments: inputs, outputs, the input and output
    indexers and the block stride, with CuPy's default block of 512 threads."""
    kernel = source.build()
    dtypes = dict(variant.dtypes)
    in_ndim, out_ndim, contiguous = variant.layout
    index_32 = variant.index_bits == 32
    arginfos, in_types = [], []
    for param, ndim, contiguous_here in [(p, in_ndim, contiguous) for p in kernel.in_params] + [
            (p, out_ndim, True) for p in kernel.out_params]:
        dtype = _param_dtype(param, dtypes)
        if param.name in source.scalars:
            arginfos.append(cp.kernel._ArgInfo(ARG_KIND_SCALAR, cp.scalar.CScalar, dtype, 0, True, True))
        else:
            arginfos.append(cp.kernel._ArgInfo(ARG_KIND_NDARRAY, cp.cupy.ndarray, dtype, ndim, contiguous_here, index_32))
        if param in kernel.in_params:
            in_types.append(None if param.name in source.scalars else dtype.type)
    arginfos += [cp.kernel._ArgInfo(ARG_KIND_INDEXER, cp.carray.Indexer, None, ndim, True, index_32)
                 for ndim in (in_ndim, out_ndim)]
    arginfos.append(cp.kernel._ArgInfo(ARG_KIND_SCALAR, cp.scalar.CScalar, np.dtype("int32"), 0, True, True))
    out_types = tuple(_param_dtype(param, dtypes).type for param in kernel.out_params)
    _, _, type_map = cp.kernel._decide_params_type(kernel.in_params, kernel.out_params, tuple(in_types), out_types)
    type_map = cp.kernel._TypeMap(type_map._pairs + (("IndexT", "int32" if index_32 else "int64"),))
    code = cp.reduction._ReductionKernel_get_cached_function_code(
        kernel.nin, kernel.nout, kernel._params, tuple(arginfos), type_map, kernel.name, REDUCTION_BLOCK,
        kernel.reduce_type, kernel.identity, kernel.map_expr, kernel.reduce_expr, kernel.post_map_expr,
        kernel.preamble, kernel.options,
    )
    return "".join(f"#include <{header}>\n" for header in cp.core._cupy_header_list) + code


def raw_code(source: Any, variant: Variant, cp: SimpleNamespace) -> str:
    """A RawKernel's source for the variant's dtypes, as CuPy compiles it: without CuPy's headers."""
    return source.code_for(dict(variant.dtypes))


def nvrtc_options(kernel_options: tuple[str, ...], architecture: str, cp: SimpleNamespace) -> list[str]:
    """The options CuPy 14 passes to NVRTC for a kernel with ``kernel_options`` on an sm_XX device."""
    options = cp.core.assemble_cupy_compiler_options(tuple(kernel_options))
    return [*options, "-ftz=true", f"-arch=sm_{architecture}", "--device-as-default-execution-space"]


def compile_source(code: str, options: list[str], cp: SimpleNamespace) -> bytes:
    """The cubin NVRTC makes of ``code``; a KernelCheckError with NVRTC's log when it fails or warns."""
    program = cp.nvrtc.createProgram(code, "kernel.cu", [], [])
    try:
        try:
            cp.nvrtc.compileProgram(program, options)
        except Exception as error:
            raise KernelCheckError(f"{error}\n{cp.nvrtc.getProgramLog(program)}") from error
        log = cp.nvrtc.getProgramLog(program).strip("\x00 \n")
        if log and "precompiled header" not in log:
            raise KernelCheckError(f"NVRTC warned:\n{log}")
        return cp.nvrtc.getCUBIN(program)
    finally:
        cp.nvrtc.destroyProgram(program)


def source_code(source: Any, variant: Variant, cp: SimpleNamespace) -> str:
    """The source CuPy compiles for ``source`` called as ``variant`` describes."""
    generators = {"elementwise": elementwise_code, "reduction": reduction_code, "raw": raw_code}
    if source.kind not in generators:
        raise KernelCheckError(
            f"kernel {source.name} is a {source.kind!r} kernel, which tests/kernel_sources.py cannot generate yet: "
            "add a generator for that kind (CuPy's own, as elementwise_code calls it)"
        )
    return generators[source.kind](source, variant, cp)


def _compile_variant(job: tuple[Any, Variant, str]) -> str | None:
    """One compile, in a worker process: None, or the failure named by kernel, variant and architecture."""
    source, variant, architecture = job
    try:
        cp = cupy_internals()
        compile_source(source_code(source, variant, cp), nvrtc_options(source.options, architecture, cp), cp)
    except KernelCheckError as error:
        return f"{source.name} [{variant}, sm_{architecture}]: {error}"
    return None


def compile_all(sources: list[Any], workers: int | None = None) -> tuple[int, list[str]]:
    """Compiles every variant of every source for every architecture, in parallel processes; returns
    the number of compiles and the failures."""
    cupy_internals()  # fails here, once, when the check cannot run at all
    jobs = [(source, variant, architecture) for source in sources
            for variant in variants(source) for architecture in ARCHITECTURES]
    # fresh workers (not forks of this process, whose other threads may hold locks)
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    with concurrent.futures.ProcessPoolExecutor(workers or os.cpu_count() or 1, mp_context=context) as pool:
        results = list(pool.map(_compile_variant, jobs, chunksize=4))
    return len(jobs), [failure for failure in results if failure is not None]
