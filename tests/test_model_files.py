"""Model files as an adversary writes them: every bad file is a ModelFileError naming the file and the
problem, found before anything large is allocated (saving: tests/test_saving.py)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import Adam, Dense, Model, ModelFileError, ReLU, Softmax
from nnfs_gpu.datasets import spiral_data
from nnfs_gpu.model_file import MAX_LAYERS
import support
from damage import crafted_data_files, damaged_models, write_zeros

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def on_numpy():
    """Files load onto the current backend: NumPy here (the backends' part is test_serialization's)."""
    with nnfs_gpu.use_backend("numpy"):
        yield


def classifier() -> Model:
    return support.classifier(Dense(2, 16), ReLU(), Dense(16, 3), Softmax(), optimizer=Adam(learning_rate=0.05))


def trained_and_saved(path: Path) -> Model:
    """A spiral classifier trained for two epochs (on the current backend) and saved to ``path``."""
    np.random.seed(0)
    model = classifier()
    model.train(*spiral_data(30, 3), epochs=2, verbose=False)
    model.save(path)
    return model


@pytest.fixture
def saved(tmp_path):
    """A trained model saved to spiral.model, with its description and arrays."""
    model = trained_and_saved(tmp_path / "spiral.model")
    with np.load(tmp_path / "spiral.model", allow_pickle=False) as archive:
        members = {name: archive[name] for name in archive.files}
    return model, tmp_path / "spiral.model", json.loads(members.pop("__nnfs_gpu__").tobytes()), members


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def header_only(shape: tuple[int, ...], dtype: str = "<f4") -> bytes:
    """An .npy header claiming an array of ``shape``, without its data."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def write_file(path: Path, meta: dict, members: dict[str, bytes | np.ndarray], deflated: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__nnfs_gpu__.npy", npy(np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)))
        for name, data in members.items():
            method = zipfile.ZIP_DEFLATED if name in deflated else zipfile.ZIP_STORED
            archive.writestr(f"{name}.npy", data if isinstance(data, bytes) else npy(data), compress_type=method)
    return path


def dense_meta(n_inputs: int, n_neurons: int, **extra: object) -> dict:
    dense = {"type": "Dense", "n_inputs": n_inputs, "n_neurons": n_neurons, "weight_regularizer_l1": 0.0,
             "weight_regularizer_l2": 0.0, "bias_regularizer_l1": 0.0, "bias_regularizer_l2": 0.0, **extra}
    return {"format": "nnfs_gpu", "version": 1, "kind": "model", "layers": [dense, {"type": "Softmax"}],
            "loss": {"type": "CategoricalCrossentropy"}, "accuracy": None, "optimizer": None}


def zip_bomb(path: Path) -> Path:
    """A model file whose description, headers and member sizes all agree on a Dense(3000, 3000) of
    float64 (72 MB), deflated to about 70 KB."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("__nnfs_gpu__.npy", npy(np.frombuffer(json.dumps(dense_meta(3000, 3000)).encode(), dtype=np.uint8)))
        write_zeros(archive, "layers.0.weights", (3000, 3000), "<f8")
        write_zeros(archive, "layers.0.biases", (1, 3000), "<f8")
    return path


# -- files that claim more than they hold ----------------------------------------------------------


def crafted_files(folder: Path) -> dict[str, Path]:
    """Files under 1 MB that claim much more, or are damaged in a way that once escaped as another
    error: each must be refused cheaply (but the one of MAX_LAYERS layers, which loads)."""
    trained_and_saved(folder / "valid.model")
    damaged = {what: folder / f"damaged-{index}.model" for index, what in enumerate(damaged_models((folder / "valid.model").read_bytes()))}
    for what, data in damaged_models((folder / "valid.model").read_bytes()).items():
        damaged[what].write_bytes(data)
    capped = dense_meta(2, 3)
    capped["layers"] = [{"type": "ReLU"}] * (MAX_LAYERS - 2) + capped["layers"]
    big = dense_meta(6000, 6000)
    many_layers = dense_meta(2, 3)
    many_layers["layers"] = [{"type": "ReLU"}] * 50_000 + many_layers["layers"]
    tiny_members = {f"junk.{index}": np.zeros(1, np.float32) for index in range(3000)}
    return {
        "a 6000x6000 Dense in 1 KB": write_file(folder / "claims.model", big, {
            "layers.0.weights": header_only((6000, 6000)), "layers.0.biases": header_only((1, 6000))}),
        "a header claiming (100000, 100000)": write_file(folder / "header.model", dense_meta(100_000, 100_000), {
            "layers.0.weights": header_only((100_000, 100_000)), "layers.0.biases": header_only((1, 100_000))}),
        "a zip bomb the model needs": zip_bomb(folder / "bomb.model"),
        "50000 layers and no arrays": write_file(folder / "layers.model", many_layers, {}),
        "3000 members and no weights": write_file(folder / "members.model", dense_meta(2, 3), tiny_members),
        f"{MAX_LAYERS} layers (the cap), which load": write_file(folder / "capped.model", capped, {
            f"layers.{MAX_LAYERS - 2}.weights": np.ones((2, 3), np.float32), f"layers.{MAX_LAYERS - 2}.biases": np.ones((1, 3), np.float32)}),
        **damaged,
    }


def test_files_that_claim_more_than_they_hold_are_refused_naming_the_file(tmp_path):
    for what, path in crafted_files(tmp_path).items():
        assert path.stat().st_size < 1 << 20, what
        if path.name == "capped.model":
            assert len(Model.load(path).layers) == MAX_LAYERS
            continue
        with pytest.raises(ModelFileError, match=f"^{path}"):
            Model.load(path)


MEASURE = """
import json, resource, sys, time, tracemalloc
import nnfs_gpu
from nnfs_gpu import Model, ModelFileError
from nnfs_gpu.cli.data import UsageError, read_data_file
nnfs_gpu.set_backend("numpy")

def load(path):
    try:
        if path.endswith(".model"):
            Model.load(path)
            return "loaded"
        read_data_file(path)
        return "read"
    except (ModelFileError, UsageError) as error:
        return str(error)

results = {}
for path in sys.argv[1:]:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.process_time()
    outcome = load(path)
    seconds = time.process_time() - start
    growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) * 1024
    tracemalloc.start()  # a second load, traced (tracing slows allocations, so it is not the timed one)
    load(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    results[path] = {"outcome": outcome, "cpu_s": seconds, "peak_bytes": peak, "rss_growth_bytes": growth}
print(json.dumps(results))
"""


def test_any_file_under_1_mb_costs_at_most_50_mb_and_1_s(tmp_path, unused_bomb):
    """Model files and the command line's data files, measured in a fresh process: the peak of
    Python's and NumPy's allocations (tracemalloc), the growth of the peak resident size, and the
    CPU time of the process (not the wall clock, which a busy machine stretches; the load runs on
    one thread)."""
    paths = [*crafted_files(tmp_path).values(), *crafted_data_files(tmp_path).values(), unused_bomb]
    expected = {str(unused_bomb): "loaded", str(tmp_path / "capped.model"): "loaded", str(tmp_path / "zeros.csv"): "read"}
    environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", MEASURE, *map(str, paths)], capture_output=True, text=True,
                            env=environment, check=True)
    measured_all = json.loads(result.stdout)
    assert len(measured_all) == len(paths)
    for path, measured in measured_all.items():
        assert Path(path).stat().st_size < 1 << 20
        assert measured["peak_bytes"] < 50e6 and measured["rss_growth_bytes"] < 50e6, (path, measured)
        assert measured["cpu_s"] < 1.0, (path, measured)
        assert measured["outcome"] == expected[path] if path in expected else measured["outcome"].startswith(path), measured


@pytest.fixture(scope="module")
def unused_bomb(tmp_path_factory):
    """A working model file of about 0.5 MB that also holds an unused member of 500 MB of zeros, deflated."""
    np.random.seed(0)
    with nnfs_gpu.use_backend("numpy"):
        model = classifier()
        path = tmp_path_factory.mktemp("bomb") / "padded.model"
        model.save(path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        write_zeros(archive, "unused", (500, 1 << 20), "|u1")
    return path


def test_an_unused_compressed_member_is_never_read(unused_bomb):
    assert unused_bomb.stat().st_size < 1 << 20
    model = Model.load(unused_bomb)
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "ReLU", "Dense", "Softmax"]


def test_loading_draws_no_random_weights(saved, monkeypatch):
    model, path, _, _ = saved

    def no_draws(*shape):
        raise AssertionError("load drew random weights")

    monkeypatch.setattr(np.random, "randn", no_draws)
    loaded = Model.load(path)
    for ours, theirs in zip(loaded.get_parameters(), model.get_parameters()):
        np.testing.assert_array_equal(nnfs_gpu.to_numpy(ours[0]), nnfs_gpu.to_numpy(theirs[0]))


# -- files whose contents are wrong -----------------------------------------------------------------


def tampered(meta: dict, members: dict, change) -> tuple[dict, dict]:
    meta, members = json.loads(json.dumps(meta)), dict(members)
    change(meta, members)
    return meta, members


def break_the_chain(meta: dict, arrays: dict) -> None:
    """Makes the second Dense layer take 5 inputs (with weights and no optimizer state to match)."""
    meta["layers"][2]["n_inputs"] = 5
    arrays["layers.2.weights"] = np.zeros((5, 3), np.float32)
    for name in ("weight_momentums", "weight_cache"):
        del arrays[f"layers.2.{name}"]


CHANGES = {
    "weights of another shape": (lambda m, a: a.update({"layers.0.weights": np.zeros((2, 8), np.float32)}),
                                 r"has the array 'layers.0.weights' of shape \(2, 8\), where its description needs \(2, 16\)"),
    "complex weights": (lambda m, a: a.update({"layers.0.weights": np.zeros((2, 16), np.complex64)}),
                        r"holds complex64 values in the array 'layers.0.weights'; parameters are float32 or float64"),
    "string weights": (lambda m, a: a.update({"layers.0.weights": np.full((2, 16), "w")}),
                       r"holds <U1 values in the array 'layers.0.weights'"),
    "NaN weights": (lambda m, a: a["layers.2.weights"].__setitem__((0, 0), np.nan),
                    r"holds NaN or infinity in the array 'layers.2.weights'"),
    "no weights": (lambda m, a: a.pop("layers.2.biases"), r"lacks the array 'layers.2.biases'"),
    "an empty layer list": (lambda m, a: m.update(layers=[]), r"describes no layers \(its layer list is empty\)"),
    "a fractional size": (lambda m, a: m["layers"][0].update(n_inputs=2.7),
                          r"has a bad layer description .* n_inputs must be a whole number >= 1, got 2.7"),
    "an unknown layer": (lambda m, a: m["layers"].insert(1, {"type": "Conv2D"}), r"describes an unknown layer .*'Conv2D'"),
    "an unknown argument": (lambda m, a: m["layers"][1].update(alpha=0.1), r"has a bad layer description \{'type': 'ReLU'"),
    "a negative regularizer": (lambda m, a: m["layers"][0].update(weight_regularizer_l2=-1),
                               r"has a bad layer description .* weight_regularizer_l2 must be a finite number >= 0, got -1.0"),
    "a bad learning rate": (lambda m, a: m["optimizer"]["hyperparameters"].update(learning_rate=-1),
                            r"has a bad optimizer description .* learning_rate must be a finite number > 0"),
    "a bad step count": (lambda m, a: m["optimizer"].update(iterations="many"), r"has a bad optimizer description .* iterations must be a whole number >= 0, got 'many'"),
    "layers that do not chain": (break_the_chain,
                                 r"describes a model that cannot be used \(layer 2 Dense\(5, 3\) takes 5 inputs"),
    "a newer format": (lambda m, a: m.update(version=2), r"has format version 2; this nnfs_gpu reads up to 1: upgrade"),
    "a bool version": (lambda m, a: m.update(version=True), r"has format version True"),
}


@pytest.mark.parametrize("change, message", CHANGES.values(), ids=CHANGES.keys())
def test_wrong_contents_are_a_model_file_error_naming_the_file(saved, tmp_path, change, message):
    _, _, meta, members = saved
    path = write_file(tmp_path / "bad.model", *tampered(meta, members, change))
    with pytest.raises(ModelFileError, match=f"^{path} {message}"):
        Model.load(path)


def test_a_description_that_is_not_json_or_too_large_is_refused(saved, tmp_path):
    path = tmp_path / "bad.model"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__nnfs_gpu__.npy", npy(np.frombuffer(b"{not json", np.uint8)))
    with pytest.raises(ModelFileError, match=f"^{path} is damaged: its description is not JSON"):
        Model.load(path)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__nnfs_gpu__.npy", header_only((2 << 20,), "|u1") + bytes(2 << 20))
    with pytest.raises(ModelFileError, match=r"has a malformed description: a uint8 array of shape \(2097152,\)"):
        Model.load(path)


def test_parameter_files_are_checked_alike(tmp_path):
    meta = dense_meta(6000, 6000)
    meta["kind"] = "parameters"
    path = write_file(tmp_path / "claims.params", meta, {"layers.0.weights": header_only((6000, 6000)),
                                                        "layers.0.biases": header_only((1, 6000))})
    model = Model()
    model.add(Dense(6000, 6000, weight_scale=0.0))
    with pytest.raises(ModelFileError, match="is damaged or truncated: the header of 'layers.0.weights' claims"):
        model.load_parameters(path)


def test_fortran_ordered_and_big_endian_arrays_load_with_their_values(saved, tmp_path):
    model, _, meta, members = saved
    members["layers.0.weights"] = np.asfortranarray(members["layers.0.weights"])
    members["layers.2.weights"] = members["layers.2.weights"].astype(">f4")
    loaded = Model.load(write_file(tmp_path / "orders.model", meta, members))
    for ours, theirs in zip(loaded.get_parameters(), model.get_parameters()):
        np.testing.assert_array_equal(nnfs_gpu.to_numpy(ours[0]), nnfs_gpu.to_numpy(theirs[0]))


def test_a_regression_precision_of_zero_is_measured_again(tmp_path):
    """Files saved before constant targets were handled hold a precision of 0, under which nothing
    counts as right: it is measured again from the next data."""
    meta = dense_meta(1, 1)
    meta["layers"][1] = {"type": "Linear"}
    meta.update(loss={"type": "MeanSquaredError"}, accuracy={"type": "Regression", "precision": 0.0})
    arrays = {"layers.0.weights": np.ones((1, 1), np.float32), "layers.0.biases": np.zeros((1, 1), np.float32)}
    model = Model.load(write_file(tmp_path / "constant.model", meta, arrays))
    assert model.accuracy.precision is None
    assert model.evaluate(np.full((4, 1), 2.0), np.full((4, 1), 2.0), verbose=False)[1] == 1.0
