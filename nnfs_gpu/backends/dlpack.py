"""Arrays of other libraries, in and out, through DLPack (anything with ``__dlpack__``).

A producer on the CPU (a torch CPU tensor, a JAX CPU array, ...) is host data: it is read through
a read-only NumPy view of its memory, so the framework can neither copy it needlessly nor write
into it. A producer on a backend's own device is taken without a copy (``xp.from_dlpack``); one on
another device is refused, naming both devices (see ``Backend.asarray``).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

#: DLPack's device type of host memory
CPU = 1
#: the libraries of host data as NumPy takes it: NumPy's arrays and scalars, Python's numbers and lists
HOST_LIBRARIES = ("numpy", "builtins")
#: DLPack's device types, as people name them
DEVICE_TYPES = {1: "cpu", 2: "cuda", 3: "cuda_host", 4: "opencl", 7: "vulkan", 8: "metal", 9: "vpi", 10: "rocm",
                11: "rocm_host", 13: "cuda_managed", 14: "oneapi", 15: "webgpu", 16: "hexagon", 17: "maia"}


def dlpack_device(data: Any) -> tuple[int, int] | None:
    """Where a DLPack producer's memory is, as (device type, index); None for anything else."""
    if not hasattr(data, "__dlpack__") or not hasattr(data, "__dlpack_device__"):
        return None
    try:
        kind, index = data.__dlpack_device__()
    except Exception:  # a producer that cannot say where it is can be nothing but foreign
        return None
    return int(kind), int(index)


def on_stand_in_device(data: Any) -> bool:
    """Whether ``data`` is an array_api_strict array on one of its fake devices: they stand in for
    GPUs (the strict backend's), though DLPack reports their memory as the host's."""
    strict = sys.modules.get("array_api_strict")
    if strict is None or type(data).__module__.split(".")[0] != "array_api_strict":
        return False
    return data.device != strict.__array_namespace_info__().default_device()


def is_host_producer(data: Any) -> bool:
    """Whether ``data`` is a DLPack producer whose memory is the host's (a stand-in device aside)."""
    device = dlpack_device(data)
    return device is not None and device[0] == CPU and not on_stand_in_device(data)


def where_is(data: Any) -> str | None:
    """The device ``data`` is on as people name it ('cuda:1'), or None when it does not say."""
    if on_stand_in_device(data):
        return str(data.device)
    device = dlpack_device(data)
    if device is None:
        return None
    kind, index = device
    return f"{DEVICE_TYPES.get(kind, f'DLPack device type {kind}')}:{index}"


def detached(data: Any) -> Any:
    """``data`` apart from any autograd graph (a torch tensor that requires gradients, detached: the
    same memory), as DLPack and in-place updates need it; anything else as it is."""
    return data.detach() if getattr(data, "requires_grad", False) is True else data


def readable(data: Any) -> np.ndarray:
    """A host producer's memory as NumPy, without a copy; a dtype NumPy lacks (bfloat16, ...) is
    refused with the fix."""
    try:
        return np.from_dlpack(detached(data))
    except (BufferError, RuntimeError, TypeError) as error:
        raise TypeError(f"cannot read a {type(data).__name__} of dtype {getattr(data, 'dtype', '?')} as host data "
                        f"({error}); convert it to float32 or float64 first") from None


def host_view(data: Any) -> np.ndarray:
    """A host producer's memory as a read-only NumPy array, without a copy: inputs are never written."""
    view = readable(data).view()
    view.flags.writeable = False
    return view


def to_host(array: Any) -> np.ndarray:
    """Any array on the host as NumPy: host data as it is, a host producer's memory (shared, not
    copied), a device producer's copy (DLPack's copy to the CPU, where the producer offers one)."""
    if type(array).__module__.split(".")[0] in HOST_LIBRARIES:
        return np.asarray(array)
    device = dlpack_device(array)
    if device is None:
        return np.asarray(array)
    if device[0] == CPU:
        return readable(array)
    return np.from_dlpack(detached(array), device="cpu")
