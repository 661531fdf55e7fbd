"""Every layer, activation and loss against central finite differences, in float64, on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nnfs_gpu
from nnfs_gpu import CategoricalCrossentropy, Dense, ReLU, Softmax, SoftmaxCategoricalCrossentropy
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


def test_relu_gradient(backend64, rng, upstream):
    activation = ReLU()
    inputs = away_from_zero(rng, (SAMPLES, CLASSES))
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


def test_softmax_gradient(backend64, rng, upstream):
    activation = Softmax()
    inputs = rng.standard_normal((SAMPLES, CLASSES))
    activation.forward(inputs)
    activation.backward(upstream)

    def objective(x):
        activation.forward(x)
        return weighted_sum(activation.output, upstream)

    assert_gradient(activation.dinputs, objective, inputs)


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
