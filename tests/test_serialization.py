"""Save and load without pickle: round trips across backends, exact resume, atomic writes, bad files."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import Adam, Dense, Dropout, Model, ModelFileError, ReLU, Softmax
from nnfs_gpu import serialization
from nnfs_gpu.datasets import spiral_data
import support
from support import REROUNDING_BACKENDS, assert_reordered, host


def classifier() -> Model:
    return support.classifier(Dense(2, 16, weight_regularizer_l2=5e-4), ReLU(), Dropout(0.1, host_rng=True), Dense(16, 3),
                              Softmax(), optimizer=Adam(learning_rate=0.05, decay=1e-3))


@pytest.fixture
def data():
    np.random.seed(0)
    return spiral_data(50, 3)


@pytest.fixture
def saved(tmp_path, data):
    with nnfs_gpu.use_backend("numpy"):
        np.random.seed(1)
        model = classifier()
        model.train(*data, epochs=3, batch_size=64, verbose=False)
        path = tmp_path / "spiral.model"
        model.save(path)
    return model, path


@pytest.mark.parametrize("direction", ["save here, load on numpy", "save on numpy, load here"])
def test_round_trip_across_backends(backend_name, tmp_path, data, direction):
    X, y = data
    save_on, load_on = (backend_name, "numpy") if direction.startswith("save here") else ("numpy", backend_name)
    with nnfs_gpu.use_backend(save_on):
        np.random.seed(1)
        model = classifier()
        model.train(X, y, epochs=3, batch_size=64, verbose=False)
        model.save(tmp_path / "m.model")
    with nnfs_gpu.use_backend(load_on):
        loaded = Model.load(tmp_path / "m.model")
    assert loaded.backend.name == load_on
    assert repr(loaded) == repr(model)
    for ours, theirs in zip(loaded.get_parameters(), model.get_parameters()):
        np.testing.assert_array_equal(host(ours[0]), host(theirs[0]))
        np.testing.assert_array_equal(host(ours[1]), host(theirs[1]))
    assert_same_predictions(loaded.predict(X), model.predict(X), backend_name)
    assert loaded.optimizer.state_dict() == model.optimizer.state_dict()
    for ours, theirs in zip(loaded.trainable_layers, model.trainable_layers):
        for name in ("weight_momentums", "weight_cache", "bias_momentums", "bias_cache"):
            np.testing.assert_array_equal(host(getattr(ours, name)), host(getattr(theirs, name)))


def assert_same_predictions(ours: np.ndarray, theirs: np.ndarray, backend_name: str) -> None:
    """The same parameters give the same predictions on NumPy and strict; on a GPU, or on torch
    (MKL's GEMMs, whose order changes with the layout: a flat buffer's view or a fresh array), they
    agree as REORDERED_TOLERANCE says."""
    if backend_name in REROUNDING_BACKENDS:
        assert_reordered(ours, theirs)
    else:
        np.testing.assert_array_equal(ours, theirs)


def test_resume_after_load_gives_the_same_next_steps(backend, tmp_path, data):
    """Bit for bit also on a GPU: the same kernels in the same order on one device (cuBLAS and CUB
    reductions are deterministic run to run), with every number of the state restored exactly."""
    X, y = data
    np.random.seed(1)
    straight = classifier()
    straight.train(X, y, epochs=6, batch_size=64, shuffle=True, verbose=False)

    np.random.seed(1)
    first = classifier()
    first.train(X, y, epochs=3, batch_size=64, shuffle=True, verbose=False)
    first.save(tmp_path / "half.model")
    resumed = Model.load(tmp_path / "half.model")
    resumed.train(X, y, epochs=3, batch_size=64, shuffle=True, verbose=False)

    assert resumed.optimizer.iterations == straight.optimizer.iterations == 6 * 3
    for a, b in zip(straight.get_parameters(), resumed.get_parameters()):
        np.testing.assert_array_equal(host(a[0]), host(b[0]))
        np.testing.assert_array_equal(host(a[1]), host(b[1]))


def test_loading_does_not_disturb_the_global_rng(saved):
    _, path = saved
    np.random.seed(9)
    expected = np.random.rand(3)
    np.random.seed(9)
    Model.load(path)
    np.testing.assert_array_equal(np.random.rand(3), expected)


def test_parameters_round_trip(backend, tmp_path, saved, data):
    model, _ = saved
    model.save_parameters(tmp_path / "spiral.params")
    fresh = classifier()
    fresh.load_parameters(tmp_path / "spiral.params")
    assert_same_predictions(fresh.predict(data[0]), model.predict(data[0]), backend.name)
    assert backend.owns(fresh.trainable_layers[0].weights)
    other = Model()
    other.add(Dense(2, 8))
    other.add(Dense(8, 3))
    with pytest.raises(ModelFileError, match=r"holds trainable layers with parameters of shapes \[\(\(2, 16\), \(1, 16\)\), \(\(16, 3\), \(1, 3\)\)\], "
                       r"which do not fit this model's \[\(\(2, 8\), \(1, 8\)\), \(\(8, 3\), \(1, 3\)\)\]"):
        other.load_parameters(tmp_path / "spiral.params")


def test_a_model_file_also_gives_its_parameters(tmp_path, saved, data):
    model, path = saved
    fresh = classifier()
    fresh.load_parameters(path)
    np.testing.assert_array_equal(fresh.predict(data[0]), model.predict(data[0]))
    with pytest.raises(ModelFileError, match=r"holds 'parameters', not 'model'; load it with model.load_parameters"):
        model.save_parameters(tmp_path / "p")
        Model.load(tmp_path / "p")


def test_the_file_is_a_documented_npz_without_pickles(saved):
    _, path = saved
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
    assert "__nnfs_gpu__.npy" in names and "layers.0.weights.npy" in names and "layers.3.bias_cache.npy" in names
    with np.load(path, allow_pickle=False) as archive:
        meta = json.loads(archive["__nnfs_gpu__"].tobytes())
    assert (meta["format"], meta["version"], meta["kind"]) == ("nnfs_gpu", 1, "model")
    assert [layer["type"] for layer in meta["layers"]] == ["Dense", "ReLU", "Dropout", "Dense", "Softmax"]
    assert meta["optimizer"]["iterations"] == 3 * 3


def test_a_failed_save_leaves_the_previous_file_intact(saved, monkeypatch, tmp_path):
    model, path = saved
    before = path.read_bytes()

    def broken_savez(handle, **arrays):
        handle.write(b"PK half written")
        raise OSError("disk full")

    monkeypatch.setattr(serialization.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == [path.name]


def test_an_unsavable_model_is_refused_before_writing(saved):
    model, path = saved
    before = path.read_bytes()

    class Custom(ReLU):
        pass

    model.layers.insert(1, Custom())
    with pytest.raises(ValueError, match="cannot save layer of type .*Custom; savable layers: Dense, Dropout"):
        model.save(path)
    assert path.read_bytes() == before


def test_saving_into_a_missing_folder_says_so(saved, tmp_path):
    model, _ = saved
    with pytest.raises(FileNotFoundError, match="the folder .*nowhere does not exist"):
        model.save(tmp_path / "nowhere" / "m.model")


def corrupt_middle(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 64]) + data[middle + 64 :]


@pytest.mark.parametrize(
    "make_bad, message",
    [
        (lambda good: good[: len(good) // 2], "damaged or truncated"),
        (corrupt_middle, "damaged or truncated"),
        (lambda good: b"just some text\n", "not an nnfs_gpu file"),
        (lambda good: b"", "not an nnfs_gpu file"),
    ],
)
def test_damaged_or_foreign_files_give_a_clear_error(saved, tmp_path, make_bad, message):
    _, path = saved
    bad = tmp_path / "bad.model"
    bad.write_bytes(make_bad(path.read_bytes()))
    with pytest.raises(ModelFileError, match=message):
        Model.load(bad)


def test_a_plain_npz_is_not_taken_for_a_model(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, weights=np.ones(3))
    with pytest.raises(ModelFileError, match="npz archive but not an nnfs_gpu file"):
        Model.load(path)


def test_a_newer_format_version_asks_for_an_upgrade(saved, tmp_path):
    _, path = saved
    with np.load(path, allow_pickle=False) as archive:
        members = {name: archive[name] for name in archive.files}
    meta = json.loads(members["__nnfs_gpu__"].tobytes())
    meta["version"] = 99
    members["__nnfs_gpu__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    newer = tmp_path / "newer.model"
    with open(newer, "wb") as handle:
        np.savez(handle, **members)
    with pytest.raises(ModelFileError, match="format version 99; this nnfs_gpu reads up to 1: upgrade"):
        Model.load(newer)


class Exploit:
    """Unpickling this creates a file: proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_is_never_unpickled(tmp_path):
    marker = tmp_path / "code-ran"
    book_style = tmp_path / "fashion_mnist.model"
    book_style.write_bytes(pickle.dumps(Exploit(str(marker))))
    with pytest.raises(ModelFileError, match="pickle file .* never unpickles"):
        Model.load(book_style)
    with pytest.raises(ModelFileError, match="pickle file"):
        classifier().load_parameters(book_style)
    assert not marker.exists()


def test_an_object_array_member_is_refused_without_running_it(saved, tmp_path):
    _, path = saved
    marker = tmp_path / "code-ran"
    with np.load(path, allow_pickle=False) as archive:
        members = {name: archive[name] for name in archive.files}
    members["layers.0.weights"] = np.array([Exploit(str(marker))], dtype=object)
    buffer = io.BytesIO()
    np.savez(buffer, **members)
    sneaky = tmp_path / "sneaky.model"
    sneaky.write_bytes(buffer.getvalue())
    with pytest.raises(ModelFileError, match="damaged"):
        Model.load(sneaky)
    assert not marker.exists()


def test_saved_files_get_the_permissions_of_a_plain_write(saved, tmp_path):
    model, path = saved
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    assert path.stat().st_mode == plain.stat().st_mode
    os.chmod(path, 0o640)
    model.save(path)
    assert path.stat().st_mode & 0o777 == 0o640

