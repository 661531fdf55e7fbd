"""Bad arguments where they enter the public API: each error names the argument, what it got and
what it needs; a pass called out of order says which call comes first; objects print readably."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import (
    SGD,
    Adagrad,
    Adam,
    BinaryCrossentropy,
    Categorical,
    CategoricalCrossentropy,
    Dense,
    Dropout,
    Linear,
    Model,
    ReLU,
    RMSprop,
    Sigmoid,
    Softmax,
    SoftmaxCategoricalCrossentropy,
)
import support
from nnfs_gpu.backends import create_backend


def classifier() -> Model:
    return support.classifier(Dense(2, 8), ReLU(), Dense(8, 3), Softmax())


# -- constructors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: Dense(2.7, 3), TypeError, r"Dense: n_inputs must be a whole number >= 1, got 2.7 \(float\)"),
        (lambda: Dense(2, "3"), TypeError, r"Dense: n_neurons must be a whole number >= 1, got '3' \(str\)"),
        (lambda: Dense(True, 3), TypeError, r"Dense: n_inputs must be a whole number >= 1, got True \(bool\)"),
        (lambda: Dense(0, 3), ValueError, r"Dense: n_inputs must be a whole number >= 1, got 0"),
        (lambda: Dense(2, 3, weight_regularizer_l2=-1), ValueError, r"weight_regularizer_l2 must be a finite number >= 0, got -1.0"),
        (lambda: Dense(2, 3, bias_regularizer_l1=math.nan), ValueError, r"bias_regularizer_l1 must be a finite number >= 0, got nan"),
        (lambda: Dense(2, 3, weight_scale=math.inf), ValueError, r"Dense: weight_scale must be a finite number >= 0, got inf"),
        (lambda: Dropout(1.5), ValueError, r"Dropout: rate must be a finite number >= 0 and < 1, got 1.5"),
        (lambda: Dropout("0.1"), TypeError, r"Dropout: rate must be a finite number >= 0 and < 1, got '0.1' \(str\)"),
        (lambda: Dropout(0.1, host_rng="yes"), TypeError, r"Dropout: host_rng must be True or False, got 'yes' \(str\)"),
        (lambda: Categorical(binary="no"), TypeError, r"Categorical: binary must be True or False, got 'no'"),
    ],
)
def test_layers_refuse_bad_arguments_naming_them(backend, make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_numpy_integers_and_floats_are_numbers(backend):
    layer = Dense(np.int64(2), np.int32(3), weight_regularizer_l2=np.float32(0.5))
    assert (layer.n_inputs, layer.n_neurons, layer.weight_regularizer_l2) == (2, 3, 0.5)
    assert type(layer.n_inputs) is int


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: Adam(learning_rate=math.nan), ValueError, r"Adam: learning_rate must be a finite number > 0, got nan"),
        (lambda: SGD(learning_rate=math.inf), ValueError, r"SGD: learning_rate must be a finite number > 0, got inf"),
        (lambda: SGD(learning_rate=0), ValueError, r"SGD: learning_rate must be a finite number > 0, got 0.0"),
        (lambda: SGD(momentum=-1), ValueError, r"SGD: momentum must be a finite number >= 0 and < 1, got -1.0"),
        (lambda: SGD(momentum=1), ValueError, r"SGD: momentum must be a finite number >= 0 and < 1, got 1.0"),
        (lambda: Adam(beta_1=2), ValueError, r"Adam: beta_1 must be a finite number >= 0 and < 1, got 2.0"),
        (lambda: Adam(beta_2=-0.5), ValueError, r"Adam: beta_2 must be a finite number >= 0 and < 1"),
        (lambda: RMSprop(rho=7), ValueError, r"RMSprop: rho must be a finite number >= 0 and < 1, got 7.0"),
        (lambda: Adagrad(epsilon=-1), ValueError, r"Adagrad: epsilon must be a finite number > 0, got -1.0"),
        (lambda: Adam(decay="0.1"), TypeError, r"Adam: decay must be a finite number >= 0, got '0.1' \(str\)"),
        (lambda: Adam(learning_rate=None), TypeError, r"Adam: learning_rate must be a finite number > 0, got None"),
    ],
)
def test_optimizers_refuse_bad_hyperparameters_naming_them(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_a_loaded_optimizer_state_is_checked_like_the_constructor():
    state = Adam().state_dict()
    state["hyperparameters"]["beta_1"] = 3.0
    with pytest.raises(ValueError, match="Adam: beta_1 must be a finite number >= 0 and < 1, got 3.0"):
        Adam().load_state_dict(state)
    state = Adam().state_dict()
    state["iterations"] = -2
    with pytest.raises(ValueError, match="Adam: iterations must be a whole number >= 0, got -2"):
        Adam().load_state_dict(state)


# -- Model.add and Model.set ------------------------------------------------------------------


@pytest.mark.parametrize(
    "layer, message",
    [
        ("Dense", r"add: the layer must be a layer object such as Dense\(2, 64\) or ReLU\(\), got 'Dense' \(str\)"),
        (Dense, r"got the class Dense itself; create one with Dense\(...\)"),
        (None, r"got None \(NoneType\)"),
    ],
)
def test_add_takes_layer_objects_only(backend, layer, message):
    with pytest.raises(TypeError, match=message):
        Model().add(layer)


def test_the_same_layer_object_cannot_be_added_twice(backend):
    model = Model()
    relu = ReLU()
    model.add(Dense(2, 4))
    model.add(relu)
    model.add(Dense(4, 4))
    with pytest.raises(ValueError, match=r"add: ReLU\(\) is already layer 1 of this model; .* create another ReLU\(...\)"):
        model.add(relu)
    assert len(model.layers) == 3


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"loss": "cce"}, r"set: loss must be a loss object such as CategoricalCrossentropy\(\), got 'cce' \(str\)"),
        ({"loss": CategoricalCrossentropy}, r"set: loss must be .* got the class CategoricalCrossentropy itself"),
        ({"optimizer": "adam"}, r"set: optimizer must be an optimizer object such as Adam\(\), got 'adam' \(str\)"),
        ({"optimizer": Adam}, r"got the class Adam itself; create one with Adam\(...\)"),
        ({"accuracy": 0.9}, r"set: accuracy must be an accuracy object such as Categorical\(\), got 0.9 \(float\)"),
    ],
)
def test_set_checks_loss_optimizer_and_accuracy(backend, arguments, message):
    model = Model()
    with pytest.raises(TypeError, match=message):
        model.set(**arguments)
    assert (model.loss, model.optimizer, model.accuracy) == (None, None, None)


# -- train, evaluate, predict -------------------------------------------------------------------


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ({"batch_size": 1.5}, TypeError, r"train: batch_size must be a whole number >= 1, got 1.5 \(float\)"),
        ({"batch_size": 0}, ValueError, r"train: batch_size must be a whole number >= 1, got 0"),
        ({"epochs": None}, TypeError, r"train: epochs must be a whole number >= 0, got None \(NoneType\)"),
        ({"epochs": -1}, ValueError, r"train: epochs must be a whole number >= 0, got -1"),
        ({"print_every": 0}, ValueError, r"train: print_every must be a whole number >= 1, got 0"),
        ({"shuffle": "yes"}, TypeError, r"train: shuffle must be True or False, got 'yes' \(str\)"),
        ({"verbose": None}, TypeError, r"train: verbose must be True or False, got None"),
        ({"progress": "bar"}, TypeError, r"train: progress must be True or False, got 'bar'"),
        ({"distributed": "mpi"}, TypeError, r"train: distributed must be True or False, got 'mpi'"),
    ],
)
def test_train_checks_its_arguments_before_any_work(backend, small_spiral, arguments, error, message):
    model = classifier()
    before = [nnfs_gpu.to_numpy(array).copy() for array in model.get_parameters()[0]]
    with pytest.raises(error, match=message):
        model.train(*small_spiral, **{"verbose": False, **arguments})
    assert model.optimizer.iterations == 0
    np.testing.assert_array_equal(nnfs_gpu.to_numpy(model.get_parameters()[0][0]), before[0])


@pytest.mark.parametrize("validation_data", [(np.ones((3, 2)),), np.ones((3, 2)), (1, 2, 3)])
def test_validation_data_must_be_a_pair(backend, small_spiral, validation_data):
    with pytest.raises(TypeError, match=r"train: validation_data must be a pair \(X_val, y_val\), got "):
        classifier().train(*small_spiral, validation_data=validation_data, verbose=False)


def test_evaluate_and_predict_check_their_arguments(backend, small_spiral):
    model = classifier()
    with pytest.raises(ValueError, match=r"evaluate: batch_size must be a whole number >= 1, got 0"):
        model.evaluate(*small_spiral, batch_size=0)
    with pytest.raises(TypeError, match=r"evaluate: verbose must be True or False, got 'no'"):
        model.evaluate(*small_spiral, verbose="no")
    with pytest.raises(TypeError, match=r"predict: batch_size must be a whole number >= 1, got 2.5"):
        model.predict(small_spiral[0], batch_size=2.5)


def test_set_parameters_says_what_it_needs(backend):
    model = classifier()
    with pytest.raises(ValueError, match=r"needs a list of 2 tuples of arrays, one per trainable layer, got 1 items"):
        model.set_parameters([(np.ones((2, 8)), np.ones((1, 8)))])
    with pytest.raises(ValueError, match=r"item 1 must be a tuple \(weights, biases\) for Dense\(8, 3\), got"):
        model.set_parameters([(np.ones((2, 8)), np.ones((1, 8))), np.ones((8, 3))])


# -- passes called out of order -----------------------------------------------------------------


@pytest.mark.parametrize(
    "make, shape, message",
    [
        (lambda: Dense(2, 3), (4, 3), r"Dense\(2, 3\): backward was called before forward; call forward\(inputs\) first"),
        (ReLU, (4, 3), r"ReLU\(\): backward was called before forward"),
        (Softmax, (4, 3), r"Softmax\(\): backward was called before forward"),
        (Sigmoid, (4, 3), r"Sigmoid\(\): backward was called before forward"),
        (lambda: Dropout(0.5), (4, 3), r"Dropout\(0.5\): backward was called before forward; call forward\(inputs, training=True\)"),
    ],
)
def test_backward_before_forward_says_which_comes_first(backend, make, shape, message):
    with pytest.raises(RuntimeError, match=message):
        make().backward(np.ones(shape))


def test_dropout_backward_needs_a_training_forward(backend):
    dropout = Dropout(0.5)
    dropout.forward(np.ones((4, 3)), training=True)
    dropout.forward(np.ones((2, 3)), training=False)  # the mask of the first call no longer applies
    with pytest.raises(RuntimeError, match=r"call forward\(inputs, training=True\) first"):
        dropout.backward(np.ones((2, 3)))


@pytest.mark.parametrize("make", [lambda: Dense(2, 3), ReLU, Softmax, Sigmoid, Linear])
def test_backward_refuses_gradients_of_another_shape(backend, make):
    layer = make()
    layer.forward(np.ones((4, 2)) if isinstance(layer, Dense) else np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"backward got dvalues of shape \(5, 3\); it needs \(4, 3\)"):
        layer.backward(np.ones((5, 3)))


def test_model_passes_before_finalize_are_refused(backend):
    model = Model()
    model.add(Dense(2, 3))
    with pytest.raises(RuntimeError, match=r"call model.finalize\(\) before forward"):
        model.forward(np.ones((2, 2)), training=False)
    with pytest.raises(RuntimeError, match=r"call model.finalize\(\) before backward"):
        model.backward(np.ones((2, 3)), np.zeros(2, dtype=int))
    for action in ("predict", "predict_proba", "predict_classes"):
        with pytest.raises(RuntimeError, match=rf"call model.finalize\(\) before {action}"):
            getattr(model, action)(np.ones((2, 2)))


def test_predictions_must_be_one_row_per_sample(backend):
    with pytest.raises(ValueError, match=r"CategoricalCrossentropy\(\): predictions must be 2-D \(samples, outputs\), got shape \(4,\)"):
        CategoricalCrossentropy().forward(np.full(4, 0.5), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match=r"Softmax takes a 2-D batch \(samples, classes\), got inputs of shape \(4,\)"):
        Softmax().forward(np.ones(4))


# -- readable objects -----------------------------------------------------------------------------


def test_activations_and_losses_print_readably(backend):
    shown = [repr(part) for part in (ReLU(), Softmax(), Sigmoid(), Linear(), CategoricalCrossentropy(),
                                    BinaryCrossentropy(), SoftmaxCategoricalCrossentropy())]
    assert shown == ["ReLU()", "Softmax()", "Sigmoid()", "Linear()", "CategoricalCrossentropy()",
                     "BinaryCrossentropy()", "SoftmaxCategoricalCrossentropy()"]


# -- backends -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["numpy", "strict"])
def test_dtype_takes_numpys_spellings_and_a_backends_own_dtype(name):
    """NumPy users pass NumPy's spellings, and a backend's own ``dtype`` names its dtype too."""
    own = create_backend(name, dtype="float64").dtype
    spellings = {np.float64: "float64", "f8": "float64", np.dtype("float32"): "float32", float: "float64", own: "float64",
                 "float32": "float32"}
    for spelling, expected in spellings.items():
        assert create_backend(name, dtype=spelling).dtype_name == expected, spelling
    for wrong in (None, True, "float16", "f2", np.int32, np.complex64, "bogus", [1]):
        with pytest.raises(ValueError, match=r"^dtype must be one of \('float32', 'float64'\) \(or a NumPy spelling of them\), got "):
            create_backend(name, dtype=wrong)
