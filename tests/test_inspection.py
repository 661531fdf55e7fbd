"""What users inspect and carry around: summary(), reprs, state_dict(), probabilities and classes."""

from __future__ import annotations

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import (
    Adam,
    Dense,
    Dropout,
    Linear,
    MeanSquaredError,
    Model,
    Regression,
    ReLU,
    Softmax,
)
from nnfs_gpu.datasets import spiral_data
import support


def classifier() -> Model:
    return support.classifier(Dense(2, 64, weight_regularizer_l2=5e-4, bias_regularizer_l2=5e-4), ReLU(), Dropout(0.1),
                              Dense(64, 3), Softmax(), optimizer=Adam(learning_rate=0.05))


@pytest.fixture
def spiral():
    np.random.seed(0)
    return spiral_data(50, 3)


def test_summary_lists_layers_shapes_parameters_and_settings(backend):
    text = classifier().summary()
    lines = text.splitlines()
    assert lines[0].startswith("Model: 5 layers, 387 parameters; ") and backend.describe() in lines[0]
    assert lines[2].startswith("0  Dense(2, 64)  ")
    assert "(samples, 64)" in lines[2] and lines[2].endswith("192  weight L2 0.0005, bias L2 0.0005")
    assert "drops 10% while training" in lines[4] and "(samples, 3)" in lines[5] and lines[5].split()[-1] == "195"
    assert "fused with the softmax's gradient" in lines[-1] and "Adam(learning_rate=0.05" in lines[-1]
    assert repr(text) == str(text)  # a REPL shows the table, not a quoted string


def test_reprs_show_what_a_layer_does():
    model = classifier()
    assert repr(model).startswith("Model([Dense(2, 64, weight_regularizer_l2=0.0005, bias_regularizer_l2=0.0005), ReLU(), Dropout(0.1),")


def test_state_dict_round_trip_resumes_training_exactly(spiral):
    X, y = spiral
    with nnfs_gpu.use_backend("numpy"):
        np.random.seed(1)
        first = classifier()
        first.train(X, y, 3, verbose=False)
        state = first.state_dict()
        assert all(isinstance(array, np.ndarray) for layer in state["layers"] for array in layer.values())
        assert set(state["layers"][0]) == {"weights", "biases", "weight_momentums", "bias_momentums", "weight_cache", "bias_cache"}
        second = classifier()
        second.load_state_dict(state)
        assert second.optimizer.iterations == first.optimizer.iterations == 3
        np.random.seed(2)
        expected = first.train(X, y, 2, verbose=False)
        np.random.seed(2)
        assert second.train(X, y, 2, verbose=False) == expected
        state["layers"][0]["weights"] = np.zeros((3, 64))
        with pytest.raises(ValueError, match=r"weights of Dense\(2, 64.*has shape \(3, 64\), expected \(2, 64\)"):
            second.load_state_dict(state)
        iterations, weights = second.optimizer.iterations, second.trainable_layers[1].weights.copy()
        broken = first.state_dict()
        broken["optimizer"]["iterations"] = 0
        del broken["layers"][1]["weights"]
        with pytest.raises(ValueError, match=r"Dense\(64, 3.* needs weights and biases"):
            second.load_state_dict(broken)
        assert second.optimizer.iterations == iterations, "a refused state changed the optimizer"
        np.testing.assert_array_equal(second.trainable_layers[1].weights, weights)
        broken = first.state_dict()
        broken["optimizer"]["current_learning_rate"] = -1.0
        broken["optimizer"]["iterations"] = 0
        with pytest.raises(ValueError, match="current_learning_rate"):
            second.load_state_dict(broken)
        assert second.optimizer.iterations == iterations, "a refused optimizer state was half loaded"


def test_probabilities_and_classes(spiral, tmp_path):
    X, y = spiral
    with nnfs_gpu.use_backend("numpy"):
        model = classifier()
        model.train(X, y, 5, verbose=False)
        probabilities = model.predict_proba(X)
        assert probabilities.shape == (150, 3) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
        np.testing.assert_array_equal(model.predict_classes(X), probabilities.argmax(axis=1))
        model.class_labels = ["red", "green", "blue"]
        np.testing.assert_array_equal(model.predict_classes(X), np.array(["red", "green", "blue"])[probabilities.argmax(axis=1)])
        model.save(tmp_path / "labelled.model")
        loaded = Model.load(tmp_path / "labelled.model")
        assert loaded.class_labels == ["red", "green", "blue"]
        np.testing.assert_array_equal(loaded.predict_classes(X), model.predict_classes(X))
        regressor = Model()
        for layer in (Dense(2, 4), ReLU(), Dense(4, 1), Linear()):
            regressor.add(layer)
        regressor.set(loss=MeanSquaredError(), optimizer=Adam(), accuracy=Regression())
        regressor.finalize()
        with pytest.raises(TypeError, match="a regressor's values are no probabilities; use predict"):
            regressor.predict_proba(X)


def test_epochs_may_be_given_positionally(spiral):
    X, y = spiral
    with nnfs_gpu.use_backend("numpy"):
        assert len(classifier().train(X, y, 5, verbose=False)["loss"]) == 5
