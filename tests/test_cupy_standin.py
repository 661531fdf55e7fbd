"""The recording stand-in against sequences whose CuPy 14 launches and waits are known (from CuPy's
source, see tests/cupy_standin), and its refusal of everything it does not model."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import nnfs_gpu
from cupy_standin import StandinError, recording_cupy


@pytest.fixture
def standin():
    with recording_cupy() as recorder:
        import cupy

        yield cupy, recorder


def counted(recorder, action) -> dict[str, int]:
    with recorder.window() as window:
        action()
    return window.by_kind()


def pinned(cp, a):
    import cupyx

    return cupyx.empty_pinned((), a.dtype)


def recorded_event(cp):
    event = cp.cuda.Event(disable_timing=True)
    event.record()
    return event


@pytest.mark.parametrize(
    "name, action, expected",
    [
        ("an operator", lambda cp, a: a + a, {"kernel": 1}),
        ("an in-place operator with a scalar", lambda cp, a: a.__iadd__(1.0), {"kernel": 1}),
        ("a ufunc into out", lambda cp, a: cp.maximum(a, 0.0, out=a), {"kernel": 1}),
        ("a ufunc into an overlapping out", lambda cp, a: cp.add(a[:, ::-1], 1.0, out=a), {"kernel": 2}),
        ("empty", lambda cp, a: cp.empty((3, 4), dtype=cp.float32), {}),
        ("zeros", lambda cp, a: cp.zeros((3, 4), dtype=cp.float32), {"memset": 1}),
        ("ones", lambda cp, a: cp.ones((3, 4), dtype=cp.float32), {"kernel": 1}),
        ("a slice and a transpose", lambda cp, a: a[1:, :2].T, {}),
        ("astype without a copy", lambda cp, a: a.astype(a.dtype, copy=False), {}),
        ("astype, which copies by default", lambda cp, a: a.astype(a.dtype), {"kernel": 1}),
        ("host to device", lambda cp, a: cp.asarray(np.ones(3)), {"copy": 1}),
        ("float() of a device number", lambda cp, a: float(a[0, 0]), {"copy": 1, "sync": 1}),
        ("bool() of a device number", lambda cp, a: bool(a[0, 0] > 0), {"kernel": 1, "copy": 1, "sync": 1}),
        ("formatting a device number", lambda cp, a: f"{a[0, 0]:.3f}", {"copy": 1, "sync": 1}),
        ("a stream synchronize", lambda cp, a: cp.cuda.get_current_stream().synchronize(), {"sync": 1}),
        ("a small whole sum (one CUB tile)", lambda cp, a: cp.sum(a), {"kernel": 1}),
        ("a large whole sum (two CUB passes)", lambda cp, a: cp.sum(cp.ones(5000, cp.float32)), {"kernel": 1 + 2}),
        ("a row sum (segmented)", lambda cp, a: cp.sum(a, axis=1, keepdims=True), {"kernel": 1}),
        ("a column sum (CuPy's kernel)", lambda cp, a: cp.sum(a, axis=0), {"kernel": 1}),
        ("a GEMM", lambda cp, a: cp.matmul(a, a.T), {"kernel": 1}),
        ("a GEMM of a strided operand", lambda cp, a: cp.matmul(a[:, ::2], a[:, ::2].T), {"kernel": 3}),
        ("a GEMM into a strided out", lambda cp, a: cp.matmul(a, a.T, out=cp.empty((6, 12), cp.float32)[:, ::2]),
         {"kernel": 2}),
        ("take_along_axis of a matrix", lambda cp, a: cp.take_along_axis(a, cp.zeros((6, 1), cp.int64), 1),
         {"memset": 1, "kernel": 5}),
        ("a copy into pinned memory", lambda cp, a: a[0, 0].get(out=pinned(cp, a), blocking=False), {"copy": 1}),
        ("a blocking copy into pinned memory", lambda cp, a: a[0, 0].get(out=pinned(cp, a)), {"copy": 1, "sync": 1}),
        ("an event's record and query", lambda cp, a: recorded_event(cp).done, {}),
    ],
)
def test_known_sequences(standin, name, action, expected):
    cp, recorder = standin
    a = cp.asarray(np.arange(36, dtype=np.float32).reshape(6, 6) - 10)
    assert counted(recorder, lambda: action(cp, a)) == expected, name


def test_values_are_numpys(standin):
    cp, _ = standin
    a = cp.asarray(np.array([[1.0, -2.0], [3.0, 4.0]], np.float32))
    np.testing.assert_array_equal(cp.asnumpy(cp.maximum(a @ a, 0.0)), np.maximum(a.get() @ a.get(), 0))


@pytest.mark.parametrize(
    "action, message",
    [
        (lambda cp, a: cp.concatenate([a, a]), "does not model cupy.concatenate"),
        (lambda cp, a: cp.linalg.norm(a), "does not model cupy.linalg.norm"),
        (lambda cp, a: cp.random.random_sample((2, 2)), "does not model cupy.random.random_sample"),
        (lambda cp, a: a.data, r"does not model cupy.ndarray.data"),
        (lambda cp, a: a[a > 0], "boolean masks synchronise"),
        (lambda cp, a: cp.mean(a), "does not model cupy.mean"),
        (lambda cp, a: cp.sum(a, out=cp.empty(())), r"out=...\) on CUB's path"),
        (lambda cp, a: a[0, 0].get(out=np.empty((), a.dtype), blocking=False), "asynchronous only into pinned memory"),
        (lambda cp, a: __import__("cupyx").zeros_pinned((3,)), "does not model cupyx.zeros_pinned"),
    ],
)
def test_what_it_does_not_model_fails_loudly(standin, action, message):
    cp, _ = standin
    a = cp.asarray(np.ones((3, 3), np.float32))
    with pytest.raises(StandinError, match=message):
        action(cp, a)


def test_implicit_host_conversion_is_refused_as_cupy_refuses_it(standin):
    cp, _ = standin
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        np.asarray(cp.zeros(3))


def test_a_kernel_called_otherwise_than_its_registry_entry_is_refused(standin):
    """The compile check generates the code the registry describes; a call that differs would run other code."""
    cp, _ = standin
    from nnfs_gpu.backends.cupy_kernels import kernel

    grad, param = cp.asarray(np.ones(4, np.float32)), cp.asarray(np.ones(4, np.float32))
    kernel("sgd_update")(grad, np.float32(0.5), param)
    with pytest.raises(StandinError, match=r"scalars \[\] \(registry: \['learning_rate'\]\)"):
        kernel("sgd_update")(grad, cp.asarray(np.float32(0.5)), param)
    with pytest.raises(StandinError, match=r"T=float16"):
        kernel("sgd_update")(grad.astype(np.float16), np.float16(0.5), param.astype(np.float16))


def test_the_real_modules_are_back_afterwards():
    import array_api_compat.cupy as compat_before
    import cupy as real

    with recording_cupy():
        import cupy as standin

        assert standin is not real and sys.modules["cupy"] is standin
        assert nnfs_gpu.use_backend  # the backend made inside uses the stand-in (see the budget test)
    import array_api_compat.cupy as compat_after

    assert sys.modules["cupy"] is real and compat_after is compat_before


def test_the_cupy_backend_runs_on_it_with_its_own_namespace(standin):
    cp, recorder = standin
    with nnfs_gpu.use_backend("cupy") as backend:
        assert type(backend).__name__ == "CupyBackend" and backend.xp.__name__ == "array_api_compat.cupy"
        x = backend.asarray(np.ones((4, 3), np.float32))
        assert isinstance(x, cp.ndarray) and backend.owns(x)
        assert counted(recorder, lambda: backend.relu_backward(x, x)) == {"kernel": 1}
        assert counted(recorder, lambda: backend.to_numpy(x)) == {"copy": 1, "sync": 1}


def test_an_event_is_done_once_the_device_caught_up_or_the_host_waited(standin):
    """The device runs DEVICE_LAG operations behind the host: asking never waits, waiting is a sync."""
    from cupy_standin.recorder import DEVICE_LAG

    cp, recorder = standin
    a = cp.asarray(np.ones(3, np.float32))
    event = recorded_event(cp)
    assert not event.done
    for _ in range(DEVICE_LAG - 1):
        a += 1.0
    assert not event.done
    a += 1.0
    assert event.done
    late = recorded_event(cp)
    a += 1.0
    assert counted(recorder, late.synchronize) == {"sync": 1} and late.done
    assert recorder.done(recorder.queued - 1) and not recorder.done(recorder.queued)


def raw_launch(cp, name: str, *args, block: int | None = None, dtypes=None):
    from nnfs_gpu.backends.cupy_kernels import KERNELS, kernel

    source = KERNELS[name]
    return kernel(name, **(dtypes or {"T": "float32", "L": "uint8"}))((1,), (block or source.threads,), args)


def test_a_raw_kernel_runs_once_on_the_host_as_its_block_would(standin):
    cp, recorder = standin
    outputs = cp.asarray(np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3], [0.2, 0.2, 0.6]], np.float32))
    labels = cp.asarray(np.array([1, 1, 2], np.uint8))
    batch, total = cp.empty((), cp.int64), cp.asarray(np.int64(40))
    launch = lambda: raw_launch(cp, "argmax_matches", outputs, labels, np.int64(3), np.int64(3), np.bool_(True),
                                batch, total)
    assert counted(recorder, launch) == {"kernel": 1}
    assert (int(batch.get()), int(total.get())) == (2, 42)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"running": True}, "running is a bool; pass NumPy scalars"),
        ({"rows": np.int32(3)}, "rows: expected a int64 scalar"),
        ({"labels": "strided"}, "labels is not C-contiguous"),
        ({"block": 128}, r"blocks of \(128,\) threads \(registry: 256\)"),
        ({"dtypes": {"T": "float16", "L": "uint8"}}, "kernel argmax_matches takes"),
    ],
)
def test_a_raw_kernel_called_otherwise_than_its_source_declares_is_refused(standin, change, message):
    cp, _ = standin
    outputs, batch, total = cp.asarray(np.ones((4, 3), np.float32)), cp.empty((), cp.int64), cp.empty((), cp.int64)
    labels = cp.asarray(np.zeros(8, np.uint8))[::2] if change.get("labels") else cp.asarray(np.zeros(4, np.uint8))
    arguments = dict(rows=np.int64(4), classes=np.int64(3), running=np.bool_(False))
    arguments.update({name: value for name, value in change.items() if name in arguments})
    with pytest.raises((StandinError, ValueError), match=message):
        raw_launch(cp, "argmax_matches", outputs, labels, *arguments.values(), batch, total,
                   block=change.get("block"), dtypes=change.get("dtypes"))
