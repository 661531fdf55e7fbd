"""Data-parallel training under mpiexec: ranks agree with each other and with one process."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import distributed, watchdog
from nnfs_gpu import launch as launch_module
from nnfs_gpu.distributed import Communicator

DIST = Path(__file__).resolve().parent / "dist"
sys.path.insert(0, str(DIST))

from spec import build_model, check_mismatch_named, check_ranks_equal_one_process, single_process_reference, training_data  # noqa: E402
from support import HANG_GUARD_S



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


def launch(ranks: int, out: Path, mode: str, *extra: str, script: str = "train_ranks.py") -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "NNFS_GPU_CPU_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(DIST), str(DIST.parent), str(DIST.parents[1])])}
    return subprocess.run(
        [mpiexec(), "-n", str(ranks), sys.executable, str(DIST / script), str(out), mode, *extra],
        capture_output=True, text=True, env=env, timeout=HANG_GUARD_S,
    )


@pytest.mark.parametrize("ranks, mode", [(1, "train"), (2, "train"), (2, "train-scale-shift")])
def test_ranks_hold_identical_parameters_equal_to_one_process(tmp_path, ranks, mode):
    """Also for a model holding a layer written outside the package (tests/custom_layer.py)."""
    result = launch(ranks, tmp_path, mode)
    assert result.returncode == 0, result.stderr
    expected, history = single_process_reference("numpy", scale_shift=mode == "train-scale-shift")
    assert len(expected) == (6 if mode == "train-scale-shift" else 4)
    check_ranks_equal_one_process(tmp_path, ranks, result.stdout, expected, history)
    assert sorted(path.name for path in tmp_path.glob("*.model")) == ["model-from-rank0.model"]


def test_the_command_line_trains_distributed(tmp_path):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "NNFS_GPU_BACKEND": "numpy"}
    result = subprocess.run(
        [mpiexec(), "-n", "2", sys.executable, "-m", "nnfs_gpu", "train", "--distributed", "--epochs", "5",
         "--batch-size", "100", "--save", str(tmp_path / "spiral.model")],
        capture_output=True, text=True, env=env, timeout=HANG_GUARD_S, cwd=DIST.parents[1],
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("distributed over 2 ranks") == 1
    assert result.stdout.count("epoch 5/5: ") == 1
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


def test_ranks_that_would_train_different_runs_stop_with_the_differences_named(tmp_path):
    result = launch(2, tmp_path, "mismatch", "60")
    check_mismatch_named(tmp_path, result.returncode, result.stderr)


def test_a_rank_failing_before_train_stops_every_rank(tmp_path):
    """After MPI has started (MPI_Abort) and before (the launcher stops the ranks): either way no
    rank waits for the failed one."""
    result = launch(2, tmp_path, "fail-before-train", "120")
    assert result.returncode != 0
    assert "RuntimeError: rank 1 cannot read its data" in result.stderr
    assert "nnfs_gpu: rank 1 of 2: uncaught RuntimeError; stopping all ranks" in result.stderr
    early = launch(2, tmp_path, "", script="fail_early.py")
    assert early.returncode != 0
    assert "FileNotFoundError: rank 1 cannot find its data file" in early.stderr
    assert "nnfs_gpu: rank 1 of 2: uncaught FileNotFoundError; stopping all ranks" in early.stderr
    assert not list(tmp_path.glob("trained-*")) and not list(tmp_path.glob("rank*.npz"))


def test_a_timeout_stops_all_ranks_with_one_message(tmp_path):
    """The command line's error handler around Model.train's: MPI_Abort may return before the
    launcher ends the process, and its exit must not be reported as a second error."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "NNFS_GPU_BACKEND": "numpy", "PYTHONPATH": str(DIST.parents[1])}
    command = [mpiexec(), "-n", "1", sys.executable, "-m", "nnfs_gpu", "train", "--distributed", "--quiet",
               "--collective-timeout", "3", ":", "-n", "1", sys.executable, str(DIST / "quits_early.py")]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=HANG_GUARD_S, cwd=tmp_path)
    assert result.returncode != 0
    assert result.stderr.count("stopping all ranks") == 1, result.stderr
    assert "did not finish within 3 s; a rank may have died or hung; stopping all ranks" in result.stderr
    assert "SystemExit" not in result.stderr


class FakeRanks(Communicator):
    """Two ranks without MPI: ``allgather_text`` answers with rank 0's text and ``other``'s, and
    ``Abort`` returns (as MPI_Abort may, before the launcher ends the process)."""

    def __init__(self, other: dict | None = None) -> None:
        self.rank, self.size, self.other, self.timeout = 0, 2, other, 5.0
        self.comm = self

    def allgather_text(self, text: str) -> list[str]:
        return [text, json.dumps({**json.loads(text), **(self.other or {})})]

    def Abort(self, code: int) -> None:
        pass


def test_agree_names_every_difference_and_passes_equal_runs(monkeypatch):
    from nnfs_gpu.distributed import DataParallel

    np.random.seed(0)
    with nnfs_gpu.use_backend("numpy"):
        model = build_model()
    X, y, X_val, y_val = training_data()
    settings = {"epochs": 3, "batch_size": 64, "print_every": 1, "shuffle": True, "verbose": False}
    DataParallel(FakeRanks()).agree(model, X, y, (X_val, y_val), settings)
    other = {"training data": "X (250, 2), y (250,)", "verbose": "True", "backend": "numpy float64 (default precision)"}
    with pytest.raises(ValueError) as caught:
        DataParallel(FakeRanks(other)).agree(model, X, y, (X_val, y_val), settings)
    assert str(caught.value).startswith(
        "the ranks must train the same run, but rank 1's backend is numpy float64 (default precision) where rank 0's is "
        "numpy float32 (default precision); rank 1's training data is X (250, 2), y (250,) where rank 0's is X (300, 2), "
        "y (300,); rank 1's verbose is True where rank 0's is False; give every rank the same model"
    )
    with pytest.raises(ValueError, match="a global batch of 1 samples cannot be shared by 2 ranks"):
        DataParallel(FakeRanks()).check_batches([slice(0, 64), slice(64, 65)])


def test_an_abort_in_nested_error_handlers_prints_one_message(capsys, monkeypatch):
    monkeypatch.setattr(launch_module, "ABORT_GRACE_SECONDS", 0)
    comm = FakeRanks()
    with pytest.raises(SystemExit):
        with comm.stopping_all_on_error():  # the command line's
            with comm.stopping_all_on_error():  # Model.train's
                comm.abort("an all-reduce did not finish within 5 s")
    assert capsys.readouterr().err == "nnfs_gpu: rank 0 of 2: an all-reduce did not finish within 5 s; stopping all ranks\n"


def test_the_collective_timeout_is_finite_by_default_and_configurable(monkeypatch):
    monkeypatch.delenv(distributed.TIMEOUT_VAR, raising=False)
    assert distributed.collective_timeout() == distributed.DEFAULT_TIMEOUT_S == 300.0
    monkeypatch.setenv(distributed.TIMEOUT_VAR, "45")
    assert (distributed.collective_timeout(), distributed.collective_timeout(7)) == (45.0, 7.0)
    monkeypatch.setenv(distributed.TIMEOUT_VAR, "inf")
    assert distributed.collective_timeout() == math.inf
    for bad in ("soon", "0", "-3", "nan"):
        monkeypatch.setenv(distributed.TIMEOUT_VAR, bad)
        with pytest.raises(distributed.DistributedError, match=r"the environment variable NNFS_GPU_COLLECTIVE_TIMEOUT must be a "
                                                               r"number of seconds > 0 \(inf: no limit\), got"):
            distributed.collective_timeout()
    with pytest.raises(distributed.DistributedError, match=r"^timeout must be a number of seconds > 0 .* got True"):
        distributed.collective_timeout(True)


def test_importing_nnfs_gpu_never_imports_mpi4py():
    code = "import sys, nnfs_gpu; print('mpi4py' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_a_collective_timeout_without_distributed_training_is_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "nnfs_gpu", "train", "--collective-timeout", "5"],
                            capture_output=True, text=True, env={**os.environ, "NNFS_GPU_BACKEND": "numpy"})
    assert result.returncode == 2
    assert result.stderr.strip() == "nnfs-gpu: error: --collective-timeout goes with --distributed"



def test_the_watchdog_never_fires_while_each_piece_finishes_in_time(monkeypatch):
    """A GPU-bound run: the host queues an all-reduce every few ms and each finishes 50 ms later, so
    the newest is hardly ever done when the thread looks; none is late (deadline 0.3 s), so nothing
    fires, however late the thread gets to look (each piece's done() depends on time alone)."""
    monkeypatch.setattr(watchdog, "WATCH_SECONDS", 0.01)
    fired: list[str] = []
    dog = watchdog.Watchdog(fired.append)
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        finishes = time.monotonic() + 0.05
        dog.queued("an NCCL all-reduce", 0.3, lambda finishes=finishes: time.monotonic() > finishes)
        time.sleep(0.005)
    time.sleep(0.1)
    assert fired == []


def test_the_watchdog_fires_for_late_work_only(monkeypatch):
    """Blocking waits and queued GPU work alike: finished work never fires, late work fires once with
    its name; queued work is judged by its own deadline, oldest unfinished first. Each wait for the
    watchdog's thread is bounded only by HANG_GUARD_S, never by a short time a busy machine exceeds."""
    monkeypatch.setattr(watchdog, "WATCH_SECONDS", 0.01)
    fired: list[str] = []

    def wait_until(condition) -> None:
        deadline = time.monotonic() + HANG_GUARD_S
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)

    dog = watchdog.Watchdog(fired.append)
    with dog.watching("a quick all-reduce", 60.0):
        time.sleep(0.05)
    dog.queued("a finished NCCL all-reduce", 0.05, lambda: True)
    wait_until(lambda: not dog.pending)
    time.sleep(0.1)  # past the finished work's deadline
    assert fired == [] and not dog.pending
    dog.queued("the first stuck all-reduce", 0.2, lambda: False)
    dog.queued("the next all-reduce", 60.0, lambda: False)
    wait_until(lambda: fired)
    assert fired == ["the first stuck all-reduce"]
    late = watchdog.Watchdog(fired.append)
    with late.watching("a stuck broadcast", 0.05):
        wait_until(lambda: len(fired) > 1)
    assert fired[1:] == ["a stuck broadcast"]
