"""PyTorch on any of its devices (CPU, CUDA or ROCm, Apple's MPS, Intel's XPU). Torch is imported
only when this backend is asked for.

The generic code runs on ``array_api_compat.torch``; torch's own kernels are the device code. No
tensor ever requires a gradient, so autograd records nothing (the framework computes its own
gradients). ``'cuda'`` and ``'cuda:0'`` name one device: a device without an index is the
current one of its kind, so arrays compare equal by device whichever name created them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Readback, array_origin
from .dlpack import detached
from .torch_ops import TorchOps

INSTALL_HINT = "pip install torch (a CUDA, ROCm or XPU build from https://pytorch.org/get-started for a GPU)"
#: device kinds with a queue of their own, whose numbers are read back behind an event
QUEUED_DEVICES = ("cuda", "xpu", "mps")
#: device kinds whose host copies go through pinned (page-locked) memory; MPS shares its memory
PINNED_DEVICES = ("cuda", "xpu")
#: the accelerators torch knows and this machine may lack, with why one may be missing
ACCELERATORS = {
    "cuda": "no CUDA or ROCm device was found (no NVIDIA/AMD GPU, no driver, or CUDA_VISIBLE_DEVICES hides it)",
    "mps": "MPS (Apple's GPU) needs an Apple-silicon Mac with macOS 12.3 or later and torch's macOS build",
    "xpu": "no Intel XPU was found (it needs an Intel GPU, its driver, and torch's XPU build)",
}


def _import_torch() -> Any:
    import torch

    return torch


def _device_reason(torch: Any, device: Any) -> str | None:
    """Why torch cannot run on ``device`` here (None when it can); ``device`` is a ``torch.device``."""
    kind = device.type
    if kind in ("cpu", "meta"):
        return None
    if kind not in ACCELERATORS:
        return f"the torch backend does not support device '{device}' (use cpu, cuda, mps or xpu)"
    module = getattr(torch, kind, None) if kind != "mps" else torch.backends.mps
    if module is None or not module.is_available():
        build = f"torch {torch.__version__}"
        if kind == "cuda" and torch.version.cuda is None and torch.version.hip is None:
            return f"{build} is a CPU-only build; install a CUDA one (see https://pytorch.org/get-started)"
        return f"{ACCELERATORS[kind]}; {build} cannot use '{device}' on this machine"
    count = torch.mps.device_count() if kind == "mps" else module.device_count()
    if device.index is not None and device.index >= count:
        return f"'{device}' was asked for but this machine has {count} {kind} device(s), numbered from 0"
    return None


def normalized_device(torch: Any, device: Any) -> Any:
    """``device`` as a ``torch.device`` with its index: the current one of its kind when it has none
    (the CPU is one device whatever index it is given: torch's CPU tensors report plain 'cpu')."""
    device = torch.device("cpu" if device is None else device)
    if device.type == "cpu":
        return torch.device("cpu")
    if device.index is None and device.type in QUEUED_DEVICES:
        index = 0 if device.type == "mps" else getattr(torch, device.type).current_device()
        device = torch.device(device.type, index)
    return device


def event_after_queued_work(torch: Any, device: Any) -> Any:
    """An event recorded on ``device``'s current queue (stream), after the work queued there so far."""
    if device.type == "mps":
        event = torch.mps.event.Event()
        event.record()
        return event
    module = getattr(torch, device.type)  # torch.cuda (also ROCm) or torch.xpu
    event = module.Event()
    event.record(module.current_stream(device))
    return event


class EventReadback(Readback):
    """Numbers on their way into host memory behind an event recorded after their copies: ``ready``
    never waits, ``values`` waits only if they have not arrived."""

    def __init__(self, values: list[Any], slots: list[Any], event: Any) -> None:
        super().__init__(values)
        self._slots, self._event = slots, event

    def ready(self) -> bool:
        return self._event.query()

    def values(self) -> list[Any]:
        self._event.synchronize()
        return [value if slot is None else slot.numpy()[()] for value, slot in zip(self._values, self._slots)]


class TorchBackend(TorchOps):
    """Torch on one of its devices, its fast paths from ``TorchOps``."""

    name = "torch"
    array_library = "torch"
    supports_views = True

    def __init__(self, dtype: str = "float32", precision: str | None = None, device: Any = None) -> None:
        super().__init__(dtype, precision, device)
        if self.device.type == "mps" and (self.dtype_name == "float64" or self.precision == "book"):
            asked = "dtype='float64'" if self.dtype_name == "float64" else "precision='book' (float64 products)"
            raise ValueError(
                f"{asked} cannot run on MPS: Apple's GPU has no float64 arithmetic; use dtype='float32' "
                f"with the default precision on 'mps', or device='cpu' for float64 and the book's precision"
            )

    @classmethod
    def unavailable_reason(cls, device: Any = None) -> str | None:
        try:
            torch = _import_torch()
        except ImportError:
            return f"PyTorch is not installed; {INSTALL_HINT}"
        except Exception as error:  # a broken install must not break importing the library
            return f"PyTorch failed to import ({error}); reinstall it: {INSTALL_HINT}"
        if device is None:
            return None
        try:
            return _device_reason(torch, torch.device(device))
        except (RuntimeError, TypeError, ValueError) as error:
            return f"{device!r} is not a torch device ({error}); use 'cpu', 'cuda', 'cuda:1', 'mps' or 'xpu'"

    def _load_namespace(self) -> Any:
        import array_api_compat.torch

        return array_api_compat.torch

    def _default_device(self) -> Any:
        return _import_torch().device("cpu")

    def _select_device(self, device: Any) -> Any:
        """Any device torch has here; one it lacks is refused with the reason (BackendUnavailableError)."""
        from .base import BackendUnavailableError

        reason = self.unavailable_reason("cpu" if device is None else device)
        if reason is not None:
            raise BackendUnavailableError(f"backend 'torch' cannot run on device {str(device)!r}: {reason}")
        return normalized_device(_import_torch(), device)

    def describe(self) -> str:
        torch = _import_torch()
        where = {"cpu": "the CPU", "meta": "the meta device (shapes only)"}.get(self.device.type, str(self.device))
        if self.device.type == "cuda":
            where = f"{torch.cuda.get_device_name(self.device)} ({self.device})"
        return f"PyTorch {torch.__version__} on {where}, {self.dtype_name}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.device} {self.dtype_name}, precision={self.precision}>"

    def owns(self, array: Any) -> bool:
        return array_origin(array) == self.array_library and array.device == self.device

    def asfloat(self, data: Any) -> Any:
        return super().asfloat(detached(data))

    def asarray(self, data: Any, dtype: Any = None) -> Any:
        """A host array with negative strides (a reversed view) is copied first: a torch tensor
        cannot hold one. A tensor that requires gradients is taken detached (the same memory):
        autograd must record nothing, and the framework updates arrays in place."""
        if isinstance(data, np.ndarray) and any(stride < 0 for stride in data.strides):
            data = np.ascontiguousarray(data)
        return super().asarray(detached(data), dtype)

    @classmethod
    def to_numpy(cls, array: Any) -> np.ndarray:
        if array_origin(array) != cls.array_library:
            return np.asarray(array)
        return array.detach().cpu().numpy()

    def synchronize(self) -> None:
        kind = self.device.type
        if kind == "mps":
            _import_torch().mps.synchronize()
        elif kind in QUEUED_DEVICES:
            getattr(_import_torch(), kind).synchronize(self.device)

    def read_later(self, values: list[Any]) -> Readback:
        """On a device with a queue, copies the 0-d tensors among ``values`` into (pinned) host memory
        without waiting and records an event after them; elsewhere they are read at once."""
        on_device = [self.owns(value) for value in values]
        if (self.device.type not in QUEUED_DEVICES or not any(on_device)
                or any(mine and value.ndim != 0 for mine, value in zip(on_device, values))):
            return super().read_later(values)
        torch = _import_torch()
        pinned = self.device.type in PINNED_DEVICES
        slots = [torch.empty((), dtype=value.dtype, pin_memory=pinned) if mine else None
                 for mine, value in zip(on_device, values)]
        for value, slot in zip(values, slots):
            if slot is not None:
                slot.copy_(value, non_blocking=True)
        return EventReadback(values, slots, event_after_queued_work(torch, self.device))

    def dropout_mask(self, shape: tuple[int, ...], keep_probability: float, host_rng: bool = False) -> Any:
        """Drawn on the device from torch's generator (``torch.manual_seed``) unless ``host_rng``
        asks for the book's draw on the host."""
        if host_rng:
            return super().dropout_mask(shape, keep_probability, host_rng)
        torch = _import_torch()
        keep = torch.rand(shape, dtype=self.dtype, device=self.device) < keep_probability
        return keep.to(self.dtype) / keep_probability
