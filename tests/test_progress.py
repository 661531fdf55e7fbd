"""Progress of ``Model.train``: a tqdm bar on a terminal or in a notebook, a line per epoch elsewhere,
nothing when silenced (the book's ``Model`` prints the book's lines: tests/test_book.py).

The terminal cases run the command under a pseudo-terminal, as a user's shell runs it; the rest run
``Model.train`` in this process, where pytest's captured stdout is not a terminal.
"""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import termios

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import Adam, Categorical, CategoricalCrossentropy, Dense, Model, ReLU, Softmax, progress
from nnfs_gpu.datasets import spiral_data
from support import HANG_GUARD_S

BAR = "100%|"


def run_in_terminal(args: list[str], rows: int, columns: int) -> str:
    """Everything the command writes to a pseudo-terminal of the given size (0 x 0: one reporting none)."""
    controller, terminal = os.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    environment = {**os.environ, "NNFS_GPU_BACKEND": "numpy", "OPENBLAS_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "nnfs_gpu", *args]
    process = subprocess.Popen(command, stdin=terminal, stdout=terminal, stderr=terminal, env=environment, close_fds=True)
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the process closed its end of the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    assert process.wait(timeout=HANG_GUARD_S) == 0
    return b"".join(chunks).decode("utf-8", errors="replace")


@pytest.mark.parametrize("rows, columns", [(24, 120), (0, 0)], ids=["sized", "unsized"])
def test_a_terminal_gets_a_progress_bar_with_live_numbers_instead_of_the_books_lines(rows, columns):
    out = run_in_terminal(["train", "--epochs", "300", "--validation-split", "0.1"], rows, columns)
    assert BAR in out and "█" in out and "300/300" in out
    assert "loss=" in out and "acc=" in out and "val_acc=" in out
    assert "epoch: 1\r\n" not in out and "step: 0" not in out
    assert "trained 300 epochs" in out


def test_a_pipe_gets_a_line_per_epoch_and_no_bar(tmp_path):
    environment = {**os.environ, "NNFS_GPU_BACKEND": "numpy", "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "nnfs_gpu", "train", "--epochs", "3"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=HANG_GUARD_S,
    )
    assert result.returncode == 0
    assert "%|" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines[2:5]] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert lines[5].startswith("trained 3 epochs") and len(lines) == 6


def spiral_model() -> Model:
    model = Model()
    model.add(Dense(2, 16))
    model.add(ReLU())
    model.add(Dense(16, 3))
    model.add(Softmax())
    model.set(loss=CategoricalCrossentropy(), optimizer=Adam(learning_rate=0.02), accuracy=Categorical())
    model.finalize()
    return model


@pytest.fixture
def spiral():
    np.random.seed(0)
    return spiral_data(50, 3)


@pytest.mark.parametrize(
    "verbose, show, bar, lines",
    [
        (True, True, True, False),
        (True, False, False, True),
        (True, None, False, True),
        (False, True, False, False),
        (False, None, False, False),
    ],
)
def test_train_chooses_bar_epoch_lines_or_silence(spiral, capsys, verbose, show, bar, lines):
    X, y = spiral
    with nnfs_gpu.use_backend("numpy"):
        history = spiral_model().train(X, y, epochs=4, batch_size=50, verbose=verbose, progress=show, validation_data=(X, y))
    out = capsys.readouterr().out
    assert (BAR in out) == bar  # progress=None: pytest's captured stdout is no terminal, so lines
    assert ("epoch 4/4: loss " in out and ", val_acc " in out) == lines
    assert (out == "") == (not verbose)
    assert len(history["loss"]) == 4


def test_ten_epochs_in_a_pipe_print_ten_lines(spiral, capsys):
    """Outside a terminal the modern Model prints a line per epoch, not the book's line per step."""
    X, y = spiral
    with nnfs_gpu.use_backend("numpy"):
        spiral_model().train(X, y, 10, batch_size=32)
    assert [line.split(":")[0] for line in capsys.readouterr().out.splitlines()] == [f"epoch {n}/10" for n in range(1, 11)]


def test_a_notebook_gets_a_bar(monkeypatch, spiral):
    """A Jupyter kernel (an IPython shell with a kernel) gets tqdm.auto's bar, not lines."""
    import types

    kernel_shell = types.SimpleNamespace(kernel=object())
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: kernel_shell))
    assert progress.in_notebook()
    assert isinstance(progress.make_reporter(True, None, 10), progress.ProgressBar)
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: None))  # a plain python
    assert not progress.in_notebook()
    assert isinstance(progress.make_reporter(True, None, 10), progress.EpochLines)


def test_a_regression_says_what_its_accuracy_counts(capsys):
    from nnfs_gpu import Linear, MeanSquaredError, Regression
    from nnfs_gpu.datasets import sine_data

    X, y = sine_data(200)
    with nnfs_gpu.use_backend("numpy"):
        model = Model()
        for layer in (Dense(1, 16, weight_scale=0.1), ReLU(), Dense(16, 1, weight_scale=0.1), Linear()):
            model.add(layer)
        model.set(loss=MeanSquaredError(), optimizer=Adam(learning_rate=0.01), accuracy=Regression())
        model.finalize()
        model.train(X, y, epochs=1)
    precision = np.std(y) / 250
    assert f"acc(|error|<{precision:.3g}) " in capsys.readouterr().out


@pytest.mark.parametrize("seconds_between_reads, read", [
    (0.0, ["step: 0", "step: 4", "step: 8", "step: 9", "training"] * 3),
    (3600.0, ["step: 0", "training", "training", "training"]),
])
def test_the_bar_reads_numbers_every_print_every_steps_at_most_so_often(spiral, monkeypatch, seconds_between_reads, read):
    """A bar reads a step's numbers on the book's steps (every print_every and the epoch's last),
    but not again within BAR_READ_SECONDS of the last read; each epoch's numbers always."""
    reports, bars = [], []
    monkeypatch.setattr(progress, "BAR_READ_SECONDS", seconds_between_reads)
    monkeypatch.setattr(progress.ProgressBar, "progress", lambda self, numbers: reports.append(numbers.book_label))
    monkeypatch.setattr(progress.ProgressBar, "close", lambda self: bars.append((self.bar.n, self.bar.total)))
    X, y = spiral  # 150 samples in batches of 15: 10 steps per epoch
    with nnfs_gpu.use_backend("numpy"):
        spiral_model().train(X, y, epochs=3, batch_size=15, print_every=4, progress=True)
    assert reports == read
    assert bars == [(30, 30)]  # yet the bar advanced on every step


def test_the_bar_shows_the_latest_reported_numbers(capsys):
    bar = progress.ProgressBar(total_steps=2)
    bar.epoch(1, 1)
    bar.progress(progress.ProgressNumbers(None, 0.5, 1.25, 0.0, 0.01))
    bar.validation(0.75, 0.5)
    bar.advance()
    bar.advance()
    bar.close()
    last = capsys.readouterr().out.split("\r")[-1]
    assert last.startswith("epoch 1/1: 100%|") and "2/2, loss=1.250, acc=0.500, val_loss=0.500, val_acc=0.750 [" in last


def test_book_lines_keep_the_books_format(capsys):
    lines = progress.BookLines()
    lines.epoch(3, 10)
    lines.progress(progress.ProgressNumbers(0, 0.5, 1.0, 0.25, 0.05))
    lines.validation(0.75, 0.5)
    assert capsys.readouterr().out.splitlines() == [
        "epoch: 3",
        "step: 0, acc: 0.500, loss: 1.250 (data_loss: 1.000, reg_loss: 0.250), lr: 0.05",
        "validation, acc: 0.750, loss: 0.500",
    ]
