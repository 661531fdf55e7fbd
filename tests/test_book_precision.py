"""Book precision follows the book's dtypes, and ``Loss.calculate`` returns what the book's returns.

Each expected value is the book's formula written here in NumPy as the book's code computes it after
``nnfs.init()``: ``np.dot`` in float64 returning float32, the dropout mask
``np.random.binomial(1, keep, size) / keep`` in float64, and NumPy's own promotion and in-place
rounding everywhere else. Values are compared bit for bit, but for the sums of backends that add in
another order (support.REROUNDING_BACKENDS).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import Dropout, Model, ReLU, Softmax
from nnfs_gpu.book import (
    Activation_ReLU,
    Activation_Softmax_Loss_CategoricalCrossentropy,
    Layer_Dense,
    Layer_Dropout,
    Loss_CategoricalCrossentropy,
    Loss_MeanSquaredError,
    Optimizer_Adagrad,
    Optimizer_Adam,
)
from nnfs_gpu.datasets import sine_data, spiral_data
from support import REROUNDING_BACKENDS, host


def book_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.dot`` after ``nnfs.init()``."""
    return np.dot(a.astype(np.float64), b.astype(np.float64)).astype(np.float32)


def assert_same(actual: object, expected: np.ndarray, name: str) -> None:
    actual = host(actual)
    assert actual.dtype == expected.dtype, f"{name}: {actual.dtype}, the book's is {expected.dtype}"
    np.testing.assert_array_equal(actual, expected, err_msg=name)


def book_bias_update(kind: str, biases: np.ndarray, dbiases: np.ndarray, learning_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """The book's first update of a layer's biases: the new biases and the state the book keeps."""
    biases = biases.copy()
    if kind == "adam":  # assigned anew: float64, like the gradient
        momentums = 0.9 * np.zeros_like(biases) + (1 - 0.9) * dbiases
        cache = 0.999 * np.zeros_like(biases) + (1 - 0.999) * dbiases**2
        biases += -learning_rate * (momentums / (1 - 0.9)) / (np.sqrt(cache / (1 - 0.999)) + 1e-7)
        return biases, cache
    cache = np.zeros_like(biases)  # Adagrad's: updated in place, so float32
    cache += dbiases**2
    biases += -learning_rate * dbiases / (np.sqrt(cache) + 1e-7)
    return biases, cache


@pytest.fixture
def spiral() -> tuple[np.ndarray, np.ndarray]:
    np.random.seed(0)
    return spiral_data(30, 3)


@pytest.mark.parametrize("kind", ["adam", "adagrad"])
def test_dropout_and_the_layers_around_it_follow_the_books_float64(backend_name, kind):
    """Dense, ReLU, Dropout, Dense; a backward pass from given gradients; one update of the first layer."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((6, 3)).astype(np.float32)
    biases = rng.standard_normal((1, 5)).astype(np.float32)
    dvalues = rng.standard_normal((6, 4)).astype(np.float32)
    with nnfs_gpu.use_backend(backend_name, precision="book"):
        np.random.seed(11)
        dense1, relu, dropout = Layer_Dense(3, 5, bias_regularizer_l2=0.01), Activation_ReLU(), Layer_Dropout(0.3, host_rng=True)
        dense2 = Layer_Dense(5, 4)
        dense1.set_parameters(host(dense1.weights), biases)
        optimizer = Optimizer_Adam(learning_rate=0.05) if kind == "adam" else Optimizer_Adagrad(learning_rate=0.5)
        np.random.seed(12)
        dense1.forward(X)
        relu.forward(dense1.output)
        dropout.forward(relu.output)
        dense2.forward(dropout.output)
        dense2.backward(dvalues)
        dropout.backward(dense2.dinputs)
        relu.backward(dropout.dinputs)
        dense1.backward(relu.dinputs)
        weights1, weights2 = host(dense1.weights).copy(), host(dense2.weights)
        optimizer.update_params(dense1)

    np.random.seed(12)
    mask = np.random.binomial(1, 0.7, size=(6, 5)) / 0.7
    z1 = book_dot(X, weights1) + biases
    dropped = np.maximum(0, z1) * mask
    assert_same(dropout.output, dropped, "dropout output")
    assert_same(dense2.output, book_dot(dropped, weights2), "next layer's output")
    assert_same(dense2.dweights, book_dot(dropped.T, dvalues), "next layer's dweights")
    through_dropout = book_dot(dvalues, weights2.T) * mask
    assert_same(dropout.dinputs, through_dropout, "dropout dinputs")
    through_relu = through_dropout.copy()
    through_relu[z1 <= 0] = 0
    assert_same(relu.dinputs, through_relu, "ReLU dinputs")
    assert_same(dense1.dweights, book_dot(X.T, through_relu), "dweights")
    dbiases = np.sum(through_relu, axis=0, keepdims=True)
    dbiases += 2 * 0.01 * biases
    assert_same(dense1.dbiases, dbiases, "dbiases")
    new_biases, cache = book_bias_update(kind, biases, dbiases, optimizer.learning_rate)
    assert_same(dense1.bias_cache, cache, "the optimizer's bias cache")
    assert_same(dense1.biases, new_biases, "updated biases")


def test_default_precision_keeps_its_float32_dropout(backend):
    layer = Dropout(0.5, host_rng=True)
    layer.forward(np.ones((4, 3), dtype=np.float32))
    layer.backward(np.ones((4, 3), dtype=np.float32))
    assert host(layer.output).dtype == host(layer.dinputs).dtype == np.float32


def test_a_model_in_book_precision_takes_the_books_per_layer_update(spiral):
    """Gradients of two dtypes fit no float32 flat buffer: flat=None takes the book's loop, flat=True says why not."""
    X, y = spiral
    with nnfs_gpu.use_backend("numpy", precision="book"):
        model = Model()
        for layer in (Layer_Dense(2, 8), ReLU(), Dropout(0.1), Layer_Dense(8, 3), Softmax()):
            model.add(layer)
        model.set(loss=Loss_CategoricalCrossentropy(), optimizer=Optimizer_Adam(flat=True), accuracy=nnfs_gpu.Categorical())
        model.finalize()
        with pytest.raises(ValueError, match="book precision keeps float64 gradients"):
            model.train(X, y, epochs=1, verbose=False)
        model.optimizer.flat = None
        model.train(X, y, epochs=2, verbose=False)
    assert host(model.layers[0].bias_momentums).dtype == np.float64
    assert host(model.layers[0].weights).dtype == host(model.layers[0].biases).dtype == np.float32


@pytest.mark.parametrize("precision", ["default", "book"])
def test_calculate_returns_the_books_float32_and_prints_its_digits(backend_name, precision):
    """Chapter 9's ``print('loss:', loss)``: a NumPy float32, as the book's ``np.mean`` returns it."""
    np.random.seed(0)
    X, y = spiral_data(100, 3)
    with nnfs_gpu.use_backend(backend_name, precision=precision):
        dense1, dense2 = Layer_Dense(2, 3), Layer_Dense(3, 3)
        activation, loss_activation = Activation_ReLU(), Activation_Softmax_Loss_CategoricalCrossentropy()
        dense1.forward(X)
        activation.forward(dense1.output)
        dense2.forward(activation.output)
        loss = loss_activation.forward(dense2.output, y)
    assert type(loss) is np.float32 and str(loss) == "1.0986104"
    if precision == "book":  # the book's formula on our softmax output, with its log rounded from float64
        confidences = np.clip(host(loss_activation.output), 1e-7, 1 - 1e-7)[range(len(y)), y]
        assert loss == np.mean(-np.log(confidences.astype(np.float64)).astype(np.float32))


@pytest.mark.parametrize("precision, dtype", [("default", np.float32), ("book", np.float64)])
def test_a_regression_loss_has_the_dtype_of_the_books_targets(backend_name, precision, dtype):
    """``sine_data`` is float64, so the book's mean squared error is float64; the default precision computes in float32."""
    X, y = sine_data(50)
    predictions = (0.9 * y).astype(np.float32)
    with nnfs_gpu.use_backend(backend_name, precision=precision):
        loss = Loss_MeanSquaredError().calculate(predictions, y)
    assert type(loss) is dtype
    if precision == "book":
        assert_same_sum(loss, np.mean(np.mean((y - predictions) ** 2, axis=-1)), y.size, backend_name)


def test_the_regularization_loss_is_the_books_float32_sum(backend):
    np.random.seed(4)
    layer = Layer_Dense(4, 5, weight_regularizer_l1=1e-3, weight_regularizer_l2=5e-4, bias_regularizer_l1=2e-3,
                        bias_regularizer_l2=5e-4)
    layer.set_parameters(host(layer.weights), np.random.randn(1, 5).astype(np.float32))
    weights, biases = host(layer.weights), host(layer.biases)
    expected = 0
    expected += 1e-3 * np.sum(np.abs(weights))
    expected += 5e-4 * np.sum(weights * weights)
    expected += 2e-3 * np.sum(np.abs(biases))
    expected += 5e-4 * np.sum(biases * biases)
    loss = Loss_CategoricalCrossentropy().regularization_loss(layer)
    assert type(loss) is np.float32
    assert_same_sum(loss, expected, weights.size, backend.name)


def assert_same_sum(actual: Any, expected: Any, terms: int, backend_name: str) -> None:
    """Equal to the book's sum on NumPy and strict; on a backend that sums in its own order
    (REROUNDING_BACKENDS) a sum of ``terms`` positive terms lies within ``(terms - 1) · eps``
    relative of the exact sum (support.summation_bound), so within twice that of NumPy's."""
    if backend_name in REROUNDING_BACKENDS:
        eps = np.finfo(np.asarray(expected).dtype).eps
        np.testing.assert_allclose(actual, expected, rtol=2 * (terms - 1) * eps, atol=0)
    else:
        assert actual == expected
