"""CuPy on a CUDA GPU. CuPy is imported only when this backend is asked for."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Backend
from .cupy_kernels import FUSED_DTYPES, kernel

INSTALL_HINT = "pip install 'nnfs_gpu[cuda13]' (or 'nnfs_gpu[cuda12]' for a CUDA 12 driver)"


class CupyBackend(Backend):
    name = "cupy"
    array_library = "cupy"
    supports_views = True

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

    def dot(self, a: Any, b: Any, out: Any = None) -> Any:
        if out is not None and out.dtype == a.dtype == b.dtype and out.flags.c_contiguous:
            import cupy

            return cupy.matmul(a, b, out=out)
        return super().dot(a, b, out)

    def sum_rows(self, x: Any, out: Any = None) -> Any:
        import cupy

        return cupy.sum(x, axis=0, keepdims=True, out=out)

    # -- fused kernels (cupy_kernels.py), with the generic code for other dtypes ------------------

    def _fusable(self, *arrays: Any) -> bool:
        dtypes = {str(array.dtype) for array in arrays}
        return len(dtypes) == 1 and dtypes <= set(FUSED_DTYPES)

    def relu_backward(self, dvalues: Any, inputs: Any, out: Any = None) -> Any:
        if not self._fusable(dvalues, inputs):
            return super().relu_backward(dvalues, inputs, out)
        outputs = () if out is None else (out,)  # an ElementwiseKernel allocates outputs left out
        return kernel("relu_backward")(dvalues, inputs, *outputs)

    def softmax_cce_backward(self, softmax_output: Any, labels: Any, out: Any = None) -> Any:
        if not self._fusable(softmax_output):
            return super().softmax_cce_backward(softmax_output, labels, out)
        import cupy

        samples, classes = softmax_output.shape
        dinputs = cupy.empty_like(softmax_output) if out is None else out
        scalar = softmax_output.dtype.type
        return kernel("softmax_cce_backward")(softmax_output, labels, classes, scalar(samples), dinputs)

    def sgd_update(self, param: Any, grad: Any, learning_rate: float) -> None:
        if not self._fusable(param, grad):
            return super().sgd_update(param, grad, learning_rate)
        kernel("sgd_update")(grad, param.dtype.type(learning_rate), param)

    def momentum_update(self, param: Any, grad: Any, momentums: Any, learning_rate: float, momentum: float) -> None:
        if not self._fusable(param, grad, momentums):
            return super().momentum_update(param, grad, momentums, learning_rate, momentum)
        scalar = param.dtype.type
        kernel("momentum_update")(grad, scalar(learning_rate), scalar(momentum), param, momentums)

    def adagrad_update(self, param: Any, grad: Any, cache: Any, learning_rate: float, epsilon: float) -> None:
        if not self._fusable(param, grad, cache):
            return super().adagrad_update(param, grad, cache, learning_rate, epsilon)
        scalar = param.dtype.type
        kernel("adagrad_update")(grad, scalar(learning_rate), scalar(epsilon), param, cache)

    def rmsprop_update(self, param: Any, grad: Any, cache: Any, learning_rate: float, rho: float, epsilon: float) -> None:
        if not self._fusable(param, grad, cache):
            return super().rmsprop_update(param, grad, cache, learning_rate, rho, epsilon)
        scalar = param.dtype.type
        kernel("rmsprop_update")(grad, scalar(learning_rate), scalar(rho), scalar(1 - rho), scalar(epsilon), param, cache)

    def adam_update(self, param: Any, grad: Any, momentums: Any, cache: Any, learning_rate: float, beta_1: float,
                    beta_2: float, epsilon: float, step: int) -> None:
        if not self._fusable(param, grad, momentums, cache):
            return super().adam_update(param, grad, momentums, cache, learning_rate, beta_1, beta_2, epsilon, step)
        scalar = param.dtype.type
        kernel("adam_update")(
            grad, scalar(learning_rate), scalar(beta_1), scalar(1 - beta_1), scalar(beta_2), scalar(1 - beta_2),
            scalar(epsilon), scalar(1 - beta_1**step), scalar(1 - beta_2**step), param, momentums, cache,
        )
