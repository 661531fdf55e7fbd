"""Parity: every backend, in each dtype, against an independent NumPy float64 reference."""

from __future__ import annotations

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import SGD, Dense, ReLU, SoftmaxCategoricalCrossentropy
from support import assert_parity, host


def reference_step(X, y, w1, b1, w2, b2, learning_rate):
    """The book's chapter-10 step, written directly in NumPy float64."""
    hidden = X @ w1 + b1
    relu = np.maximum(0, hidden)
    logits = relu @ w2 + b2
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = exp / exp.sum(axis=1, keepdims=True)
    loss = -np.log(np.clip(probabilities[np.arange(len(y)), y], 1e-7, 1 - 1e-7)).mean()
    dlogits = probabilities.copy()
    dlogits[np.arange(len(y)), y] -= 1
    dlogits /= len(y)
    dw2, db2 = relu.T @ dlogits, dlogits.sum(axis=0, keepdims=True)
    dhidden = (dlogits @ w2.T) * (hidden > 0)
    dw1, db1 = X.T @ dhidden, dhidden.sum(axis=0, keepdims=True)
    return {
        "probabilities": probabilities,
        "loss": loss,
        "dw1": dw1, "db1": db1, "dw2": dw2, "db2": db2,
        "w1": w1 - learning_rate * dw1, "b1": b1 - learning_rate * db1,
        "w2": w2 - learning_rate * dw2, "b2": b2 - learning_rate * db2,
    }


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_training_step_matches_float64_reference(backend_name, dtype, rng):
    samples, features, hidden, classes = 256, 8, 32, 5
    X = rng.standard_normal((samples, features)).astype(dtype)
    y = rng.integers(0, classes, samples)
    params = [
        rng.standard_normal((features, hidden)) * 0.3, rng.standard_normal((1, hidden)) * 0.1,
        rng.standard_normal((hidden, classes)) * 0.3, rng.standard_normal((1, classes)) * 0.1,
    ]
    params = [p.astype(dtype) for p in params]
    expected = reference_step(X.astype(np.float64), y, *(p.astype(np.float64) for p in params), 0.5)

    with nnfs_gpu.use_backend(backend_name, dtype=dtype):
        dense1, relu, dense2 = Dense(features, hidden), ReLU(), Dense(hidden, classes)
        head = SoftmaxCategoricalCrossentropy()
        dense1.set_parameters(params[0], params[1])
        dense2.set_parameters(params[2], params[3])
        dense1.forward(X)
        relu.forward(dense1.output)
        dense2.forward(relu.output)
        loss = head.forward(dense2.output, y)
        head.backward(head.output, y)
        dense2.backward(head.dinputs)
        relu.backward(dense2.dinputs)
        dense1.backward(relu.dinputs)
        optimizer = SGD(learning_rate=0.5)
        optimizer.update_params(dense1)
        optimizer.update_params(dense2)

    assert_parity(head.output, expected["probabilities"], dtype)
    assert_parity(np.float64(loss), expected["loss"], dtype)
    for name, array in [("dw1", dense1.dweights), ("db1", dense1.dbiases), ("dw2", dense2.dweights),
                        ("db2", dense2.dbiases), ("w1", dense1.weights), ("b1", dense1.biases),
                        ("w2", dense2.weights), ("b2", dense2.biases)]:
        assert_parity(array, expected[name], dtype)
        assert array.dtype == getattr(dense1.backend.xp, dtype), name


def _classes(names: str) -> list:
    return [getattr(nnfs_gpu, name) for name in names.split()]


@pytest.mark.parametrize("activation_class", _classes("ReLU Softmax Sigmoid Linear"))
def test_activation_matches_float64_reference(backend, activation_class, rng):
    inputs = (rng.standard_normal((64, 7)) * 3).astype(np.float32)
    dvalues = rng.standard_normal((64, 7)).astype(np.float32)
    with nnfs_gpu.use_backend("numpy", dtype="float64"):
        reference = activation_class()
        reference.forward(inputs.astype(np.float64))
        reference.backward(dvalues.astype(np.float64))
    activation = activation_class()
    activation.forward(inputs)
    activation.backward(dvalues)
    assert_parity(activation.output, reference.output, "float32")
    assert_parity(activation.dinputs, reference.dinputs, "float32")


@pytest.mark.parametrize("loss_class", _classes("CategoricalCrossentropy BinaryCrossentropy MeanSquaredError MeanAbsoluteError"))
def test_loss_matches_float64_reference(backend, loss_class, rng):
    predictions = rng.uniform(0.05, 0.95, (64, 3)).astype(np.float32)
    if loss_class is nnfs_gpu.CategoricalCrossentropy:
        targets = rng.integers(0, 3, 64)
    else:
        targets = rng.integers(0, 2, (64, 3)).astype(np.float32)
    with nnfs_gpu.use_backend("numpy", dtype="float64"):
        reference = loss_class()
        reference_loss = reference.calculate(predictions.astype(np.float64), targets)
        reference.backward(predictions.astype(np.float64), targets)
    loss = loss_class()
    assert_parity(np.float64(loss.calculate(predictions, targets)), reference_loss, "float32")
    loss.backward(predictions, targets)
    assert_parity(loss.dinputs, reference.dinputs, "float32")


def test_fused_forward_and_batch_sums_match_float64_reference(backend, rng):
    """The ops a training step fuses: bias + ReLU, bias + softmax, the summed cross-entropy and the
    count of right answers, each against NumPy float64 (and each keeping a running total)."""
    z = rng.standard_normal((64, 7)).astype(np.float32) * 3
    biases = rng.standard_normal((1, 7)).astype(np.float32)
    labels = rng.integers(0, 7, 64).astype(np.uint8)
    exact = z.astype(np.float64) + biases
    relu = backend.bias_relu(backend.asfloat(z.copy()), backend.asfloat(biases))  # adds the biases to z in place
    assert_parity(relu, np.maximum(exact, 0), "float32")
    probabilities = backend.bias_softmax(backend.asfloat(z.copy()), backend.asfloat(biases))
    expected = np.exp(exact - exact.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    assert_parity(probabilities, expected, "float32")
    device_labels = backend.asarray(labels)
    batch, total = backend.crossentropy_sum(probabilities, device_labels)
    expected_sum = -np.log(np.clip(expected[np.arange(64), labels], 1e-7, 1 - 1e-7)).sum()
    assert_parity(batch, expected_sum, "float32")
    again, total = backend.crossentropy_sum(probabilities, device_labels, total)
    assert_parity(total, 2 * expected_sum, "float32")
    right, count = backend.argmax_matches(probabilities, device_labels)
    right, count = backend.argmax_matches(probabilities, device_labels, count)
    expected_right = int(np.sum(expected.argmax(axis=1) == labels))
    assert (int(host(right)), int(host(count))) == (expected_right, 2 * expected_right)
