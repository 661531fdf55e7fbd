"""Optimizers against hand-computed steps, learning-rate decay, state, and dropout's masks."""

from __future__ import annotations

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import SGD, Adagrad, Adam, Dense, Dropout, RMSprop
from support import TORCH_UPDATE_ULPS, assert_within_ulps, host

W0 = np.array([[0.5, -1.0], [2.0, 0.25]])
B0 = np.array([[0.1, -0.2]])
GRADS = [
    (np.array([[0.2, -0.4], [1.0, 0.0]]), np.array([[0.3, -0.1]])),
    (np.array([[-0.1, 0.3], [0.5, 2.0]]), np.array([[0.0, 0.4]])),
]


def expected_steps(kind: str, lr: float) -> list[np.ndarray]:
    """The book's update rules, computed by hand in float64 for the weights over two steps."""
    w, state_a, state_b, results = W0.copy(), np.zeros_like(W0), np.zeros_like(W0), []
    for step, (g, _) in enumerate(GRADS, start=1):
        if kind == "sgd":
            w = w - lr * g
        elif kind == "momentum":
            state_a = 0.9 * state_a - lr * g
            w = w + state_a
        elif kind == "adagrad":
            state_a = state_a + g**2
            w = w - lr * g / (np.sqrt(state_a) + 1e-7)
        elif kind == "rmsprop":
            state_a = 0.9 * state_a + 0.1 * g**2
            w = w - lr * g / (np.sqrt(state_a) + 1e-7)
        elif kind == "adam":
            state_a = 0.9 * state_a + 0.1 * g
            state_b = 0.999 * state_b + 0.001 * g**2
            m_hat, v_hat = state_a / (1 - 0.9**step), state_b / (1 - 0.999**step)
            w = w - lr * m_hat / (np.sqrt(v_hat) + 1e-7)
        results.append(w.copy())
    return results


OPTIMIZERS = {
    "sgd": lambda: SGD(learning_rate=0.5),
    "momentum": lambda: SGD(learning_rate=0.5, momentum=0.9),
    "adagrad": lambda: Adagrad(learning_rate=0.5),
    "rmsprop": lambda: RMSprop(learning_rate=0.5, rho=0.9),
    "adam": lambda: Adam(learning_rate=0.5),
}


@pytest.mark.parametrize("kind", OPTIMIZERS)
def test_update_matches_hand_computed_steps(backend64, kind):
    layer = Dense(2, 2)
    layer.set_parameters(W0, B0)
    optimizer = OPTIMIZERS[kind]()
    for (dweights, dbiases), expected in zip(GRADS, expected_steps(kind, 0.5)):
        layer.dweights, layer.dbiases = backend64.asfloat(dweights), backend64.asfloat(dbiases)
        optimizer.pre_update_params()
        optimizer.update_params(layer)
        optimizer.post_update_params()
        np.testing.assert_allclose(host(layer.weights), expected, rtol=1e-12, atol=1e-14)
        assert backend64.owns(layer.weights)
    assert optimizer.iterations == 2


@pytest.mark.parametrize("kind", OPTIMIZERS)
def test_float32_update_equals_the_books_float32_arithmetic(backend, kind):
    """In float32 each backend gives the very numbers the book's NumPy expressions give; torch's
    CPU sqrt is MKL's, within 1 ulp (support.TORCH_UPDATE_ULPS)."""
    layer = Dense(2, 2)
    layer.set_parameters(W0, B0)
    optimizer = OPTIMIZERS[kind]()
    book = Dense.__new__(Dense)
    book.weights, book.biases = W0.astype(np.float32), B0.astype(np.float32)
    for dweights, dbiases in GRADS:
        layer.dweights, layer.dbiases = backend.asfloat(dweights), backend.asfloat(dbiases)
        book.dweights, book.dbiases = dweights.astype(np.float32), dbiases.astype(np.float32)
        optimizer.pre_update_params()
        optimizer.update_params(layer)
        book_update(kind, book, 0.5, optimizer.iterations)
        optimizer.post_update_params()
    for ours, books in ((layer.weights, book.weights), (layer.biases, book.biases)):
        assert_within_ulps(ours, books, TORCH_UPDATE_ULPS if backend.name == "torch" else 0, kind)


def book_update(kind: str, layer, lr: float, iterations: int) -> None:
    """The book's update_params code, verbatim in its arithmetic, on NumPy float32 arrays."""
    if kind == "sgd":
        layer.weights += -lr * layer.dweights
        layer.biases += -lr * layer.dbiases
        return
    if not hasattr(layer, "weight_cache"):
        layer.weight_momentums, layer.weight_cache = np.zeros_like(layer.weights), np.zeros_like(layer.weights)
        layer.bias_momentums, layer.bias_cache = np.zeros_like(layer.biases), np.zeros_like(layer.biases)
    if kind == "momentum":
        weight_updates = 0.9 * layer.weight_momentums - lr * layer.dweights
        layer.weight_momentums = weight_updates
        bias_updates = 0.9 * layer.bias_momentums - lr * layer.dbiases
        layer.bias_momentums = bias_updates
    elif kind in ("adagrad", "rmsprop"):
        if kind == "adagrad":
            layer.weight_cache += layer.dweights**2
            layer.bias_cache += layer.dbiases**2
        else:
            layer.weight_cache = 0.9 * layer.weight_cache + (1 - 0.9) * layer.dweights**2
            layer.bias_cache = 0.9 * layer.bias_cache + (1 - 0.9) * layer.dbiases**2
        weight_updates = -lr * layer.dweights / (np.sqrt(layer.weight_cache) + 1e-7)
        bias_updates = -lr * layer.dbiases / (np.sqrt(layer.bias_cache) + 1e-7)
    else:
        layer.weight_momentums = 0.9 * layer.weight_momentums + (1 - 0.9) * layer.dweights
        layer.bias_momentums = 0.9 * layer.bias_momentums + (1 - 0.9) * layer.dbiases
        weight_momentums_corrected = layer.weight_momentums / (1 - 0.9 ** (iterations + 1))
        bias_momentums_corrected = layer.bias_momentums / (1 - 0.9 ** (iterations + 1))
        layer.weight_cache = 0.999 * layer.weight_cache + (1 - 0.999) * layer.dweights**2
        layer.bias_cache = 0.999 * layer.bias_cache + (1 - 0.999) * layer.dbiases**2
        weight_cache_corrected = layer.weight_cache / (1 - 0.999 ** (iterations + 1))
        bias_cache_corrected = layer.bias_cache / (1 - 0.999 ** (iterations + 1))
        weight_updates = -lr * weight_momentums_corrected / (np.sqrt(weight_cache_corrected) + 1e-7)
        bias_updates = -lr * bias_momentums_corrected / (np.sqrt(bias_cache_corrected) + 1e-7)
    layer.weights += weight_updates
    layer.biases += bias_updates


def test_learning_rate_decay_values():
    optimizer = SGD(learning_rate=1.0, decay=0.1)
    seen = []
    for _ in range(4):
        optimizer.pre_update_params()
        seen.append(optimizer.current_learning_rate)
        optimizer.post_update_params()
    assert seen == pytest.approx([1.0, 1 / 1.1, 1 / 1.2, 1 / 1.3])
    assert Adam().current_learning_rate == 0.001 and RMSprop().current_learning_rate == 0.001
    assert SGD().learning_rate == 1.0 and Adagrad().learning_rate == 1.0


def test_book_defaults():
    adam = Adam()
    assert (adam.learning_rate, adam.decay, adam.epsilon, adam.beta_1, adam.beta_2) == (0.001, 0.0, 1e-7, 0.9, 0.999)
    rmsprop = RMSprop()
    assert (rmsprop.learning_rate, rmsprop.epsilon, rmsprop.rho) == (0.001, 1e-7, 0.9)
    assert Adagrad().epsilon == 1e-7
    assert SGD().momentum == 0.0


def test_state_dict_round_trip():
    optimizer = Adam(learning_rate=0.01, decay=1e-3)
    for _ in range(3):
        optimizer.pre_update_params()
        optimizer.post_update_params()
    restored = Adam()
    restored.load_state_dict(optimizer.state_dict())
    assert restored.state_dict() == optimizer.state_dict()
    assert (restored.iterations, restored.learning_rate, restored.decay) == (3, 0.01, 1e-3)
    with pytest.raises(ValueError, match="Adam optimizer cannot be loaded into SGD"):
        SGD().load_state_dict(optimizer.state_dict())


@pytest.mark.parametrize("arguments", [{"learning_rate": 0}, {"learning_rate": -1}, {"decay": -0.1}])
def test_bad_hyperparameters_are_refused(arguments):
    with pytest.raises(ValueError):
        Adam(**arguments)


def test_dropout_scales_kept_values_and_keeps_the_mean(backend):
    layer = Dropout(0.25)
    inputs = np.ones((400, 250), dtype=np.float32)
    layer.forward(inputs, training=True)
    output = host(layer.output)
    assert set(np.unique(output)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((output == 0).mean() - 0.25) < 0.01
    assert abs(output.mean() - 1.0) < 0.02


def test_dropout_is_identity_at_inference(backend, rng):
    layer = Dropout(0.5)
    inputs = rng.standard_normal((8, 4)).astype(np.float32)
    layer.forward(inputs, training=False)
    np.testing.assert_array_equal(host(layer.output), inputs)


def test_host_masks_match_across_backends_and_the_books_draw(backend_name):
    """With host_rng the mask is the book's np.random.binomial draw, on every backend."""
    np.random.seed(5)
    book_mask = np.random.binomial(1, 0.7, size=(6, 5)) / 0.7
    np.random.seed(5)
    with nnfs_gpu.use_backend(backend_name):
        layer = Dropout(0.3, host_rng=True)
        layer.forward(np.ones((6, 5)), training=True)
    np.testing.assert_allclose(host(layer.binary_mask), book_mask, rtol=1e-7)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_bad_dropout_rate_is_refused(rate):
    with pytest.raises(ValueError, match=r"Dropout: rate must be a finite number >= 0 and < 1, got "):
        Dropout(rate)
