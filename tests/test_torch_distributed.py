"""Data-parallel training of the torch backend through torch.distributed (gloo on the CPU), launched
by torchrun: ranks agree with each other and with one process; the rank checks and the collective
timeout of the MPI communicator apply."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nnfs_gpu

torch = pytest.importorskip("torch")

DIST = Path(__file__).resolve().parent / "dist"
sys.path.insert(0, str(DIST))

from spec import build_model, training_data  # noqa: E402
from support import HANG_GUARD_S  # noqa: E402


def launch(ranks: int | None, out: Path, mode: str, *extra: str) -> subprocess.CompletedProcess:
    """``train_torch_ranks.py`` under torchrun with ``ranks`` processes, or alone (no torchrun) when None."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "NNFS_GPU_CPU_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(DIST), str(DIST.parents[1])])}
    torchrun = ["-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc-per-node", str(ranks)]
    command = [sys.executable, *(torchrun if ranks else []), str(DIST / "train_torch_ranks.py"), str(out), mode, *extra]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=HANG_GUARD_S)


def single_process_reference() -> tuple[list[np.ndarray], dict[str, list[float]]]:
    with nnfs_gpu.use_backend("torch", device="cpu"):
        np.random.seed(100)  # rank 0's seed: its weights and its shuffling are the ones every rank uses
        model = build_model()
        X, y, X_val, y_val = training_data()
        history = model.train(X, y, epochs=3, batch_size=64, shuffle=True, validation_data=(X_val, y_val), verbose=False)
    return [nnfs_gpu.to_numpy(array) for pair in model.get_parameters() for array in pair], history


@pytest.mark.parametrize("ranks", [None, 2], ids=["alone", "torchrun-2"])
def test_gloo_ranks_hold_identical_parameters_equal_to_one_process(tmp_path, ranks):
    """Two ranks sum their shares of each batch's gradient in another order than one process: float32
    sums of a few terms, within the MPI test's bound."""
    result = launch(ranks, tmp_path, "train")
    assert result.returncode == 0, result.stderr
    expected, history = single_process_reference()
    saved = [np.load(tmp_path / f"rank{rank}.npz") for rank in range(ranks or 1)]
    for rank_file in saved:
        for index, reference in enumerate(expected):
            np.testing.assert_array_equal(rank_file[f"arr_{index}"], saved[0][f"arr_{index}"])
            np.testing.assert_allclose(rank_file[f"arr_{index}"], reference, rtol=0, atol=1e-6)
        np.testing.assert_allclose(rank_file["loss"], history["loss"], rtol=1e-5)
        np.testing.assert_allclose(rank_file["accuracy"], history["accuracy"], rtol=1e-5)
    lines = result.stdout.splitlines()
    assert sum(line.startswith("epoch 1/3: ") for line in lines) == 1  # rank 0 alone prints


def test_the_command_line_trains_distributed_under_torchrun(tmp_path):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(DIST.parents[1])}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "nnfs_gpu",
               "train", "--backend", "torch", "--distributed", "--epochs", "5", "--batch-size", "100",
               "--save", str(tmp_path / "spiral.model")]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=HANG_GUARD_S, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("distributed over 2 ranks (TorchCommunicator)") == 1
    assert result.stdout.count("epoch 5/5: ") == 1
    assert nnfs_gpu.Model.load(tmp_path / "spiral.model").optimizer.iterations == 5 * 3


def test_a_failing_gloo_rank_ends_every_rank_with_its_message(tmp_path):
    """The failing rank ends itself at once and torchrun ends the other, which waits in an
    all-reduce: long before the collective timeout (120 s here) would."""
    result = launch(2, tmp_path, "fail", "120")
    assert result.returncode != 0
    assert "nnfs_gpu: rank 1 of 2: RuntimeError: simulated failure on rank 1; stopping all ranks" in result.stderr
    assert "did not finish within" not in result.stderr and not list(tmp_path.glob("rank*.npz"))


def test_a_hanging_gloo_rank_is_detected_by_the_collective_timeout(tmp_path):
    result = launch(2, tmp_path, "hang", "2")
    assert result.returncode != 0
    assert "nnfs_gpu: rank 0 of 2: an all-reduce did not finish within 2 s; a rank may have died or hung; " \
           "stopping all ranks" in result.stderr
    assert not list(tmp_path.glob("rank*.npz"))


def test_gloo_ranks_that_would_train_different_runs_stop_with_the_differences_named(tmp_path):
    result = launch(2, tmp_path, "mismatch", "120")
    assert result.returncode != 0
    assert ("the ranks must train the same run, but rank 1's layers is [Dense(2, 16, weight_regularizer_l2=0.0005), "
            "ReLU(), Dense(16, 3), Softmax()] where rank 0's is [Dense(2, 32, ") in result.stderr
    assert "rank 1's epochs is 4 where rank 0's is 3; rank 1's batch_size is 32 where rank 0's is 64" in result.stderr
    assert "did not finish within" not in result.stderr and not list(tmp_path.glob("rank*.npz"))


def test_the_torch_backend_chooses_the_torch_distributed_communicator(monkeypatch):
    from nnfs_gpu import distributed, torch_distributed

    made = []
    monkeypatch.setattr(torch_distributed.TorchCommunicator, "__init__", lambda self, backend, timeout: made.append(timeout))
    comm = distributed.communicator(nnfs_gpu.backends.create_backend("torch", device="cpu"), 7.0)
    assert isinstance(comm, torch_distributed.TorchCommunicator) and made == [7.0]
