"""On a GPU: a training step never waits for the device (no host synchronisation inside a step).

``cupyx.allow_synchronize(False)`` catches only some synchronisations; tests/test_launch_budget.py
counts every one on the recording stand-in, and scripts/gpu_launch_count.py on the device."""

from __future__ import annotations

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import Adam, Categorical, CategoricalCrossentropy, Dense, Dropout, Model, ReLU, Softmax

pytestmark = pytest.mark.gpu


@pytest.fixture
def cupy_backend():
    reason = nnfs_gpu.available_backends()["cupy"].reason
    if reason is not None:
        pytest.skip(reason)
    with nnfs_gpu.use_backend("cupy") as backend:
        yield backend


def test_a_training_step_does_not_synchronize(cupy_backend):
    import cupyx

    allow_synchronize = getattr(cupyx, "allow_synchronize", None)  # deprecated since CuPy 10, still in 14
    if allow_synchronize is None:
        pytest.skip("this CuPy has no cupyx.allow_synchronize to detect host synchronisation")
    np.random.seed(0)
    model = Model()
    model.add(Dense(784, 128, weight_regularizer_l2=5e-4))
    model.add(ReLU())
    model.add(Dropout(0.1))
    model.add(Dense(128, 10))
    model.add(Softmax())
    model.set(loss=CategoricalCrossentropy(), optimizer=Adam(), accuracy=Categorical())
    model.finalize()
    rng = np.random.default_rng(0)
    X = cupy_backend.asarray(rng.standard_normal((128, 784)).astype(np.float32))
    y = cupy_backend.asarray(rng.integers(0, 10, 128).astype(np.uint8))
    model.train(X, y, epochs=1, verbose=False)  # compiles the kernels, builds the flat buffers
    update = model._updates.for_training(model.trainable_layers, model.optimizer, model.backend)
    with allow_synchronize(False):
        for _ in range(3):
            output = model.forward(X, training=True)
            model.loss.accumulate(output, y)
            model.accuracy.accumulate(model.output_layer_activation.predictions(output), y)
            model.backward(output, y)
            update.apply(model.optimizer)
    cupy_backend.synchronize()
    assert np.isfinite(float(model.loss.accumulated_sum))
