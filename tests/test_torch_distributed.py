"""Data-parallel training of the torch backend through torch.distributed (gloo on the CPU), launched
by torchrun: ranks agree with each other and with one process; the rank checks and the collective
timeout of the MPI communicator apply."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import nnfs_gpu

torch = pytest.importorskip("torch")

DIST = Path(__file__).resolve().parent / "dist"
sys.path.insert(0, str(DIST))

from spec import check_mismatch_named, check_ranks_equal_one_process, single_process_reference  # noqa: E402
from support import HANG_GUARD_S  # noqa: E402


def launch(ranks: int | None, out: Path, mode: str, *extra: str) -> subprocess.CompletedProcess:
    """``train_ranks.py`` on the torch engine under torchrun with ``ranks`` processes, or alone (no
    torchrun) when None."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "NNFS_GPU_CPU_THREADS": "1",
           "RANKS_ENGINE": "torch", "PYTHONPATH": os.pathsep.join([str(DIST), str(DIST.parent), str(DIST.parents[1])])}
    torchrun = ["-m", "torch.distributed.run", "--standalone", "--nnodes", "1", "--nproc-per-node", str(ranks)]
    command = [sys.executable, *(torchrun if ranks else []), str(DIST / "train_ranks.py"), str(out), mode, *extra]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=HANG_GUARD_S)


@pytest.mark.parametrize("ranks", [None, 2], ids=["alone", "torchrun-2"])
def test_gloo_ranks_hold_identical_parameters_equal_to_one_process(tmp_path, ranks):
    """Two ranks sum their shares of each batch's gradient in another order than one process: float32
    sums of a few terms, within the MPI test's bound."""
    result = launch(ranks, tmp_path, "train")
    assert result.returncode == 0, result.stderr
    expected, history = single_process_reference("torch", device="cpu")
    check_ranks_equal_one_process(tmp_path, ranks or 1, result.stdout, expected, history)


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
    check_mismatch_named(tmp_path, result.returncode, result.stderr)


def test_the_torch_backend_chooses_the_torch_distributed_communicator(monkeypatch):
    from nnfs_gpu import distributed, torch_distributed

    made = []
    monkeypatch.setattr(torch_distributed.TorchCommunicator, "__init__", lambda self, backend, timeout: made.append(timeout))
    comm = distributed.communicator(nnfs_gpu.backends.create_backend("torch", device="cpu"), 7.0)
    assert isinstance(comm, torch_distributed.TorchCommunicator) and made == [7.0]
