"""Every kernel of the registry computes what the generic code computes, checked without a GPU.

The cupy backend's op runs on the recording stand-in, where the kernel's body is compiled for the
host by g++ with the GPU's floating-point rules (no contraction into fused multiply-adds; float32
subnormals flushed, as CuPy's ``-ftz=true``); the generic op of ``backends/base.py`` runs on NumPy
with float32 subnormals flushed the same way. Inputs mix ±0, NaN, ±inf and subnormals into normal
values; each kernel's ``agreement`` says how close they must be ("exact": bit for bit).
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

import nnfs_gpu
from cupy_standin import recording_cupy
from host_kernels import flushing_subnormals
from kernel_cases import CASES
from nnfs_gpu import Backend
from nnfs_gpu.backends import NumpyBackend
from nnfs_gpu.backends.cupy_kernels import KERNELS
from support import assert_cross_device, host


def dtype_combinations(name: str) -> list[dict[str, str]]:
    source = KERNELS[name]
    names = sorted(source.type_dtypes)
    return [dict(zip(names, dtypes)) for dtypes in itertools.product(*(source.type_dtypes[n] for n in names))]


def compare(name: str, dtypes: dict[str, str], seed: int = 7) -> None:
    """Runs the kernel's case both ways and compares every result as the kernel's agreement says."""
    assert name in CASES, f"kernel {name} has no case in tests/kernel_cases.py: add one (see its docstring)"
    case = CASES[name](np.random.default_rng(seed), **dtypes)
    float_dtype = dtypes["T"]
    with recording_cupy() as recorder, nnfs_gpu.use_backend("cupy", dtype=float_dtype) as backend:
        device_args = [backend.asarray(arg) if isinstance(arg, np.ndarray) else arg for arg in case.args]
        with recorder.window() as window:
            result = getattr(backend, case.op)(*device_args)
        fast = [host(device_args[i]) for i in case.changed] + ([] if result is None else [host(result)])
    assert f"ElementwiseKernel nnfs_gpu_{name}" in [event.what for event in window.events], "the kernel did not run"
    args = [arg.copy() if isinstance(arg, np.ndarray) else arg for arg in case.args]
    with flushing_subnormals(float_dtype == "float32"), np.errstate(all="ignore"):
        generic = getattr(Backend, case.op)(NumpyBackend(dtype=float_dtype), *args)
    expected = [args[i] for i in case.changed] + ([] if generic is None else [np.asarray(generic)])
    assert len(fast) == len(expected)
    for position, (ours, theirs) in enumerate(zip(fast, expected)):
        assert_cross_device(ours, theirs, KERNELS[name].agreement, f"{name} {dtypes}, result {position}")


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_equals_the_generic_code(name):
    for dtypes in dtype_combinations(name):
        compare(name, dtypes)


@pytest.mark.parametrize(
    "name, planted",
    [
        ("softmax_cce_backward", ("i - row * classes", "i + 1 - row * classes")),
        ("adam_update", ("sqrt(cache / cache_correction)", "sqrt(cache / cache_correction + 1)")),
        ("relu_backward", ("inputs > 0", "inputs >= 0")),
    ],
)
def test_a_planted_bug_in_a_body_fails_the_check(monkeypatch, name, planted):
    source = KERNELS[name]
    assert planted[0] in source.body
    monkeypatch.setitem(KERNELS, name, dataclasses.replace(source, body=source.body.replace(*planted)))
    with pytest.raises(AssertionError, match="ulp apart"):
        compare(name, dtype_combinations(name)[0])


def test_every_kernel_has_a_case():
    assert set(CASES) == set(KERNELS), "tests/kernel_cases.py and cupy_kernels.KERNELS must list the same kernels"


def test_float32_subnormals_are_flushed_on_both_sides():
    """The flush is real: without it NumPy keeps the subnormal that the kernel flushes (the case
    data has subnormals, so the comparison above would fail)."""
    tiny = np.array([np.finfo(np.float32).smallest_subnormal * 4], np.float32)
    assert (tiny * np.float32(1.0))[0] != 0
    with flushing_subnormals():
        assert (tiny * np.float32(1.0))[0] == 0
    assert (tiny * np.float32(1.0))[0] != 0
