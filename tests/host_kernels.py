"""ElementwiseKernel bodies compiled for the host with g++ and called through ctypes.

A body is plain C++ over element references (``const T &grad``, ``T &param``), the index ``i``,
raw parameters indexed by position and scalars by value, so pasted into a loop it computes on the
host what it computes on the GPU, given the same floating-point environment:
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
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: the C type CuPy writes for each dtype (cupy/_core/_scalar.pyx)
C_TYPES = {
    "bool": "bool", "int8": "signed char", "int16": "short", "int32": "int", "int64": "long long",
    "uint8": "unsigned char", "uint16": "unsigned short", "uint32": "unsigned int",
    "uint64": "unsigned long long", "float32": "float", "float64": "double",
}
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
