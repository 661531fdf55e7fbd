"""Model: training with batches and validation, evaluate, predict, moving between backends, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import (
    Adam,
    BinaryCrossentropy,
    Categorical,
    CategoricalCrossentropy,
    Dense,
    Dropout,
    Linear,
    MeanSquaredError,
    Model,
    ReLU,
    Regression,
    SGD,
    Sigmoid,
    Softmax,
)
from nnfs_gpu.datasets import sine_data, spiral_data
import support
from support import assert_reordered, host, on_gpu


def spiral_classifier(dropout: float = 0.0, optimizer=None) -> Model:
    model = Model()
    model.add(Dense(2, 64, weight_regularizer_l2=5e-4, bias_regularizer_l2=5e-4))
    model.add(ReLU())
    if dropout:
        model.add(Dropout(dropout))
    model.add(Dense(64, 3))
    model.add(Softmax())
    model.set(loss=CategoricalCrossentropy(), optimizer=optimizer or Adam(learning_rate=0.05, decay=5e-5), accuracy=Categorical())
    model.finalize()
    return model


@pytest.fixture
def spiral():
    np.random.seed(0)
    X, y = spiral_data(100, 3)
    X_val, y_val = spiral_data(100, 3)
    return X, y, X_val, y_val


def assert_predictions_agree(in_batches: np.ndarray, at_once: np.ndarray, backend) -> None:
    """Predictions in batches against all at once: on a GPU another batch size may take another
    cuBLAS kernel, which sums in another order (REORDERED_TOLERANCE); on the CPU within 1e-6."""
    if on_gpu(backend):
        assert_reordered(in_batches, at_once)
    else:
        np.testing.assert_allclose(in_batches, at_once, rtol=1e-6, atol=1e-7)


def test_train_evaluate_predict_with_batches_and_validation(backend, spiral, capsys):
    X, y, X_val, y_val = spiral
    np.random.seed(1)
    model = spiral_classifier()
    assert model.softmax_classifier_output is not None  # the fast path was chosen
    history = model.train(X, y, epochs=200, batch_size=64, shuffle=True, print_every=2, validation_data=(X_val, y_val))
    assert set(history) == {"loss", "data_loss", "regularization_loss", "accuracy", "learning_rate", "val_loss", "val_accuracy"}
    assert all(len(values) == 200 for values in history.values())
    assert history["loss"][-1] < history["loss"][0] - 0.3
    assert history["accuracy"][-1] > 0.6  # chance is 1/3
    assert history["loss"][-1] == pytest.approx(history["data_loss"][-1] + history["regularization_loss"][-1])
    assert history["learning_rate"][-1] == pytest.approx(0.05 / (1 + 5e-5 * (200 * 5 - 1)))

    out = capsys.readouterr().out.splitlines()  # not a terminal: a line per epoch, and every print_every steps
    assert len(out) == 200 * 4
    assert [line.split(":")[0] for line in out[:5]] == ["  step 0", "  step 2", "  step 4", "epoch 1/200", "  step 0"]
    assert out[0].startswith("  step 0: loss 1.09") and ", acc 0." in out[0]
    last = out[-1]
    assert last.startswith(f"epoch 200/200: loss {history['loss'][-1]:.4f}") and f"acc {history['accuracy'][-1]:.3f}" in last
    assert f"val_loss {history['val_loss'][-1]:.4f}, val_acc {history['val_accuracy'][-1]:.3f}" in last
    assert f"lr {history['learning_rate'][-1]:.4g}" in last

    loss, accuracy = model.evaluate(X_val, y_val, batch_size=50)
    assert (loss, accuracy) == pytest.approx((history["val_loss"][-1], history["val_accuracy"][-1]))
    assert capsys.readouterr().out == f"validation: loss {loss:.4f}, acc {accuracy:.3f}\n"

    confidences = model.predict(X_val, batch_size=32)
    assert isinstance(confidences, np.ndarray) and confidences.shape == (300, 3)
    np.testing.assert_allclose(confidences.sum(axis=1), 1.0, rtol=1e-5)
    assert_predictions_agree(confidences, model.predict(X_val), backend)
    predictions = model.output_layer_activation.predictions(confidences)
    assert isinstance(predictions, np.ndarray)
    assert np.mean(predictions == y_val) == pytest.approx(accuracy)


def test_training_is_the_same_on_numpy_and_strict(spiral):
    """Short runs compare tightly across backends (long ones are chaotic, see the README)."""
    X, y, _, _ = spiral
    histories = []
    for name in ("numpy", "strict"):
        with nnfs_gpu.use_backend(name):
            np.random.seed(3)
            model = spiral_classifier(dropout=0.1)
            histories.append(model.train(X, y, epochs=5, batch_size=100, verbose=False))
    assert histories[0] == histories[1]


def test_reusing_step_arrays_leaves_the_numbers_unchanged(spiral, monkeypatch):
    """NumPy's steps write into the arrays of the step before; without that, the same run."""
    X, y, X_val, y_val = spiral
    runs = []
    for reuse in (True, False):
        monkeypatch.setattr(nnfs_gpu.backends.NumpyBackend, "reuses_step_arrays", reuse)
        with nnfs_gpu.use_backend("numpy"):
            np.random.seed(3)
            model = spiral_classifier(dropout=0.1)
            history = model.train(X, y, epochs=3, batch_size=64, validation_data=(X_val, y_val), verbose=False)
            runs.append((history, [host(array).copy() for pair in model.get_parameters() for array in pair]))
    assert runs[0][0] == runs[1][0]
    for reused, fresh in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(reused, fresh)


def test_step_arrays_are_reused_only_while_training(backend, rng):
    from nnfs_gpu._bound import reusing_step_arrays

    relu = ReLU()
    first, second = backend.asfloat(rng.standard_normal((50, 4))), backend.asfloat(rng.standard_normal((50, 4)))
    with reusing_step_arrays([relu]):
        relu.forward(first)
        earlier = relu.output
        relu.forward(second)
        assert (relu.output is earlier) == backend.reuses_step_arrays
        np.testing.assert_array_equal(host(relu.output), np.maximum(host(second), 0))
    relu.forward(first)
    assert relu.output is not earlier


@pytest.mark.parametrize("batch_size", [1, 3, None])
def test_predict_in_batches_equals_predict_at_once(backend, spiral, batch_size):
    X, y, _, _ = spiral
    model = spiral_classifier()
    model.train(X, y, epochs=2, verbose=False)
    assert_predictions_agree(model.predict(X[:7], batch_size=batch_size), model.predict(X[:7]), backend)


def test_labels_of_any_integer_dtype_train_the_same(backend_name, spiral):
    """Also the unsigned dtypes the array API (and torch) will not compare with int64 directly."""
    X, y, _, _ = spiral
    histories = []
    for dtype in ("int64", "uint8", "uint64", "int32", "uint32", "uint16", "int8"):
        with nnfs_gpu.use_backend(backend_name):
            np.random.seed(5)
            histories.append(spiral_classifier().train(X, y.astype(dtype), epochs=3, verbose=False))
    assert all(history == histories[0] for history in histories)


def test_arrays_read_after_training_keep_their_values(spiral):
    X, y, _, _ = spiral
    with nnfs_gpu.use_backend("numpy"):
        model = spiral_classifier()
        model.train(X, y, epochs=1, verbose=False)
        output = model.layers[0].output
        kept = output.copy()
        model.train(X, y, epochs=2, verbose=False)
    np.testing.assert_array_equal(output, kept)


def test_the_loss_checks_label_values_again_after_training(backend, spiral):
    """Training checks the labels once up front, then only batch shapes; afterwards the loss
    checks whatever it is given again."""
    X, y, _, _ = spiral
    model = spiral_classifier()
    model.train(X, y, epochs=1, batch_size=100, verbose=False)
    bad = y.copy()
    bad[0] = 3
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        model.loss.calculate(model.predict(X), bad)


def test_float32_training_follows_float64(backend_name, spiral):
    X, y, _, _ = spiral
    histories = []
    for dtype in ("float32", "float64"):
        with nnfs_gpu.use_backend(backend_name, dtype=dtype):
            np.random.seed(3)
            histories.append(spiral_classifier().train(X, y, epochs=10, batch_size=100, verbose=False))
    np.testing.assert_allclose(histories[0]["loss"], histories[1]["loss"], rtol=1e-4)


def test_fast_softmax_path_equals_the_general_backward(backend64, spiral):
    X, y, _, _ = spiral
    np.random.seed(4)
    model = spiral_classifier()
    output = model.forward(X, training=True)
    model.backward(output, y)
    fast = [host(layer.dweights).copy() for layer in model.trainable_layers]  # backward reuses the buffers
    model.assembly.softmax_classifier_output = None
    model.backward(output, y)
    slow = [host(layer.dweights) for layer in model.trainable_layers]
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_binary_classifier_learns(backend):
    np.random.seed(0)
    X, y = spiral_data(100, 2)
    y = y.reshape(-1, 1)
    model = Model()
    model.add(Dense(2, 64, weight_regularizer_l2=5e-4, bias_regularizer_l2=5e-4))
    model.add(ReLU())
    model.add(Dense(64, 1))
    model.add(Sigmoid())
    model.set(loss=BinaryCrossentropy(), optimizer=Adam(learning_rate=0.02, decay=5e-7), accuracy=Categorical(binary=True))
    model.finalize()
    history = model.train(X, y, epochs=300, verbose=False)
    assert history["accuracy"][-1] > 0.8
    assert history["loss"][-1] < history["loss"][0]


def test_regressor_learns_the_sine(backend):
    np.random.seed(0)
    X, y = sine_data()
    model = Model()
    model.add(Dense(1, 64, weight_scale=0.1))
    model.add(ReLU())
    model.add(Dense(64, 64, weight_scale=0.1))
    model.add(ReLU())
    model.add(Dense(64, 1, weight_scale=0.1))
    model.add(Linear())
    model.set(loss=MeanSquaredError(), optimizer=Adam(learning_rate=0.005, decay=1e-3), accuracy=Regression())
    model.finalize()
    history = model.train(X, y, epochs=400, verbose=False)
    assert model.accuracy.precision == pytest.approx(np.std(y) / 250)
    assert history["loss"][-1] < 0.01 < history["loss"][0]


def test_model_to_moves_parameters_and_optimizer_state(spiral):
    X, y, _, _ = spiral
    with nnfs_gpu.use_backend("numpy"):
        np.random.seed(5)
        straight = spiral_classifier()
        straight.train(X, y, epochs=6, batch_size=128, verbose=False)
        np.random.seed(5)
        moved = spiral_classifier()
        moved.train(X, y, epochs=3, batch_size=128, verbose=False)
    moved.to("strict")
    assert moved.backend.name == "strict"
    for layer in moved.trainable_layers:
        for name in ("weights", "biases", "weight_momentums", "weight_cache", "bias_momentums", "bias_cache"):
            assert moved.backend.owns(getattr(layer, name)), name
    moved.train(X, y, epochs=3, batch_size=128, verbose=False)
    for a, b in zip(straight.get_parameters(), moved.get_parameters()):
        np.testing.assert_array_equal(host(a[0]), host(b[0]))
        np.testing.assert_array_equal(host(a[1]), host(b[1]))


def test_device_arrays_are_accepted(backend, spiral):
    X, y, _, _ = spiral
    model = spiral_classifier()
    history = model.train(backend.asarray(X), backend.asarray(y), epochs=2, verbose=False)
    assert len(history["loss"]) == 2


# -- errors that say what to do -------------------------------------------------------------------


def test_training_before_finalize_is_refused(backend, spiral):
    X, y, _, _ = spiral
    model = Model()
    model.add(Dense(2, 3))
    model.add(Softmax())
    model.set(loss=CategoricalCrossentropy(), optimizer=SGD(), accuracy=Categorical())
    with pytest.raises(RuntimeError, match=r"call model.finalize\(\) before train"):
        model.train(X, y)
    with pytest.raises(RuntimeError, match="finalize"):
        model.predict(X)


def test_finalize_needs_layers_and_a_loss(backend):
    with pytest.raises(ValueError, match="no layers"):
        Model().finalize()
    model = Model()
    model.add(Dense(2, 3))
    with pytest.raises(ValueError, match=r"model.set\(loss=...\)"):
        model.finalize()


def test_layers_that_do_not_chain_are_named(backend):
    model = Model()
    model.add(Dense(2, 64))
    model.add(ReLU())
    model.add(Dense(32, 3))
    model.set(loss=CategoricalCrossentropy())
    with pytest.raises(ValueError, match=r"layer 2 Dense\(32, 3\) takes 32 inputs, but .* Dense\(2, 64\), gives 64"):
        model.finalize()


def test_layers_on_different_backends_are_refused():
    model = Model()
    with nnfs_gpu.use_backend("numpy"):
        model.add(Dense(2, 3))
    with nnfs_gpu.use_backend("strict"):
        model.add(Dense(3, 3))
    model.set(loss=CategoricalCrossentropy())
    with pytest.raises(ValueError, match="share one backend"):
        model.finalize()


@pytest.mark.parametrize(
    "X, y, error, message",
    [
        (np.ones((5, 3)), np.zeros(5, dtype=int), ValueError, r"expects inputs of shape \(samples, 2\), got \(5, 3\)"),
        (np.ones((5, 2, 1)), np.zeros(5, dtype=int), ValueError, "flatten them"),
        (np.ones((5, 2)), np.array([0, 1, 2, 3, 0]), ValueError, r"labels must lie in \[0, 2\] .* from 0 to 3"),
        (np.ones((5, 2)), np.array([0.0, 1.0, 0.5, 0.0, 0.0]), TypeError, "must be integers"),
        (np.ones((5, 2)), np.zeros(4, dtype=int), ValueError, "4 labels for 5 samples"),
        (np.array([[1.0, np.nan]] * 5), np.zeros(5, dtype=int), ValueError, r"NaN or infinity \(first in row 0\)"),
        (np.array([[1.0, 2.0]] * 4 + [[np.inf, -np.inf]]), np.zeros(5, dtype=int), ValueError, r"NaN or infinity \(first in row 4\)"),
        (np.array([["a", "b"]] * 5), np.zeros(5, dtype=int), TypeError, "inputs must be numbers"),
        (np.array([[1.0, 2.0]] * 4 + [[1e39, 0.0]]), np.zeros(5, dtype=int), ValueError, r"inputs overflow float32 .*dtype='float64'"),
    ],
)
def test_bad_training_data_is_refused(backend, X, y, error, message):
    model = spiral_classifier()
    with pytest.raises(error, match=message):
        model.train(X, y, epochs=1, verbose=False)


@pytest.mark.parametrize("on_device", [False, True])
def test_the_finite_check_tells_an_overflowing_sum_from_infinity(backend, on_device):
    """Finite inputs whose sum overflows are fine; an infinity among them is not."""
    from nnfs_gpu.training.data import prepare_inputs

    model = spiral_classifier()
    huge = np.full((4, 2), 3e38, dtype=np.float32)
    place = backend.asarray if on_device else np.asarray
    assert prepare_inputs(model, place(huge)).shape == (4, 2)
    huge[3, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        prepare_inputs(model, place(huge))


def test_regression_targets_of_the_wrong_shape_get_a_hint(backend):
    model = Model()
    model.add(Dense(1, 1))
    model.add(Linear())
    model.set(loss=MeanSquaredError(), optimizer=Adam(), accuracy=Regression())
    model.finalize()
    with pytest.raises(ValueError, match=r"reshape them with y.reshape\(-1, 1\)"):
        model.train(np.ones((6, 1)), np.ones(6), verbose=False)


def test_a_loss_that_becomes_nan_stops_training_with_advice(backend, spiral):
    X, y, _, _ = spiral
    model = spiral_classifier(optimizer=SGD(learning_rate=1e30))
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        with np.errstate(all="ignore"):
            model.train(X * 1e10, y, epochs=3)


def test_a_model_must_end_with_an_activation(backend):
    model = Model()
    model.add(Dense(2, 3))
    model.set(loss=CategoricalCrossentropy())
    with pytest.raises(ValueError, match=r"the last layer, Dense\(2, 3\), is not an activation; end the model with Softmax"):
        model.finalize()


def test_an_empty_training_set_is_refused(backend):
    with pytest.raises(ValueError, match="got no samples"):
        spiral_classifier().train(np.ones((0, 2)), np.zeros(0, dtype=int), batch_size=8, verbose=False)


def test_float_labels_already_on_the_device_are_refused(backend, spiral):
    X, y, _, _ = spiral
    with pytest.raises(TypeError, match="class labels must be integers"):
        spiral_classifier().train(X, backend.asarray(y.astype(np.float32)), verbose=False)


def test_parameters_are_copied_in_and_float32_is_kept(backend):
    layer = Dense(2, 2, weight_scale=np.float64(0.1))
    assert layer.weights.dtype == backend.dtype
    weights = np.ones((2, 2), dtype=np.float32)
    layer.set_parameters(weights, np.zeros((1, 2), dtype=np.float32))
    layer.dweights, layer.dbiases = backend.asfloat(np.ones((2, 2))), backend.asfloat(np.ones((1, 2)))
    SGD(learning_rate=0.5).update_params(layer)
    np.testing.assert_array_equal(weights, np.ones((2, 2)))  # the caller's array is untouched
    np.testing.assert_array_equal(host(layer.weights), np.full((2, 2), 0.5))



def test_training_picks_up_parameters_replaced_between_calls(backend, spiral):
    """The Model keeps its parameters in flat buffers across train calls; replacing a layer's arrays
    in between (set_parameters, Model.to, loading) must be seen by the next call."""
    X, y, _, _ = spiral
    model = spiral_classifier(optimizer=SGD(learning_rate=1e-9))
    model.train(X, y, epochs=2, verbose=False)
    zeros = [(np.zeros((2, 64)), np.zeros((1, 64))), (np.zeros((64, 3)), np.zeros((1, 3)))]
    model.set_parameters(zeros)
    model.train(X, y, epochs=1, verbose=False)
    for weights, biases in model.get_parameters():
        assert np.abs(host(weights)).max() < 1e-6 and np.abs(host(biases)).max() < 1e-6


def test_book_style_layers_and_optimizers_still_train(backend, spiral):
    """A layer whose backward assigns new arrays, or an optimizer with its own update_params, keeps
    the book's per-layer update instead of the flat one."""
    X, y, _, _ = spiral

    class BookDense(Dense):
        def backward(self, dvalues):
            dvalues = self.backend.asfloat(dvalues)
            self.dweights = self.backend.dot(self.inputs.T, dvalues)
            self.dbiases = self.backend.xp.sum(dvalues, axis=0, keepdims=True)
            self.dinputs = self.backend.dot(dvalues, self.weights.T)

    class BookSGD:
        current_learning_rate = 1.0

        def pre_update_params(self):
            pass

        def update_params(self, layer):
            layer.weights -= layer.dweights
            layer.biases -= layer.dbiases

        def post_update_params(self):
            pass

    for layer_class, optimizer in ((BookDense, SGD(learning_rate=1.0)), (Dense, BookSGD())):
        model = Model()
        model.add(layer_class(2, 16))
        model.add(ReLU())
        model.add(layer_class(16, 3))
        model.add(Softmax())
        model.set(loss=CategoricalCrossentropy(), optimizer=optimizer, accuracy=Categorical())
        model.finalize()
        before = host(model.trainable_layers[0].weights).copy()
        history = model.train(X, y, epochs=20, verbose=False)
        assert not np.array_equal(before, host(model.trainable_layers[0].weights))
        assert history["loss"][-1] < history["loss"][0]


@pytest.mark.parametrize("make", [
    lambda flat: SGD(learning_rate=0.5, decay=1e-3, momentum=0.9, flat=flat),
    lambda flat: Adam(learning_rate=0.05, decay=5e-5, flat=flat),
])
def test_the_flat_update_is_an_option_with_the_same_numbers(spiral, make):
    """flat=None takes the flat buffers where they apply (NumPy), flat=False the book's per-layer
    loop: bit for bit the same training."""
    X, y, _, _ = spiral
    runs = []
    with nnfs_gpu.use_backend("numpy"):
        for flat in (None, False):
            np.random.seed(6)
            model = spiral_classifier(dropout=0.1, optimizer=make(flat))
            history = model.train(X, y, epochs=4, batch_size=64, shuffle=True, verbose=False)
            runs.append((history, [host(array).copy() for pair in model.get_parameters() for array in pair]))
            assert (model._updates.buffers is not None) == (flat is None)
    assert runs[0][0] == runs[1][0]
    for flat_array, layerwise_array in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(flat_array, layerwise_array)


def test_flat_true_where_it_cannot_apply_says_why(spiral):
    X, y, _, _ = spiral
    with nnfs_gpu.use_backend("strict"):
        model = spiral_classifier(optimizer=Adam(flat=True))
        with pytest.raises(ValueError, match="flat=True.*the 'strict' backend's arrays are not views"):
            model.train(X, y, epochs=1, verbose=False)
    with pytest.raises(ValueError, match="flat must be None"):
        Adam(flat="yes")


def test_a_layer_that_assigns_new_gradients_trains_the_same_under_the_flat_update(spiral):
    """The flat buffers copy in gradients that a layer put into new arrays instead of its views."""
    X, y, _, _ = spiral

    class AssigningDense(Dense):
        def backward(self, dvalues):
            super().backward(dvalues)
            self.dweights, self.dbiases = self.backend.copy(self.dweights), self.backend.copy(self.dbiases)

    runs = []
    with nnfs_gpu.use_backend("numpy"):
        for layer_class in (Dense, AssigningDense):
            np.random.seed(7)
            model = Model()
            for layer in (layer_class(2, 16), ReLU(), layer_class(16, 3), Softmax()):
                model.add(layer)
            model.set(loss=CategoricalCrossentropy(), optimizer=Adam(learning_rate=0.02), accuracy=Categorical())
            model.finalize()
            model.train(X, y, epochs=5, batch_size=100, verbose=False)
            assert model._updates.buffers is not None
            runs.append([host(array).copy() for pair in model.get_parameters() for array in pair])
    for expected, actual in zip(*runs):
        np.testing.assert_array_equal(expected, actual)


def test_moving_drops_each_objects_step_values_and_keeps_its_state(spiral):
    X, y, _, _ = spiral
    with nnfs_gpu.use_backend("numpy"):
        model = spiral_classifier(dropout=0.1)
        model.train(X, y, epochs=1, verbose=False)
    dense, dropout = model.layers[0], model.layers[2]
    assert all(hasattr(dense, name) for name in Dense.transient if name != "dinputs")
    assert hasattr(dropout, "binary_mask")
    model.to("strict")
    step_values = {"inputs", "output", "dinputs", "dweights", "dbiases", "binary_mask"}
    for layer in model.layers:
        assert not step_values & set(vars(layer)), layer
    assert model.loss.accumulated_count == 0 and model.accuracy.accumulated_count == 0
    assert model.backend.owns(dense.weight_cache) and dropout.keep_probability == pytest.approx(0.9)


def test_dropout_names_its_keep_probability_and_keeps_the_books_rate():
    layer = Dropout(0.25)
    assert layer.keep_probability == layer.rate == 0.75 and layer.drop_rate == 0.25
    assert repr(layer) == "Dropout(0.25)"


def test_checked_targets_skip_only_the_value_check(backend, spiral):
    """``checked=True`` (targets whose values were checked up front) still checks the shape."""
    X, y, _, _ = spiral
    model = spiral_classifier()
    output = model.forward(X, training=False)
    with_nan = np.eye(3, dtype=np.float32)[y]
    with_nan[0, 0] = np.nan
    losses = model.loss.forward(output, with_nan, checked=True)  # not checked again: the caller vouched for them
    assert np.isnan(host(losses)[0])
    with pytest.raises(ValueError, match="targets contain NaN or infinity"):
        model.loss.forward(output, with_nan)
    with pytest.raises(ValueError, match="got 299 labels for 300 samples"):
        model.loss.forward(output, y[:-1], checked=True)


def test_fused_forward_stages_give_the_unfused_numbers(backend, spiral):
    """Model.train runs Dense + ReLU and Dense + Softmax as fused stages; the book's layer-by-layer
    forward gives the same bits."""
    X, _, _, _ = spiral
    model = spiral_classifier(dropout=0.1)
    fused = host(model.forward(X, training=False)).copy()
    assert [activation is not None for _, activation in model.assembly.forward_stages] == [True, False, True]
    layers_output = backend.asfloat(X)
    for layer in model.layers:
        layer.forward(layers_output, training=False)
        layers_output = layer.output
    np.testing.assert_array_equal(fused, host(layers_output))


def test_a_layer_with_its_own_forward_is_not_fused(backend, spiral):
    X, y, _, _ = spiral
    calls = []

    class CountingDense(Dense):
        def forward(self, inputs, training=False):
            calls.append(inputs.shape[0])
            super().forward(inputs, training)

    model = Model()
    for layer in (CountingDense(2, 16), ReLU(), Dense(16, 3), Softmax()):
        model.add(layer)
    model.set(loss=CategoricalCrossentropy(), optimizer=Adam(), accuracy=Categorical())
    model.finalize()
    model.train(X, y, epochs=2, verbose=False)
    assert calls == [300, 300]
    model.layers[2].forward = lambda inputs, training=False: calls.append("patched") or Dense.forward(model.layers[2], inputs)
    model.predict(X)
    assert calls[-1] == "patched"  # an instance's own forward is seen too


def test_a_loss_that_turns_nan_unseen_stops_within_a_bounded_number_of_steps(backend, spiral):
    """Without any output, a NaN loss is found within CHECK_EVERY_STEPS + MAX_WAIT_STEPS steps (no
    read-back per step), and the error names the step where the loss first was not finite."""
    from nnfs_gpu.training.watch import CHECK_EVERY_STEPS, MAX_WAIT_STEPS

    X, y, _, _ = spiral

    class TurnsNan(CategoricalCrossentropy):
        calls = 0

        def _summed(self, y_pred, y_true):
            TurnsNan.calls += 1
            batch, total = super()._summed(y_pred, y_true)
            if TurnsNan.calls == 13:  # epoch 2 (6 steps of 50 per epoch), step 0
                batch = batch * float("nan")
                total = batch if self.running_total is None else self.running_total + batch
            return batch, total

    model = spiral_classifier()
    model.set(loss=TurnsNan())
    model.finalize()
    with pytest.raises(FloatingPointError, match=r"NaN or infinite at epoch 3, step 0; lower the learning rate"):
        model.train(X, y, epochs=400, batch_size=50, verbose=False)
    assert CHECK_EVERY_STEPS + MAX_WAIT_STEPS <= 16  # "bounded": far fewer than the run's 2400 steps
    assert 13 <= model.optimizer.iterations <= 13 + CHECK_EVERY_STEPS + MAX_WAIT_STEPS


def test_accuracy_is_a_count_divided_in_float64_as_the_book_divides(backend, capsys):
    """3998 right of 4000 is 0.9995: the book's float64 mean prints 1.000 (a float32 ratio, 0.999)."""
    accuracy = Categorical()
    predictions = np.zeros(4000, dtype=np.int64)
    labels = np.zeros(4000, dtype=np.int64)
    labels[:2] = 1
    value = accuracy.calculate(predictions, labels)
    assert value == 3998 / 4000 and f"{value:.3f}" == "1.000"
    assert f"{np.float32(3998) / np.float32(4000):.3f}" == "0.999"
    assert accuracy.calculate_accumulated() == 3998 / 4000


def test_results_do_not_depend_on_the_inputs_memory_layout():
    """Inputs in Fortran order train to the bits of the same inputs in C order: the layers get the
    same C-ordered batches (a BLAS may round a product of another layout differently)."""
    X, y = spiral_data(40, 3, dtype="float64")
    trained = []
    with nnfs_gpu.use_backend("numpy"):
        for inputs in (X, np.asfortranarray(X)):
            np.random.seed(0)
            model = support.classifier(Dense(2, 16), ReLU(), Dense(16, 3), Softmax())
            model.train(inputs, y, epochs=3, batch_size=32, validation_data=(inputs, y), verbose=False)
            assert model.layers[0].inputs.flags.c_contiguous
            trained.append([array for pair in model.get_parameters() for array in pair])
    for ours, theirs in zip(*trained):
        np.testing.assert_array_equal(ours, theirs)
