"""``nnfs-gpu info``: what decides where the library runs (versions, each backend's status, the GPUs)."""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import nnfs_gpu
from nnfs_gpu.backends import ENV_VAR, chosen_name, requested_name
from nnfs_gpu.cli.options import one_line


def add_parser(commands: Any) -> None:
    info = commands.add_parser("info", help="versions, backends and GPUs of this machine")
    info.set_defaults(run=info_command)


def info_command(args: argparse.Namespace) -> int:
    print(f"nnfs_gpu: {nnfs_gpu.__version__} ({Path(nnfs_gpu.__file__).parent})")
    print(f"python: {platform.python_version()} ({sys.executable})")
    print(f"numpy: {np.__version__}")
    print(f"array-api-strict: {_module_version('array_api_strict')}")
    print(f"matplotlib: {_module_version('matplotlib')} (for --plot)")
    cupy = import_cupy()
    print(f"cupy: {cupy.__version__ if cupy else _module_version('cupy')}")
    if cupy is not None:
        print(f"cuda runtime: {_cuda_version(cupy.cuda.runtime.runtimeGetVersion)}")
        print(f"cuda driver: {_cuda_version(cupy.cuda.runtime.driverGetVersion)}")
    torch = import_module("torch")
    print(f"torch: {torch.__version__ if torch else _module_version('torch')}")
    if torch is not None:
        print(f"torch devices: {', '.join(torch_devices(torch))}")
    statuses = nnfs_gpu.available_backends()
    print("backends:")
    for name, status in statuses.items():
        print(f"  {name}: {'usable' if status.available else 'not usable: ' + str(status.reason)}")
    requested = requested_name()
    chosen = f"(chooses {chosen_name()})" if requested == "auto" else f"(from {ENV_VAR})"
    print(f"default backend: {requested} {chosen}")
    if cupy is not None and statuses["cupy"].available:
        for index in range(cupy.cuda.runtime.getDeviceCount()):
            print(_gpu_line(cupy, index))
    return 0


def import_cupy() -> Any:
    """CuPy, or None when it is not installed or fails to import."""
    return import_module("cupy")


def import_module(name: str) -> Any:
    """The module ``name``, or None when it is not installed or fails to import."""
    try:
        return __import__(name)
    except Exception:
        return None


def torch_devices(torch: Any) -> list[str]:
    """The devices the torch backend can run on here (``set_backend('torch', device=...)``), each
    accelerator with its name, or why torch cannot use it."""
    from nnfs_gpu.backends.torch_backend import TorchBackend

    devices = ["cpu"]
    for kind in ("cuda", "mps", "xpu"):
        reason = TorchBackend.unavailable_reason(kind)
        if reason is not None:
            devices.append(f"{kind} (not usable: {reason.split(';')[0]})")
            continue
        count = torch.mps.device_count() if kind == "mps" else getattr(torch, kind).device_count()
        for index in range(count):
            name = getattr(torch, kind).get_device_name(index) if kind != "mps" else "Apple GPU"
            devices.append(f"{kind}:{index} ({name})")
    return devices


def _module_version(module: str) -> str:
    """A module's version, 'not installed', or why it failed to import."""
    try:
        return __import__(module).__version__
    except ImportError:
        return "not installed"
    except Exception as error:  # a broken install: say so instead of failing
        return f"fails to import ({one_line(error)})"


def _cuda_version(read: Callable[[], int]) -> str:
    """CUDA's integer version (13020) as 13.2; 0 means no driver."""
    try:
        version = read()
    except Exception as error:  # no CUDA libraries or driver: report, do not fail
        return f"unavailable ({one_line(error)})"
    if version == 0:
        return "none (no NVIDIA driver found)"
    return f"{version // 1000}.{version % 1000 // 10}"


def _gpu_line(cupy: Any, index: int) -> str:
    """A CUDA device's name and memory, or why they cannot be read."""
    try:
        properties = cupy.cuda.runtime.getDeviceProperties(index)
        with cupy.cuda.Device(index):
            free, total = cupy.cuda.runtime.memGetInfo()
    except Exception as error:  # a device that fails now: report it, do not fail
        return f"gpu {index}: unavailable ({one_line(error)})"
    name = properties["name"].decode() if isinstance(properties["name"], bytes) else str(properties["name"])
    return f"gpu {index}: {name}, {total / 2**30:.1f} GiB memory ({free / 2**30:.1f} GiB free)"
