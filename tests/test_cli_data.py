"""Real data on the command line: text labels and labels other than 0..K-1 become classes that the
model keeps, predictions answer with the original labels, missing values are refused with their
place, and ``.npy`` files are read wherever data is.

The commands run in this process (``cli.main``), on the NumPy backend.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from cli_support import refused, succeeded
from nnfs_gpu import Model, cli

SPECIES = ["bird, small", "cat", "dog"]  # sorted, as classes are numbered; one needs quoting in a CSV


def clusters(labels: list, per_class: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well separated 2-D blobs, one per label: any sane classifier gets them all right."""
    rng = np.random.default_rng(seed)
    centres = [(0.0, 0.0), (3.0, 0.0), (0.0, 3.0)]
    X = np.concatenate([rng.normal(centre, 0.4, size=(per_class, 2)) for centre in centres[: len(labels)]])
    return X, np.repeat(np.array(labels, dtype=object), per_class)


def write_csv(path, X: np.ndarray, y: np.ndarray, header=("x1", "x2", "label")) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        if header is not None:
            writer.writerow(header)
        writer.writerows([*row, label] for row, label in zip(X.tolist(), y.tolist()))


@pytest.mark.parametrize("header", [("x1", "x2", "species"), None], ids=["header", "no header"])
def test_text_labels_become_classes_and_predictions_answer_with_them(run, tmp_path, header):
    X, y = clusters(SPECIES)
    write_csv(tmp_path / "pets.csv", X, y, header)
    lines = succeeded(run("train", "--dataset", "pets.csv", "--epochs", "60", "--save", "pets.model"))
    assert lines[1].startswith("classification of 90 samples with Dense(2, 64), ReLU, Dense(64, 3), Softmax")
    assert lines[2] == "labels 'bird, small', 'cat', 'dog' become classes 0..2 (saved with the model: predict answers with the labels)"
    assert Model.load(tmp_path / "pets.model").class_labels == SPECIES
    printed = list(csv.reader(succeeded(run("predict", "pets.model", "pets.csv"))))
    assert [row[0] for row in printed] == y.tolist()  # the labels themselves, quoted where CSV needs it
    assert succeeded(run("evaluate", "pets.model", "pets.csv")) == ["pets.csv: 90 samples, acc: 1.000, loss: 0.000"]
    assert succeeded(run("predict", "pets.model", "pets.csv", "--output", "p.npy")) == ["wrote 90 predictions to p.npy"]
    assert np.load(tmp_path / "p.npy").tolist() == y.tolist()


@pytest.mark.parametrize("labels, task, outputs", [([1, 2, 3], "classification", 3), ([-1, 1], "binary", 1),
                                                     ([0, 2, 5], "classification", 3)],
                         ids=["1..K", "-1 and 1", "gaps"])
def test_labels_that_are_not_0_to_k_minus_1_are_remapped_and_said_once(run, tmp_path, labels, task, outputs):
    X, y = clusters(labels)
    np.savez(tmp_path / "data.npz", X=X, y=y.astype(np.int64))
    lines = succeeded(run("train", "--dataset", "data.npz", "--epochs", "60", "--save", "m.model"))
    assert lines[1].startswith(f"{task} of ") and f"Dense(64, {outputs})" in lines[1]  # no dead extra class
    shown = ", ".join(map(str, labels))
    said = [line for line in lines if line.startswith("labels ")]
    assert said == [f"labels {shown} become classes 0..{len(labels) - 1} (saved with the model: predict answers with the labels)"]
    assert Model.load(tmp_path / "m.model").class_labels == labels
    np.save(tmp_path / "inputs.npy", X)
    assert np.array(succeeded(run("predict", "m.model", "inputs.npy")), dtype=int).tolist() == y.tolist()
    np.savetxt(tmp_path / "test.csv", np.c_[X, y.astype(float)], delimiter=",")  # the labels as a CSV holds them: 1.0
    assert succeeded(run("evaluate", "m.model", "test.csv")) == [f"test.csv: {len(y)} samples, acc: 1.000, loss: 0.000"]


def test_labels_0_to_k_minus_1_stay_as_they_are(run, tmp_path):
    X, y = clusters([0, 1, 2])
    np.savetxt(tmp_path / "data.csv", np.c_[X, y.astype(float)], delimiter=",")
    lines = succeeded(run("train", "--dataset", "data.csv", "--epochs", "2", "--save", "m.model"))
    assert not any(line.startswith("labels ") for line in lines)
    assert Model.load(tmp_path / "m.model").class_labels is None


def test_a_model_knows_only_its_own_labels(run, tmp_path):
    X, y = clusters(["cat", "dog"])
    write_csv(tmp_path / "pets.csv", X, y)
    succeeded(run("train", "--dataset", "pets.csv", "--epochs", "2", "--save", "pets.model"))
    write_csv(tmp_path / "zoo.csv", X[:4], np.array(["cat", "emu", "dog", "yak"]))
    refused(run("evaluate", "pets.model", "zoo.csv"), "zoo.csv: y holds 'emu', 'yak', which the model does not know; its classes are 'cat', 'dog'")
    np.savez(tmp_path / "numbers.npz", X=X, y=(y == "dog").astype(int))
    refused(run("train", "--resume", "pets.model", "--dataset", "numbers.npz", "--epochs", "1"),
            "--dataset numbers.npz: y holds 0, 1, which the model does not know; its classes are 'cat', 'dog'")
    succeeded(run("train", "--epochs", "2", "--save", "spiral.model"))
    refused(run("evaluate", "spiral.model", "pets.csv"),
            "pets.csv: y holds 'cat', 'dog', which the model does not know; its classes are 0, 1, 2")


TARGET_PROBLEMS = {
    "one class": (["cat"], [], "--dataset data.csv: y holds a single class ('cat'); a classifier needs at least two"),
    "binary of three": (SPECIES, ["--task", "binary"], "--dataset data.csv: binary classification needs two classes, y holds 3 "
                                                       "('bird, small', 'cat', 'dog'); leave out --task binary"),
    "text regression": (SPECIES, ["--task", "regression"],
                        "--dataset data.csv: regression needs numbers as targets, y holds text labels; leave out --task"),
}


@pytest.mark.parametrize("labels, options, message", TARGET_PROBLEMS.values(), ids=TARGET_PROBLEMS.keys())
def test_targets_a_task_cannot_take_are_refused(run, tmp_path, labels, options, message):
    X, y = clusters(labels, per_class=5)
    write_csv(tmp_path / "data.csv", X, y)
    refused(run("train", "--dataset", "data.csv", "--epochs", "1", *options), message)


MISSING = {
    "an empty input": ("x1,x2,label\n1,2,cat\n3,,dog\n", "line 3, column 2 (x2): the value is missing (an empty cell); fill it in or remove the row"),
    "NA": ("x1,x2,label\n1,2,cat\nNA,4,dog\n", "line 3, column 1 (x1): the value is missing ('NA'); fill it in or remove the row"),
    "NaN": ("1,2,0\n3,4,1\nnan,6,1\n", "line 3, column 1: the value is missing ('nan'); fill it in or remove the row"),
    "a missing label": ("x1,x2,label\n1,2,cat\n\n3,4,\n", "line 4, column 3 (label): y is missing (an empty cell); fill it in or remove the row"),
    "a NaN label": ("1,2,0\n3,4,NaN\n", "line 2, column 3: y is missing ('NaN'); fill it in or remove the row"),
    "an infinite label": ("1,2,0.5\n3,4,-inf\n", "line 2, column 3: '-inf' is not a finite number"),
    "a word among inputs": ("x1,x2,label\n1,red,cat\n", "line 2, column 2 (x2): 'red' is not a number; inputs must be numbers "
                                                       "(only y, the last column, may hold text labels)"),
}


@pytest.mark.parametrize("text, message", MISSING.values(), ids=MISSING.keys())
def test_missing_values_are_refused_with_their_line_and_column(run, tmp_path, text, message):
    (tmp_path / "data.csv").write_text(text)
    refused(run("train", "--dataset", "data.csv", "--epochs", "1"), f"data.csv: {message}")


def test_missing_values_in_arrays_are_refused_with_their_row_and_column(run, tmp_path):
    table = np.ones((4, 3))
    table[2, 1] = np.nan
    np.save(tmp_path / "table.npy", table)
    refused(run("train", "--dataset", "table.npy", "--epochs", "1"),
            "table.npy: the array holds NaN at row 2, column 1 (counting from 0); fill in or remove missing values first")
    np.savez(tmp_path / "data.npz", X=np.ones((3, 2)), y=np.array([0.0, np.inf, 1.0]))
    refused(run("train", "--dataset", "data.npz", "--epochs", "1"),
            "data.npz: y holds infinity at row 1 (counting from 0); fill in or remove missing values first")


def test_npy_files_are_read_by_train_evaluate_and_predict(run, tmp_path):
    X, y = clusters([0, 1, 2])
    np.save(tmp_path / "table.npy", np.c_[X, y.astype(float)])  # a table, y last, as a CSV
    lines = succeeded(run("train", "--dataset", "table.npy", "--epochs", "60", "--save", "m.model"))
    assert lines[1].startswith("classification of 90 samples with Dense(2, 64)")
    assert succeeded(run("evaluate", "m.model", "table.npy")) == ["table.npy: 90 samples, acc: 1.000, loss: 0.000"]
    expected = y.astype(int).tolist()
    for name, array in (("inputs.npy", X), ("table.npy", np.c_[X, y.astype(float)])):  # y, when there, is ignored
        np.save(tmp_path / name, array)
        assert np.array(succeeded(run("predict", "m.model", name)), dtype=int).tolist() == expected
    np.save(tmp_path / "wide.npy", np.ones((3, 5)))
    refused(run("predict", "m.model", "wide.npy"),
            "wide.npy: the model takes 2 inputs, the array has 5 columns (expected 2, or 3 with y last)")
    (tmp_path / "fake.npy").write_text("1,2\n")
    refused(run("predict", "m.model", "fake.npy"), "fake.npy: not a .npy file (save the array with np.save(path, array))")


def test_images_in_an_npy_file_are_flattened_for_predict(run, tmp_path):
    rng = np.random.default_rng(3)
    np.savez(tmp_path / "images.npz", X=rng.normal(size=(12, 3, 4)), y=np.arange(12) % 3)
    succeeded(run("train", "--dataset", "images.npz", "--epochs", "2", "--save", "m.model"))
    np.save(tmp_path / "images.npy", rng.normal(size=(5, 3, 4)))
    assert len(succeeded(run("predict", "m.model", "images.npy"))) == 5


def test_predict_help_says_y_is_optional(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["predict", "--help"])
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(a last column more than the model's inputs, y, is ignored)" in text
    assert "(arrays X and y)" not in text and "last column y)" not in text
    assert "--probabilities" in text


def test_a_spreadsheets_csv_is_read_and_a_semicolon_separated_one_explained(run, tmp_path):
    X, y = clusters(["cat", "dog"], per_class=5)
    write_csv(tmp_path / "plain.csv", X, y, header=None)  # no header: the mark sits before a number
    (tmp_path / "excel.csv").write_bytes(b"\xef\xbb\xbf" + (tmp_path / "plain.csv").read_bytes())  # a byte-order mark
    assert succeeded(run("train", "--dataset", "excel.csv", "--epochs", "1"))[1].startswith("binary of 10 samples")
    (tmp_path / "semicolons.csv").write_text("x1;x2;label\n1;2;cat\n3;4;dog\n")
    refused(run("train", "--dataset", "semicolons.csv", "--epochs", "1"),
            "semicolons.csv: a CSV data file needs at least two columns, the inputs and then y "
            "(its columns seem separated by semicolons; separate them with commas)")


def test_a_regressor_is_evaluated_on_numbers_only(run, tmp_path):
    succeeded(run("train", "--dataset", "sine", "--samples", "20", "--epochs", "1", "--quiet", "--save", "sine.model"))
    write_csv(tmp_path / "words.csv", np.ones((2, 1)), np.array(["low", "high"]), header=("x", "y"))
    refused(run("evaluate", "sine.model", "words.csv"), "words.csv: regression needs numbers as targets, y holds text labels")


def test_train_help_gives_the_defaults_of_the_books_datasets(capsys):
    """sine and fashion-mnist train as the book trains them (cli.network.PRESETS), and the help says so."""
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split()).replace("fashion- mnist", "fashion-mnist")  # argparse wraps at hyphens
    assert "(default: 64; sine 64,64, fashion-mnist 128,128, as the book)" in text
    assert "(default: 1000; sine 2000, fashion-mnist 10, as the book)" in text
    assert "(default: the whole data set in one batch; fashion-mnist 128, as the book)" in text

