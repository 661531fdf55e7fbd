"""The model and data of the distributed tests, shared by the ranks and the single-process
reference, and what the tests of both engines (MPI, torch.distributed) check of the ranks' results."""

from pathlib import Path
from typing import Any

import numpy as np

import nnfs_gpu
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


def single_process_reference(backend: str, scale_shift: bool = False, **options: Any) -> tuple[list[np.ndarray], dict]:
    """The parameters and history one process trains to, from rank 0's seed (its weights and
    shuffles are the ones every rank uses)."""
    with nnfs_gpu.use_backend(backend, **options):
        np.random.seed(100)
        model = build_model(scale_shift=scale_shift)
        X, y, X_val, y_val = training_data()
        history = model.train(X, y, epochs=3, batch_size=64, shuffle=True, validation_data=(X_val, y_val), verbose=False)
    return [nnfs_gpu.to_numpy(array) for arrays in model.get_parameters() for array in arrays], history


def check_ranks_equal_one_process(out: Path, ranks: int, stdout: str, expected: list[np.ndarray], history: dict) -> None:
    """Every rank saved the same parameters, those of one process (the ranks sum their shares of a
    batch's gradient in another order: float32 sums of a few terms), and rank 0 alone printed."""
    saved = [np.load(out / f"rank{rank}.npz") for rank in range(ranks)]
    for rank_file in saved:
        for index, reference in enumerate(expected):
            np.testing.assert_array_equal(rank_file[f"arr_{index}"], saved[0][f"arr_{index}"])
            np.testing.assert_allclose(rank_file[f"arr_{index}"], reference, rtol=0, atol=1e-6)
        np.testing.assert_allclose(rank_file["loss"], history["loss"], rtol=1e-5)
        np.testing.assert_allclose(rank_file["accuracy"], history["accuracy"], rtol=1e-5)
    lines = stdout.splitlines()
    assert sum(line.startswith("epoch 1/3: ") for line in lines) == 1  # rank 0 alone prints
    assert sum(", val_loss " in line for line in lines) == 3


def check_mismatch_named(out: Path, returncode: int, stderr: str) -> None:
    """Ranks about to train different runs (train_ranks.py's 'mismatch') stopped, naming the
    differences, before any collective could wait."""
    assert returncode != 0
    assert ("the ranks must train the same run, but rank 1's layers is [Dense(2, 16, weight_regularizer_l2=0.0005), "
            "ReLU(), Dense(16, 3), Softmax()] where rank 0's is [Dense(2, 32, ") in stderr
    assert "rank 1's epochs is 4 where rank 0's is 3; rank 1's batch_size is 32 where rank 0's is 64" in stderr
    assert "did not finish within" not in stderr and not list(out.glob("rank*.npz"))
