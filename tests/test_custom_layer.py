"""A trainable layer written outside the package, as a user writes one (``custom_layer.ScaleShift``):
it declares its parameters and nothing inside nnfs_gpu names it, yet it trains with every optimizer
(flat and per-layer updates alike), saves and loads, moves between backends, and shows in
``state_dict`` and ``summary`` (and trains data-parallel: tests/test_distributed.py). With
custom_layer.py, this file is the recipe docs/ARCHITECTURE.md gives for a new layer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import Adagrad, Adam, Dense, Model, ReLU, RMSprop, SGD, Softmax

from custom_layer import ScaleShift
from support import classifier


OPTIMIZERS = {
    "sgd": lambda flat: SGD(0.5, decay=1e-3, momentum=0.9, flat=flat),
    "adagrad": lambda flat: Adagrad(0.5, flat=flat),
    "rmsprop": lambda flat: RMSprop(0.01, flat=flat),
    "adam": lambda flat: Adam(0.02, flat=flat),
}


def host(array: Any) -> np.ndarray:
    return nnfs_gpu.to_numpy(array)


def scaled_model(optimizer: Any, seed: int = 0) -> Model:
    np.random.seed(seed)
    return classifier(Dense(2, 16), ScaleShift(16), ReLU(), Dense(16, 3), Softmax(), optimizer=optimizer)


def trained(model: Model, data: tuple[np.ndarray, np.ndarray], epochs: int = 5) -> dict[str, list[float]]:
    return model.train(*data, epochs=epochs, batch_size=20, verbose=False)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_custom_layer_trains_with_every_optimizer_flat_and_per_layer(backend, small_spiral, name):
    """The layer's parameters learn (and get the optimizer's state under the declared names); the
    flat update over one buffer and the book's per-layer loop give the same bits."""
    per_layer = scaled_model(OPTIMIZERS[name](False))
    history = trained(per_layer, small_spiral, epochs=20)
    layer = per_layer.layers[1]
    assert history["loss"][-1] < history["loss"][0]
    assert not np.array_equal(host(layer.scale), np.ones((1, 16))) and np.any(host(layer.shift) != 0)
    for kind in per_layer.optimizer.state_kinds:
        assert host(getattr(layer, f"scale_{kind}")).shape == (1, 16) and hasattr(layer, f"shift_{kind}")
    if not backend.supports_views:
        with pytest.raises(ValueError, match="a flat update cannot apply"):
            trained(scaled_model(OPTIMIZERS[name](True)), small_spiral)
        return
    flat = scaled_model(OPTIMIZERS[name](True))
    assert trained(flat, small_spiral, epochs=20) == history
    assert flat._updates.buffers is not None  # the layer's arrays were views into the flat buffers
    for ours, theirs in zip(flat.get_parameters(), per_layer.get_parameters()):
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(host(a), host(b))


def test_custom_layer_saves_and_loads_with_its_optimizer_state(backend, small_spiral, tmp_path):
    """Training two epochs, saving, loading and training two more gives what four epochs give."""
    straight = scaled_model(Adam(0.02))
    trained(straight, small_spiral, epochs=4)
    first = scaled_model(Adam(0.02))
    trained(first, small_spiral, epochs=2)
    first.save(tmp_path / "scaled.model")
    resumed = Model.load(tmp_path / "scaled.model")
    assert isinstance(resumed.layers[1], ScaleShift) and resumed.layers[1].n_features == 16
    np.testing.assert_array_equal(host(resumed.layers[1].scale_momentums), host(first.layers[1].scale_momentums))
    trained(resumed, small_spiral, epochs=2)
    for ours, theirs in zip(resumed.get_parameters(), straight.get_parameters()):
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(host(a), host(b))
    parameters_only = scaled_model(Adam(0.02), seed=1)
    parameters_only.load_parameters(tmp_path / "scaled.model")
    np.testing.assert_array_equal(parameters_only.predict(small_spiral[0]), first.predict(small_spiral[0]))


def test_custom_layer_moves_between_backends(small_spiral):
    with nnfs_gpu.use_backend("numpy"):
        model = scaled_model(Adam(0.02))
        trained(model, small_spiral, epochs=2)
    expected, momentums = model.predict(small_spiral[0]), host(model.layers[1].shift_momentums).copy()
    model.to("strict")
    assert model.backend.name == "strict" and model.layers[1].backend.name == "strict"
    assert nnfs_gpu.backends.array_origin(model.layers[1].scale) == "array_api_strict"
    np.testing.assert_allclose(model.predict(small_spiral[0]), expected, rtol=1e-6, atol=1e-7)
    trained(model, small_spiral, epochs=1)
    model.to("numpy")
    assert not np.array_equal(host(model.layers[1].shift_momentums), momentums)  # it trained on strict


def test_custom_layer_shows_in_state_dict_and_summary(backend, small_spiral):
    model = scaled_model(RMSprop(0.01))
    trained(model, small_spiral, epochs=1)
    state = model.state_dict()
    assert set(state["layers"][1]) == {"scale", "shift", "scale_cache", "shift_cache"}
    other = scaled_model(RMSprop(0.01), seed=3)
    other.load_state_dict(state)
    np.testing.assert_array_equal(host(other.layers[1].scale_cache), state["layers"][1]["scale_cache"])
    np.testing.assert_array_equal(other.predict(small_spiral[0]), model.predict(small_spiral[0]))
    row = next(line for line in str(model.summary()).splitlines() if "ScaleShift" in line)
    assert row.split() == ["1", "ScaleShift(16)", "(samples,", "16)", "32"]
    assert str(model.summary()).startswith("Model: 5 layers, 131 parameters")  # 48 + 32 + 51


def test_a_declaration_is_checked_when_the_class_is_defined():
    class Listed(nnfs_gpu.Layer):
        parameters = [nnfs_gpu.Parameter("scale")]

    assert Listed.parameters == (nnfs_gpu.Parameter("scale"),)  # a list is taken as the tuple it means
    with pytest.raises(TypeError, match=r"Named.parameters must be a tuple of nnfs_gpu.Parameter, got \('scale',\)"):
        class Named(nnfs_gpu.Layer):
            parameters = ("scale",)


def test_register_layer_asks_for_what_files_need(tmp_path, monkeypatch):
    monkeypatch.setattr(nnfs_gpu.serialization, "LAYER_TYPES", dict(nnfs_gpu.serialization.LAYER_TYPES))  # this test's names stay its own

    class Shapeless(ScaleShift):
        parameter_shapes = nnfs_gpu.Layer.parameter_shapes

    with pytest.raises(TypeError, match="Shapeless declares parameters, so it must define the classmethod parameter_shapes"):
        nnfs_gpu.register_layer(Shapeless)
    nnfs_gpu.register_layer(ScaleShift)  # again, as a notebook cell run twice does: the same class is fine

    class ScaleShiftAgain(ScaleShift):
        pass

    with pytest.raises(ValueError, match="the name 'ScaleShift' is taken by custom_layer.ScaleShift"):
        nnfs_gpu.register_layer(ScaleShiftAgain, name="ScaleShift")

    class Unsavable(ScaleShift):
        def config(self) -> dict:
            return {}

    model = classifier(Dense(2, 4), Unsavable(4), Softmax())
    with pytest.raises(ValueError, match=r"cannot save layer of type .*Unsavable; savable layers: .*; let files name it with "
                                         r"nnfs_gpu.register_layer\(Unsavable\)"):
        model.save(tmp_path / "m.model")
    nnfs_gpu.register_layer(Unsavable)
    with pytest.raises(ValueError, match=r"its config\(\) \{\} does not fit the arguments of Unsavable"):
        model.save(tmp_path / "m.model")
    assert not (tmp_path / "m.model").exists()


def test_a_file_claiming_a_huge_custom_layer_is_refused_before_it_is_built(tmp_path, small_spiral):
    """The layer's shapes come from its config and are checked against the file's arrays before the
    layer is built, so the claim of 300 million features costs nothing."""
    import json
    import resource
    import zipfile

    model = scaled_model(Adam(0.02))
    model.save(tmp_path / "scaled.model")
    with zipfile.ZipFile(tmp_path / "scaled.model") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(np.load(tmp_path / "scaled.model")["__nnfs_gpu__"].tobytes())
    meta["layers"][1]["n_features"] = 300_000_000
    members["__nnfs_gpu__.npy"] = _npy(np.frombuffer(json.dumps(meta).encode(), np.uint8))
    with zipfile.ZipFile(tmp_path / "huge.model", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(nnfs_gpu.ModelFileError, match=r"has the array 'layers.1.scale' of shape \(1, 16\), where its "
                                                      r"description needs \(1, 300000000\)"):
        Model.load(tmp_path / "huge.model")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB: nothing of 1.2 GB was made


def _npy(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()
