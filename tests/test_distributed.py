"""Data-parallel training under mpiexec: ranks agree with each other and with one process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nnfs_gpu

DIST = Path(__file__).resolve().parent / "dist"
sys.path.insert(0, str(DIST))

from spec import build_model, training_data  # noqa: E402

LAUNCH_TIMEOUT_S = 120


def mpiexec() -> str:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.skip("mpi4py is not installed: pip install 'nnfs_gpu[mpi]'")
    beside_python = Path(sys.executable).parent / "mpiexec"
    found = str(beside_python) if beside_python.exists() else shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec: pip install 'nnfs_gpu[mpi]' brings MPICH's")
    return found


def launch(ranks: int, out: Path, mode: str, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "NNFS_GPU_CPU_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(DIST), str(DIST.parents[1])])}
    return subprocess.run(
        [mpiexec(), "-n", str(ranks), sys.executable, str(DIST / "train_ranks.py"), str(out), mode, *extra],
        capture_output=True, text=True, env=env, timeout=LAUNCH_TIMEOUT_S,
    )


def single_process_reference() -> tuple[list[np.ndarray], dict[str, list[float]]]:
    with nnfs_gpu.use_backend("numpy"):
        np.random.seed(100)  # rank 0's seed: its weights and its shuffling are the ones every rank uses
        model = build_model()
        X, y, X_val, y_val = training_data()
        history = model.train(X, y, epochs=3, batch_size=64, shuffle=True, validation_data=(X_val, y_val), verbose=False)
    return [array for pair in model.get_parameters() for array in pair], history


@pytest.mark.parametrize("ranks", [1, 2])
def test_ranks_hold_identical_parameters_equal_to_one_process(tmp_path, ranks):
    result = launch(ranks, tmp_path, "train")
    assert result.returncode == 0, result.stderr
    expected, history = single_process_reference()
    saved = [np.load(tmp_path / f"rank{rank}.npz") for rank in range(ranks)]
    for rank_file in saved:
        for index, reference in enumerate(expected):
            np.testing.assert_array_equal(rank_file[f"arr_{index}"], saved[0][f"arr_{index}"])
            np.testing.assert_allclose(rank_file[f"arr_{index}"], reference, rtol=0, atol=1e-6)
        np.testing.assert_allclose(rank_file["loss"], history["loss"], rtol=1e-5)
        np.testing.assert_allclose(rank_file["accuracy"], history["accuracy"], rtol=1e-5)
    lines = result.stdout.splitlines()
    assert lines.count("epoch: 1") == 1 and sum(line.startswith("validation, ") for line in lines) == 3
    assert sorted(path.name for path in tmp_path.glob("*.model")) == ["model-from-rank0.model"]


def test_the_command_line_trains_distributed(tmp_path):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "NNFS_GPU_BACKEND": "numpy"}
    result = subprocess.run(
        [mpiexec(), "-n", "2", sys.executable, "-m", "nnfs_gpu", "train", "--distributed", "--epochs", "5",
         "--batch-size", "100", "--save", str(tmp_path / "spiral.model")],
        capture_output=True, text=True, env=env, timeout=LAUNCH_TIMEOUT_S, cwd=DIST.parents[1],
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("distributed over 2 ranks") == 1
    assert result.stdout.count("epoch: 5") == 1
    assert nnfs_gpu.Model.load(tmp_path / "spiral.model").optimizer.iterations == 5 * 3


def test_a_failing_rank_ends_every_rank_with_a_message(tmp_path):
    result = launch(2, tmp_path, "fail")
    assert result.returncode != 0
    assert "rank 1 of 2: RuntimeError: simulated failure on rank 1; stopping all ranks" in result.stderr
    assert not list(tmp_path.glob("rank*.npz"))


def test_a_hanging_rank_is_detected_by_the_collective_timeout(tmp_path):
    result = launch(2, tmp_path, "hang", "2")
    assert result.returncode != 0
    assert "did not finish within 2 s; a rank may have died or hung; stopping all ranks" in result.stderr


def test_uneven_data_or_too_small_batches_are_refused():
    from nnfs_gpu.distributed import Communicator, DataParallel

    class TwoRanks(Communicator):
        """Answers as two ranks holding ``samples`` (fewest, most) would, without MPI."""

        def __init__(self, samples: tuple[int, int]) -> None:
            self.rank, self.size, self.samples = 0, 2, samples

        def host_extremes(self, value: int) -> tuple[int, int]:
            return self.samples

    with pytest.raises(ValueError, match="a global batch of 1 samples cannot be shared by 2 ranks"):
        DataParallel(TwoRanks((65, 65))).check_batches(65, [slice(0, 64), slice(64, 65)])
    with pytest.raises(ValueError, match=r"different numbers of training samples \(60 to 65\)"):
        DataParallel(TwoRanks((60, 65))).check_batches(65, [slice(0, 65)])
    assert DataParallel(TwoRanks((15, 15))).shard(slice(10, 15)) == slice(10, 12)


def test_importing_nnfs_gpu_never_imports_mpi4py():
    code = "import sys, nnfs_gpu; print('mpi4py' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_a_collective_timeout_without_distributed_training_is_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "nnfs_gpu", "train", "--collective-timeout", "5"],
                            capture_output=True, text=True, env={**os.environ, "NNFS_GPU_BACKEND": "numpy"})
    assert result.returncode == 2
    assert result.stderr.strip() == "nnfs-gpu: error: --collective-timeout goes with --distributed"

