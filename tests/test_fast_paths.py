"""Every backend's fast path against the generic array-API code it replaces, on the same backend."""

from __future__ import annotations

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import Backend
from support import HANG_GUARD_S, assert_cross_device, assert_sum_within_bound, assert_within_bound, gemm_bound, host
from support import on_gpu, softmax_bound, summation_bound, transcendental_sum_bound


def assert_same(fast, generic, backend) -> None:
    """Equal values on the CPU (NumPy's relu_backward gives -0.0 where the generic code gives +0.0);
    bit for bit on a GPU, where the kernels ("exact" in the registry, compiled with --fmad=false)
    compute the generic code's operations in its order."""
    fast, generic = host(fast), host(generic)
    if on_gpu(backend) and fast.dtype.kind == "f":
        assert_cross_device(fast, generic, "exact")
    else:
        np.testing.assert_array_equal(fast, generic)


def assert_same_softmax(fast, generic, backend) -> None:
    """As ``assert_same``, but on a GPU the row kernel adds each row in its own order (the registry's
    "reduction" agreement for softmax): within ``softmax_bound``."""
    if on_gpu(backend):
        assert_within_bound(fast, host(generic), softmax_bound(host(generic)), "softmax")
    else:
        assert_same(fast, generic, backend)


@pytest.fixture
def arrays(backend, rng):
    def make(*shape, low=None):
        values = rng.standard_normal(shape) if low is None else rng.uniform(low, 1.0, shape)
        return backend.asfloat(values)

    return make


def test_relu(backend, arrays):
    inputs = arrays(300, 70)
    assert_same(backend.relu(inputs), Backend.relu(backend, inputs), backend)
    assert_same(backend.relu(inputs), Backend.relu(backend, inputs), backend)  # the cached zeros stay zeros


@pytest.mark.parametrize("shape", [(3000, 3), (100, 64), (7, 200), (5, 4096), (64, 20)])
def test_relu_over_tiled_rows(backend, arrays, shape):
    """Narrow rows take NumPy's tiled path (rows left over when the tiles do not divide them);
    a strided input or output takes the plain one."""
    x = arrays(*shape)
    assert_same(backend.relu(x), Backend.relu(backend, x), backend)
    strided = arrays(shape[0], 2 * shape[1])[:, ::2]
    assert_same(backend.relu(strided), Backend.relu(backend, strided), backend)
    out = backend.empty((shape[0], 2 * shape[1]))[:, ::2]
    assert backend.relu(x, out=out) is out
    assert_same(out, Backend.relu(backend, x), backend)


def test_relu_backward(backend, arrays):
    dvalues, inputs = arrays(300, 70), arrays(300, 70)
    assert_same(backend.relu_backward(dvalues, inputs), Backend.relu_backward(backend, dvalues, inputs), backend)


def test_softmax(backend, arrays):
    logits = arrays(257, 10)
    assert_same_softmax(backend.softmax(logits), Backend.softmax(backend, logits), backend)


@pytest.mark.parametrize("label_dtype", ["int64", "uint8", "uint64", "int32"])
def test_softmax_crossentropy_backward(backend, arrays, rng, label_dtype):
    probabilities = Backend.softmax(backend, arrays(257, 10))
    labels = backend.asarray(rng.integers(0, 10, 257).astype(label_dtype))
    assert_same(backend.softmax_cce_backward(probabilities, labels),
                Backend.softmax_cce_backward(backend, probabilities, labels), backend)


@pytest.mark.parametrize("rows", [1, 100, 600])
@pytest.mark.parametrize("classes", [1, 3, 7, 8, 40])
def test_softmax_for_few_and_many_classes(backend, arrays, classes, rows):
    logits = arrays(rows, classes)
    assert_same_softmax(backend.softmax(logits), Backend.softmax(backend, logits), backend)


@pytest.mark.parametrize("shape", [(3000, 3), (100, 64), (7, 200), (5, 4096)])
def test_add_bias(backend, arrays, shape):
    """Narrow rows take NumPy's tiled path, with rows left over when the tiles do not divide them."""
    output, biases = arrays(*shape), arrays(1, shape[1])
    fast, generic = backend.copy(output), backend.copy(output)
    backend.add_bias(fast, biases)
    Backend.add_bias(backend, generic, biases)
    assert_same(fast, generic, backend)
    np.testing.assert_array_equal(host(fast), host(output) + host(biases))


def test_bias_and_activation(backend, arrays):
    """Both write the biased product into ``z``; bias + ReLU is exact everywhere."""
    z, biases = arrays(300, 10), arrays(1, 10)
    fast, generic = backend.copy(z), backend.copy(z)
    assert_same(backend.bias_relu(fast, biases), Backend.bias_relu(backend, generic, biases), backend)
    assert_same(fast, generic, backend)
    fast, generic = backend.copy(z), backend.copy(z)
    assert_same_softmax(backend.bias_softmax(fast, biases), Backend.bias_softmax(backend, generic, biases), backend)
    assert_same(fast, generic, backend)


@pytest.mark.parametrize("label_dtype", ["uint8", "int64"])
def test_batch_sums_and_running_totals(backend, arrays, rng, label_dtype):
    """A batch's summed cross-entropy and its right answers, alone and added into a running total:
    equal to the generic code's, except the cross-entropy on a GPU (CUDA's log, the kernel's order of
    additions: within ``transcendental_sum_bound``, and one more rounding for the total)."""
    probabilities = Backend.softmax(backend, arrays(700, 10))
    labels = backend.asarray(rng.integers(0, 10, 700).astype(label_dtype))
    terms = -np.log(np.clip(host(probabilities)[np.arange(700), host(labels).astype(np.int64)], 1e-7, 1 - 1e-7))
    starts = {"crossentropy_sum": backend.asfloat(3.5), "argmax_matches": backend.asarray(np.int64(5))}
    for op, start in starts.items():
        fast, generic = getattr(backend, op), getattr(Backend, op).__get__(backend)
        ours = [fast(probabilities, labels)[0], *fast(probabilities, labels, backend.copy(start))]
        theirs = [generic(probabilities, labels)[0], *generic(probabilities, labels, backend.copy(start))]
        for mine, reference in zip(ours, theirs):
            if on_gpu(backend) and op == "crossentropy_sum":
                rounding = np.finfo(terms.dtype).eps * abs(float(host(reference)))
                assert_within_bound(mine, host(reference), transcendental_sum_bound(terms) + rounding, op)
            else:
                np.testing.assert_array_equal(host(mine), host(reference))


@pytest.mark.parametrize("label_dtype", ["int64", "uint8", "uint64", "int32"])
def test_pick(backend, arrays, rng, label_dtype):
    values, labels = arrays(257, 10), backend.asarray(rng.integers(0, 10, 257).astype(label_dtype))
    assert_same(backend.pick(values, labels), Backend.pick(backend, values, labels), backend)


@pytest.mark.parametrize("shape", [(1, 3), (1, 10), (5, 1), (5, 3)])
def test_softmax_results_are_fresh_arrays(backend, arrays, shape):
    """A softmax result keeps its values when the next call with the same shape runs, and the
    input is left as it was (one row or one class make a transposed view contiguous)."""
    first, second = arrays(*shape), arrays(*shape)
    kept, first_before = host(backend.softmax(first)).copy(), host(first).copy()
    earlier = backend.softmax(first)
    backend.softmax(second)
    np.testing.assert_array_equal(host(earlier), kept)
    np.testing.assert_array_equal(host(first), first_before)


@pytest.mark.parametrize("classes", [3, 10])
@pytest.mark.parametrize("op", ["relu", "softmax", "relu_backward", "softmax_cce_backward"])
def test_results_are_written_into_out(backend, arrays, rng, op, classes):
    """``out=`` (the arrays a training step reuses) gives the same numbers as a fresh result, on
    the fast path and the generic one, and returns ``out`` itself."""
    first = Backend.softmax(backend, arrays(257, classes)) if op == "softmax_cce_backward" else arrays(257, classes)
    second = backend.asarray(rng.integers(0, classes, 257)) if op == "softmax_cce_backward" else arrays(257, classes)
    arguments = (first,) if op in ("relu", "softmax") else (first, second)
    for implementation in (getattr(backend, op), getattr(Backend, op).__get__(backend)):
        out = backend.empty((257, classes))
        assert implementation(*arguments, out=out) is out
        assert_same(out, implementation(*arguments), backend)


def test_sum_rows_is_the_column_sum_within_float32_rounding(backend, arrays):
    """Any summation order is within ``summation_bound`` (``(n - 1) · eps · Σ|x|``) of the exact sum."""
    x = arrays(300, 7)
    values = host(x).astype(np.float64)
    total = backend.sum_rows(x)
    assert tuple(total.shape) == (1, 7)
    assert np.all(np.abs(host(total)[0] - values.sum(axis=0)) <= summation_bound(host(x), axis=0))
    earlier = backend.zeros((1, 7))
    assert backend.sum_rows(x, out=earlier) is earlier
    np.testing.assert_array_equal(host(earlier), host(total))


@pytest.mark.parametrize("name", ["numpy", "strict"])
def test_sum_rows_in_book_precision_is_numpys_sum(name, rng):
    x = rng.standard_normal((300, 7)).astype(np.float32)
    with nnfs_gpu.use_backend(name, precision="book") as backend:
        total = host(backend.sum_rows(backend.asarray(x)))
    np.testing.assert_array_equal(total, np.sum(x, axis=0, keepdims=True))


def assert_same_product(fast, generic, a, b, backend) -> None:
    """Bit for bit on the CPU; on a GPU the two calls may take different cuBLAS kernels (another
    output address or layout), which sum in another order: within the GEMM's summation bound."""
    if on_gpu(backend):
        assert_sum_within_bound(fast, generic, None, bound=gemm_bound(host(a), host(b)))
    else:
        assert_same(fast, generic, backend)


def test_dot_into_an_earlier_result(backend, arrays):
    a, b = arrays(64, 33), arrays(33, 17)
    earlier = backend.dot(a, b)
    a2 = arrays(64, 33)
    assert_same_product(backend.dot(a2, b, out=earlier), Backend.dot(backend, a2, b), a2, b, backend)
    assert_same_product(backend.dot(a2.T, a, out=None), Backend.dot(backend, a2.T, a), a2.T, a, backend)


UPDATES = {
    "sgd_update": (0, (0.3,)),
    "momentum_update": (1, (0.3, 0.9)),
    "adagrad_update": (1, (0.3, 1e-7)),
    "rmsprop_update": (1, (0.3, 0.9, 1e-7)),
    "adam_update": (2, (0.3, 0.9, 0.999, 1e-7, 3)),
}


@pytest.mark.parametrize("shape", [(40, 30), (1 << 20,), (1031, 1024)], ids=["small", "large-flat", "large-rows"])
@pytest.mark.parametrize("op", UPDATES)
def test_optimizer_updates(backend, arrays, op, shape):
    """Large arrays (the Model's flat buffers, a book-style loop's weights) take NumPy's blocked,
    threaded path, the last block shorter than the others."""
    states, hyperparameters = UPDATES[op]
    grads = [arrays(*shape) for _ in range(2)]
    start = [arrays(*shape)] + [arrays(*shape, low=0.0) for _ in range(states)]
    fast = [backend.copy(x) for x in start]
    generic = [backend.copy(x) for x in start]
    for grad in grads:  # twice, so that state written by the first call is read by the second
        getattr(backend, op)(fast[0], grad, *fast[1:], *hyperparameters)
        getattr(Backend, op)(backend, generic[0], grad, *generic[1:], *hyperparameters)
    for ours, reference in zip(fast, generic):
        assert_same(ours, reference, backend)


@pytest.mark.parametrize("size", [1200, 1 << 20])
@pytest.mark.parametrize("op", UPDATES)
def test_mixed_dtype_updates_are_the_generic_ones(rng, op, size):
    """Book precision's float64 gradients of float32 parameters: the NumPy backend's rewrites and
    numba's kernels step aside for the generic code, which rounds each result to the parameter's
    dtype (the rewrites' scratch would hold float64 values: Adagrad's epsilon added in float64)."""
    states, hyperparameters = UPDATES[op]
    with nnfs_gpu.use_backend("numpy") as backend:
        start = [rng.standard_normal(size).astype(np.float32)] + [rng.uniform(0.0, 1.0, size).astype(np.float32) for _ in range(states)]
        grads = [rng.standard_normal(size) * 1e-3 for _ in range(2)]  # float64
        fast, generic = [x.copy() for x in start], [x.copy() for x in start]
        for grad in grads:
            getattr(backend, op)(fast[0], grad, *fast[1:], *hyperparameters)
            getattr(Backend, op)(backend, generic[0], grad, *generic[1:], *hyperparameters)
    for ours, reference in zip(fast, generic):
        assert ours.dtype == np.float32
        np.testing.assert_array_equal(ours, reference)


@pytest.mark.parametrize("host_rng", [False, True])
def test_dropout_mask_values_and_rate(backend, host_rng):
    mask = host(backend.dropout_mask((500, 200), 0.8, host_rng))
    assert mask.dtype == np.dtype(backend.dtype_name)
    assert set(np.unique(mask)) <= {0.0, np.float32(1 / 0.8)}
    assert abs((mask == 0).mean() - 0.2) < 0.01


def test_threaded_updates_survive_a_fork(tmp_path):
    """The thread pool is rebuilt in a forked child (its threads do not survive the fork)."""
    import subprocess
    import sys

    code = (
        "import os, numpy as np\n"
        "from nnfs_gpu.backends.numpy_backend import NumpyBackend\n"
        "b = NumpyBackend(); p = np.ones(1 << 20, np.float32); g = np.ones_like(p)\n"
        "b.sgd_update(p, g, 0.5)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    b.sgd_update(p, g, 0.5); os._exit(0 if p[0] == 0.0 else 1)\n"
        "_, status = os.waitpid(pid, 0); raise SystemExit(os.waitstatus_to_exitcode(status))\n"
    )
    env = {**__import__("os").environ, "NNFS_GPU_CPU_THREADS": "2"}
    assert subprocess.run([sys.executable, "-c", code], env=env, timeout=HANG_GUARD_S).returncode == 0


def test_a_bad_thread_count_warns_instead_of_failing_the_import():
    import subprocess
    import sys

    env = {**__import__("os").environ, "NNFS_GPU_CPU_THREADS": "auto"}
    result = subprocess.run([sys.executable, "-c", "import nnfs_gpu"], env=env, capture_output=True, text=True)
    assert result.returncode == 0
    assert "NNFS_GPU_CPU_THREADS='auto' is not a whole number >= 1" in result.stderr


def test_scratch_kept_per_thread_is_bounded(rng):
    """Predicting on many batch sizes must not keep a scratch array for each size."""
    from nnfs_gpu.backends.numpy_backend import CACHED_BATCH_SHAPES, NumpyBackend

    backend = NumpyBackend()
    for rows in range(1, 3 * CACHED_BATCH_SHAPES):
        x = rng.standard_normal((rows, 3)).astype(np.float32)
        np.testing.assert_allclose(backend.sum_rows(x), x.sum(axis=0, keepdims=True), rtol=1e-5, atol=1e-6)
        backend.pick(x, np.zeros(rows, np.int64))
    kept = backend._per_thread.__dict__
    assert len(kept["ones_rows"]) == len(kept["row_starts"]) == CACHED_BATCH_SHAPES
