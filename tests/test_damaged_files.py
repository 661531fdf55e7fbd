"""Each kind of damage that once escaped as another error (issue 21) is a ModelFileError naming the
file, a CLI refusal in one line: one named test per kind. ``tests/test_hostile_files.py`` mixes them."""

from __future__ import annotations

import numpy as np
import pytest

import nnfs_gpu
from cli_support import refused
from damage import changed, deflate_damaged, description, npy_with_header, rezipped, with_description, with_flags, \
    with_version_needed
from nnfs_gpu import Model, ModelFileError
from nnfs_gpu.model_file import MAX_DEPTH, MAX_LAYERS, read_npy
from test_model_files import trained_and_saved


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> bytes:
    """The bytes of a trained spiral classifier's file."""
    path = tmp_path_factory.mktemp("valid") / "spiral.model"
    with nnfs_gpu.use_backend("numpy"):
        trained_and_saved(path)
    return path.read_bytes()


@pytest.fixture(autouse=True)
def on_numpy():
    with nnfs_gpu.use_backend("numpy"):
        yield


def refused_load(tmp_path, data: bytes, message: str, load=Model.load) -> None:
    path = tmp_path / "damaged.model"
    path.write_bytes(data)
    with pytest.raises(ModelFileError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path} ") and message in str(caught.value), str(caught.value)


# kind 1: damaged deflate data


def test_kind_1_damaged_deflate_data_is_a_model_file_error(valid, tmp_path):
    for member in (0, 2):  # the description, an array
        refused_load(tmp_path, deflate_damaged(valid, member), "(error: Error -3 while decompressing data: invalid block type)")


# kind 2: zip entries that need a newer zip or a password


STORED_AS = "stored as nnfs_gpu never stores it ({}); the file is damaged or crafted"


@pytest.mark.parametrize("damage, message", [
    (lambda raw: with_version_needed(raw, 255), "is damaged or truncated (NotImplementedError: zip file version 25.5)"),
    (lambda raw: with_flags(raw, 0x1), STORED_AS.format("encrypted")),
    (lambda raw: with_flags(raw, 0x40), STORED_AS.format("strongly encrypted")),
    (lambda raw: with_flags(raw, 0x41, index=2), STORED_AS.format("encrypted and strongly encrypted")),
], ids=["version 255", "encrypted", "strongly encrypted", "an encrypted array"])
def test_kind_2_encrypted_or_newer_zip_entries_are_a_model_file_error(valid, tmp_path, damage, message):
    refused_load(tmp_path, damage(valid), message)


# kind 3: types and kinds that are not strings


TYPES = {
    "a layer's type is a list": (lambda m: m["layers"][0].update(type=["Dense"]), "describes layer 0 as {'type': ['Dense']"),
    "the loss's type is an object": (lambda m: m["loss"].update(type={"a": 1}), "describes the loss as {'type': {'a': 1}}"),
    "the optimizer's type is a list": (lambda m: m["optimizer"].update(type=[]), "describes the optimizer as {'type': []"),
    "the accuracy's type is a list": (lambda m: m["accuracy"].update(type=["Categorical"]), "describes the accuracy as"),
    "the kind is a list": (lambda m: m.update(kind=["model"]), "has ['model'] (list) as its kind, where 'model' or 'parameters' belongs"),
    "the kind is an object": (lambda m: m.update(kind={}), "has {} (dict) as its kind"),
    "a layer setting is a list": (lambda m: m["layers"][0].update(n_inputs=[2]), "describes layer 0 with n_inputs = [2] (list), where a number"),
    "a layer is a list": (lambda m: m["layers"].__setitem__(1, ["ReLU"]), "describes layer 1 as ['ReLU'] (list), where a dict"),
}


@pytest.mark.parametrize("change, message", TYPES.values(), ids=TYPES.keys())
def test_kind_3_types_that_are_not_strings_are_a_model_file_error(valid, tmp_path, change, message):
    refused_load(tmp_path, changed(valid, change), message)


def test_kind_3_parameter_files_are_checked_alike(valid, tmp_path):
    (tmp_path / "valid.model").write_bytes(valid)
    model = Model.load(tmp_path / "valid.model")
    for name in ("a layer's type is a list", "the kind is a list", "a layer setting is a list"):
        change, message = TYPES[name]
        refused_load(tmp_path, changed(valid, change), message, model.load_parameters)


# kind 4: numbers a float cannot hold


@pytest.mark.parametrize("value, shown", [(10**400, "an integer of 401 digits"), (float("inf"), "inf"), (float("nan"), "nan")])
def test_kind_4_numbers_a_float_cannot_hold_are_a_model_file_error(valid, tmp_path, value, shown):
    refused_load(tmp_path, changed(valid, lambda m: m["layers"][0].update(weight_regularizer_l2=value)),
                 f"has {shown}, where settings are finite numbers a float can hold, at ['layers'][0]['weight_regularizer_l2']")
    refused_load(tmp_path, changed(valid, lambda m: m["optimizer"]["hyperparameters"].update(decay=value)),
                 "at ['optimizer']['hyperparameters']['decay']")


# kind 5: deep nesting


def test_kind_5_deep_nesting_is_a_model_file_error(valid, tmp_path):
    refused_load(tmp_path, with_description(valid, b"[" * 100_000 + b"]" * 100_000), "has a description nested too deeply")
    deep = changed(valid, lambda m: m.update(extra=[[[[[[[[[[1]]]]]]]]]]))
    refused_load(tmp_path, deep, f"has a description nested too deeply (at most {MAX_DEPTH} levels) at ['extra'][0]")


# kinds 6 and 7: .npy headers that the header parser chokes on


def test_kind_6_an_unclosed_header_dict_is_a_model_file_error(valid, tmp_path):
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 16), "
    refused_load(tmp_path, rezipped(valid, **{"layers.0.weights": npy_with_header(header, bytes(128))}),
                 "the array 'layers.0.weights' has a bad header (TokenError:")


def test_kind_7_a_shape_of_bools_is_a_model_file_error(valid, tmp_path):
    meta = description(valid)
    meta["layers"][0]["n_inputs"] = 1
    weights = npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (True, 16), }", bytes(64))
    refused_load(tmp_path, rezipped(with_description(valid, meta), **{"layers.0.weights": weights}),
                 "the header of 'layers.0.weights' claims the shape (True, 16), which is not a shape")
    description_of_bools = npy_with_header("{'descr': '|u1', 'fortran_order': False, 'shape': (True,), }", b"{")
    refused_load(tmp_path, rezipped(valid, __nnfs_gpu__=description_of_bools), "claims the shape (True,)")


def test_an_empty_array_of_impossible_size_is_a_model_file_error(valid, tmp_path):
    """A zero-length axis makes the claimed bytes 0, which fit any file; NumPy still refuses to make
    an array whose other axes multiply beyond its index range (found by review)."""
    weights = npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776, 0), }", b"")
    refused_load(tmp_path, rezipped(valid, **{"layers.0.weights": weights}),
                 "claims the shape (1099511627776, 1099511627776, 0), which is not a shape an array here can have")
    (tmp_path / "x.npy").write_bytes(weights)
    with pytest.raises(ModelFileError, match="which is not a shape an array here can have"):
        read_npy(tmp_path / "x.npy", ModelFileError)


# kind 8: many layers (the time it takes: tests/test_model_files.py)


def test_kind_8_more_layers_than_the_cap_are_a_model_file_error(valid, tmp_path):
    many = changed(valid, lambda m: m["layers"].__setitem__(slice(1, 1), [{"type": "ReLU"}] * MAX_LAYERS))
    refused_load(tmp_path, many, f"describes {MAX_LAYERS + 4} layers, more than the {MAX_LAYERS} nnfs_gpu loads")


# kind 9: the command line's data files


@pytest.fixture
def data_npz(tmp_path) -> bytes:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "valid.npz", X=rng.normal(size=(40, 2)), y=np.arange(40) % 3)
    return (tmp_path / "valid.npz").read_bytes()


NPZ_DAMAGE = {
    "damaged deflate data": (lambda raw: deflate_damaged(raw, 0), "(error: Error -3 while decompressing data: invalid block type)"),
    "an encrypted X": (lambda raw: with_flags(raw, 0x1), STORED_AS.format("encrypted")),
    "a zip version 255": (lambda raw: with_version_needed(raw, 255), "is damaged or truncated (NotImplementedError: zip file version 25.5)"),
    "an unclosed header": (lambda raw: rezipped(raw, X=npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (40, 2), ",
                                                                      bytes(640))), "the array 'X' has a bad header (TokenError:"),
    "X of Python objects": (lambda raw: rezipped(raw, X=npy_with_header("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }")),
                            "has the array 'X' of Python objects (a pickle, which nnfs_gpu never runs)"),
}


@pytest.mark.parametrize("command", ["train", "evaluate", "predict"])
@pytest.mark.parametrize("damage, message", NPZ_DAMAGE.values(), ids=NPZ_DAMAGE.keys())
def test_kind_9_a_damaged_npz_data_file_is_refused_in_one_line(run, tmp_path, data_npz, spiral_model, command, damage, message):
    (tmp_path / "data.npz").write_bytes(damage(data_npz))
    arguments = {"train": ["train", "--dataset", "data.npz", "--epochs", "1"], "evaluate": ["evaluate", "m.model", "data.npz"],
                 "predict": ["predict", "m.model", "data.npz"]}[command]
    status, out, err = run(*arguments)
    assert (status, out) == (2, "") and err.startswith("nnfs-gpu: error: data.npz ") and err.count("\n") == 1, err
    assert message in err


@pytest.fixture
def spiral_model(tmp_path, valid) -> None:
    (tmp_path / "m.model").write_bytes(valid)


@pytest.mark.parametrize("command", ["train", "evaluate", "predict"])
def test_kind_9_an_npy_header_claiming_terabytes_is_refused_in_one_line(run, tmp_path, spiral_model, command):
    (tmp_path / "huge.npy").write_bytes(npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 4), }",
                                                        bytes(64)))
    arguments = {"train": ["train", "--dataset", "huge.npy", "--epochs", "1"], "evaluate": ["evaluate", "m.model", "huge.npy"],
                 "predict": ["predict", "m.model", "huge.npy"]}[command]
    refused(run(*arguments), "huge.npy is damaged or truncated: the header of 'huge.npy' claims a float64 array of shape "
                             "(1000000000000, 4), which does not fit the 64 bytes it holds")


# kind 10: predict and evaluate with a damaged model


MODEL_DAMAGE = {
    "damaged deflate data": (lambda raw: deflate_damaged(raw, 2), "invalid block type"),
    "an encrypted array": (lambda raw: with_flags(raw, 0x1, index=2), STORED_AS.format("encrypted")),
    "a zip version 255": (lambda raw: with_version_needed(raw, 255), "zip file version 25.5"),
    "10**400 as a setting": (lambda raw: changed(raw, lambda m: m["layers"][0].update(weight_regularizer_l2=10**400)),
                             "has an integer of 401 digits, where settings are finite numbers a float can hold"),
    "deep nesting": (lambda raw: with_description(raw, b"[" * 100_000 + b"]" * 100_000), "has a description nested too deeply"),
}


@pytest.mark.parametrize("command", ["predict", "evaluate"])
@pytest.mark.parametrize("damage, message", MODEL_DAMAGE.values(), ids=MODEL_DAMAGE.keys())
def test_kind_10_predict_and_evaluate_refuse_a_damaged_model_in_one_line(run, tmp_path, valid, data_npz, command, damage, message):
    (tmp_path / "m.model").write_bytes(damage(valid))
    status, out, err = run(command, "m.model", "valid.npz")
    assert (status, out) == (2, "") and err.startswith("nnfs-gpu: error: m.model ") and err.count("\n") == 1, err
    assert message in err


# found by reading the code: class labels that do not fit the model's outputs


@pytest.mark.parametrize("labels", [["a"], ["a", "b", "c", "d"]], ids=["too few", "too many"])
def test_class_labels_that_do_not_fit_the_outputs_are_a_model_file_error(run, tmp_path, valid, labels):
    refused_load(tmp_path, changed(valid, lambda m: m.update(class_labels=labels)),
                 f"describes a model that cannot be used (class_labels {labels!r} (list) name {len(labels)} classes, "
                 "but Softmax() predicts 3 classes)")
    (tmp_path / "m.model").write_bytes(changed(valid, lambda m: m.update(class_labels=labels)))
    np.savetxt(tmp_path / "inputs.csv", np.ones((2, 2)), delimiter=",")
    status, out, err = run("predict", "m.model", "inputs.csv")
    assert (status, out) == (2, "") and err.startswith("nnfs-gpu: error: m.model describes a model that cannot be used"), err
