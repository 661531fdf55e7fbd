"""Every kernel of the registry computes what the generic code computes, checked without a GPU.

The cupy backend's op runs on the recording stand-in, where the kernel's code is compiled for the
host by g++ with the GPU's floating-point rules (no contraction into fused multiply-adds; float32
subnormals flushed, as CuPy's ``-ftz=true``); the generic op of ``backends/base.py`` runs on NumPy
with float32 subnormals flushed the same way. Inputs mix ±0, NaN, ±inf and subnormals into normal
values; each kernel's ``agreement`` says how close they must be ("exact": bit for bit; otherwise
within the bound its case in ``kernel_cases.py`` derives from ``tests/support.py``'s tolerances).
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

import nnfs_gpu
from cupy_standin import recording_cupy
from host_kernels import HostCodeError, HostRawKernel, flushing_subnormals
from kernel_cases import CASES, Case
from nnfs_gpu import Backend
from nnfs_gpu.backends import NumpyBackend
from nnfs_gpu.backends.cupy_kernels import KERNELS
from support import assert_cross_device, assert_within_bound, host


def dtype_combinations(name: str) -> list[dict[str, str]]:
    source = KERNELS[name]
    names = sorted(source.type_dtypes)
    return [dict(zip(names, dtypes)) for dtypes in itertools.product(*(source.type_dtypes[n] for n in names))]


def results(case: Case, args: list, returned: object) -> list[np.ndarray]:
    """The changed arguments, then what the op returned (each array of a tuple), as host arrays."""
    returned = [] if returned is None else list(returned) if isinstance(returned, tuple) else [returned]
    return [np.asarray(host(value)) for value in [args[i] for i in case.changed] + returned]


def compare(name: str, dtypes: dict[str, str], seed: int = 7) -> None:
    """Runs the kernel's cases both ways and compares every result as the kernel's agreement says."""
    assert name in CASES, f"kernel {name} has no case in tests/kernel_cases.py: add one (see its docstring)"
    cases = CASES[name](np.random.default_rng(seed), **dtypes)
    for case in cases if isinstance(cases, list) else [cases]:
        compare_case(name, dtypes, case)


def compare_case(name: str, dtypes: dict[str, str], case: Case) -> None:
    float_dtype = dtypes["T"]
    with recording_cupy() as recorder, nnfs_gpu.use_backend("cupy", dtype=float_dtype) as backend:
        device_args = [backend.asarray(arg) if isinstance(arg, np.ndarray) else arg for arg in case.args]
        with recorder.window() as window:
            returned = getattr(backend, case.op)(*device_args)
        fast = results(case, device_args, returned)
    launched = [event.what for event in window.events if event.kind == "kernel"]
    assert [what.split(" ")[-1] for what in launched] == [f"nnfs_gpu_{name}"], f"not the kernel alone: {launched}"
    args = [arg.copy() if isinstance(arg, np.ndarray) else arg for arg in case.args]
    with flushing_subnormals(float_dtype == "float32"), np.errstate(all="ignore"):
        generic = getattr(Backend, case.op)(NumpyBackend(dtype=float_dtype), *args)
    expected = results(case, args, generic)
    assert len(fast) == len(expected)
    exact = KERNELS[name].agreement == "exact"
    assert exact == (case.bounds is None), f"{name}: a case gives bounds exactly when its kernel is not exact"
    bounds = [None] * len(expected) if exact else case.bounds(expected)
    for position, (ours, theirs, bound) in enumerate(zip(fast, expected, bounds, strict=True)):
        what = f"{name} {dtypes}, result {position}"
        if theirs.dtype.kind != "f":  # a count
            assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs), f"{what}: {ours} and {theirs} differ"
        elif bound is None:
            assert_cross_device(ours, theirs, "exact", what)
        else:
            assert_within_bound(ours, theirs, bound, what)


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
        ("bias_relu", ("z > (T)0 || z != z", "z > (T)0")),
        ("softmax", ("T total = 0;for (long long column = 0;", "T total = 0;for (long long column = 1;")),
        ("bias_softmax", ("+ biases[column]", "- biases[column]")),
        ("crossentropy_sum", ("for (int thread = 0;", "for (int thread = 1;")),
        ("argmax_matches", ("|| values[column] != values[column]", "")),
    ],
)
def test_a_planted_bug_in_a_body_fails_the_check(monkeypatch, name, planted):
    source = KERNELS[name]
    field = "code" if source.kind == "raw" else "body"
    assert planted[0] in getattr(source, field)
    monkeypatch.setitem(KERNELS, name, dataclasses.replace(source, **{field: getattr(source, field).replace(*planted)}))
    with pytest.raises(AssertionError, match="ulp apart|beyond the bound|differ"):
        compare(name, dtype_combinations(name)[0])


@pytest.mark.parametrize("name", sorted(name for name, source in KERNELS.items() if source.agreement != "exact"))
def test_a_kernel_that_is_not_exact_never_runs_in_book_precision(name):
    """Book precision takes the generic code (and its own exp and log) wherever a kernel would differ."""
    dtypes = dtype_combinations(name)[0]
    cases = CASES[name](np.random.default_rng(7), **dtypes)
    case = cases[0] if isinstance(cases, list) else cases
    with (recording_cupy() as recorder, nnfs_gpu.use_backend("cupy", dtype=dtypes["T"], precision="book") as backend,
          np.errstate(all="ignore")):
        args = [backend.asarray(arg) if isinstance(arg, np.ndarray) else arg for arg in case.args]
        with recorder.window() as window:
            getattr(backend, case.op)(*args)
    launched = [event.what for event in window.events if event.kind == "kernel"]
    assert launched and not any(what.endswith(f"nnfs_gpu_{name}") for what in launched), launched


#: calls a kernel does not take: the op, its arguments as host data, and what to make of them on the device
FALLBACKS = {
    "a bias that is not a row": ("bias_relu", lambda rng: (rng.standard_normal((5, 3)), rng.standard_normal(3)), None),
    "no rows": ("softmax", lambda rng: (np.zeros((0, 3)),), None),
    "strided probabilities": ("crossentropy_sum",
                              lambda rng: (rng.uniform(0, 1, (6, 8)), rng.integers(0, 4, 6).astype(np.uint8)),
                              lambda probabilities, labels: (probabilities[:, ::2], labels)),
    "float labels": ("argmax_matches", lambda rng: (rng.standard_normal((6, 4)), np.zeros(6)), None),
    "a total on the host": ("argmax_matches", lambda rng: (rng.standard_normal((6, 4)), np.zeros(6, np.int32), 5), None),
}


@pytest.mark.parametrize("what", sorted(FALLBACKS))
def test_what_a_kernel_does_not_take_goes_to_the_generic_code(what):
    op, make, on_device = FALLBACKS[what]
    host_args = make(np.random.default_rng(3))
    with recording_cupy() as recorder, nnfs_gpu.use_backend("cupy", dtype="float64") as backend:
        args = [backend.asarray(arg) if isinstance(arg, np.ndarray) else arg for arg in host_args]
        args = list(on_device(*args)) if on_device else args
        copies = [backend.copy(arg) if backend.owns(arg) else arg for arg in args]
        with recorder.window() as window:
            fast = getattr(backend, op)(*args)
        generic = getattr(Backend, op)(backend, *copies)
        fast, generic = (list(result) if isinstance(result, tuple) else [result] for result in (fast, generic))
        for ours, theirs in zip(fast, generic, strict=True):
            np.testing.assert_array_equal(host(ours), host(theirs))
    assert not any("nnfs_gpu" in event.what for event in window.events), window.table()


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


ROTATE = """#define THREADS 4
extern "C" __global__ void rotate(float *x, const long long n) {
    __shared__ float staged[THREADS];
    staged[threadIdx.x] = x[threadIdx.x];
    __syncthreads();
    if (threadIdx.x < n) {
        x[threadIdx.x] = staged[(threadIdx.x + 1) % THREADS];
    }
}
"""


def test_a_raw_kernels_threads_all_reach_a_barrier_before_any_passes_it():
    """Thread t reads what thread t + 1 wrote before the barrier: run thread by thread without the
    barrier's split, thread 0 would read a value not yet written."""
    x = np.arange(4, dtype=np.float32)
    HostRawKernel(ROTATE, "rotate")(1, 4, [x, np.int64(4)])
    np.testing.assert_array_equal(x, [1, 2, 3, 0])


@pytest.mark.parametrize(
    "change, message",
    [
        (("if (threadIdx.x < n) {", "if (threadIdx.x >= n) { return; } {"), "has no return"),
        (("staged[threadIdx.x] = x[threadIdx.x];\n    __syncthreads();",
          "if (n > 0) { staged[threadIdx.x] = x[threadIdx.x]; __syncthreads(); }"), "at the top level"),
        (("float *x", "half *x"), "parameter 'half \\*x'"),
    ],
)
def test_a_raw_kernel_the_host_cannot_run_as_the_gpu_would_is_refused(change, message):
    assert change[0] in ROTATE
    with pytest.raises(HostCodeError, match=message):
        HostRawKernel(ROTATE.replace(*change), "rotate")
