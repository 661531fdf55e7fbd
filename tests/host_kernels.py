"""Kernel code compiled for the host with g++ and called through ctypes.

An ElementwiseKernel body is plain C++ over element references (``const T &grad``, ``T &param``),
the index ``i``, raw parameters indexed by position and scalars by value, so pasted into a loop it
computes on the host what it computes on the GPU. A RawKernel's CUDA source runs on the host with
its block's threads taken one after another: the body becomes a loop over ``threadIdx.x``, and each
``__syncthreads()`` ends that loop and starts the next, so every thread finishes the stretch before
a barrier before any thread starts the stretch after it (one legal schedule of the block; the
registry's RawSource says what shape of kernel this takes). Given the same floating-point
environment, the numbers are the GPU's:
- ``-ffp-contract=off``: no fused multiply-add (the kernels promise none: ``--fmad=false``);
- float32 flushes subnormal inputs and results to zero, as CuPy's ``-ftz=true`` makes the GPU do
  (x86 MXCSR FTZ and DAZ, AArch64 FPCR.FZ), set for the loop and restored after it;
- ``exp``, ``log`` and friends are the host's, not CUDA's (a few ulp apart): kernels that use them
  are not ``exact`` and are compared within a tolerance.
Raw arrays must be C-contiguous (the caller copies), which is what CuPy's ``raw`` indexing means.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnfs_gpu.backends.cupy_kernels import C_TYPES

CTYPES_SCALARS = {
    "bool": ctypes.c_bool, "int8": ctypes.c_byte, "int16": ctypes.c_short, "int32": ctypes.c_int,
    "int64": ctypes.c_longlong, "uint8": ctypes.c_ubyte, "uint16": ctypes.c_ushort, "uint32": ctypes.c_uint,
    "uint64": ctypes.c_ulonglong, "float32": ctypes.c_float, "float64": ctypes.c_double,
}
FLOATING_ENVIRONMENT = r"""
#include <cmath>
#include <cstddef>
using namespace std;
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
static unsigned long long flush_subnormals(int on) {
    unsigned int saved = _mm_getcsr();
    _mm_setcsr(on ? (saved | 0x8040u) : (saved & ~0x8040u));  /* FTZ (bit 15) and DAZ (bit 6) */
    return saved;
}
static void restore(unsigned long long saved) { _mm_setcsr((unsigned int)saved); }
#elif defined(__aarch64__)
static unsigned long long flush_subnormals(int on) {
    unsigned long long saved; __asm__ volatile("mrs %0, fpcr" : "=r"(saved));
    unsigned long long next = on ? (saved | (1ull << 24)) : (saved & ~(1ull << 24));
    __asm__ volatile("msr fpcr, %0" : : "r"(next));
    return saved;
}
static void restore(unsigned long long saved) { __asm__ volatile("msr fpcr, %0" : : "r"(saved)); }
#else
#error "the host kernel checks know the subnormal-flushing controls of x86-64 and AArch64 only"
#endif
extern "C" unsigned long long nnfs_flush_subnormals(int on) { return flush_subnormals(on); }
extern "C" void nnfs_restore(unsigned long long saved) { restore(saved); }
"""


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    raw: bool
    output: bool


def parse_params(in_params: str, out_params: str) -> list[Param]:
    """CuPy's parameter lists (``"raw T x, int64 n"``) as names, types, raw and output flags."""
    params = []
    for text, output in ((in_params, False), (out_params, True)):
        for item in filter(None, (part.strip() for part in text.split(","))):
            words = item.split()
            params.append(Param(words[-1], words[-2], words[0] == "raw", output))
    return params


def _build(code: str) -> ctypes.CDLL:
    """The shared library g++ makes of ``code``, cached by content under the temporary folder."""
    compiler = shutil.which("g++")
    if compiler is None:
        raise RuntimeError("the host kernel checks need g++ (apt-get install g++)")
    folder = Path(tempfile.gettempdir()) / "nnfs_gpu_host_kernels"
    folder.mkdir(exist_ok=True)
    library = folder / f"{hashlib.sha256(code.encode()).hexdigest()[:24]}.so"
    if not library.exists():
        source = library.with_suffix(f".{os.getpid()}.cpp")
        source.write_text(code)
        built = library.with_suffix(f".{os.getpid()}.so")
        command = [compiler, "-std=c++17", "-O2", "-ffp-contract=off", "-fno-fast-math", "-shared", "-fPIC",
                   "-o", str(built), str(source)]
        result = subprocess.run(command, capture_output=True, text=True)
        source.unlink()
        if result.returncode != 0:
            raise RuntimeError(f"g++ failed on a kernel body:\n{result.stderr}\n{code}")
        os.replace(built, library)
    return ctypes.CDLL(str(library))


class HostKernel:
    """One ElementwiseKernel body for concrete dtypes, callable on NumPy arrays."""

    def __init__(self, in_params: str, out_params: str, body: str, dtypes: dict[str, str], scalars: set[str]) -> None:
        self.params = parse_params(in_params, out_params)
        self.dtypes, self.scalars = dict(dtypes), set(scalars)
        self.library = _build(self.code(body))
        self.library.nnfs_kernel.restype = None

    def dtype_of(self, param: Param) -> str:
        return self.dtypes.get(param.type, param.type)

    def code(self, body: str) -> str:
        typedefs = "".join(f"typedef {C_TYPES[dtype]} {name};\n" for name, dtype in sorted(self.dtypes.items()))
        arguments, references = [], []
        for param in self.params:
            ctype = C_TYPES[self.dtype_of(param)]
            const = "" if param.output else "const "
            if param.name in self.scalars:
                arguments.append(f"const {ctype} {param.name}")
            elif param.raw:
                arguments.append(f"{const}{ctype} *{param.name}")
            else:
                arguments.append(f"{const}{ctype} *_raw_{param.name}")
                references.append(f"{const}{ctype} &{param.name} = _raw_{param.name}[i];")
        return (f"{FLOATING_ENVIRONMENT}{typedefs}extern \"C\" void nnfs_kernel(long long _n, int _ftz, "
                f"{', '.join(arguments)}) {{\n  unsigned long long _saved = flush_subnormals(_ftz);\n"
                f"  for (ptrdiff_t i = 0; i < _n; ++i) {{\n    {' '.join(references)}\n    {body};\n  }}\n"
                f"  restore(_saved);\n}}\n")

    def __call__(self, size: int, arguments: list[Any]) -> None:
        """Runs the loop over ``size`` elements; arrays are C-contiguous NumPy arrays of the parameter's
        dtype (non-raw ones of ``size`` elements), scalars NumPy scalars or Python numbers."""
        values = []
        for param, argument in zip(self.params, arguments):
            if param.name in self.scalars:
                values.append(CTYPES_SCALARS[self.dtype_of(param)](argument))
            else:
                if not (isinstance(argument, np.ndarray) and argument.flags.c_contiguous
                        and argument.dtype == np.dtype(self.dtype_of(param))):
                    raise TypeError(f"{param.name}: expected a C-contiguous {self.dtype_of(param)} array")
                values.append(ctypes.c_void_p(argument.ctypes.data))
        flush = any(dtype == "float32" for dtype in self.dtypes.values())
        self.library.nnfs_kernel(ctypes.c_longlong(size), ctypes.c_int(int(flush)), *values)


class flushing_subnormals:
    """Flushes subnormals on this thread while open (for NumPy's side of a float32 comparison)."""

    def __init__(self, on: bool = True) -> None:
        self.on = on
        self.library = _build(FLOATING_ENVIRONMENT)
        self.library.nnfs_flush_subnormals.restype = ctypes.c_ulonglong

    def __enter__(self) -> "flushing_subnormals":
        self.saved = self.library.nnfs_flush_subnormals(ctypes.c_int(int(self.on)))
        return self

    def __exit__(self, *exc: object) -> None:
        self.library.nnfs_restore(ctypes.c_ulonglong(self.saved))


#: what a RawKernel's CUDA source needs on the host: one block's coordinates, and a barrier that
#: ends the loop over the block's threads and starts the next one (see the module docstring)
CUDA_ON_HOST = r"""
struct nnfs_dim3 { unsigned int x, y, z; };
static nnfs_dim3 threadIdx = {0, 0, 0}, blockIdx = {0, 0, 0}, blockDim = {1, 1, 1}, gridDim = {1, 1, 1};
#define __global__
#define __device__
#define __shared__ static
#define __syncthreads() } for (threadIdx.x = 0; threadIdx.x < blockDim.x; ++threadIdx.x) {
extern "C" void nnfs_configure(unsigned int blocks, unsigned int threads, unsigned int block) {
    gridDim.x = blocks; blockDim.x = threads; blockIdx.x = block;
}
"""
THREAD_LOOP = "for (threadIdx.x = 0; threadIdx.x < blockDim.x; ++threadIdx.x) {"
DTYPES_OF_C_TYPES = {ctype: dtype for dtype, ctype in C_TYPES.items()}


class HostCodeError(ValueError):
    """A RawKernel's source has a shape the host cannot run as the GPU would; the message says which."""


@dataclass(frozen=True)
class RawParam:
    name: str
    dtype: str
    pointer: bool
    const: bool


def _matching(text: str, start: int, opening: str, closing: str) -> int:
    """The index of the bracket closing the one at ``start``."""
    depth = 0
    for index in range(start, len(text)):
        depth += {opening: 1, closing: -1}.get(text[index], 0)
        if depth == 0:
            return index
    raise HostCodeError(f"unbalanced {opening}{closing} in the kernel's source")


class HostRawKernel:
    """A RawKernel's source (with its typedefs) for the host, callable on NumPy arrays and scalars."""

    def __init__(self, code: str, name: str) -> None:
        #: the dtype of each type placeholder, from the source's typedefs
        self.typedefs = {alias: DTYPES_OF_C_TYPES[ctype] for ctype, alias in re.findall(r"typedef (.+?) (\w+);", code)}
        self.float32 = "float32" in self.typedefs.values()
        signature = re.search(rf'extern "C" __global__ void {name}\s*\(', code)
        if signature is None:
            raise HostCodeError(f'no extern "C" __global__ function {name} in the source')
        closing = _matching(code, signature.end() - 1, "(", ")")
        self.params = [self._param(text, self.typedefs) for text in code[signature.end():closing].split(",")]
        opening = code.index("{", closing)
        body_end = _matching(code, opening, "{", "}")
        body = self._serialized(code[opening + 1:body_end])
        self.library = _build(f"{FLOATING_ENVIRONMENT}{CUDA_ON_HOST}{code[:opening + 1]}{body}{code[body_end:]}")
        self.function = getattr(self.library, name)
        self.function.restype = None

    @staticmethod
    def _param(text: str, typedefs: dict[str, str]) -> RawParam:
        words = text.replace("*", " * ").split()
        ctype = " ".join(word for word in words[:-1] if word not in ("const", "*"))
        dtype = typedefs.get(ctype) or DTYPES_OF_C_TYPES.get(ctype)
        if dtype is None:
            raise HostCodeError(f"parameter {text.strip()!r}: the host checks know the types {sorted(C_TYPES)}")
        return RawParam(words[-1], dtype, "*" in words, "const" in words)

    @staticmethod
    def _serialized(body: str) -> str:
        """The body as loops over the block's threads: ``__shared__`` declarations first, outside them."""
        if re.search(r"\breturn\b", body):
            raise HostCodeError("a RawKernel the host runs has no return: a thread that returns early would end "
                                "the loop over the block's threads (guard the rest with an if instead)")
        for barrier in re.finditer(r"__syncthreads\(\)", body):
            if body[:barrier.start()].count("{") != body[:barrier.start()].count("}"):
                raise HostCodeError("every __syncthreads() must stand at the top level of the kernel's body")
        shared = re.match(r"(\s*__shared__[^;]*;)*", body).end()
        return f"{body[:shared]}\n    {THREAD_LOOP}{body[shared:]}}}\n"

    def __call__(self, blocks: int, threads: int, arguments: list[Any]) -> None:
        """Runs the ``blocks`` blocks of ``threads`` threads one after another; arrays are C-contiguous
        NumPy arrays of their parameter's dtype, written in place; scalars NumPy scalars of theirs."""
        values = []
        for param, argument in zip(self.params, arguments, strict=True):
            is_array = isinstance(argument, np.ndarray)
            fits = param.pointer == is_array and (not is_array or argument.flags.c_contiguous)
            if not fits or np.dtype(argument.dtype) != np.dtype(param.dtype):
                raise TypeError(f"{param.name}: expected a C-contiguous {param.dtype} array" if param.pointer
                                else f"{param.name}: expected a {param.dtype} scalar")
            values.append(ctypes.c_void_p(argument.ctypes.data) if param.pointer
                          else CTYPES_SCALARS[param.dtype](argument.item()))
        with flushing_subnormals(self.float32):
            for block in range(blocks):
                self.library.nnfs_configure(ctypes.c_uint(blocks), ctypes.c_uint(threads), ctypes.c_uint(block))
                self.function(*values)
