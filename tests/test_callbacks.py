"""Callbacks: early stopping (with the best weights back), checkpoints, learning-rate cuts, CSV logs,
the hooks' order, and a callback that reads nothing never reads the device."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import SGD, Adam, Dense, Model, ReLU, Softmax
from nnfs_gpu.callbacks import Callback, CSVLogger, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau
from nnfs_gpu.datasets import spiral_data
from nnfs_gpu.training.history import History
import support
from support import host


def classifier(optimizer=None) -> Model:
    return support.classifier(Dense(2, 16), ReLU(), Dense(16, 3), Softmax(), optimizer=optimizer or Adam(learning_rate=0.02))


@pytest.fixture
def data():
    np.random.seed(0)
    X, y = spiral_data(60, 3)
    return X, y, spiral_data(20, 3)


class Worsens(Callback):
    """After epoch 2, makes the last layer answer class 0 with great confidence: val_loss rises."""

    def on_epoch_end(self, model, epoch, logs):
        if epoch >= 2:
            weights, _ = model.get_parameters()[-1]
            model.trainable_layers[-1].set_parameters(host(weights), np.array([[20.0, -20.0, -20.0]]))


def test_early_stopping_stops_after_patience_and_restores_the_best_weights(backend, data):
    X, y, validation = data
    np.random.seed(1)
    kept = {}

    class KeepsEpoch2(Callback):
        def on_epoch_end(self, model, epoch, logs):
            if epoch == 2:
                kept["parameters"] = [(host(w).copy(), host(b).copy()) for w, b in model.get_parameters()]

    stopping = EarlyStopping(patience=3)
    model = classifier()
    history = model.train(X, y, epochs=50, validation_data=validation, verbose=False,
                          callbacks=[KeepsEpoch2(), stopping, Worsens()])
    assert len(history["val_loss"]) == 2 + 3 and stopping.stopped_epoch == 5 and stopping.best_epoch == 2
    assert min(history["val_loss"]) == history["val_loss"][1] == stopping.best
    for (weights, biases), (best_weights, best_biases) in zip(model.get_parameters(), kept["parameters"]):
        np.testing.assert_array_equal(host(weights), best_weights)
        np.testing.assert_array_equal(host(biases), best_biases)


def test_a_checkpoint_holds_the_best_epoch(tmp_path, data):
    X, y, validation = data
    path = tmp_path / "best.model"
    with nnfs_gpu.use_backend("numpy"):
        model = classifier()
        history = model.train(X, y, epochs=6, validation_data=validation, verbose=False,
                              callbacks=[ModelCheckpoint(path), Worsens()])
        best = Model.load(path)
        loss, _ = best.evaluate(*validation, verbose=False)
    assert loss == pytest.approx(min(history["val_loss"]), rel=1e-6)
    assert history["val_loss"][-1] > loss  # the last epochs were worse and were not saved


def test_a_checkpoint_per_epoch(tmp_path, data):
    """Every epoch is saved, so nothing is monitored: the default monitor, val_loss, need not exist."""
    X, y, _ = data
    with nnfs_gpu.use_backend("numpy"):
        classifier().train(X, y, epochs=3, verbose=False,
                           callbacks=[ModelCheckpoint(tmp_path / "epoch{epoch}.model", save_best_only=False)])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["epoch1.model", "epoch2.model", "epoch3.model"]


def test_reduce_lr_on_plateau_cuts_the_learning_rate(data):
    X, y, validation = data
    with nnfs_gpu.use_backend("numpy"):
        model = classifier(SGD(learning_rate=1e-9))  # nothing improves
        history = model.train(X, y, epochs=7, validation_data=validation, verbose=False,
                              callbacks=[ReduceLROnPlateau(factor=0.5, patience=2, min_delta=0.1)])
    assert history["learning_rate"] == pytest.approx([1e-9, 1e-9, 1e-9, 5e-10, 5e-10, 2.5e-10, 2.5e-10])


def test_csv_logger_writes_a_row_per_epoch(tmp_path, data):
    X, y, validation = data
    path = tmp_path / "log.csv"
    with nnfs_gpu.use_backend("numpy"):
        history = classifier().train(X, y, epochs=3, validation_data=validation, verbose=False, callbacks=[CSVLogger(path)])
        classifier().train(X, y, epochs=2, verbose=False, callbacks=[CSVLogger(path, append=True)])
    rows = list(csv.DictReader(path.open()))
    assert [row["epoch"] for row in rows] == ["1", "2", "3", "1", "2"]
    assert float(rows[2]["val_loss"]) == pytest.approx(history["val_loss"][2])
    assert rows[4]["val_loss"] == ""  # the appended run had no validation


def test_hooks_come_in_order_and_reading_nothing_reads_nothing(monkeypatch, data):
    X, y, _ = data
    calls = []

    class Records(Callback):
        def on_train_begin(self, model):
            calls.append("train")

        def on_epoch_begin(self, model, epoch):
            calls.append(f"epoch {epoch}")

        def on_step_end(self, model, epoch, step):
            calls.append(f"step {epoch}.{step}")

        def on_train_end(self, model, logs):
            calls.append("end")

    def never(*args):
        raise AssertionError("a callback that reads no number made the history read one")

    monkeypatch.setattr(History, "epoch_values", never)
    with nnfs_gpu.use_backend("numpy"):
        classifier().train(X, y, epochs=2, batch_size=100, verbose=False, callbacks=[Records()])
    assert calls == ["train", "epoch 1", "step 1.0", "step 1.1", "epoch 2", "step 2.0", "step 2.1", "end"]


def test_what_callbacks_are_given_is_checked(data):
    X, y, _ = data
    with nnfs_gpu.use_backend("numpy"):
        model = classifier()
        with pytest.raises(TypeError, match="train: callbacks must be a list of callbacks"):
            model.train(X, y, callbacks=EarlyStopping())
        with pytest.raises(TypeError, match="a callback such as EarlyStopping"):
            model.train(X, y, callbacks=[EarlyStopping])
        with pytest.raises(ValueError, match=r"monitors 'val_loss', which the logs lack .*validation_data"):
            model.train(X, y, epochs=2, verbose=False, callbacks=[EarlyStopping()])
    with pytest.raises(ValueError, match="EarlyStopping: patience must be a whole number >= 0, got -1"):
        EarlyStopping(patience=-1)
    assert EarlyStopping(patience=np.int64(3)).patience == 3
    with pytest.raises(ValueError, match="EarlyStopping: min_delta must be a finite number >= 0, got inf"):
        EarlyStopping(min_delta=float("inf"))
    with pytest.raises(TypeError, match="EarlyStopping: min_delta must be a finite number >= 0, got 'a'"):
        EarlyStopping(min_delta="a")
    with pytest.raises(ValueError, match="ReduceLROnPlateau: factor must be a finite number > 0 and < 1, got 2.0"):
        ReduceLROnPlateau(factor=2)
    with pytest.raises(ValueError, match="ReduceLROnPlateau: min_learning_rate must be a finite number >= 0, got -1.0"):
        ReduceLROnPlateau(min_learning_rate=-1.0)
    with pytest.raises(TypeError, match="ModelCheckpoint: save_best_only must be True or False, got 'no'"):
        ModelCheckpoint("m.model", save_best_only="no")


def test_validation_split_holds_out_a_random_share(data):
    X, y, _ = data
    with nnfs_gpu.use_backend("numpy"):
        np.random.seed(3)
        history = classifier().train(X, y, epochs=2, validation_split=0.25, verbose=False)
        assert len(history["val_loss"]) == 2
        with pytest.raises(ValueError, match="give validation_data or validation_split, not both"):
            classifier().train(X, y, validation_split=0.2, validation_data=(X, y))
        with pytest.raises(ValueError, match="validation_split"):
            classifier().train(X, y, validation_split=1.0)


class _EpochsOnly:
    """A duck-typed callback with the hooks ``train`` once checked for, and not the others."""

    def on_train_begin(self, model): ...

    def on_epoch_end(self, model, epoch, logs): ...

    def on_train_end(self, model, logs): ...


class _EveryHook(_EpochsOnly):
    def __init__(self):
        self.calls = []

    def on_epoch_begin(self, model, epoch):
        self.calls.append(("epoch", epoch))

    def on_step_begin(self, model, epoch, step):
        self.calls.append(("step", epoch, step))

    def on_step_end(self, model, epoch, step): ...


def test_a_duck_typed_callback_is_checked_for_every_hook_train_calls(data):
    X, y, _ = data
    with nnfs_gpu.use_backend("numpy"):
        model = classifier()
        before = [host(array).copy() for pair in model.get_parameters() for array in pair]
        with pytest.raises(TypeError, match=r"or an object with all of its hooks: on_train_begin, on_train_end, on_epoch_begin, "
                                            r"on_epoch_end, on_step_begin, on_step_end\), got <.*_EpochsOnly object"):
            model.train(X, y, epochs=1, verbose=False, callbacks=[_EpochsOnly()])
        for ours, theirs in zip(before, (host(array) for pair in model.get_parameters() for array in pair)):
            np.testing.assert_array_equal(ours, theirs)  # refused before any step
        every = _EveryHook()
        model.train(X, y, epochs=2, batch_size=90, verbose=False, callbacks=[every])
    assert every.calls == [("epoch", 1), ("step", 1, 0), ("step", 1, 1), ("epoch", 2), ("step", 2, 0), ("step", 2, 1)]
