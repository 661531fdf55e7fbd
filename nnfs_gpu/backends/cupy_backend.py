"""CuPy on a CUDA GPU. CuPy is imported only when this backend is asked for."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend

INSTALL_HINT = "pip install 'nnfs_gpu[cuda13]' (or 'nnfs_gpu[cuda12]' for a CUDA 12 driver)"


class CupyBackend(Backend):
    name = "cupy"
    array_library = "cupy"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            import cupy
        except ImportError:
            return f"CuPy is not installed; {INSTALL_HINT}"
        except Exception as error:  # a broken CuPy install must not break importing the library
            return f"CuPy failed to import ({error}); reinstall it with {INSTALL_HINT}"
        try:
            usable = cupy.cuda.is_available()
        except Exception:  # CuPy < 14 could raise here; v14 returns False instead
            usable = False
        if not usable:
            return (
                "CuPy is installed but no CUDA device was found (no NVIDIA GPU, no driver, or "
                "CUDA_VISIBLE_DEVICES hides it); use the 'numpy' backend on this machine"
            )
        return None

    def _load_namespace(self) -> Any:
        import array_api_compat.cupy

        return array_api_compat.cupy

    def _default_device(self) -> Any:
        import cupy

        return cupy.cuda.Device()

    def owns(self, array: Any) -> bool:
        return super().owns(array) and array.device == self.device

    @classmethod
    def to_numpy(cls, array: Any) -> np.ndarray:
        import cupy

        return cupy.asnumpy(array)

    def synchronize(self) -> None:
        import cupy

        cupy.cuda.get_current_stream().synchronize()

    def describe(self) -> str:
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(self.device.id)
        name = props["name"]
        name = name.decode() if isinstance(name, bytes) else str(name)
        return f"{name} (GPU {self.device.id}), {self.dtype_name}"

    def dropout_mask(self, shape: tuple[int, ...], keep_probability: float, host_rng: bool = False) -> Any:
        """Draws on the device (CuPy's RNG; no host transfer) unless ``host_rng`` asks for the book's draw."""
        if host_rng:
            return super().dropout_mask(shape, keep_probability, host_rng)
        import cupy

        keep = cupy.random.random_sample(shape, dtype=self.dtype) < keep_probability
        return keep.astype(self.dtype) / keep_probability
