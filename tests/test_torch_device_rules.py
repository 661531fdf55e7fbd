"""What a GPU demands of the torch backend, proven on the CPU with torch's dispatch modes, which
see every operation torch runs:

- MPS has no float64: float32 training (every optimizer, dropout, the classifier, binary and
  regression heads, evaluate, predict, save and load) runs under a mode that refuses any float64
  tensor, as MPS does; float64 data is cast on the host, with NumPy, before it moves;
- no value is read back inside a training step: whole quiet runs on torch's ``meta`` device (no
  data, no host) under a mode that records every read of a value (``.item()``, ``float()``: the op
  ``_local_scalar_dense``), every copy from the device to the host and every operation that mixes
  a CPU tensor with a device tensor, marking those of ``TrainingRun.step``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import SGD, Adagrad, Adam, Dense, Dropout, Linear, Model, ReLU, RMSprop, Sigmoid, Softmax
from nnfs_gpu.backends import create_backend
from nnfs_gpu.datasets import sine_data, spiral_data
from support import classifier

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'nnfs_gpu[test]')")
from torch.utils import _pytree as pytree  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

from launch_workloads import WORKLOADS, marking_steps  # noqa: E402

pytestmark = pytest.mark.torch


def tensors_of(*values: Any) -> list[Any]:
    return [leaf for leaf in pytree.tree_leaves(values) if isinstance(leaf, torch.Tensor)]


class RefusesFloat64(TorchDispatchMode):
    """Refuses every operation that takes, asks for or makes a float64 tensor, as MPS does."""

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if kwargs.get("dtype") == torch.float64 or any(t.dtype == torch.float64 for t in tensors_of(args, kwargs)):
            raise TypeError(f"{func}: float64 on a device without float64 (MPS)")
        result = func(*args, **kwargs)
        if any(t.dtype == torch.float64 for t in tensors_of(result)):
            raise TypeError(f"{func} made a float64 tensor on a device without float64 (MPS)")
        return result


def test_the_mode_refuses_float64_as_mps_does():
    backend = create_backend("torch")
    with RefusesFloat64(), pytest.raises(TypeError, match="float64"):
        backend.xp.astype(backend.asarray(np.ones(3)), backend.dtype)  # moved as float64, cast on the device


HEADS = {
    "categorical": lambda: (classifier(Dense(2, 16), ReLU(), Dropout(0.1), Dense(16, 3), Softmax()), spiral_data(40, 3)),
    "binary": lambda: (_model([Dense(2, 16), ReLU(), Dropout(0.1, host_rng=True), Dense(16, 1), Sigmoid()],
                              nnfs_gpu.BinaryCrossentropy(), nnfs_gpu.Categorical(binary=True)), _binary_data()),
    "regression": lambda: (_model([Dense(1, 16), ReLU(), Dense(16, 1), Linear()], nnfs_gpu.MeanSquaredError(),
                                  nnfs_gpu.Regression()), sine_data(100)),
}
OPTIMIZERS = {"sgd": SGD, "momentum": lambda: SGD(momentum=0.9), "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam}


def _model(layers: list[Any], loss: Any, accuracy: Any) -> Model:
    model = Model()
    for layer in layers:
        model.add(layer)
    model.set(loss=loss, optimizer=Adam(), accuracy=accuracy)
    model.finalize()
    return model


def _binary_data() -> tuple[np.ndarray, np.ndarray]:
    X, y = spiral_data(40, 2)
    return X, y.reshape(-1, 1).astype(np.float64)  # float64 targets, as the book reshapes them


@pytest.mark.parametrize("head, optimizer", [*(("categorical", name) for name in OPTIMIZERS),
                                             ("binary", "adam"), ("regression", "adam")])
def test_float32_training_never_makes_a_float64_tensor(tmp_path, head, optimizer):
    """Data and targets are float64 (spiral_data, sine_data, the binary targets): each is cast on
    the host before it moves; the regression accuracy's scale is computed on the host."""
    with nnfs_gpu.use_backend("torch"):
        np.random.seed(0)
        torch.manual_seed(0)
        model, (X, y) = HEADS[head]()
        model.optimizer = OPTIMIZERS[optimizer]()
        with RefusesFloat64():
            model.train(X, y, epochs=3, batch_size=32, validation_data=(X, y), verbose=False)
            model.evaluate(X, y, verbose=False)
            predictions = model.predict(X, batch_size=50)
            model.save(tmp_path / "m.model")
            loaded = Model.load(tmp_path / "m.model")
            np.testing.assert_array_equal(nnfs_gpu.to_numpy(loaded.predict(X, batch_size=50)), nnfs_gpu.to_numpy(predictions))
            loaded.train(X, y, epochs=1, batch_size=32, verbose=False)


# -- no value read back inside a step -------------------------------------------------------------


class RecordsHostTraffic(TorchDispatchMode):
    """Records reads of a value, device-to-host copies and operations mixing a CPU tensor with a
    device tensor, each with whether a training step was running and whether it came through
    ``Backend.read_later`` (the one way numbers leave the device, asynchronously on a device with a
    queue: its copies are checked on a GPU). A read on the ``meta`` device gives 0 and a copy gives
    zeros, so that a whole run goes on."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, str, bool, bool]] = []
        self.in_step = self.in_read_later = False

    def _record(self, kind: str, func: Any) -> None:
        self.events.append((kind, str(func), self.in_step, self.in_read_later))

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        tensors = tensors_of(args, kwargs)
        if len({t.device for t in tensors}) > 1:
            self._record("mixed devices", func)
        if func is torch.ops.aten._local_scalar_dense.default:
            self._record("read", func)
            return 0
        if func is torch.ops.aten._to_copy.default and torch.device(kwargs.get("device") or args[0].device).type == "cpu" \
                and args[0].device.type != "cpu":
            self._record("copy to host", func)
            return torch.zeros(args[0].shape, dtype=kwargs.get("dtype") or args[0].dtype)
        return func(*args, **kwargs)

    @contextlib.contextmanager
    def flag(self, name: str) -> Any:
        setattr(self, name, True)
        try:
            yield
        finally:
            setattr(self, name, False)

    def in_step_outside_read_later(self) -> list[tuple[str, str]]:
        return [(kind, func) for kind, func, in_step, in_read_later in self.events if in_step and not in_read_later]


def quiet_run_on_meta(workload: str, epochs: int, monkeypatch: Any) -> RecordsHostTraffic:
    """A quiet training run of ``workload`` (launch_workloads) on the meta device, recorded."""
    recorder = RecordsHostTraffic()
    with nnfs_gpu.use_backend("torch", device="meta") as backend:
        read_later = backend.read_later

        def marked_read_later(values: list[Any]) -> Any:
            with recorder.flag("in_read_later"):
                return read_later(values)

        monkeypatch.setattr(backend, "read_later", marked_read_later)
        np.random.seed(0)
        model, X, y, batch = WORKLOADS[workload]()
        with recorder, marking_steps(lambda: recorder.flag("in_step")):
            model.train(X, y, epochs=epochs, batch_size=batch, verbose=False)
    return recorder


@pytest.mark.parametrize("workload", WORKLOADS)
def test_a_quiet_step_reads_nothing_back_and_mixes_no_devices(monkeypatch, workload):
    """20 steps, so the divergence watch's checks (every 8 steps) run too; the run's end reads its
    totals (outside any step)."""
    recorder = quiet_run_on_meta(workload, 20 if workload == "W1" else 10, monkeypatch)
    assert recorder.in_step_outside_read_later() == []
    assert any(kind == "copy to host" and not in_step for kind, _, in_step, _ in recorder.events)  # it records


def test_a_loss_read_inside_the_step_is_caught(monkeypatch):
    """Planted: the loss's batch sum read with float() as soon as it is computed."""
    loss_class = nnfs_gpu.CategoricalCrossentropy
    accumulate = loss_class.accumulate

    def reading(self: Any, *args: Any, **kwargs: Any) -> Any:
        batch = accumulate(self, *args, **kwargs)
        float(batch)
        return batch

    monkeypatch.setattr(loss_class, "accumulate", reading)
    assert ("read", "aten._local_scalar_dense.default") in quiet_run_on_meta("W1", 2, monkeypatch).in_step_outside_read_later()


def test_a_cpu_tensor_meeting_a_device_tensor_is_caught(monkeypatch):
    """Planted: a bias gradient as a product with a row of ones made on the CPU."""
    from nnfs_gpu.backends.torch_backend import TorchBackend

    def sum_rows(self: Any, x: Any, out: Any = None) -> Any:
        return self._write(out, torch.ones((1, x.shape[0]), dtype=x.dtype) @ x)

    monkeypatch.setattr(TorchBackend, "sum_rows", sum_rows)
    kinds = {kind for kind, _ in quiet_run_on_meta("W1", 2, monkeypatch).in_step_outside_read_later()}
    assert "mixed devices" in kinds
