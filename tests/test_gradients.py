"""Every layer, activation and loss against central finite differences, in float64, on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nnfs_gpu
from nnfs_gpu import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Dense,
    Dropout,
    Linear,
    MeanAbsoluteError,
    MeanSquaredError,
    ReLU,
    Sigmoid,
    Softmax,
    SoftmaxCategoricalCrossentropy,
)
from support import assert_gradient, host

SAMPLES, FEATURES, CLASSES = 5, 4, 3


def weighted_sum(output, weights: np.ndarray) -> float:
    """The scalar objective sum(output * weights); its gradient w.r.t. output is ``weights``."""
    return float(np.sum(host(output) * weights))


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random values at least 0.1 away from ReLU's kink, so finite differences do not straddle it."""
    values = rng.standard_normal(shape)
    return np.where(np.abs(values) < 0.1, np.sign(values) * 0.1 + values, values)


@pytest.fixture
def upstream(rng):
    return rng.standard_normal((SAMPLES, CLASSES))


def test_dense_gradients(backend64, rng, upstream):
    layer = Dense(FEATURES, CLASSES)
    layer.set_parameters(rng.standard_normal((FEATURES, CLASSES)), rng.standard_normal((1, CLASSES)))
    inputs = rng.standard_normal((SAMPLES, FEATURES))
    layer.forward(inputs)
    layer.backward(upstream)
    weights, biases = host(layer.weights), host(layer.biases)

    def with_weights(w):
        layer.set_parameters(w, biases)
        layer.forward(inputs)
        return weighted_sum(layer.output, upstream)

    def with_biases(b):
        layer.set_parameters(weights, b)
        layer.forward(inputs)
        return weighted_sum(layer.output, upstream)

    def with_inputs(x):
        layer.set_parameters(weights, biases)
        layer.forward(x)
        return weighted_sum(layer.output, upstream)

    assert_gradient(layer.dweights, with_weights, weights)
    assert_gradient(layer.dbiases, with_biases, biases)
    assert_gradient(layer.dinputs, with_inputs, inputs)


@pytest.mark.parametrize("activation_class", [ReLU, Softmax, Sigmoid, Linear])
def test_activation_gradients(backend64, rng, upstream, activation_class):
    activation = activation_class()
    shape = (SAMPLES, CLASSES)
    inputs = away_from_zero(rng, shape) if activation_class is ReLU else rng.standard_normal(shape) * 2
    activation.forward(inputs)
    activation.backward(upstream)

    def objective(x):
        activation.forward(x)
        return weighted_sum(activation.output, upstream)

    assert_gradient(activation.dinputs, objective, inputs)


def test_relu_gradient_is_zero_at_zero(backend):
    activation = ReLU()
    activation.forward(np.array([[0.0, -1.0, 2.0]]))
    activation.backward(np.array([[5.0, 5.0, 5.0]]))
    np.testing.assert_array_equal(host(activation.dinputs), [[0.0, 0.0, 5.0]])


def probabilities(rng: np.random.Generator) -> np.ndarray:
    logits = rng.standard_normal((SAMPLES, CLASSES))
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("label_kind", ["sparse", "one-hot"])
def test_categorical_crossentropy_gradient(backend64, rng, label_kind):
    loss = CategoricalCrossentropy()
    predictions = probabilities(rng)
    labels = rng.integers(0, CLASSES, SAMPLES)
    if label_kind == "one-hot":
        labels = np.eye(CLASSES)[labels]
    loss.backward(predictions, labels)
    assert_gradient(loss.dinputs, lambda p: loss.calculate(p, labels), predictions)


@pytest.mark.parametrize("label_kind", ["sparse", "one-hot"])
def test_softmax_crossentropy_gradient(backend64, rng, label_kind):
    combined = SoftmaxCategoricalCrossentropy()
    logits = rng.standard_normal((SAMPLES, CLASSES))
    labels = rng.integers(0, CLASSES, SAMPLES)
    if label_kind == "one-hot":
        labels = np.eye(CLASSES)[labels]
    combined.forward(logits, labels)
    combined.backward(combined.output, labels)
    assert_gradient(combined.dinputs, lambda z: combined.forward(z, labels), logits)


def test_combined_backward_equals_separate_backward(backend, rng):
    logits = rng.standard_normal((64, 10)).astype(np.float32)
    labels = rng.integers(0, 10, 64)
    combined = SoftmaxCategoricalCrossentropy()
    combined.forward(logits, labels)
    combined.backward(combined.output, labels)

    activation, loss = Softmax(), CategoricalCrossentropy()
    activation.forward(logits)
    loss.backward(activation.output, labels)
    activation.backward(loss.dinputs)
    np.testing.assert_allclose(host(combined.dinputs), host(activation.dinputs), rtol=1e-4, atol=1e-7)


def test_vectorized_softmax_backward_equals_book_jacobian(backend64, rng):
    """The book computes each row as (diag(s) - s sᵀ) · d in a Python loop; ours is one expression."""
    activation = Softmax()
    activation.forward(rng.standard_normal((7, 4)))
    dvalues = rng.standard_normal((7, 4))
    activation.backward(dvalues)
    outputs = host(activation.output)
    expected = np.stack(
        [(np.diagflat(s) - np.outer(s, s)) @ d for s, d in zip(outputs, dvalues)]
    )
    np.testing.assert_allclose(host(activation.dinputs), expected, rtol=1e-12, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(
    samples=st.integers(1, 40),
    classes=st.integers(2, 12),
    scale=st.floats(0.01, 30.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_fused_softmax_crossentropy_backward_properties(samples, classes, scale, seed):
    """For any batch: softmax rows sum to 1, and the fused gradient equals (softmax - one_hot) / n."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((samples, classes)) * scale
    labels = rng.integers(0, classes, samples)
    with nnfs_gpu.use_backend("strict", dtype="float64"):
        combined = SoftmaxCategoricalCrossentropy()
        combined.forward(logits, labels)
        combined.backward(combined.output, labels)
    probabilities = host(combined.output)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)
    expected = (probabilities - np.eye(classes)[labels]) / samples
    np.testing.assert_allclose(host(combined.dinputs), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(host(combined.dinputs).sum(axis=1), 0.0, atol=1e-12)


@pytest.mark.parametrize("loss_class", [BinaryCrossentropy, MeanSquaredError, MeanAbsoluteError])
def test_binary_and_regression_loss_gradients(backend64, rng, loss_class):
    loss = loss_class()
    if loss_class is BinaryCrossentropy:
        predictions = rng.uniform(0.05, 0.95, (SAMPLES, 2))
        targets = rng.integers(0, 2, (SAMPLES, 2)).astype(np.float64)
    else:
        predictions = rng.standard_normal((SAMPLES, 2))
        targets = predictions + away_from_zero(rng, (SAMPLES, 2))  # no |y - p| kink for MAE
    loss.backward(predictions, targets)
    assert_gradient(loss.dinputs, lambda p: loss.calculate(p, targets), predictions)


def test_regularized_dense_gradient_includes_the_penalty(backend64, rng, upstream):
    """d/dW of sum(output * G) + regularization_loss equals dweights (and likewise for biases)."""
    layer = Dense(FEATURES, CLASSES, weight_regularizer_l1=0.3, weight_regularizer_l2=0.2,
                  bias_regularizer_l1=0.1, bias_regularizer_l2=0.4)
    layer.set_parameters(away_from_zero(rng, (FEATURES, CLASSES)), away_from_zero(rng, (1, CLASSES)))
    inputs = rng.standard_normal((SAMPLES, FEATURES))
    layer.forward(inputs)
    layer.backward(upstream)
    weights, biases = host(layer.weights), host(layer.biases)

    def total(w, b):
        layer.set_parameters(w, b)
        layer.forward(inputs)
        return weighted_sum(layer.output, upstream) + float(layer.regularization_loss())

    assert_gradient(layer.dweights, lambda w: total(w, biases), weights)
    assert_gradient(layer.dbiases, lambda b: total(weights, b), biases)


def test_regularization_loss_is_the_books_penalty(backend64):
    layer = Dense(2, 2, weight_regularizer_l1=0.5, weight_regularizer_l2=0.25, bias_regularizer_l1=2.0, bias_regularizer_l2=1.0)
    layer.set_parameters(np.array([[1.0, -2.0], [0.0, 3.0]]), np.array([[-1.0, 0.5]]))
    expected = 0.5 * 6 + 0.25 * 14 + 2.0 * 1.5 + 1.0 * 1.25
    assert float(layer.regularization_loss()) == pytest.approx(expected)
    loss = CategoricalCrossentropy()
    loss.remember_trainable_layers([layer, layer])
    assert loss.regularization_loss() == pytest.approx(2 * expected)
    assert loss.regularization_loss(layer) == pytest.approx(expected)


def test_dropout_gradient_uses_the_same_mask(backend64, rng, upstream):
    layer = Dropout(0.4)
    inputs = rng.standard_normal((SAMPLES, CLASSES))
    layer.forward(inputs, training=True)
    layer.backward(upstream)
    mask = host(layer.binary_mask)

    def objective(x):
        return float(np.sum(x * mask * upstream))

    assert_gradient(layer.dinputs, objective, inputs)
    np.testing.assert_allclose(host(layer.output), inputs * mask)
