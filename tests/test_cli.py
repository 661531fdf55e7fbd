"""The ``nnfs-gpu`` command, run as a user runs it: ``python -m nnfs_gpu ...`` in a subprocess.

Checked: ``info`` on this machine (and with CuPy missing or broken), training with the defaults and
with the options that shape a saved model, evaluate and predict on a saved model, one-line errors
with exit status 2 for each kind of bad input, and the dispatch of ``bench`` to the source checkout's
suite. Each run costs a process start (about a second with numba's kernels loaded), so variants of a
run (tasks, optimizers, data files, messages) are checked in-process: tests/test_cli_training.py,
test_cli_data.py, test_cli_outputs.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import Model, cli
from nnfs_gpu.datasets import read_png, spiral_data
from conftest import TEST_BACKENDS
from support import HANG_GUARD_S



def run_cli(*args: str, cwd: Path, shadow: Path | None = None) -> subprocess.CompletedProcess:
    """One run of the command on the NumPy backend; modules in the folder ``shadow`` hide installed ones.

    One BLAS thread: on a busy two-core machine OpenBLAS's spinning threads make small products
    a hundred times slower, which would time the machine, not the command.
    """
    environment = {**os.environ, "NNFS_GPU_BACKEND": "numpy", "OPENBLAS_NUM_THREADS": "1"}
    if shadow is not None:
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shadow), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "nnfs_gpu", *args], capture_output=True, text=True, cwd=cwd, env=environment, timeout=HANG_GUARD_S
    )


def succeeded(result: subprocess.CompletedProcess) -> str:
    """The standard output of a clean run (no traceback, exit status 0)."""
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


# -- info ---------------------------------------------------------------------------------------


def test_info_reports_versions_and_every_backend_with_its_reason(tmp_path):
    environment = {key: value for key, value in os.environ.items() if key != "NNFS_GPU_BACKEND"}
    result = subprocess.run(
        [sys.executable, "-m", "nnfs_gpu", "info"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=HANG_GUARD_S,
    )
    lines = succeeded(result).splitlines()
    assert f"numpy: {np.__version__}" in lines
    assert any(line.startswith("python: ") for line in lines)
    for name, status in nnfs_gpu.available_backends().items():
        if name in TEST_BACKENDS:
            continue
        assert f"  {name}: {'usable' if status.available else 'not usable: ' + status.reason}" in lines
    cupy_line = next(line for line in lines if line.startswith("cupy: "))
    if cli.info.import_cupy() is not None:  # installed: its version and the CUDA versions are shown
        assert cupy_line == f"cupy: {cli.info.import_cupy().__version__}"
        assert any(line.startswith("cuda runtime: ") for line in lines)
        assert any(line.startswith("cuda driver: ") for line in lines)
    gpu_lines = [line for line in lines if line.startswith("gpu 0: ")]
    assert bool(gpu_lines) == nnfs_gpu.available_backends()["cupy"].available
    torch = cli.info.import_module("torch")
    if torch is not None:  # installed: its version and the devices the torch backend can use
        assert f"torch: {torch.__version__}" in lines
        devices = next(line for line in lines if line.startswith("torch devices: "))
        assert devices.startswith("torch devices: cpu, ") and "mps" in devices and "cuda" in devices
    assert all("GiB memory" in line for line in gpu_lines)
    auto = "cupy" if nnfs_gpu.available_backends()["cupy"].available else "numpy"
    assert f"default backend: auto (chooses {auto})" in lines


@pytest.mark.parametrize(
    "cupy_source, shown",
    [
        ("raise ImportError('No module named cupy')", "cupy: not installed"),
        (
            "raise RuntimeError('libcuda.so: cannot open shared object file')",
            "cupy: fails to import (libcuda.so: cannot open shared object file)",
        ),
    ],
    ids=["missing", "broken"],
)
def test_info_without_a_working_cupy_says_so_instead_of_failing(tmp_path, cupy_source, shown):
    fake = tmp_path / "fake" / "cupy"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(cupy_source + "\n")
    lines = succeeded(run_cli("info", cwd=tmp_path, shadow=fake.parent)).splitlines()
    assert shown in lines
    assert not any(line.startswith("cuda ") or line.startswith("gpu ") for line in lines)
    assert any(line.startswith("  cupy: not usable: CuPy") for line in lines)


# -- train --------------------------------------------------------------------------------------


def test_train_without_arguments_learns_the_books_spiral_network(tmp_path):
    lines = succeeded(run_cli("train", cwd=tmp_path)).splitlines()
    assert lines[0].startswith("backend: numpy (NumPy ")
    assert "with Dense(2, 64), ReLU, Dense(64, 3), Softmax; Adam(learning_rate=0.05, decay=5e-07" in lines[1]
    assert lines[2].startswith("epoch 1/1000: loss 1.09") and ", acc 0." in lines[2] and ", lr 0.05 [" in lines[2]
    assert [line.split(":")[0] for line in lines[2:-1]] == [f"epoch {n}/1000" for n in range(1, 1001)]
    summary = lines[-1]
    assert summary.startswith("trained 1000 epochs in ")
    assert float(summary.split("acc: ")[1].split(",")[0]) > 0.85  # chance is 1/3


def test_train_options_shape_the_saved_model_and_write_the_plots(tmp_path):
    pytest.importorskip("matplotlib")
    args = ["--hidden", "16,8", "--dropout", "0.1", "--l2", "1e-4", "--batch-size", "64", "--validation-split", "0.2"]
    out = succeeded(run_cli("train", *args, "--epochs", "4", "--seed", "3", "--save", "m.model", "--plot", "h.png", cwd=tmp_path))
    lines = out.splitlines()
    assert lines[1].startswith("classification of 240 samples")  # 20% of 300 held out
    assert [line.split(":")[0] for line in lines[2:6]] == ["epoch 1/4", "epoch 2/4", "epoch 3/4", "epoch 4/4"]
    assert ", val_loss " in lines[2] and "(data " in lines[2]  # validation numbers, and the L2 penalty
    model = Model.load(tmp_path / "m.model")
    assert [type(layer).__name__ for layer in model.layers] == [
        "Dense",
        "ReLU",
        "Dropout",
        "Dense",
        "ReLU",
        "Dropout",
        "Dense",
        "Softmax",
    ]
    assert [(layer.n_inputs, layer.n_neurons, layer.weight_regularizer_l2) for layer in model.layers[::3]] == [
        (2, 16, 1e-4),
        (16, 8, 1e-4),
        (8, 3, 0.0),
    ]
    assert read_png(tmp_path / "h.png").shape == (400, 1200)
    assert read_png(tmp_path / "h-boundary.png").shape == (600, 600)
    assert "saved the model to m.model" in lines and "plotted the decision boundary to h-boundary.png" in lines


def test_train_is_reproducible_and_quiet(tmp_path):
    first = run_cli("train", "--epochs", "5", "--quiet", "--seed", "7", "--save", "a.model", cwd=tmp_path)
    second = run_cli("train", "--epochs", "5", "--quiet", "--seed", "7", "--save", "b.model", cwd=tmp_path)
    assert succeeded(first) == succeeded(second) == ""
    a, b = Model.load(tmp_path / "a.model"), Model.load(tmp_path / "b.model")
    np.testing.assert_array_equal(nnfs_gpu.to_numpy(a.layers[0].weights), nnfs_gpu.to_numpy(b.layers[0].weights))


# -- evaluate, predict --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A spiral classifier trained and saved by the command, and held-out data as .npz and .csv."""
    folder = tmp_path_factory.mktemp("saved")
    succeeded(run_cli("train", "--epochs", "200", "--quiet", "--save", "spiral.model", cwd=folder))
    np.random.seed(11)
    X, y = spiral_data(40, 3)
    np.savez(folder / "test.npz", X=X, y=y)
    np.savetxt(folder / "test.csv", np.c_[X, y], delimiter=",", fmt="%.9g")
    np.savetxt(folder / "inputs.csv", X, delimiter=",", fmt="%.9g")
    return folder, X, y


def test_evaluate_prints_the_models_loss_and_accuracy_on_each_file_kind(saved):
    folder, X, y = saved
    with nnfs_gpu.use_backend("numpy"):
        loss, accuracy = Model.load(folder / "spiral.model").evaluate(X, y, verbose=False)
    for name in ("test.npz", "test.csv"):
        out = succeeded(run_cli("evaluate", "spiral.model", name, cwd=folder))
        assert out == f"{name}: 120 samples, acc: {accuracy:.3f}, loss: {loss:.3f}\n"


def test_predict_prints_or_writes_the_predicted_classes(saved):
    folder, X, _ = saved
    with nnfs_gpu.use_backend("numpy"):
        expected = np.argmax(Model.load(folder / "spiral.model").predict(X), axis=1)
    printed = succeeded(run_cli("predict", "spiral.model", "inputs.csv", cwd=folder))
    np.testing.assert_array_equal(np.array(printed.split(), dtype=int), expected)
    assert (
        succeeded(run_cli("predict", "spiral.model", "test.csv", "--output", "p.csv", cwd=folder))
        == "wrote 120 predictions to p.csv\n"
    )
    np.testing.assert_array_equal(np.loadtxt(folder / "p.csv", dtype=int), expected)
    succeeded(run_cli("predict", "spiral.model", "test.npz", "--output", "p.npy", cwd=folder))
    np.testing.assert_array_equal(np.load(folder / "p.npy"), expected)


# -- errors -------------------------------------------------------------------------------------


CUPY_REASON = nnfs_gpu.available_backends()["cupy"].reason or ""


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--dataset", "bad.csv"],
         "bad.csv: line 3, column 2 (b): 'x' is not a number; inputs must be numbers (only y, the last column, may hold text labels)"),
        (["train", "--optimizer", "lion"], "argument --optimizer: invalid choice: 'lion'"),
        (["train", "--backend", "tpu"], "unknown backend 'tpu'; known backends: 'auto', 'numpy', 'cupy', 'strict'"),
        pytest.param(
            ["train", "--backend", "cupy"],
            f"backend 'cupy' is not available: {CUPY_REASON}",
            marks=pytest.mark.skipif(not CUPY_REASON, reason="CuPy is usable here"),
        ),
        (["evaluate", "bad.csv", "bad.csv"], "bad.csv is not an nnfs_gpu file (not a zip/npz archive)"),
        (["frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_is_a_one_line_error_with_status_2(tmp_path, args, message):
    """Each kind of mistake (a file, an option, a backend, a command), as the process ends: status 2,
    one line, no traceback (tests/test_cli_outputs.py checks many more messages in-process)."""
    (tmp_path / "bad.csv").write_text("a,b,y\n1,2,0\n3,x,1\n")
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"nnfs-gpu: error: {message}")


def test_plot_without_matplotlib_fails_before_training(tmp_path):
    fake = tmp_path / "fake" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")
    result = run_cli("train", "--plot", "h.png", cwd=tmp_path, shadow=fake.parent)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "nnfs-gpu: error: plotting needs matplotlib, which is not installed; pip install 'nnfs_gpu[plot]'\n"


# -- bench --------------------------------------------------------------------------------------


def test_bench_without_the_source_checkout_says_where_the_suite_is(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli.bench, "BENCH_SCRIPT", tmp_path / "benchmarks" / "run.py")
    assert cli.main(["bench", "--quick"]) == 2
    assert "the benchmark suite comes with the source checkout" in capsys.readouterr().err


def test_bench_runs_the_suite_with_the_remaining_arguments(tmp_path, monkeypatch):
    script = tmp_path / "benchmarks" / "run.py"
    script.parent.mkdir()
    script.write_text(
        "import json, pathlib\n"
        "def main(argv):\n"
        "    pathlib.Path(__file__).with_name('argv.json').write_text(json.dumps(argv))\n"
        "    return 3\n"
    )
    monkeypatch.setattr(cli.bench, "BENCH_SCRIPT", script)
    assert cli.main(["bench", "--quick", "--json", "out.json"]) == 3
    assert (script.parent / "argv.json").read_text() == '["--quick", "--json", "out.json"]'
