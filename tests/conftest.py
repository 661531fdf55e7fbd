"""One backend fixture drives the suite: numpy and strict always, torch (on its CPU device) when
PyTorch is installed, cupy and torch on CUDA ('torch-cuda') when a CUDA device is usable."""

from __future__ import annotations

import os

# One BLAS thread for the suite and the programs it starts, unless the caller chose otherwise (set
# before NumPy loads OpenBLAS): on a busy two-core machine OpenBLAS's idle threads spin on the cores
# the other work needs, and make the suite's small products several times slower.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# The same for torch's OpenMP threads (read when torch loads): spinning on a busy machine, they make
# the torch backend's tests three times slower (`pytest -m torch` over test_parity, test_gradients,
# test_model, test_optimizers, test_serialization, test_backends, test_fast_paths on the project's
# busy 2-core machine: 5.9 s with one thread, 20 s with torch's default).
os.environ.setdefault("OMP_NUM_THREADS", "1")

from typing import Any

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import backends
from nnfs_gpu.backends.torch_backend import TorchBackend

#: the ``run`` fixture of the in-process command-line tests
pytest_plugins = ["cli_support"]

BACKEND_NAMES = ["numpy", "strict", pytest.param("torch", marks=pytest.mark.torch),
                 pytest.param("cupy", marks=pytest.mark.gpu),
                 pytest.param("torch-cuda", marks=[pytest.mark.torch, pytest.mark.gpu])]
#: backends whose library or device the test environment may lack: skipped (and counted) with the reason
OPTIONAL_BACKENDS = ("cupy", "torch", "torch-cuda")


class TorchOnCuda(TorchBackend):
    """The torch backend on CUDA, for the GPU check (``-m gpu`` runs it beside CuPy); its name is
    'torch', so the suite holds it to the torch backend's bounds, and to a GPU's where it asks ``on_gpu``."""

    @classmethod
    def unavailable_reason(cls, device: Any = None) -> str | None:
        return super().unavailable_reason(device or "cuda")

    def __init__(self, dtype: str = "float32", precision: str | None = None, device: Any = "cuda") -> None:
        super().__init__(dtype, precision, device)


#: backends this suite registers for itself, which a program it starts does not know
TEST_BACKENDS = {"torch-cuda": TorchOnCuda}
for _name, _factory in TEST_BACKENDS.items():
    nnfs_gpu.register_backend(_name, _factory)


@pytest.fixture(params=BACKEND_NAMES)
def backend_name(request: pytest.FixtureRequest) -> str:
    """A backend name; cupy and torch-cuda are skipped (and counted) without a GPU and torch without
    PyTorch, the others must be usable."""
    name = request.param
    reason = nnfs_gpu.available_backends()[name].reason
    if reason is not None:
        if name in OPTIONAL_BACKENDS:
            pytest.skip(reason)
        pytest.fail(f"backend {name!r} must be usable in the test environment: {reason}")
    return name


@pytest.fixture
def backend(backend_name: str):
    """The backend under test in float32 (the library's default)."""
    with nnfs_gpu.use_backend(backend_name) as current:
        yield current


@pytest.fixture
def backend64(backend_name: str):
    """The backend under test in float64, for finite-difference gradient checks."""
    with nnfs_gpu.use_backend(backend_name, dtype="float64") as current:
        yield current


@pytest.fixture
def fresh_selection():
    """Runs a test with no backend chosen yet, and restores the selection afterwards."""
    token = backends._current.set(None)
    saved, announced = backends._fallback, backends._announced
    backends._fallback, backends._announced = None, None
    try:
        yield
    finally:
        backends._current.reset(token)
        backends._fallback, backends._announced = saved, announced


@pytest.fixture
def small_spiral() -> tuple[np.ndarray, np.ndarray]:
    """60 samples of the spiral data in 3 classes, the same every time."""
    from nnfs_gpu.datasets import spiral_data

    np.random.seed(0)
    return spiral_data(20, 3)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
