"""Every kernel of the registry compiles as CuPy would compile it on a GPU, checked without one.

NVRTC runs without a GPU or driver. For each kernel of ``cupy_kernels.KERNELS`` the source CuPy
generates is built for every float dtype and label dtype, contiguous and strided operands, 32- and
64-bit indexing, and compiled for sm_80 and sm_90 (A100, H100/H200). Missing CuPy internals fail
the check with a message; nothing here skips.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from kernel_sources import CHECKED_CUPY, KernelCheckError, compile_all, compile_source, cupy_internals
from kernel_sources import nvrtc_options, source_code, variants
from nnfs_gpu import CategoricalCrossentropy
from nnfs_gpu.backends import cupy_kernels
from nnfs_gpu.backends.base import FLOAT_DTYPES
from nnfs_gpu.backends.cupy_kernels import KERNELS, RawSource, ReductionSource

#: a ReductionKernel (the registry holds none yet) and a minimal RawKernel, to see the check handle both kinds
EXAMPLES = [
    ReductionSource("sum_of_squares", "T x", "T y", "x * x", "a + b", "y = a", "0", agreement="reduction",
                    differs="CuPy adds in a tree, the generic code in NumPy's order"),
    RawSource("fill_one", code='extern "C" __global__ void nnfs_gpu_fill_one(T *x, long long n) {'
                               " long long i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) x[i] = (T)1; }"),
]


def test_every_kernel_compiles_in_every_variant_for_sm80_and_sm90():
    count, failures = compile_all(list(KERNELS.values()))
    assert not failures, "\n\n".join(failures)
    assert count == sum(2 * len(variants(source)) for source in KERNELS.values())


def planted(name: str, body: str):
    """A registry kernel with a planted ``body``, in float32 only (a few compiles, not all)."""
    source = KERNELS[name]
    return dataclasses.replace(source, body=body, type_dtypes={**source.type_dtypes, "T": ("float32",)})


def test_a_planted_syntax_or_type_error_fails_the_check():
    syntax = planted("sgd_update", "param -= learning_rate * grad +")
    type_error = planted("adam_update", KERNELS["adam_update"].body.replace("momentums / ", "&momentums / "))
    count, failures = compile_all([syntax, type_error, planted("relu_backward", KERNELS["relu_backward"].body)])
    assert count == 3 * 8
    assert len(failures) == 2 * 8
    assert {failure.split(" ")[0] for failure in failures} == {"sgd_update", "adam_update"}
    assert all("error" in failure for failure in failures)


def test_reduction_and_raw_kernels_compile_and_a_planted_error_fails():
    count, failures = compile_all(EXAMPLES)
    assert not failures, "\n\n".join(failures)
    # float32/64 x two layouts x two index widths x two architectures; a RawKernel has one layout, one width
    assert count == 2 * (2 * 2 * 2) + 2 * 2
    reduction, raw = EXAMPLES
    count, failures = compile_all([dataclasses.replace(reduction, map_expr="x * x +"),
                                   dataclasses.replace(raw, code=raw.code.replace("(T)1", "one"))])
    assert len(failures) == count == 20
    assert all("error" in failure for failure in failures)


def test_exact_kernels_keep_every_multiply_and_add_separately_rounded():
    """With ``--fmad=false`` NVRTC writes each float multiply and add with an explicit rounding mode
    (``mul.rn``), which the assembler never fuses; without it, it writes ``fma`` and bare ``mul``."""
    cp = cupy_internals()
    arithmetic = re.compile(r"\b(fma|mul|add|sub)(\.[a-z]+)*\.f(32|64)\b")
    exact = [source for source in KERNELS.values() if source.agreement == "exact"]
    for source in exact:
        assert "--fmad=false" in source.options, source.name
        for variant in variants(source)[:1]:
            ptx = ptx_of(source_code(source, variant, cp), ptx_options(source.options, cp), cp)
            loose = [m.group(0) for m in arithmetic.finditer(ptx) if m.group(1) == "fma" or ".rn" not in m.group(0)]
            assert not loose, (source.name, loose)


def ptx_options(kernel_options: tuple[str, ...], cp) -> list[str]:
    """CuPy's options, asking for PTX (compute_90) instead of a cubin, to read the instructions."""
    return [o if not o.startswith("-arch=") else "-arch=compute_90" for o in nvrtc_options(kernel_options, "90", cp)]


def ptx_of(code: str, options: list[str], cp) -> str:
    program = cp.nvrtc.createProgram(code, "kernel.cu", [], [])
    try:
        cp.nvrtc.compileProgram(program, options)
        return cp.nvrtc.getPTX(program).decode()
    finally:
        cp.nvrtc.destroyProgram(program)


def test_without_fmad_false_the_check_sees_fused_multiply_adds():
    """The PTX check above can fail: the Adam body compiled without the option has ``fma``."""
    cp = cupy_internals()
    source = KERNELS["adam_update"]
    assert "fma.rn" in ptx_of(source_code(source, variants(source)[0], cp), ptx_options((), cp), cp)


def test_missing_cupy_internals_fail_with_a_message(monkeypatch):
    from cupy._core import _kernel

    monkeypatch.delattr(_kernel, "_get_elementwise_kernel_code")
    with pytest.raises(KernelCheckError, match=r"lacks cupy\._core\._kernel\._get_elementwise_kernel_code"):
        cupy_internals()


def test_an_unchecked_cupy_version_fails_with_a_message(monkeypatch):
    import cupy

    monkeypatch.setattr(cupy, "__version__", "99.0.0")
    with pytest.raises(KernelCheckError, match=rf"CuPy 99\.0\.0 is not a version .*{CHECKED_CUPY[0]}"):
        cupy_internals()


def test_a_kernel_of_an_unknown_kind_fails_instead_of_passing_unchecked():
    @dataclasses.dataclass(frozen=True)
    class Unknown:
        name: str = "mystery"
        kind: str = "jit"

    with pytest.raises(KernelCheckError, match="'jit' kernel, which tests/kernel_sources.py cannot generate"):
        source_code(Unknown(), None, cupy_internals())


def test_compile_errors_carry_nvrtcs_log():
    cp = cupy_internals()
    with pytest.raises(KernelCheckError, match="identifier \"undeclared\" is undefined"):
        compile_source('extern "C" __global__ void f() { undeclared = 1; }', nvrtc_options((), "90", cp), cp)


def test_the_registry_covers_every_float_dtype_and_every_label_dtype_the_losses_accept():
    assert cupy_kernels.FUSED_DTYPES == FLOAT_DTYPES
    loss = CategoricalCrossentropy()
    accepted = set()
    for dtype in sorted({np.dtype(t).name for t in np.sctypeDict.values()}):
        labels = np.zeros(3, dtype=dtype)
        try:
            loss.check_targets(labels, 3, 2)
        except TypeError:
            continue
        accepted.add(dtype)
    assert accepted == set(cupy_kernels.LABEL_DTYPES)
    assert KERNELS["softmax_cce_backward"].type_dtypes["L"] == cupy_kernels.LABEL_DTYPES
