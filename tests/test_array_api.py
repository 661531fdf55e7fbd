"""ArrayAPIBackend: any eager, mutable array-API namespace runs the generic code; immutable or lazy
ones are refused with the reason."""

from __future__ import annotations

import types

import array_api_compat.numpy
import array_api_strict
import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import ArrayAPIBackend, Dense, Dropout, ReLU, Softmax
from nnfs_gpu.backends import create_backend
from nnfs_gpu.datasets import spiral_data
from support import classifier

NAMESPACES = [array_api_compat.numpy, array_api_strict]


def trained(backend, epochs: int = 3) -> tuple[list[np.ndarray], dict]:
    """A small classifier with dropout trained on ``backend``, from the same seed and data."""
    np.random.seed(3)
    X, y = spiral_data(60, 3)
    with nnfs_gpu.use_backend(backend):
        model = classifier(Dense(2, 16, weight_regularizer_l2=5e-4), ReLU(), Dropout(0.1), Dense(16, 3), Softmax())
        history = model.train(X, y, epochs=epochs, batch_size=64, shuffle=True, validation_data=(X[:50], y[:50]),
                              verbose=False)
    return [nnfs_gpu.to_numpy(array) for pair in model.get_parameters() for array in pair], history


@pytest.mark.parametrize("namespace", NAMESPACES, ids=lambda namespace: namespace.__name__)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_namespace_trains_to_the_numpy_backends_numbers(namespace, dtype):
    """The generic code on another namespace computes the NumPy backend's floating-point operations
    (its fused ops compute the same ones): the same bits after training with shuffling, dropout and L2."""
    backend = ArrayAPIBackend(namespace, dtype=dtype)
    assert backend.owns(backend.zeros((2,))) and backend.name == namespace.__name__
    expected, expected_history = trained(create_backend("numpy", dtype=dtype))
    parameters, history = trained(backend)
    for array, reference in zip(parameters, expected, strict=True):
        assert array.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(array, reference)
    assert history == expected_history


def test_a_registered_namespace_is_a_backend_name_with_every_option(fresh_selection, monkeypatch):
    monkeypatch.setattr(nnfs_gpu.backends, "_registry", dict(nnfs_gpu.backends._registry))  # the name stays this test's
    nnfs_gpu.register_namespace("strict-cpu", array_api_strict)
    backend = nnfs_gpu.set_backend("strict-cpu", dtype="float64", precision="book")
    assert (backend.name, backend.dtype_name, backend.precision) == ("strict-cpu", "float64", "book")
    assert backend.device == array_api_strict.__array_namespace_info__().default_device()
    model = classifier(Dense(2, 4), Softmax())
    model.to("numpy")
    model.to("strict-cpu", dtype="float32")
    assert model.backend.name == "strict-cpu" and model.backend.owns(model.layers[0].weights)


class FrozenArray:
    """A fake array of an immutable library (``mutable=False``: ``x[...] = v`` raises) or of a lazy
    one (``x += v`` gives a new array, as Python does without ``__iadd__``)."""

    def __init__(self, values: np.ndarray, mutable: bool) -> None:
        self.values, self.mutable = values, mutable

    def __add__(self, other):
        return FrozenArray(self.values + other, self.mutable)

    def __mul__(self, other):
        return FrozenArray(self.values * other, self.mutable)

    def __eq__(self, other):
        return FrozenArray(self.values == other, self.mutable)

    def __setitem__(self, key, value):
        if not self.mutable:
            raise TypeError("FrozenArray does not support item assignment")
        self.values[key] = value.values


def fake_namespace(name: str, mutable: bool = False) -> types.SimpleNamespace:
    return types.SimpleNamespace(
        __name__=name, float32=np.float32,
        zeros=lambda shape, dtype=None, device=None: FrozenArray(np.zeros(shape, dtype), mutable),
        all=lambda array: bool(np.all(array.values)),
    )


@pytest.mark.parametrize("namespace, reason", [
    (fake_namespace("frozen"), r"an in-place update failed \(TypeError: FrozenArray does not support item assignment\)"),
    (fake_namespace("lazy", mutable=True), r"an in-place update \(x \+= v, x\[...\] = v\) did not change the array"),
    (fake_namespace("jax.numpy"), r"JAX arrays are immutable \(an update makes a new array: x\.at\[i\]\.set\(v\)\)"),
    (fake_namespace("array_api_compat.dask.array", mutable=True), r"Dask arrays are lazy \(each operation adds to a graph, and x \+= v makes a new array\)"),
], ids=["immutable", "lazy", "jax-by-name", "dask-by-name"])
def test_an_immutable_or_lazy_namespace_is_refused_with_the_reason(namespace, reason):
    message = rf"^{namespace.__name__} cannot be an nnfs_gpu backend: {reason}; nnfs_gpu updates parameters, " \
              r"optimizer state and step arrays in place, so it needs an eager namespace with mutable arrays"
    with pytest.raises(ValueError, match=message):
        ArrayAPIBackend(namespace)
    with pytest.raises(ValueError, match=message):
        nnfs_gpu.register_namespace("unfit", namespace)
    assert "unfit" not in nnfs_gpu.available_backends()
