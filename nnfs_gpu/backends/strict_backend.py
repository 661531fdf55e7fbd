"""array_api_strict on a fake non-CPU device: a stand-in that proves portability without a GPU.

Its arrays refuse implicit conversion to NumPy, NumPy scalars and everything outside the array API,
so code that passes here does not lean on NumPy-only idioms or silent host copies, the two things
that break on CuPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend, array_origin

FAKE_DEVICE = "device1"


class StrictBackend(Backend):
    name = "strict"
    array_library = "array_api_strict"

    @classmethod
    def unavailable_reason(cls, device: Any = None) -> str | None:
        try:
            import array_api_strict  # noqa: F401
        except ImportError:
            return "array-api-strict is not installed (pip install array-api-strict)"
        return None

    def _load_namespace(self) -> Any:
        import array_api_strict

        return array_api_strict

    def _default_device(self) -> Any:
        return self.xp.Device(FAKE_DEVICE)

    def _select_device(self, device: Any) -> Any:
        return super()._select_device(None if device == FAKE_DEVICE else device)

    def owns(self, array: Any) -> bool:
        return super().owns(array) and array.device == self.device

    def describe(self) -> str:
        return f"array_api_strict on fake device '{FAKE_DEVICE}', {self.dtype_name}"

    @classmethod
    def to_numpy(cls, array: Any) -> np.ndarray:
        if array_origin(array) != cls.array_library:
            return np.asarray(array)
        import array_api_strict

        return np.asarray(array.to_device(array_api_strict.__array_namespace_info__().default_device()))
