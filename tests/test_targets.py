"""Targets checked against the loss and the accuracy, soft labels, and numbers that must not overflow
or score nonsense: each case either gives a clear error or works as documented."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import (
    Adam,
    Categorical,
    CategoricalCrossentropy,
    Dense,
    Linear,
    MeanSquaredError,
    Model,
    Regression,
    Sigmoid,
    Softmax,
    SoftmaxCategoricalCrossentropy,
)
from nnfs_gpu.activations import exp_limit
from support import HANG_GUARD_S, GRADIENT_TOLERANCE, assert_gradient, host


def softmax_model() -> Model:
    model = Model()
    model.add(Dense(2, 3))
    model.add(Softmax())
    model.set(loss=CategoricalCrossentropy(), optimizer=Adam(learning_rate=0.05), accuracy=Categorical())
    model.finalize()
    return model


# -- categorical targets: one-hot rows or probabilities -----------------------------------------


@pytest.mark.parametrize(
    "make_targets, message",
    [
        (lambda y: 7.0 * np.eye(3)[y], r"class probabilities in \[0, 1\] .* got values from 0.0 to 7.0"),
        (lambda y: -np.eye(3)[y], r"class probabilities in \[0, 1\] .* got values from -1.0 to -?0.0"),
        (lambda y: np.zeros((len(y), 3)), r"must sum to 1 .* row 0 sums to 0; normalize them"),
        (lambda y: np.full((len(y), 3), 0.5), r"must sum to 1 .* row 0 sums to 1.5"),
    ],
    ids=["scaled", "negative", "all-zero", "rows-over-1"],
)
def test_categorical_targets_that_are_not_probability_rows_are_refused(backend, small_spiral, make_targets, message):
    X, y = small_spiral
    model = softmax_model()
    with pytest.raises(ValueError, match=message):
        model.train(X, make_targets(y), epochs=2, verbose=False)
    assert model.optimizer.iterations == 0
    with pytest.raises(ValueError, match=message):
        CategoricalCrossentropy().calculate(np.full((len(y), 3), 1 / 3), make_targets(y))


def test_soft_labels_give_cross_entropy_and_its_gradient_on_both_paths(backend64, rng):
    """-sum(t * log(s)) per row; the fused (s - t) / n and the separate CCE-then-Softmax backward
    both equal the finite-difference gradient of the mean loss with respect to the logits."""
    logits = rng.normal(size=(6, 4))
    targets = rng.dirichlet(np.ones(4), size=6)  # soft labels, rows summing to 1

    def mean_loss(z: np.ndarray) -> float:
        softmax = Softmax()
        softmax.forward(z)
        return float(CategoricalCrossentropy().calculate(softmax.output, targets))

    softmax = Softmax()
    softmax.forward(logits)
    expected = -np.sum(targets * np.log(host(softmax.output)), axis=1)
    np.testing.assert_allclose(host(CategoricalCrossentropy().forward(softmax.output, targets)), expected, rtol=1e-12)
    fused = SoftmaxCategoricalCrossentropy()
    fused.forward(logits, targets)
    fused.backward(fused.output, targets)
    loss = CategoricalCrossentropy()
    loss.backward(softmax.output, targets)
    softmax.backward(loss.dinputs)
    assert_gradient(fused.dinputs, mean_loss, logits)
    np.testing.assert_allclose(host(softmax.dinputs), host(fused.dinputs), **GRADIENT_TOLERANCE)


def test_one_hot_rows_train_to_the_same_bits_as_labels(backend, small_spiral):
    X, y = small_spiral
    histories = []
    for targets in (y, np.eye(3, dtype=np.float32)[y]):
        np.random.seed(5)
        histories.append(softmax_model().train(X, targets, epochs=5, verbose=False)["loss"])
    assert histories[0] == histories[1]


# -- accuracy against predictions ---------------------------------------------------------------


def test_a_three_output_sigmoid_with_one_label_per_sample_is_refused_without_broadcasting(backend):
    predictions, labels = np.zeros((10, 3), dtype=np.int64), np.zeros(10, dtype=np.int64)
    with pytest.raises(ValueError, match=r"Categorical\(binary=True\): predictions of shape \(10, 3\) and targets of shape \(10,\) do not match"):
        Categorical(binary=True).calculate(predictions, labels)
    with pytest.raises(ValueError, match=r"compares one predicted class per sample, .* use Categorical\(binary=True\)"):
        Categorical().calculate(predictions, labels)
    with pytest.raises(ValueError, match=r"Regression\(\): predictions of shape \(10, 1\) and targets of shape \(10,\) .* y.reshape\(-1, 1\)"):
        Regression().calculate(np.zeros((10, 1)), np.zeros(10))


def test_regression_accuracy_on_constant_targets_scores_perfect_predictions_one(backend):
    for value in (5.0, 0.0, -3.0):
        targets = np.full((8, 1), value)
        accuracy = Regression()
        accuracy.init(targets)
        assert accuracy.calculate(targets.copy(), targets) == 1.0
        assert accuracy.calculate(targets + 1.0, targets) == 0.0
    spread = Regression()
    spread.init(np.array([[0.0], [2.0]]))
    assert spread.precision == 1.0 / 250  # the book's std(y) / 250 where targets vary


def test_a_regressor_on_constant_targets_reports_its_accuracy(backend):
    np.random.seed(1)
    model = Model()
    model.add(Dense(1, 1))
    model.add(Linear())
    model.set(loss=MeanSquaredError(), optimizer=Adam(learning_rate=0.1), accuracy=Regression())
    model.finalize()
    X, y = np.linspace(-1, 1, 16).reshape(-1, 1), np.full((16, 1), 2.0)
    history = model.train(X, y, epochs=300, verbose=False)
    assert history["loss"][-1] < 1e-4 and history["accuracy"][-1] == 1.0


# -- the sigmoid without overflow ----------------------------------------------------------------


@pytest.mark.parametrize("precision", ["default", "book"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_never_overflows_and_keeps_the_books_numbers(backend_name, precision, dtype):
    with nnfs_gpu.use_backend(backend_name, dtype=dtype, precision=precision) as backend:
        limit = exp_limit(dtype)
        safe = np.linspace(-limit, 40, 2001).astype(dtype)
        huge = np.array([-limit * 1.01, -1e4, -np.finfo(dtype).max], dtype=dtype)
        sigmoid = Sigmoid()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an overflow RuntimeWarning fails the test
            sigmoid.forward(np.concatenate([safe, huge]).reshape(1, -1))
            book = 1 / (1 + backend.exp(-backend.asarray(safe)))  # the book's formula, where it does not overflow
        output = host(sigmoid.output)[0]
    np.testing.assert_array_equal(output[: len(safe)], host(book))
    assert np.all(np.isfinite(output)) and np.all(output[len(safe):] >= 0) and np.all(output[len(safe):] < 1e-37)


def test_the_exp_limit_is_the_last_value_whose_exp_is_finite():
    for dtype in ("float32", "float64"):
        limit = np.array(exp_limit(dtype), dtype=dtype)
        with np.errstate(over="ignore"):
            assert np.isfinite(np.exp(limit))
            assert np.isinf(np.exp(np.nextafter(limit, np.array(np.inf, dtype=dtype))))


def test_a_sigmoid_classifier_on_extreme_inputs_trains_without_warnings(backend):
    np.random.seed(2)
    model = Model()
    model.add(Dense(1, 1, weight_scale=1.0))
    model.add(Sigmoid())
    model.set(loss=nnfs_gpu.BinaryCrossentropy(), optimizer=Adam(), accuracy=Categorical(binary=True))
    model.finalize()
    X = np.array([[-1e4], [1e4], [-5e3], [5e3]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.train(X, (X > 0).astype(int), epochs=3, verbose=False)


# -- where a backend name came from -------------------------------------------------------------


def test_a_bad_backend_name_from_the_environment_says_so(fresh_selection, monkeypatch):
    monkeypatch.setenv("NNFS_GPU_BACKEND", "garbage")
    with pytest.raises(ValueError, match=r"unknown backend 'garbage' \(from the environment variable NNFS_GPU_BACKEND\); "
                                         r"known backends: .*; set NNFS_GPU_BACKEND to one of them, or unset it"):
        nnfs_gpu.get_backend()
    with pytest.raises(ValueError, match=r"^unknown backend 'tpu'; known backends: 'auto', 'numpy'"):
        nnfs_gpu.set_backend("tpu")


def test_the_command_line_names_the_variable_too(tmp_path):
    result = subprocess.run([sys.executable, "-m", "nnfs_gpu", "train", "--epochs", "1"], capture_output=True, text=True,
                            cwd=tmp_path, env={**os.environ, "NNFS_GPU_BACKEND": "garbage"}, timeout=HANG_GUARD_S)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("nnfs-gpu: error: unknown backend 'garbage' (from the environment variable NNFS_GPU_BACKEND)")
