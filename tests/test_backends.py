"""Backend selection, errors that say what to do, transfers, and one interface for every backend."""

from __future__ import annotations

import inspect
import logging
import os
import subprocess
import sys
import types

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import Backend, BackendUnavailableError, Dense, ForeignArrayError
from nnfs_gpu.backends import CupyBackend, NumpyBackend, StrictBackend, TorchBackend
from support import BOOK_PRECISION_ULPS, REROUNDING_BACKENDS, assert_sum_within_bound, assert_within_ulps, host


def test_importing_never_imports_cupy_or_torch():
    code = "import sys, nnfs_gpu, nnfs_gpu.book, nnfs_gpu.datasets; print('cupy' in sys.modules, 'torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False False"


def test_available_backends_reports_every_backend_with_a_reason():
    statuses = nnfs_gpu.available_backends()
    assert {"numpy", "cupy", "strict"} <= set(statuses)
    assert statuses["numpy"].available and statuses["numpy"].reason is None
    assert statuses["strict"].available
    cupy = statuses["cupy"]
    assert cupy.available == CupyBackend.is_available()
    assert cupy.available or "CuPy" in cupy.reason


def test_unknown_backend_lists_the_known_names(fresh_selection):
    with pytest.raises(ValueError, match=r"unknown backend 'tpu'.*'auto'.*'numpy'.*'cupy'.*'strict'"):
        nnfs_gpu.set_backend("tpu")


@pytest.mark.parametrize("options, message", [({"dtype": "float16"}, "dtype"), ({"precision": "fast"}, "precision")])
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        nnfs_gpu.set_backend("numpy", **options)


def hide_cupy(monkeypatch):
    """Makes 'import cupy' fail, as on a machine where CuPy is not installed."""
    monkeypatch.setitem(sys.modules, "cupy", None)


def no_gpu_library(monkeypatch):
    """Makes 'import cupy' and 'import torch' fail, as on a machine without a GPU library."""
    hide_cupy(monkeypatch)
    monkeypatch.setitem(sys.modules, "torch", None)


def cupy_without_device(monkeypatch):
    """Stands in for an installed CuPy on a machine without a CUDA device (only is_available is asked)."""
    stub = types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=lambda: False))
    monkeypatch.setitem(sys.modules, "cupy", stub)


def test_cupy_without_cupy_installed_names_the_extra(monkeypatch, fresh_selection):
    hide_cupy(monkeypatch)
    with pytest.raises(BackendUnavailableError, match=r"CuPy is not installed.*nnfs_gpu\[cuda13\]"):
        nnfs_gpu.set_backend("cupy")


def test_cupy_without_a_device_says_no_cuda_device(monkeypatch, fresh_selection):
    cupy_without_device(monkeypatch)
    with pytest.raises(BackendUnavailableError, match="no CUDA device was found"):
        nnfs_gpu.set_backend("cupy")


def test_real_cupy_without_a_gpu_fails_cleanly_in_a_fresh_process():
    """With the real CuPy installed on a machine without a GPU (CI installs it), the error is ours."""
    try:
        import cupy
    except ImportError:
        pytest.skip("CuPy is not installed here; CI installs cupy-cuda13x to run this")
    if cupy.cuda.is_available():
        pytest.skip("this machine has a usable GPU")
    code = "import nnfs_gpu; nnfs_gpu.set_backend('cupy')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("nnfs_gpu.backends.base.BackendUnavailableError: backend 'cupy' is not available")
    assert "no CUDA device was found" in last_line


@pytest.mark.parametrize("cupy_state, level", [(no_gpu_library, logging.INFO), (cupy_without_device, logging.WARNING)])
def test_auto_falls_back_to_numpy_with_one_line(monkeypatch, fresh_selection, caplog, cupy_state, level):
    """At WARNING when CuPy is installed but cannot run: its user evidently wanted a GPU."""
    cupy_state(monkeypatch)
    with caplog.at_level(logging.INFO, logger="nnfs_gpu"):
        for _ in range(2):
            backend = nnfs_gpu.set_backend("auto")
    assert backend.name == "numpy"
    (record,) = caplog.records
    assert "'auto' chose numpy" in record.getMessage() and record.levelno == level


def test_auto_takes_cupy_when_it_is_usable(monkeypatch, fresh_selection, caplog):
    class UsableGpu(NumpyBackend):
        """Stands in for a usable CuPy backend, to test only the choice that 'auto' makes."""

        name = "cupy"

    monkeypatch.setitem(nnfs_gpu.backends._registry, "cupy", UsableGpu)
    with caplog.at_level(logging.INFO, logger="nnfs_gpu"):
        assert isinstance(nnfs_gpu.set_backend("auto"), UsableGpu)
    assert "'auto' chose cupy" in caplog.text


def test_default_is_auto_and_environment_variable_overrides_it(monkeypatch, fresh_selection):
    monkeypatch.setenv(nnfs_gpu.backends.ENV_VAR, "strict")
    assert nnfs_gpu.get_backend().name == "strict"


def test_environment_variable_in_a_fresh_process():
    env = {**os.environ, "NNFS_GPU_BACKEND": "strict"}
    code = "import nnfs_gpu; print(nnfs_gpu.get_backend().name)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "strict"


def test_use_backend_restores_the_previous_backend_also_on_error(fresh_selection):
    nnfs_gpu.set_backend("numpy")
    with nnfs_gpu.use_backend("strict", dtype="float64") as inner:
        assert nnfs_gpu.get_backend() is inner
        assert inner.dtype_name == "float64"
        with nnfs_gpu.use_backend("numpy"):
            assert nnfs_gpu.get_backend().name == "numpy"
        assert nnfs_gpu.get_backend() is inner
    assert nnfs_gpu.get_backend().name == "numpy"
    with pytest.raises(RuntimeError, match="boom"):
        with nnfs_gpu.use_backend("strict"):
            raise RuntimeError("boom")
    assert nnfs_gpu.get_backend().name == "numpy"


def test_selection_survives_a_lost_context(fresh_selection):
    """Notebooks run each cell in a fresh context; set_backend must outlive that."""
    import contextvars

    nnfs_gpu.set_backend("strict")
    seen = contextvars.Context().run(lambda: nnfs_gpu.get_backend().name)
    assert seen == "strict"


def test_register_a_third_party_backend(monkeypatch, fresh_selection):
    class Float64Numpy(NumpyBackend):
        name = "mine"

    monkeypatch.setitem(nnfs_gpu.backends._registry, "mine", Float64Numpy)
    assert nnfs_gpu.available_backends()["mine"].available
    assert isinstance(nnfs_gpu.set_backend("mine"), Float64Numpy)
    with pytest.raises(ValueError, match="reserved"):
        nnfs_gpu.register_backend("auto", Float64Numpy)


def test_objects_keep_the_backend_they_were_created_under():
    with nnfs_gpu.use_backend("strict"):
        layer = Dense(2, 3)
    with nnfs_gpu.use_backend("numpy"):
        layer.forward(np.ones((4, 2), dtype=np.float32))
    assert layer.backend.name == "strict"
    assert layer.backend.owns(layer.output)


def test_host_data_is_accepted_and_moved(backend):
    layer = Dense(2, 3)
    layer.forward([[1.0, 2.0]])
    assert backend.owns(layer.output)
    layer.forward(np.ones((1, 2), dtype=np.float64))
    assert layer.output.dtype == backend.dtype


@pytest.mark.parametrize("view", ["reversed", "every other column", "transposed"])
def test_host_views_of_any_strides_are_accepted(backend, view):
    """A reversed view has negative strides, which torch's tensors cannot hold."""
    data = np.arange(24, dtype=np.float32).reshape(6, 4)
    data = {"reversed": data[::-1], "every other column": data[:, ::2], "transposed": data.T}[view]
    np.testing.assert_array_equal(host(backend.asarray(data)), data)
    np.testing.assert_array_equal(host(backend.asfloat(data)), data)


def test_array_of_another_backend_is_refused_with_both_names():
    with nnfs_gpu.use_backend("strict") as strict:
        foreign = strict.asarray(np.ones((1, 2), dtype=np.float32))
    with nnfs_gpu.use_backend("numpy"):
        layer = Dense(2, 3)
    with pytest.raises(ForeignArrayError, match=r"array_api_strict array.*'numpy' backend.*to_numpy"):
        layer.forward(foreign)


def test_wrong_input_width_names_the_layer_and_both_shapes(backend):
    with pytest.raises(ValueError, match=r"Dense\(2, 3\) expects inputs of shape \(samples, 2\), got \(4, 5\)"):
        Dense(2, 3).forward(np.ones((4, 5)))


@pytest.mark.parametrize(
    "labels, error, message",
    [
        (np.array([0, 3]), ValueError, r"labels must lie in \[0, 2\]"),
        (np.array([0, -1]), ValueError, r"labels must lie in \[0, 2\]"),
        (np.array([0.0, 1.0]), TypeError, "must be integers"),
        (np.array([0, 1, 2]), ValueError, "3 labels for 2 samples"),
        (np.zeros((2, 4)), ValueError, "do not match predictions"),
    ],
)
def test_bad_labels_are_refused(backend, labels, error, message):
    loss = nnfs_gpu.CategoricalCrossentropy()
    with pytest.raises(error, match=message):
        loss.calculate(np.full((2, 3), 1 / 3), labels)


@pytest.mark.parametrize("loss_class", [nnfs_gpu.CategoricalCrossentropy, nnfs_gpu.SoftmaxCategoricalCrossentropy])
def test_a_backward_pass_checks_labels_its_forward_pass_did_not(backend, loss_class):
    """The book's loops pass the same labels to forward and backward: checked once, in forward;
    other labels are checked in backward too."""
    loss, predictions = loss_class(), np.full((2, 3), 1 / 3)
    good = np.array([0, 2])
    if loss_class is nnfs_gpu.CategoricalCrossentropy:
        loss.calculate(predictions, good)
    else:
        loss.forward(predictions, good)
    loss.backward(predictions, good)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        loss.backward(predictions, np.array([0, 3]))


def test_to_numpy_round_trip(backend):
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    moved = backend.asarray(data)
    assert backend.owns(moved)
    np.testing.assert_array_equal(backend.to_numpy(moved), data)
    np.testing.assert_array_equal(nnfs_gpu.to_numpy(moved), data)
    assert isinstance(host(moved), np.ndarray)


def public_members(cls: type) -> dict[str, inspect.Signature | None]:
    members = {}
    for name, value in inspect.getmembers(cls):
        if name.startswith("_"):
            continue
        members[name] = inspect.signature(value) if callable(value) else None
    return members


@pytest.mark.parametrize("backend_class", [NumpyBackend, StrictBackend, CupyBackend, TorchBackend])
def test_every_backend_implements_the_same_interface(backend_class):
    """As thinc's test_ops_consistency: no backend adds public API or changes a signature."""
    base = public_members(Backend)
    ours = public_members(backend_class)
    assert set(ours) == set(base)
    for name, signature in base.items():
        assert ours[name] == signature, name


def test_book_precision_is_a_layer_over_any_backend_class(backend_name, rng):
    """precision='book' gives the same backend class with the book's dot, exp, log, row sums and
    softmax layered over it; the class below keeps its fast paths and never asks for the precision."""
    from nnfs_gpu.backends.precision import BookPrecision

    with nnfs_gpu.use_backend(backend_name) as plain, nnfs_gpu.use_backend(backend_name, precision="book") as book:
        assert isinstance(book, type(plain)) and isinstance(book, BookPrecision)
        assert (plain.precision, book.precision) == ("default", "book")
        a, b = rng.standard_normal((40, 30)).astype(np.float32), rng.standard_normal((30, 20)).astype(np.float32)
        in_float64 = (a.astype(np.float64) @ b.astype(np.float64)).astype(np.float32)
        exp_in_float64 = np.exp(a.astype(np.float64)).astype(np.float32)
        dot, exp, sums = (host(book.dot(book.asarray(a), book.asarray(b))), host(book.exp(book.asarray(a))),
                          host(book.sum_rows(book.asarray(a))))
    if backend_name in REROUNDING_BACKENDS:  # cuBLAS's, MKL's float64 results round alike but for ties; CUB, MKL sum
        assert_within_ulps(dot, in_float64, BOOK_PRECISION_ULPS, "dot")
        assert_within_ulps(exp, exp_in_float64, BOOK_PRECISION_ULPS, "exp")
        assert_sum_within_bound(sums, np.sum(a, axis=0, keepdims=True), a, axis=0)
    else:
        np.testing.assert_array_equal(dot, in_float64)
        np.testing.assert_array_equal(exp, exp_in_float64)
        np.testing.assert_array_equal(sums, np.sum(a, axis=0, keepdims=True))


def test_a_backend_class_refuses_another_precision_and_says_how():
    with pytest.raises(ValueError, match=r"set_backend\(name, precision='book'\)"):
        NumpyBackend(precision="book")


def test_one_place_resolves_a_backend_name(monkeypatch, fresh_selection):
    from nnfs_gpu.backends import chosen_name, create_backend, requested_name

    monkeypatch.delenv("NNFS_GPU_BACKEND", raising=False)
    assert requested_name() == "auto" and requested_name("strict") == "strict"
    assert chosen_name() == ("cupy" if nnfs_gpu.available_backends()["cupy"].available else "numpy")
    monkeypatch.setenv("NNFS_GPU_BACKEND", "strict")
    assert requested_name() == chosen_name() == "strict" and requested_name("numpy") == "numpy"
    with nnfs_gpu.use_backend("numpy") as current:
        made = create_backend("strict", dtype="float64")
        assert made.name == "strict" and made.dtype_name == "float64"
        assert nnfs_gpu.get_backend() is current  # making a backend does not select it


@pytest.mark.parametrize("alias, name", [("cuda", "cupy"), ("gpu", "cupy"), ("cpu", "numpy")])
def test_the_usual_names_of_the_devices_are_aliases(fresh_selection, alias, name):
    from nnfs_gpu.backends import chosen_name

    assert chosen_name(alias) == name
    if name == "numpy":
        assert nnfs_gpu.set_backend(alias).name == "numpy"
    elif not nnfs_gpu.available_backends()["cupy"].available:
        with pytest.raises(nnfs_gpu.BackendUnavailableError, match="backend 'cupy' is not available"):
            nnfs_gpu.set_backend(alias)


def test_auto_says_its_choice_once_in_one_short_info_line(monkeypatch, fresh_selection, caplog):
    no_gpu_library(monkeypatch)
    with caplog.at_level(logging.DEBUG, logger="nnfs_gpu"):
        for _ in range(3):
            nnfs_gpu.set_backend("auto")
    (record,) = caplog.records
    assert record.levelno == logging.INFO and len(record.getMessage()) < 160, record.getMessage()
