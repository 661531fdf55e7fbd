"""NumPy on the CPU: the reference backend."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend


class NumpyBackend(Backend):
    name = "numpy"
    array_library = "numpy"

    def _load_namespace(self) -> Any:
        import array_api_compat.numpy

        return array_api_compat.numpy

    def _default_device(self) -> Any:
        return "cpu"

    def describe(self) -> str:
        return f"NumPy {np.__version__} on the CPU, {self.dtype_name}"
