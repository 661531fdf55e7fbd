"""The torch backend's devices, names and rules (its arithmetic runs in the parity suite through the
backend fixture); skipped with the reason where PyTorch is not installed."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import Adam, BackendUnavailableError, Dense, Dropout, ReLU, Softmax
from nnfs_gpu.backends import chosen_name, create_backend
from nnfs_gpu.backends.torch_backend import TorchBackend, normalized_device
from nnfs_gpu.datasets import spiral_data
from support import assert_reordered, classifier, host

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'nnfs_gpu[test]')")
pytestmark = pytest.mark.torch


def test_the_names_of_the_cpu_are_one_device():
    for device in (None, "cpu", torch.device("cpu"), "cpu:1"):
        backend = create_backend("torch", device=device)
        assert backend.device == torch.device("cpu") and backend.owns(backend.zeros((2,)))


def test_a_device_without_an_index_is_the_current_one_of_its_kind():
    """'cuda' and 'cuda:0' are one device (so arrays made under either name belong to both), on a
    stand-in for torch whose current CUDA device is 0; 'mps' has one device, 0."""
    stand_in = types.SimpleNamespace(device=torch.device, cuda=types.SimpleNamespace(current_device=lambda: 0))
    assert normalized_device(stand_in, "cuda") == normalized_device(stand_in, "cuda:0") == torch.device("cuda", 0)
    assert normalized_device(stand_in, "cuda:1") == torch.device("cuda", 1)
    assert normalized_device(stand_in, "mps") == torch.device("mps", 0)


def test_owns_checks_the_device_not_only_the_library():
    on_cpu, on_meta = create_backend("torch"), create_backend("torch", device="meta")
    cpu_array, meta_array = on_cpu.zeros((2, 3)), on_meta.zeros((2, 3))
    assert on_cpu.owns(cpu_array) and on_meta.owns(meta_array)
    assert not on_cpu.owns(meta_array) and not on_meta.owns(cpu_array)
    assert not on_cpu.owns(np.zeros(3, np.float32))


@pytest.mark.parametrize("device, kind", [("cuda", "CUDA"), ("cuda:1", "CUDA"), ("mps", "MPS"), ("xpu", "XPU")])
def test_a_device_this_machine_lacks_is_refused_with_its_name_and_why(fresh_selection, device, kind):
    if TorchBackend.unavailable_reason(device) is None:
        pytest.skip(f"this machine has {device}")
    with pytest.raises(BackendUnavailableError, match=rf"backend 'torch' on device '{device}' is not available: .*{kind}"):
        nnfs_gpu.set_backend("torch", device=device)


def test_a_name_torch_does_not_know_is_refused(fresh_selection):
    with pytest.raises(BackendUnavailableError, match=r"'tpu' is not a torch device.*use 'cpu', 'cuda'"):
        nnfs_gpu.set_backend("torch", device="tpu")


def test_without_torch_the_error_says_what_to_install(monkeypatch, fresh_selection):
    monkeypatch.setitem(sys.modules, "torch", None)
    assert nnfs_gpu.available_backends()["torch"].reason.startswith("PyTorch is not installed; pip install torch")
    with pytest.raises(BackendUnavailableError, match=r"backend 'torch' is not available: PyTorch is not installed"):
        nnfs_gpu.set_backend("torch")


@pytest.mark.parametrize("name, own", [("numpy", "cpu"), ("strict", "device1")])
def test_a_backend_of_one_device_refuses_another_and_says_which_has_it(name, own):
    assert create_backend(name, device=own).name == name
    with pytest.raises(ValueError, match=rf"the '{name}' backend runs on .* only, not on device='cuda'.*'torch'"):
        create_backend(name, device="cuda")


def pretend_torch_has_every_device(monkeypatch) -> None:
    """Makes the torch backend believe this machine has every device (only its checks run)."""
    monkeypatch.setattr(TorchBackend, "unavailable_reason", classmethod(lambda cls, device=None: None))


@pytest.mark.parametrize("options, asked", [({"dtype": "float64"}, "dtype='float64'"),
                                            ({"precision": "book"}, "precision='book'")])
def test_mps_refuses_float64_and_the_books_precision(monkeypatch, options, asked):
    pretend_torch_has_every_device(monkeypatch)
    assert create_backend("torch", device="mps").device == torch.device("mps", 0)
    with pytest.raises(ValueError, match=rf"{asked}.* cannot run on MPS: Apple's GPU has no float64.*dtype='float32'"):
        create_backend("torch", device="mps", **options)


def test_mps_names_torch_on_mps_and_cuda_falls_to_torch_only_without_cupy(monkeypatch, fresh_selection):
    from test_backends import hide_cupy

    pretend_torch_has_every_device(monkeypatch)
    assert chosen_name("mps") == "torch" and create_backend("mps").device == torch.device("mps", 0)
    hide_cupy(monkeypatch)
    assert chosen_name("cuda") == chosen_name("gpu") == "torch"
    monkeypatch.setitem(nnfs_gpu.backends._registry, "cupy", type("UsableCupy", (TorchBackend,), {"name": "cupy"}))
    assert chosen_name("cuda") == chosen_name("gpu") == "cupy"


def test_no_tensor_ever_requires_a_gradient():
    """Autograd records nothing: parameters, optimizer state and every output stay plain tensors."""
    with nnfs_gpu.use_backend("torch"):
        np.random.seed(0)
        model = classifier(Dense(2, 16), ReLU(), Dropout(0.1), Dense(16, 3), Softmax(), optimizer=Adam())
        X, y = spiral_data(50, 3)
        model.train(X, y, epochs=3, batch_size=64, verbose=False)
        output = model.forward(model.backend.asfloat(X), training=True)
    tensors = [output, *(array for layer in model.trainable_layers for array in vars(layer).values()
                         if isinstance(array, torch.Tensor))]
    assert len(tensors) > 8
    assert not any(tensor.requires_grad or tensor.grad_fn is not None for tensor in tensors)


def test_dropout_masks_come_from_torchs_generator_unless_host_rng():
    backend = create_backend("torch")
    torch.manual_seed(7)
    first = host(backend.dropout_mask((50, 40), 0.5))
    torch.manual_seed(7)
    np.testing.assert_array_equal(host(backend.dropout_mask((50, 40), 0.5)), first)
    np.random.seed(7)
    book = np.random.binomial(1, 0.5, size=(50, 40)) / 0.5
    np.random.seed(7)
    np.testing.assert_array_equal(host(backend.dropout_mask((50, 40), 0.5, host_rng=True)), book.astype(np.float32))


def test_float64_training_agrees_with_numpy_to_1e_9():
    """A whole run in float64 (Adam, 30 epochs in batches, the book's dropout draw): torch's MKL and
    NumPy's OpenBLAS round differently, but float64 leaves the runs within 1e-9 of each other."""
    results = {}
    for name in ("numpy", "torch"):
        with nnfs_gpu.use_backend(name, dtype="float64"):
            np.random.seed(3)
            X, y = spiral_data(60, 3)
            model = classifier(Dense(2, 32), ReLU(), Dropout(0.1, host_rng=True), Dense(32, 3), Softmax())
            model.train(X, y, epochs=30, batch_size=64, verbose=False)
            results[name] = [host(array) for layer in model.trainable_layers for array in (layer.weights, layer.biases)]
            results[name].append(host(model.predict(X)))
    for ours, numpys in zip(results["torch"], results["numpy"]):
        np.testing.assert_allclose(ours, numpys, rtol=1e-9, atol=1e-12)


def test_the_command_line_trains_on_torch(run):
    from cli_support import succeeded

    lines = succeeded(run("train", "--backend", "torch", "--device", "cpu", "--epochs", "2", "--save", "m.model"))
    assert any(line.startswith("trained 2 epochs") for line in lines)
    with nnfs_gpu.use_backend("numpy"):
        assert nnfs_gpu.Model.load("m.model").backend.name == "numpy"


def test_auto_warns_when_a_gpu_build_of_torch_reaches_no_gpu(monkeypatch, fresh_selection, caplog):
    """A torch wheel other than '+cpu' was installed for a GPU: 'auto' says at WARNING that none is usable."""
    import importlib.metadata
    import logging

    from test_backends import hide_cupy

    if any(TorchBackend.unavailable_reason(device) is None for device in ("cuda", "mps")):
        pytest.skip("this machine has a GPU for torch")
    hide_cupy(monkeypatch)
    real_version = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "2.13.0" if name == "torch" else real_version(name))
    with caplog.at_level(logging.INFO, logger="nnfs_gpu"):
        assert nnfs_gpu.set_backend("auto").name == "numpy"
    (record,) = caplog.records
    assert record.levelno == logging.WARNING and "no GPU for torch" in record.getMessage()


def test_a_model_moves_to_a_torch_device_and_back():
    with nnfs_gpu.use_backend("numpy"):
        np.random.seed(0)
        model = classifier(Dense(2, 8), ReLU(), Dense(8, 3), Softmax())
        X, y = spiral_data(20, 3)
        model.train(X, y, epochs=2, verbose=False)
        before = host(model.predict(X))
    model.to("torch", device="cpu")
    assert all(layer.weights.device == torch.device("cpu") for layer in model.trainable_layers)
    assert model.backend.name == "torch"
    assert_reordered(model.predict(X), before)  # MKL's GEMMs: support.REROUNDING_BACKENDS
    model.to("numpy")
    assert model.backend.name == "numpy"
    np.testing.assert_array_equal(host(model.predict(X)), before)  # the very parameters came back


class StandInEvent:
    """An event that says it has not happened until it is waited for."""

    def __init__(self) -> None:
        self.done = False

    def query(self) -> bool:
        return self.done

    def synchronize(self) -> None:
        self.done = True


def test_numbers_read_behind_an_event_come_as_numpy_scalars_once_it_has_happened():
    from nnfs_gpu.backends.torch_backend import EventReadback

    event = StandInEvent()
    slots = [torch.tensor(2.5), None, torch.tensor(7, dtype=torch.int64)]
    readback = EventReadback([None, 0.25, None], slots, event)
    assert not readback.ready()
    values = readback.values()
    assert event.done and readback.ready()
    assert values == [2.5, 0.25, 7] and [type(value) for value in values] == [np.float32, float, np.int64]


def test_read_later_copies_behind_an_event_on_a_device_with_a_queue(monkeypatch):
    """The queued path, on torch's CPU device made to count as queued (torch.cpu has an event and a
    stream, as torch.cuda and torch.xpu have): 0-d tensors are copied into host slots, other values
    pass as they are; a non-scalar among them takes the generic read."""
    from nnfs_gpu.backends import torch_backend

    backend = create_backend("torch")
    monkeypatch.setattr(torch_backend, "QUEUED_DEVICES", ("cpu",))
    loss, right = backend.asfloat(np.float32(1.5)), backend.asarray(np.int64(42))
    readback = backend.read_later([loss, 0.0, right])
    assert isinstance(readback, torch_backend.EventReadback)
    loss.fill_(9.0)  # the copies were taken when asked for
    assert readback.values() == [1.5, 0.0, 42] and readback.ready()
    assert not isinstance(backend.read_later([backend.zeros((2,))]), torch_backend.EventReadback)


def test_the_command_lines_seed_makes_torchs_dropout_repeat(run):
    """--seed seeds torch's generator too, which draws the dropout masks on the torch backend."""
    from cli_support import succeeded

    import re

    runs = [[re.sub(r"\d+\.\d+ s\b", "", line)  # the times differ
             for line in succeeded(run("train", "--backend", "torch", "--dropout", "0.3", "--epochs", "3", "--seed", "5",
                                       "--print-every", "1"))] for _ in range(2)]
    assert runs[0] == runs[1] and len(runs[0]) > 6
