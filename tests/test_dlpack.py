"""DLPack in and out: other libraries' arrays as inputs (host memory as host data, never written;
another device refused naming both), and ``nnfs_gpu.to_numpy`` of any of them."""

from __future__ import annotations

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import Dense, ForeignArrayError, ReLU, Softmax
from nnfs_gpu.datasets import spiral_data
from support import classifier

torch = pytest.importorskip("torch")


def spiral() -> tuple[np.ndarray, np.ndarray]:
    state = np.random.get_state()
    np.random.seed(5)
    X, y = spiral_data(50, 3)
    np.random.set_state(state)
    return X, y


def run(X, y, **options: str) -> dict:
    """Everything a Model does with its inputs, from one seed, on the NumPy backend with ``options``:
    train (with a validation split and validation data), evaluate, predict, a layer's and a loss's calls."""
    np.random.seed(11)
    with nnfs_gpu.use_backend("numpy", **options):
        model = classifier(Dense(2, 8), ReLU(), Dense(8, 3), Softmax())
        history = model.train(X, y, epochs=3, batch_size=32, shuffle=True, validation_split=0.2, verbose=False)
        history_with_data = model.train(X, y, epochs=2, validation_data=(X, y), verbose=False)
        layer = Dense(2, 4)
        layer.forward(X)
        loss = nnfs_gpu.CategoricalCrossentropy().calculate(model.predict(X, batch_size=64), y)
        return {"history": history, "history_with_data": history_with_data, "evaluate": model.evaluate(X, y),
                "predict": model.predict(X, batch_size=64), "classes": model.predict_classes(X),
                "layer": layer.output, "loss": float(loss),
                "parameters": [array for pair in model.get_parameters() for array in pair]}


def assert_same(actual, expected) -> None:
    if isinstance(expected, dict):
        assert actual.keys() == expected.keys()
        for key in expected:
            assert_same(actual[key], expected[key])
    elif isinstance(expected, list) and expected and isinstance(expected[0], np.ndarray):
        for one, other in zip(actual, expected, strict=True):
            np.testing.assert_array_equal(one, other)
    else:
        np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("options", [{}, {"dtype": "float64"}, {"precision": "book"}], ids=["float32", "float64", "book"])
def test_torch_cpu_tensors_give_the_numbers_of_numpy_arrays_and_are_never_written(options):
    """Book precision keeps float64 data float64, as the book's NumPy does: float64 tensors too."""
    X, y = spiral()
    X = X.astype(np.float64) + 1e-9 if options else X  # beyond float32: a cast would show
    tensors = torch.from_numpy(X.copy()), torch.from_numpy(y.copy())
    untouched = [tensor.clone() for tensor in tensors]
    assert_same(run(*tensors, **options), run(X, y, **options))
    for tensor, before in zip(tensors, untouched):
        assert torch.equal(tensor, before)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_tensors_that_require_gradients_are_taken_detached(backend):
    """Autograd records nothing and the tensor's graph is left alone: the numbers are those of the
    plain tensor, on the NumPy backend (DLPack cannot export such a tensor as it is) and on torch."""
    X, y = spiral()
    tracked = torch.from_numpy(X.copy()).requires_grad_()
    results = []
    for inputs in (tracked, torch.from_numpy(X.copy())):
        np.random.seed(3)
        with nnfs_gpu.use_backend(backend):
            model = classifier(Dense(2, 8), ReLU(), Dense(8, 3), Softmax())
            history = model.train(inputs, torch.from_numpy(y.copy()), epochs=2, verbose=False)
            results.append((history, model.predict(inputs), getattr(model.forward(inputs, False), "requires_grad", False)))
    assert results[0][0] == results[1][0] and np.array_equal(results[0][1], results[1][1])
    assert results[0][2] is False and tracked.grad is None


def test_a_dtype_numpy_lacks_is_refused_with_the_fix():
    X, _ = spiral()
    with nnfs_gpu.use_backend("numpy"):
        model = classifier(Dense(2, 8), Softmax())
        with pytest.raises(TypeError, match=r"cannot read a Tensor of dtype torch.bfloat16 as host data .*; convert it to "
                                            r"float32 or float64 first"):
            model.predict(torch.from_numpy(X).to(torch.bfloat16))


def test_host_producers_are_read_through_a_read_only_view_without_a_copy():
    """(A float64 backend casts the float32 tensor: a copy, its own.)"""
    tensor = torch.arange(6, dtype=torch.float32).reshape(3, 2)
    moved = nnfs_gpu.backends.create_backend("numpy").asfloat(tensor)
    assert isinstance(moved, np.ndarray) and moved.dtype == np.float32 and np.shares_memory(moved, tensor.numpy())
    with pytest.raises(ValueError, match="read-only"):
        moved += 1
    cast = nnfs_gpu.backends.create_backend("numpy", dtype="float64").asfloat(tensor)
    assert cast.dtype == np.float64 and not np.shares_memory(cast, tensor.numpy())
    assert nnfs_gpu.backends.is_host(tensor) and not nnfs_gpu.backends.is_host(torch.device("cpu"))


class OnAnotherDevice:
    """A DLPack producer on CUDA device 1, as a torch or CuPy array there says it is."""

    shape = (4, 2)
    dtype = np.dtype("float32")
    ndim = 2

    def __dlpack__(self, **options):
        raise AssertionError("nothing may read an array on another device")

    def __dlpack_device__(self):
        return (2, 1)


@pytest.mark.parametrize("call", ["train", "predict", "layer"])
def test_a_producer_on_another_device_is_refused_naming_both_devices(call):
    with nnfs_gpu.use_backend("numpy"):
        model = classifier(Dense(2, 3), Softmax())
    calls = {"train": lambda: model.train(OnAnotherDevice(), np.zeros(4, dtype=np.int64), verbose=False),
             "predict": lambda: model.predict(OnAnotherDevice()),
             "layer": lambda: model.layers[0].forward(OnAnotherDevice())}
    with pytest.raises(ForeignArrayError, match=r"^got a test_dlpack array \(OnAnotherDevice\) on cuda:1 but this "
                                                r"object runs on the 'numpy' backend on cpu; bring it to the host"):
        calls[call]()


class HostProducer:
    """Host memory of a library no backend knows, offered through DLPack alone."""

    def __init__(self, array: np.ndarray) -> None:
        self._array = array

    def __dlpack__(self, **options):
        return self._array.__dlpack__(**options)

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()


@pytest.mark.filterwarnings("error")  # torch warns when it is handed read-only memory
def test_an_array_on_the_backends_own_device_is_taken_without_a_copy():
    """On torch's CPU backend another library's CPU array is on its own device: torch takes it
    through DLPack, in train as in asarray (and never writes it); on a NumPy backend it is a read-only view."""
    values = np.arange(8.0, dtype=np.float32).reshape(4, 2)
    untouched = values.copy()
    torch_cpu = nnfs_gpu.backends.create_backend("torch", device="cpu")
    moved = torch_cpu.asfloat(HostProducer(values))
    assert isinstance(moved, torch.Tensor) and moved.data_ptr() == values.ctypes.data
    with nnfs_gpu.use_backend(torch_cpu):
        model = classifier(Dense(2, 3), Softmax())
        model.train(HostProducer(values), HostProducer(np.array([0, 1, 2, 0])), epochs=2, verbose=False)
        np.testing.assert_array_equal(model.predict(HostProducer(values)), model.predict(values))
    np.testing.assert_array_equal(values, untouched)
    on_numpy = nnfs_gpu.backends.create_backend("numpy").asarray(HostProducer(values))
    assert np.shares_memory(on_numpy, values) and not on_numpy.flags.writeable


def test_to_numpy_takes_any_librarys_array():
    tensor = torch.arange(6, dtype=torch.float64).reshape(2, 3)
    np.testing.assert_array_equal(nnfs_gpu.to_numpy(tensor), tensor.numpy())
    values = np.arange(4.0)
    shared = nnfs_gpu.to_numpy(HostProducer(values))
    assert isinstance(shared, np.ndarray) and np.shares_memory(shared, values)
    np.testing.assert_array_equal(shared, values)
    assert nnfs_gpu.backends.is_host(HostProducer(values))
