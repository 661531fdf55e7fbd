"""The model and data of the distributed tests, shared by the ranks and the single-process reference."""

import numpy as np

from nnfs_gpu import Adam, Categorical, CategoricalCrossentropy, Dense, Model, ReLU, Softmax
from nnfs_gpu.datasets import spiral_data


def build_model(hidden: int = 32, scale_shift: bool = False) -> Model:
    """The book's spiral classifier; ``scale_shift`` adds the user-written layer of
    tests/custom_layer.py after the first Dense layer."""
    model = Model()
    model.add(Dense(2, hidden, weight_regularizer_l2=5e-4))
    if scale_shift:
        from custom_layer import ScaleShift

        model.add(ScaleShift(hidden))
    model.add(ReLU())
    model.add(Dense(hidden, 3))
    model.add(Softmax())
    model.set(loss=CategoricalCrossentropy(), optimizer=Adam(learning_rate=0.02), accuracy=Categorical())
    model.finalize()
    return model


def training_data():
    state = np.random.get_state()
    np.random.seed(7)
    X, y = spiral_data(100, 3)
    X_val, y_val = spiral_data(30, 3)
    np.random.set_state(state)
    return X, y, X_val, y_val
