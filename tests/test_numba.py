"""The fused numba kernels of the NumPy backend give NumPy's numbers, bit for bit.

Each op through the kernels (``NumpyBackend``) against the same op through NumPy alone
(``NumpyUfuncs``), on data with NaN, infinities, signed zeros and subnormals, at sizes that take
the serial and the parallel kernels; and whole training runs with and without numba. The other CI
leg runs the suite with ``NNFS_GPU_NUMBA=0``, where these tests skip and everything else runs on
NumPy alone.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu.backends import numba_ops
from nnfs_gpu.backends.numpy_backend import NumpyBackend, NumpyUfuncs
from support import fixed_runs


pytestmark = [
    pytest.mark.skipif(
        numba_ops.kernels() is None,
        reason="numba is not installed or NNFS_GPU_NUMBA=0 (the other CI leg runs these with numba)",
    ),
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),  # NumPy's own warnings about the NaN in the data
]

SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -1e-40, 1e-7, 1 - 1e-7, 88.0, -104.0]


def assert_bits(actual, expected) -> None:
    """Equal bits: the same values, NaN where NaN, and the same sign of every zero."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    np.testing.assert_array_equal(actual, expected)
    np.testing.assert_array_equal(np.signbit(actual), np.signbit(expected))


@pytest.fixture(params=["float32", "float64"])
def numpy_backend(request):
    with nnfs_gpu.use_backend("numpy", dtype=request.param) as backend:
        yield backend


def data(rng, shape, dtype, special=True, low=None) -> np.ndarray:
    values = rng.standard_normal(shape) * 3 if low is None else rng.uniform(low, 1.0, shape)
    if special:
        flat = values.reshape(-1)
        flat[rng.choice(flat.size, min(flat.size // 3, 40), replace=False)] = rng.choice(SPECIAL, min(flat.size // 3, 40))
    return values.astype(dtype)


SHAPES = [(1, 1), (7, 3), (300, 64), (128, 200), (1100, 1000)]  # the last takes the parallel kernels


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("op", ["relu", "bias_relu", "relu_backward", "add_bias"])
def test_forward_and_backward_ops(numpy_backend, rng, op, shape):
    dtype = numpy_backend.dtype_name
    first, second = data(rng, shape, dtype), data(rng, shape, dtype)
    biases = data(rng, (1, shape[1]), dtype)
    arguments = {"relu": (first,), "relu_backward": (first, second), "bias_relu": (first, biases),
                 "add_bias": (first, biases)}[op]
    ours, theirs = [a.copy() for a in arguments], [a.copy() for a in arguments]
    fused = getattr(numpy_backend, op)(*ours)
    plain = getattr(NumpyUfuncs, op)(numpy_backend, *theirs)
    if op != "add_bias":  # which returns nothing
        assert_bits(fused, plain)
    for changed, expected in zip(ours, theirs):  # the bias ops add the biases to z in place, as the generic code
        assert_bits(changed, expected)


@pytest.mark.parametrize("rows", [1, 7, 128, 129, 3000])
@pytest.mark.parametrize("classes", [1, 3, 10, 200])
def test_loss_and_accuracy_sums(numpy_backend, rng, rows, classes):
    dtype = numpy_backend.dtype_name
    probabilities = NumpyUfuncs.softmax(numpy_backend, data(rng, (rows, classes), dtype, special=False))
    probabilities.reshape(-1)[rng.choice(probabilities.size, min(5, probabilities.size), replace=False)] = 0.0
    labels = rng.integers(0, classes, rows).astype(np.uint8)
    for fused, plain in [(numpy_backend.crossentropy_sum, lambda *a: NumpyUfuncs.crossentropy_sum(numpy_backend, *a)),
                         (numpy_backend.argmax_matches, lambda *a: NumpyUfuncs.argmax_matches(numpy_backend, *a))]:
        batch, total = fused(probabilities, labels)
        expected_batch, expected_total = plain(probabilities, labels)
        assert_bits(batch, expected_batch)
        assert_bits(fused(probabilities, labels, total)[1], plain(probabilities, labels, expected_total)[1])


def test_argmax_counts_nan_as_the_largest_value(numpy_backend):
    outputs = np.array([[1.0, np.nan, 3.0], [np.nan, 5.0, 2.0], [2.0, 2.0, 1.0]], dtype=numpy_backend.dtype_name)
    labels = np.array([1, 0, 0], dtype=np.int64)
    assert int(numpy_backend.argmax_matches(outputs, labels)[0]) == int(NumpyUfuncs.argmax_matches(numpy_backend, outputs, labels)[0]) == 3


def test_softmax_crossentropy_backward(numpy_backend, rng):
    for rows, classes in [(1, 3), (257, 10), (3000, 64)]:
        probabilities = NumpyUfuncs.softmax(numpy_backend, data(rng, (rows, classes), numpy_backend.dtype_name))
        labels = rng.integers(0, classes, rows).astype(np.int32)
        assert_bits(numpy_backend.softmax_cce_backward(probabilities, labels),
                    NumpyUfuncs.softmax_cce_backward(numpy_backend, probabilities, labels))


@pytest.mark.parametrize("keep", [0.9, 0.5, 1.0, 0.6551136029553816])  # the last: float32 division would differ
def test_dropout_masks(numpy_backend, keep):
    """The same draws from the same seed, scaled as ``draws / keep`` in float64 and then rounded."""
    shapes = [(1, 1), (7, 3), (300, 64)]
    np.random.seed(5)
    fused = [numpy_backend.dropout_mask(shape, keep) for shape in shapes]
    np.random.seed(5)
    plain = [NumpyUfuncs.dropout_mask(numpy_backend, shape, keep) for shape in shapes]
    for ours, theirs in zip(fused, plain):
        assert_bits(ours, theirs)


UPDATES = {
    "sgd_update": (0, (0.3,)),
    "momentum_update": (1, (0.3, 0.9)),
    "adagrad_update": (1, (0.3, 1e-7)),
    "rmsprop_update": (1, (0.3, 0.9, 1e-7)),
    "adam_update": (2, (0.3, 0.9, 0.999, 1e-7, 3)),
}


@pytest.mark.parametrize("shape", [(40, 30), (1 << 17,), (1031, 1024)])
@pytest.mark.parametrize("op", UPDATES)
def test_optimizer_updates(numpy_backend, rng, op, shape):
    """Twice, so that the state the first call writes is read by the second; the largest arrays
    take both the parallel kernel and NumPy's blocked, threaded path."""
    states, hyperparameters = UPDATES[op]
    dtype = numpy_backend.dtype_name
    start = [data(rng, shape, dtype)] + [data(rng, shape, dtype, special=False, low=0.0) for _ in range(states)]
    ours, theirs = [a.copy() for a in start], [a.copy() for a in start]
    for _ in range(2):
        grad = data(rng, shape, dtype)
        getattr(numpy_backend, op)(ours[0], grad, *ours[1:], *hyperparameters)
        getattr(NumpyUfuncs, op)(numpy_backend, theirs[0], grad, *theirs[1:], *hyperparameters)
    for fused, plain in zip(ours, theirs):
        assert_bits(fused, plain)


def test_an_update_of_arrays_of_other_shapes_is_left_to_numpy(numpy_backend):
    """The kernels walk the parameter's elements over every array: a gradient of another shape
    (broadcast by NumPy) must not be read past its end."""
    dtype = numpy_backend.dtype_name
    param, grad = np.zeros((4, 5), dtype), np.ones((1, 5), dtype)
    expected = param.copy()
    NumpyUfuncs.sgd_update(numpy_backend, expected, grad, 1.0)
    numpy_backend.sgd_update(param, grad, 1.0)
    assert_bits(param, expected)
    assert float(param.sum()) == -20.0


def test_a_training_run_uses_the_kernels(monkeypatch):
    """Each hot op of a training step goes through its kernel (recorded as the ops look them up)."""
    compiled, used = numba_ops.kernels(), set()

    class Recording:
        def __getattr__(self, name):
            used.add(name)
            return getattr(compiled, name)

    monkeypatch.setattr(numba_ops, "kernels", Recording)
    with nnfs_gpu.use_backend("numpy"):
        np.random.seed(0)
        model = nnfs_gpu.Model()
        for layer in (nnfs_gpu.Dense(2, 8), nnfs_gpu.ReLU(), nnfs_gpu.Dense(8, 3), nnfs_gpu.Softmax()):
            model.add(layer)
        model.set(loss=nnfs_gpu.CategoricalCrossentropy(), optimizer=nnfs_gpu.Adam(), accuracy=nnfs_gpu.Categorical())
        model.finalize()
        model.train(np.random.randn(30, 2).astype(np.float32), np.arange(30) % 3, epochs=2, verbose=False)
    assert {"add_bias", "bias_relu", "relu_backward", "softmax_cce_backward", "adam_update", "argmax_matches",
            "picked_and_clipped"} <= used, used


def test_whole_runs_give_the_same_bits_with_and_without_numba():
    """Chapter 10's loop and a Model with every optimizer, both precisions (see fixed_runs.py)."""
    with_numba, without = fixed_runs("numpy", NNFS_GPU_NUMBA="1"), fixed_runs("numpy", NNFS_GPU_NUMBA="0")
    for precision in without:
        for run in without[precision]:
            assert with_numba[precision][run] == without[precision][run], f"{precision} precision, run {run!r}"


def test_without_numba_the_backend_runs_on_numpy_alone():
    code = (
        "import sys; sys.modules['numba'] = None\n"
        "import numpy as np, nnfs_gpu\n"
        "from nnfs_gpu.backends import numba_ops\n"
        "b = nnfs_gpu.set_backend('numpy')\n"
        "x = np.arange(12, dtype=np.float32).reshape(4, 3)\n"
        "assert numba_ops.kernels() is None\n"
        "assert numba_ops.NumbaOps not in type(b).__mro__, 'no layer that only falls back'\n"
        "assert np.allclose(b.softmax(x).sum(axis=1), 1) and (b.relu(x - 5) >= 0).all()\n"
        "print('numba' in sys.modules and sys.modules['numba'] is not None)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_importing_nnfs_gpu_does_not_import_numba():
    result = subprocess.run([sys.executable, "-c", "import sys, nnfs_gpu; print('numba' in sys.modules)"],
                            capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_kernels_are_numpy_backend_overrides_with_a_fallback():
    """Off the kernels' path (a strided array), the op falls back to NumPy's own code."""
    backend = NumpyBackend()
    strided = np.arange(24, dtype=np.float32).reshape(4, 6)[:, ::2] - 5
    assert_bits(backend.relu(strided), NumpyUfuncs.relu(backend, strided))


def test_kernels_survive_a_fork_and_threads():
    """Parallel kernels in a forked child (GNU OpenMP's threads would kill it) and from several
    threads at once (numba's pool takes one parallel region at a time: threads run serially)."""
    code = (
        "import os, threading, numpy as np\n"
        "from nnfs_gpu.backends.numpy_backend import NumpyBackend\n"
        "b = NumpyBackend(); p = np.ones(1 << 20, np.float32); g = np.ones_like(p)\n"
        "b.sgd_update(p, g, 0.5)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    b.sgd_update(p, g, 0.5); os._exit(0 if p[0] == 0.0 else 1)\n"
        "_, status = os.waitpid(pid, 0); assert os.waitstatus_to_exitcode(status) == 0\n"
        "arrays = [np.ones(1 << 20, np.float32) for _ in range(4)]\n"
        "threads = [threading.Thread(target=lambda a=a: [b.sgd_update(a, g, 0.5) for _ in range(20)]) for a in arrays]\n"
        "[t.start() for t in threads]; b.sgd_update(p, g, 0.5); [t.join() for t in threads]\n"
        "assert all(a[0] == -9.0 for a in arrays), [a[0] for a in arrays]\n"
    )
    environment = {**os.environ, "NNFS_GPU_CPU_THREADS": "2"}
    environment.pop("NUMBA_THREADING_LAYER", None)
    result = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
