"""Short, fixed training runs whose every bit is printed as JSON, for tests/test_same_numbers.py.

Run as ``python fixed_runs.py BACKEND`` with ``nnfs_gpu`` importable: the test runs it once on
this checkout's package and once on the package of a pinned earlier commit, on the same machine (the
BLAS kernel there decides the last bits of every product), and compares the two outputs. Only the
public API that both versions share is used: the book's names and the ``Model`` calls.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

import numpy as np

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
    MeanSquaredError,
    Model,
    Regression,
    ReLU,
    RMSprop,
    Sigmoid,
    Softmax,
)
from nnfs_gpu.datasets import sine_data, spiral_data

OPTIMIZERS = {
    "sgd": lambda: SGD(learning_rate=1.0, decay=1e-3),
    "sgd-momentum": lambda: SGD(learning_rate=0.5, decay=1e-3, momentum=0.9),
    "adagrad": lambda: Adagrad(learning_rate=0.5, decay=1e-4),
    "rmsprop": lambda: RMSprop(learning_rate=0.02, decay=1e-5, rho=0.999),
    "adam": lambda: Adam(learning_rate=0.05, decay=5e-5),
}


def digest(array: Any) -> str:
    host = np.ascontiguousarray(nnfs_gpu.to_numpy(array))
    return f"{host.dtype}{host.shape}:{hashlib.sha256(host.tobytes()).hexdigest()[:24]}"


def parameters(layers: list) -> list[str]:
    return [digest(array) for layer in layers if hasattr(layer, "weights") for array in (layer.weights, layer.biases)]


def chapter10(epochs: int = 150) -> dict[str, Any]:
    """Chapter 10's loop through the book's names: forward, loss, backward, update, by hand."""
    from nnfs_gpu.book import (
        Activation_ReLU,
        Activation_Softmax_Loss_CategoricalCrossentropy,
        Layer_Dense,
        Optimizer_Adam,
    )

    np.random.seed(0)
    X, y = spiral_data(100, 3)
    dense1, activation1, dense2 = Layer_Dense(2, 64), Activation_ReLU(), Layer_Dense(64, 3)
    loss_activation = Activation_Softmax_Loss_CategoricalCrossentropy()
    optimizer = Optimizer_Adam(learning_rate=0.05, decay=5e-7)
    losses = []
    for _ in range(epochs):
        dense1.forward(X)
        activation1.forward(dense1.output)
        dense2.forward(activation1.output)
        losses.append(repr(float(loss_activation.forward(dense2.output, y))))
        loss_activation.backward(loss_activation.output, y)
        dense2.backward(loss_activation.dinputs)
        activation1.backward(dense2.dinputs)
        dense1.backward(activation1.dinputs)
        optimizer.pre_update_params()
        optimizer.update_params(dense1)
        optimizer.update_params(dense2)
        optimizer.post_update_params()
    return {"losses": losses, "parameters": parameters([dense1, dense2])}


def classifier(optimizer: Any) -> Model:
    model = Model()
    model.add(Dense(2, 48, weight_regularizer_l1=1e-5, weight_regularizer_l2=5e-4, bias_regularizer_l2=5e-4))
    model.add(ReLU())
    model.add(Dropout(0.1))
    model.add(Dense(48, 48))
    model.add(ReLU())
    model.add(Dense(48, 3))
    model.add(Softmax())
    model.set(loss=CategoricalCrossentropy(), optimizer=optimizer, accuracy=Categorical())
    model.finalize()
    return model


def model_run(model: Model, X: Any, y: Any, validation: tuple[Any, Any], epochs: int, batch_size: int) -> dict[str, Any]:
    history = model.train(X, y, epochs=epochs, batch_size=batch_size, shuffle=True, validation_data=validation, verbose=False)
    return {
        "history": {key: [repr(value) for value in values] for key, values in sorted(history.items())},
        "parameters": parameters(model.layers),
        "predictions": digest(model.predict(validation[0], batch_size=50)),
    }


def runs() -> dict[str, Any]:
    results: dict[str, Any] = {"chapter10": chapter10()}
    np.random.seed(1)
    X, y = spiral_data(100, 3)
    X_val, y_val = spiral_data(30, 3)
    for name, make in OPTIMIZERS.items():
        np.random.seed(2)
        results[f"model-{name}"] = model_run(classifier(make()), X, y, (X_val, y_val), epochs=6, batch_size=64)
    np.random.seed(3)
    binary = Model()
    for layer in (Dense(2, 32), ReLU(), Dense(32, 1), Sigmoid()):
        binary.add(layer)
    binary.set(loss=BinaryCrossentropy(), optimizer=Adam(learning_rate=0.01), accuracy=Categorical(binary=True))
    binary.finalize()
    labels = (y == 1).astype(np.int64).reshape(-1, 1)
    results["model-binary"] = model_run(binary, X, labels, (X_val, (y_val == 1).astype(np.int64).reshape(-1, 1)), 6, 100)
    np.random.seed(4)
    X_sine, y_sine = sine_data(300)
    regression = Model()
    for layer in (Dense(1, 32, weight_scale=0.1), ReLU(), Dense(32, 1, weight_scale=0.1), Linear()):
        regression.add(layer)
    regression.set(loss=MeanSquaredError(), optimizer=Adam(learning_rate=0.005, decay=1e-3), accuracy=Regression())
    regression.finalize()
    results["model-regression"] = model_run(regression, X_sine, y_sine, (X_sine[:60], y_sine[:60]), 6, 64)
    return results


if __name__ == "__main__":
    name = sys.argv[1]
    output = {}
    for precision in ("default", "book"):
        nnfs_gpu.set_backend(name, precision=precision)
        output[precision] = runs()
    json.dump(output, sys.stdout, indent=1, sort_keys=True)
