"""Training on the command line as users expect it: the network chosen from the data, each optimizer,
step lines on request, early stopping with the best weights kept, best-only checkpoints, resuming a
saved model exactly, and probabilities.

The commands run in this process (``cli.main``), on the NumPy backend; outside a terminal the
modern Model prints one line per epoch, which the tests read.
"""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from cli_support import refused, succeeded
from nnfs_gpu import Model

EPOCH_LINE = re.compile(r"^epoch (\d+)/\d+: loss (\d+\.\d+)(?:.*val_loss (\d+\.\d+))?")


def epoch_losses(lines: list[str], key: int) -> list[float]:
    """Each epoch line's training loss (key 2) or validation loss (key 3), in order."""
    return [float(match.group(key)) for match in map(EPOCH_LINE.match, lines) if match]


def parameters(path) -> list[np.ndarray]:
    return [array for pair in Model.load(path).get_parameters() for array in pair]


@pytest.mark.parametrize(
    "args, task, network",
    [
        (["--dataset", "spiral", "--classes", "2"], "binary of 200 samples", "Dense(64, 1), Sigmoid"),
        (["--dataset", "vertical", "--samples", "30"], "classification of 90 samples", "Dense(64, 3), Softmax"),
        (["--dataset", "sine", "--samples", "200"], "regression of 200 samples", "Dense(64, 64), ReLU, Dense(64, 1), Linear"),
        (["--dataset", "spiral", "--task", "regression"], "regression of 300 samples", "Dense(64, 1), Linear"),
    ],
    ids=["binary", "classification", "regression", "regression-forced"],
)
def test_train_chooses_the_network_from_the_data_or_task(run, args, task, network):
    lines = succeeded(run("train", *args, "--epochs", "3"))
    assert lines[1].startswith(task) and network in lines[1]
    assert lines[-1].startswith("trained 3 epochs")



@pytest.mark.parametrize(
    "optimizer, extra, shown",
    [
        ("sgd", ["--momentum", "0.5"], "SGD(learning_rate=0.01, decay=0.001, momentum=0.5)"),
        ("adagrad", [], "Adagrad(learning_rate=0.01, decay=0.001"),
        ("rmsprop", [], "RMSprop(learning_rate=0.01, decay=0.001, epsilon=1e-07, rho=0.999)"),
        ("adam", [], "Adam(learning_rate=0.01, decay=0.001"),
    ],
)
def test_train_with_each_optimizer(run, optimizer, extra, shown):
    args = ["--optimizer", optimizer, "--learning-rate", "0.01", "--decay", "0.001", *extra, "--epochs", "2"]
    lines = succeeded(run("train", *args))
    assert shown in lines[1]
    assert lines[3].startswith("epoch 2/2: ") and lines[-1].startswith("trained 2 epochs")



def test_train_on_fashion_mnist_validates_on_its_test_set(run, tmp_path):
    rng = np.random.default_rng(0)
    for prefix, count in (("train", 30), ("t10k", 10)):
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = np.arange(count, dtype=np.uint8) % 10
        (tmp_path / f"{prefix}-images-idx3-ubyte").write_bytes(
            np.array([0x803, count, 28, 28], ">u4").tobytes() + images.tobytes()
        )
        (tmp_path / f"{prefix}-labels-idx1-ubyte").write_bytes(np.array([0x801, count], ">u4").tobytes() + labels.tobytes())
    lines = succeeded(run("train", "--dataset", "fashion-mnist", "--data", ".", "--epochs", "2"))
    assert lines[1].startswith(
        "classification of 30 samples with Dense(784, 128), ReLU, Dense(128, 128), ReLU, Dense(128, 10), Softmax"
    )
    assert "learning_rate=0.001, decay=0.0001" in lines[1]  # chapter 19's Adam
    assert sum(", val_loss " in line for line in lines) == 2


@pytest.mark.parametrize("kind", ["npz", "csv"])
def test_train_on_the_users_file_infers_the_task(run, tmp_path, kind):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    path = tmp_path / f"data.{kind}"
    if kind == "npz":
        np.savez(path, X=X, y=y)  # float targets: regression
    else:
        np.savetxt(path, np.c_[X, (y > 0).astype(int) + (y > 1)], delimiter=",", header="a,b,c,label", comments="")  # 0, 1, 2
    lines = succeeded(run("train", "--dataset", path.name, "--epochs", "2"))
    expected = "regression of 60 samples with Dense(3, 64)" if kind == "npz" else "classification of 60 samples with Dense(3, 64)"
    assert lines[1].startswith(expected)
    assert (", Dense(64, 1), Linear" if kind == "npz" else ", Dense(64, 3), Softmax") in lines[1]


def test_print_every_adds_step_lines_and_none_come_without_it(run):
    lines = succeeded(run("train", "--epochs", "2", "--batch-size", "50", "--print-every", "2"))
    steps = [line.split(":")[0] for line in lines if line.startswith("  step ")]
    assert steps == ["  step 0", "  step 2", "  step 4", "  step 5"] * 2  # 300 samples: 6 steps, the last always
    assert lines[2].startswith("  step 0: loss ") and lines[6].startswith("epoch 1/2: loss ")
    quiet = succeeded(run("train", "--epochs", "2", "--batch-size", "50"))
    assert not any(line.startswith("  step") for line in quiet) and len(quiet) == 5


def test_patience_stops_early_and_keeps_the_best_epochs_weights(run, tmp_path):
    options = ["--epochs", "200", "--validation-split", "0.3", "--learning-rate", "0.5"]
    lines = succeeded(run("train", *options, "--patience", "5", "--checkpoint", "best.model", "--save", "kept.model"))
    validation = epoch_losses(lines, 3)
    best = int(np.argmin(validation)) + 1
    assert len(validation) == best + 5 < 200  # five epochs without a better validation loss, then stopped
    assert f"stopped early after epoch {best + 5}: val_loss did not improve for 5 epochs; kept the weights of the best " \
           f"epoch, {best} (val_loss {validation[best - 1]:.4f})" in lines
    for kept, checkpoint in zip(parameters(tmp_path / "kept.model"), parameters(tmp_path / "best.model")):
        np.testing.assert_array_equal(kept, checkpoint)  # the weights after the best epoch, as the checkpoint saved them
    succeeded(run("train", *options, "--epochs", str(best + 5), "--save", "last.model"))
    assert not all(np.array_equal(a, b) for a, b in zip(parameters(tmp_path / "kept.model"), parameters(tmp_path / "last.model")))


def test_patience_without_validation_watches_the_training_loss(run):
    lines = succeeded(run("train", "--epochs", "3", "--patience", "10"))
    losses = epoch_losses(lines, 2)
    best = int(np.argmin(losses)) + 1
    assert lines[-1] == f"kept the weights of the best epoch, {best} (loss {losses[best - 1]:.4f})"


def test_a_checkpoint_per_improving_epoch(run, tmp_path):
    lines = succeeded(run("train", "--epochs", "30", "--learning-rate", "0.5", "--checkpoint", "ck-{epoch}.model"))
    losses = epoch_losses(lines, 2)
    improving = [epoch for epoch, loss in enumerate(losses, start=1) if loss < min(losses[: epoch - 1], default=np.inf)]
    assert improving != list(range(1, 31))  # the high learning rate makes some epochs worse
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(f"ck-{epoch}.model" for epoch in improving)
    assert lines[-1].startswith(f"checkpoint: ck-{improving[-1]}.model holds the best epoch, {improving[-1]} (loss ")


def test_resuming_continues_exactly_where_training_stopped(run, tmp_path):
    succeeded(run("train", "--epochs", "4", "--quiet", "--save", "first.model"))
    lines = succeeded(run("train", "--resume", "first.model", "--epochs", "3", "--save", "resumed.model"))
    assert lines[1].startswith("classification of 300 samples with Dense(2, 64), ReLU, Dense(64, 3), Softmax; Adam(")
    assert lines[2] == "resuming first.model after 4 steps"
    succeeded(run("train", "--epochs", "7", "--quiet", "--save", "whole.model"))
    resumed, whole = Model.load(tmp_path / "resumed.model"), Model.load(tmp_path / "whole.model")
    assert resumed.optimizer.iterations == whole.optimizer.iterations == 7
    for layer, other in zip(resumed.state_dict()["layers"], whole.state_dict()["layers"]):
        assert layer.keys() == other.keys()
        for name in layer:  # parameters, momentums and caches, bit for bit
            np.testing.assert_array_equal(layer[name], other[name], err_msg=name)


def test_resuming_may_change_the_optimizers_settings_but_keeps_its_state(run, tmp_path):
    succeeded(run("train", "--epochs", "2", "--quiet", "--save", "m.model"))
    lines = succeeded(run("train", "--resume", "m.model", "--epochs", "1", "--learning-rate", "0.001", "--decay", "0",
                          "--save", "m.model"))
    assert "changed the optimizer's learning_rate 0.05 -> 0.001, decay 5e-07 -> 0 (its state and step count stay)" in lines
    assert lines[4].endswith(", lr 0.001 [" + lines[4].split("[")[1])
    optimizer = Model.load(tmp_path / "m.model").optimizer
    assert (optimizer.learning_rate, optimizer.decay, optimizer.iterations) == (0.001, 0.0, 3)


def test_resuming_refuses_options_that_contradict_the_file_all_at_once(run, tmp_path):
    succeeded(run("train", "--epochs", "1", "--quiet", "--hidden", "16,8", "--dropout", "0.1", "--save", "m.model"))
    refused(run("train", "--resume", "m.model", "--hidden", "32", "--dropout", "0.2", "--l2", "0.01", "--optimizer", "sgd",
                "--momentum", "0.5", "--task", "binary"),
            "--resume m.model: --task binary, but the file holds a classification model; --hidden 32, but its hidden layers "
            "are 16,8; --dropout 0.2, but its dropout rates are 0.1; --l2 0.01, but its hidden layers' L2 penalties are 0; "
            "--optimizer sgd, but its optimizer state is Adam's; --momentum, but its optimizer, Adam, has none; leave these "
            "options out to train the saved network further (or leave out --resume to train a new one)")
    agreeing = ["--hidden", "16,8", "--dropout", "0.1", "--l2", "0", "--optimizer", "adam", "--task", "classification"]
    assert succeeded(run("train", "--resume", "m.model", *agreeing, "--epochs", "1"))[-1].startswith("trained 1 epochs")
    np.savez(tmp_path / "wide.npz", X=np.ones((6, 5)), y=np.arange(6) % 3)
    refused(run("train", "--resume", "m.model", "--dataset", "wide.npz"), "--dataset wide.npz: the data has 5 inputs, m.model takes 2")


def test_resuming_maps_new_data_through_the_models_labels(run, tmp_path):
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(centre, 0.3, size=(20, 2)) for centre in ((0, 0), (3, 0), (0, 3))])
    y = np.repeat(["ant", "bee", "cow"], 20)
    np.savez(tmp_path / "all.npz", X=X, y=y)
    succeeded(run("train", "--dataset", "all.npz", "--epochs", "60", "--save", "m.model"))
    np.savez(tmp_path / "some.npz", X=X[20:], y=y[20:])  # no 'ant': 'bee' must stay class 1, not become 0
    lines = succeeded(run("train", "--resume", "m.model", "--dataset", "some.npz", "--epochs", "5", "--save", "m.model"))
    assert not any(line.startswith("labels ") for line in lines)
    assert epoch_losses(lines, 2)[0] < 0.1  # the model already knows these samples' classes
    assert Model.load(tmp_path / "m.model").class_labels == ["ant", "bee", "cow"]


@pytest.fixture
def classifiers(run, tmp_path):
    """A 3-class model with text labels and a binary model with labels 1 and 2, and their inputs."""
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(centre, 0.3, size=(15, 2)) for centre in ((0, 0), (3, 0), (0, 3))])
    np.savez(tmp_path / "three.npz", X=X, y=np.repeat(["a", "b", "c"], 15))
    np.savez(tmp_path / "two.npz", X=X[:30], y=np.repeat([1, 2], 15))
    np.savetxt(tmp_path / "inputs.csv", X, delimiter=",")
    for name in ("three", "two"):
        succeeded(run("train", "--dataset", f"{name}.npz", "--epochs", "30", "--quiet", "--save", f"{name}.model"))
    return X


def test_probabilities_are_columns_named_by_the_classes(run, tmp_path, classifiers):
    rows = list(csv.reader(succeeded(run("predict", "three.model", "inputs.csv", "--probabilities"))))
    assert rows[0] == ["a", "b", "c"]
    probabilities = np.array(rows[1:], dtype=float)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-6)
    classes = succeeded(run("predict", "three.model", "inputs.csv"))
    assert [["a", "b", "c"][index] for index in probabilities.argmax(axis=1)] == classes
    np.testing.assert_allclose(probabilities, Model.load(tmp_path / "three.model").predict(classifiers), rtol=1e-6)

    rows = list(csv.reader(succeeded(run("predict", "two.model", "inputs.csv", "--probabilities"))))
    assert rows[0] == ["1", "2"]  # both classes of the single Sigmoid output
    binary = np.array(rows[1:], dtype=float)
    np.testing.assert_allclose(binary[:, 1], Model.load(tmp_path / "two.model").predict(classifiers)[:, 0], rtol=1e-6)
    np.testing.assert_allclose(binary.sum(axis=1), 1, atol=1e-6)


def test_probabilities_are_written_to_files_with_their_columns_said(run, tmp_path, classifiers):
    assert succeeded(run("predict", "three.model", "inputs.csv", "--probabilities", "--output", "p.npy")) == [
        "wrote the probabilities of 45 samples (columns: a, b, c) to p.npy"]
    assert np.load(tmp_path / "p.npy").shape == (45, 3)
    succeeded(run("predict", "three.model", "inputs.csv", "--probabilities", "--output", "p.csv"))
    with open(tmp_path / "p.csv", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["a", "b", "c"] and np.array(rows[1:], dtype=float).shape == (45, 3)
    np.testing.assert_allclose(np.array(rows[1:], dtype=float), np.load(tmp_path / "p.npy"), rtol=1e-6)


def test_a_regressor_has_no_probabilities(run, tmp_path):
    succeeded(run("train", "--dataset", "sine", "--samples", "50", "--epochs", "1", "--quiet", "--save", "sine.model"))
    np.savetxt(tmp_path / "x.csv", np.linspace(0, 1, 5), delimiter=",")
    refused(run("predict", "sine.model", "x.csv", "--probabilities"),
            "--probabilities: sine.model is a regressor (Linear output): it predicts values, not probabilities; "
            "leave out --probabilities")
    assert len(succeeded(run("predict", "sine.model", "x.csv"))) == 5
