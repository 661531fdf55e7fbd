"""The command line never trains when it cannot write its results, and never throws away work:
every output path, number and data file is checked first and refused in one line (status 2).

The commands run in this process (``cli.main``), on the NumPy backend, with the selection restored
afterwards; ``tests/test_cli.py`` runs them as subprocesses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cli_support import refused
from nnfs_gpu import Model, files


def test_saving_onto_a_folder_is_refused_before_training(run, tmp_path):
    (tmp_path / "models").mkdir()
    refused(run("train", "--epochs", "1", "--save", "models"), "--save models: it is a folder; name a file (in it, or beside it)")
    (tmp_path / "notes.txt").write_text("")
    refused(run("train", "--epochs", "1", "--save", "notes.txt/m.model"), "--save notes.txt/m.model: notes.txt is not a folder")


def test_an_unwritable_folder_is_refused_before_training(run, monkeypatch, tmp_path):
    def permission_denied(**arguments):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files.tempfile, "mkstemp", permission_denied)
    refused(run("train", "--epochs", "1", "--save", "m.model"), "--save m.model: cannot create a file in . (Permission denied)")
    refused(run("train", "--epochs", "1", "--plot", "h.png"), "--plot h.png: cannot create a file in . (Permission denied)")
    assert list(tmp_path.iterdir()) == []


def test_plots_are_checked_before_training_too(run, tmp_path):
    pytest.importorskip("matplotlib")
    (tmp_path / "h.png").mkdir()
    refused(run("train", "--epochs", "1", "--plot", "h.png"), "--plot h.png: it is a folder; name a file (in it, or beside it)")
    (tmp_path / "h.png").rmdir()
    (tmp_path / "h-boundary.png").mkdir()
    refused(run("train", "--epochs", "1", "--plot", "h.png"),
            "--plot h.png: it is a folder; name a file (in it, or beside it)")


def test_no_output_overwrites_the_data_or_another_output(run, tmp_path):
    pytest.importorskip("matplotlib")
    np.savez(tmp_path / "data.npz", X=np.random.rand(20, 2), y=np.arange(20) % 2)
    refused(run("train", "--dataset", "data.npz", "--epochs", "1", "--save", "data.npz"),
            "--save data.npz: data.npz is an input file of this command; name another file")
    refused(run("train", "--epochs", "1", "--save", "out.png", "--plot", "out.png"),
            "--plot out.png: out.png is also written by --save; name another file")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data.npz"]


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--learning-rate", "inf", "argument --learning-rate: expected a finite number, got 'inf'"),
        ("--learning-rate=-inf", None, "argument --learning-rate: expected a finite number, got '-inf'"),
        ("--learning-rate", "nan", "argument --learning-rate: expected a finite number, got 'nan'"),
        ("--decay", "inf", "argument --decay: expected a finite number, got 'inf'"),
        ("--l2", "1e999", "argument --l2: expected a finite number, got '1e999'"),
        ("--seed=-1", None, "argument --seed: expected a whole number in [0, 2**32), got '-1'"),
    ],
)
def test_numbers_must_be_finite_and_in_range(run, option, value, message):
    refused(run("train", *filter(None, (option, value))), message)


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--dataset", "mnist"],
         "unknown dataset 'mnist': choose spiral, vertical, sine, fashion-mnist, or a .npz, .npy or .csv file"),
        (["train", "--dataset", "missing.csv"], "no such data file: missing.csv"),
        (["train", "--dataset", "ragged.csv"], "ragged.csv: malformed CSV, line 3 has 2 columns, the first data line 3"),
        (["train", "--dataset", "bad.npz"], "bad.npz: not a .npz archive (save the data with np.savez(path, X=X, y=y))"),
        (["train", "--hidden", "64,x"], "argument --hidden: expected comma-separated layer sizes >= 1 such as 64,64, got '64,x'"),
        (["train", "--momentum", "0.9"], "--momentum applies only to --optimizer sgd"),
        (["train", "--epochs", "ten"], "argument --epochs: expected a whole number, got 'ten'"),
        (["train", "--save", "no/such/folder/m.model"], "--save no/such/folder/m.model: the folder no/such/folder does not exist"),
        (["predict", "missing.model", "ragged.csv"], "no such model file: missing.model"),
    ],
)
def test_bad_input_is_refused_in_one_line(run, tmp_path, args, message):
    (tmp_path / "ragged.csv").write_text("1,2,0\n\n3,4\n")
    (tmp_path / "bad.npz").write_text("not an archive")
    refused(run(*args), message)


DATA_FILES = {
    "a scalar X": (lambda path: np.savez(path, X=np.float64(3.0), y=np.zeros(1)), "X is a single number; it must hold one row per sample"),
    "a scalar y": (lambda path: np.savez(path, X=np.ones((4, 2)), y=np.int64(1)), "y is a single number; it must hold one row per sample"),
    "an empty X": (lambda path: np.savez(path, X=np.ones((0, 2)), y=np.zeros(0)), "X is empty (shape (0, 2)); it needs at least one sample with values"),
    "X without features": (lambda path: np.savez(path, X=np.ones((5, 0)), y=np.zeros(5)), "X is empty (shape (5, 0)); it needs at least one sample with values"),
    "text inputs": (lambda path: np.savez(path, X=np.array([["a", "b"]] * 3), y=np.zeros(3)), "X must hold numbers, it holds <U1 values"),
    "3-D targets": (lambda path: np.savez(path, X=np.ones((3, 2)), y=np.zeros((3, 1, 1))), "y has shape (3, 1, 1); it must be 1-D or 2-D"),
    "NaN inputs": (lambda path: np.savez(path, X=np.array([[1.0, 2.0], [np.nan, 1.0]]), y=np.array([0, 1])),
                   "X holds NaN at row 1, column 0 (counting from 0); fill in or remove missing values first"),
    "a CSV with inf": (lambda path: path.with_suffix(".csv").write_text("1,2,0\n3,inf,1\n"), "line 2, column 2: 'inf' is not a finite number"),
    "rows that differ": (lambda path: np.savez(path, X=np.ones((3, 2)), y=np.zeros(4)), "X has 3 rows but y has 4"),
}


@pytest.mark.parametrize("write, message", DATA_FILES.values(), ids=DATA_FILES.keys())
def test_bad_data_files_are_named_with_what_is_wrong(run, tmp_path, write, message):
    write(tmp_path / "data.npz")
    name = next(path.name for path in tmp_path.iterdir())
    refused(run("train", "--dataset", name, "--epochs", "1"), f"{name}: {message}")


@pytest.fixture
def trained(run, tmp_path):
    assert run("train", "--epochs", "3", "--quiet", "--save", "m.model")[0] == 0
    np.savetxt(tmp_path / "inputs.csv", np.random.rand(5, 2), delimiter=",")
    return tmp_path


def test_predict_checks_its_output_before_reading_the_model(run, trained):
    (trained / "out.csv").mkdir()
    refused(run("predict", "m.model", "inputs.csv", "--output", "out.csv"), "--output out.csv: it is a folder; name a file (in it, or beside it)")
    refused(run("predict", "m.model", "inputs.csv", "--output", "inputs.csv"),
            "--output inputs.csv: inputs.csv is an input file of this command; name another file")
    assert np.loadtxt(trained / "inputs.csv", delimiter=",").shape == (5, 2)


def test_predictions_are_written_through_a_link_and_whole(run, trained):
    (trained / "results").mkdir()
    (trained / "latest.npy").symlink_to(trained / "results" / "p.npy")
    (trained / "results" / "p.npy").write_bytes(b"old")
    assert run("predict", "m.model", "inputs.csv", "--output", "latest.npy")[0] == 0
    expected = np.argmax(Model.load(trained / "m.model").predict(np.loadtxt(trained / "inputs.csv", delimiter=",")), axis=1)
    np.testing.assert_array_equal(np.load(trained / "results" / "p.npy"), expected)
    assert (trained / "latest.npy").is_symlink() and sorted(Path(trained / "results").iterdir()) == [trained / "results" / "p.npy"]


def test_checkpoints_are_checked_before_training_like_every_output(run, tmp_path):
    (tmp_path / "best.model").mkdir()
    refused(run("train", "--epochs", "1", "--checkpoint", "best.model"),
            "--checkpoint best.model: it is a folder; name a file (in it, or beside it)")
    refused(run("train", "--epochs", "1", "--checkpoint", "m.model", "--save", "m.model"),
            "--checkpoint m.model: m.model is also written by --save; name another file")
    np.savez(tmp_path / "data.npz", X=np.random.rand(20, 2), y=np.arange(20) % 2)
    refused(run("train", "--dataset", "data.npz", "--epochs", "1", "--checkpoint", "data.npz"),
            "--checkpoint data.npz: data.npz is an input file of this command; name another file")
    refused(run("train", "--epochs", "1", "--checkpoint", "run-{step}.model"),
            "--checkpoint run-{step}.model: braces in the path may only hold {epoch}, the epoch's number")
    refused(run("train", "--epochs", "1", "--checkpoint", "no/such/{epoch}.model"),
            "--checkpoint no/such/{epoch}.model: the folder no/such does not exist")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["best.model", "data.npz"]


def test_a_resumed_model_may_be_saved_over_but_nothing_else_is_overwritten(run, tmp_path):
    assert run("train", "--epochs", "1", "--quiet", "--save", "m.model")[0] == 0
    np.savez(tmp_path / "data.npz", X=np.random.rand(20, 2), y=np.arange(20) % 3)
    refused(run("train", "--resume", "missing.model", "--epochs", "1"), "no such model file: missing.model")
    refused(run("train", "--resume", "m.model", "--dataset", "data.npz", "--save", "data.npz"),
            "--save data.npz: data.npz is an input file of this command; name another file")
    before = (tmp_path / "m.model").read_bytes()
    status, out, _ = run("train", "--resume", "m.model", "--epochs", "1", "--save", "m.model", "--checkpoint", "m.model")
    assert status == 2 and out == ""  # both would write it: one of them must name another file
    assert (tmp_path / "m.model").read_bytes() == before
    assert run("train", "--resume", "m.model", "--epochs", "1", "--quiet", "--save", "m.model")[0] == 0
    assert Model.load(tmp_path / "m.model").optimizer.iterations == 2
