"""CuPy on a CUDA GPU. CuPy is imported only when this backend is asked for."""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

from .base import CLIP, Backend, Readback
from .cupy_kernels import FUSED_DTYPES, KERNELS, LABEL_DTYPES, kernel

INSTALL_HINT = "pip install 'nnfs_gpu[cuda13]' (or 'nnfs_gpu[cuda12]' for a CUDA 12 driver)"


class PinnedReadback(Readback):
    """Numbers on their way into pinned host memory: an event recorded after their copies says
    when they have arrived, so ``ready`` never waits and ``values`` waits only if they have not."""

    def __init__(self, values: list[Any], slots: list[np.ndarray | None], event: Any) -> None:
        super().__init__(values)
        self._slots, self._event = slots, event

    def ready(self) -> bool:
        return self._event.done

    def values(self) -> list[Any]:
        if not self._event.done:
            self._event.synchronize()
        return [value if slot is None else slot[()] for value, slot in zip(self._values, self._slots)]


class CupyBackend(Backend):
    name = "cupy"
    array_library = "cupy"
    supports_views = True

    def __init__(self, dtype: str = "float32", precision: str | None = None, device: Any = None) -> None:
        super().__init__(dtype, precision, device)
        # readbacks whose copies may still be running: their pinned buffers must not go back to
        # CuPy's pool (which stages host-to-device copies in it) before the copies are done
        self._in_flight: collections.deque[PinnedReadback] = collections.deque()

    @classmethod
    def unavailable_reason(cls, device: Any = None) -> str | None:
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

    def _select_device(self, device: Any) -> Any:
        """CuPy's current device, by itself, its number, 'cuda' or 'cuda:<number>'; CuPy works on
        the current device, so another one is chosen with ``cupy.cuda.Device(n).use()`` first."""
        current = self._default_device()
        if device == "cuda" or device in (current.id, f"cuda:{current.id}"):
            device = None
        return super()._select_device(device)

    def owns(self, array: Any) -> bool:
        return super().owns(array) and array.device == self.device

    @classmethod
    def to_numpy(cls, array: Any) -> np.ndarray:
        import cupy

        return cupy.asnumpy(array)

    def synchronize(self) -> None:
        import cupy

        cupy.cuda.get_current_stream().synchronize()

    def read_later(self, values: list[Any]) -> Readback:
        """Copies the 0-d device arrays among ``values`` asynchronously, on the current stream, into
        pinned host memory, and records an event after them: nothing waits for the device here."""
        on_device = [self.owns(value) for value in values]
        if not any(on_device) or any(mine and value.ndim != 0 for mine, value in zip(on_device, values)):
            return super().read_later(values)
        import cupy
        import cupyx

        while self._in_flight and self._in_flight[0].ready():
            self._in_flight.popleft()
        slots = [cupyx.empty_pinned((), value.dtype) if mine else None for mine, value in zip(on_device, values)]
        for value, slot in zip(values, slots):
            if slot is not None:
                value.get(out=slot, blocking=False)
        event = cupy.cuda.Event(disable_timing=True)
        event.record()
        readback = PinnedReadback(values, slots, event)
        self._in_flight.append(readback)
        return readback

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

    def _rows_fusable(self, x: Any, out: Any, *others: Any) -> bool:
        """Whether a kernel over the rows of the matrix ``x`` (into ``out``) takes these arrays."""
        return (x.ndim == 2 and x.size > 0 and self._fusable(x, *others, *(() if out is None else (out,)))
                and (out is None or out.shape == x.shape))

    def _is_bias_row(self, biases: Any, x: Any) -> bool:
        return biases.shape == (1, x.shape[1])

    def _out_like(self, x: Any, out: Any) -> Any:
        import cupy

        return cupy.empty_like(x) if out is None else out

    def bias_relu(self, z: Any, biases: Any, out: Any = None) -> Any:
        if not (self._rows_fusable(z, out, biases) and self._is_bias_row(biases, z)):
            return super().bias_relu(z, biases, out)
        return kernel("bias_relu")(biases, z, self._out_like(z, out))[1]

    def softmax(self, x: Any, out: Any = None) -> Any:
        if not self._rows_fusable(x, out):
            return super().softmax(x, out)
        outputs = self._out_like(x, out)
        kernel("softmax")(x, x.shape[1], outputs, size=x.shape[0])
        return outputs

    def bias_softmax(self, z: Any, biases: Any, out: Any = None) -> Any:
        if not (self._rows_fusable(z, out, biases) and self._is_bias_row(biases, z)):
            return super().bias_softmax(z, biases, out)
        outputs = self._out_like(z, out)
        kernel("bias_softmax")(biases, z.shape[1], z, outputs, size=z.shape[0])
        return outputs

    def crossentropy_sum(self, probabilities: Any, labels: Any, total: Any = None) -> tuple[Any, Any]:
        if not self._block_sum_fusable(probabilities, labels, total, probabilities.dtype):
            return super().crossentropy_sum(probabilities, labels, total)
        scalar = probabilities.dtype.type
        return self._block_sum("crossentropy_sum", probabilities, labels, total, probabilities.dtype,
                               scalar(CLIP), scalar(1 - CLIP))

    def argmax_matches(self, outputs: Any, labels: Any, total: Any = None) -> tuple[Any, Any]:
        if not self._block_sum_fusable(outputs, labels, total, np.dtype(np.int64)):
            return super().argmax_matches(outputs, labels, total)
        return self._block_sum("argmax_matches", outputs, labels, total, np.dtype(np.int64))

    def _block_sum_fusable(self, outputs: Any, labels: Any, total: Any, total_dtype: np.dtype) -> bool:
        """Whether a one-block sum over the rows of ``outputs`` with their ``labels`` takes them: the
        kernels read both as contiguous, and keep the running total in ``total_dtype``."""
        return (
            self.owns(outputs) and self._rows_fusable(outputs, None) and outputs.flags.c_contiguous
            and self.owns(labels) and labels.ndim == 1 and labels.shape[0] == outputs.shape[0]
            and labels.flags.c_contiguous and labels.dtype.name in LABEL_DTYPES
            and (total is None or (self.owns(total) and total.ndim == 0 and total.dtype == total_dtype))
        )

    def _block_sum(self, name: str, outputs: Any, labels: Any, total: Any, total_dtype: np.dtype,
                   *scalars: Any) -> tuple[Any, Any]:
        """The one-block kernel ``name``: the batch's sum, and the running ``total`` updated in place
        (a new one for the first batch, so that the first batch's sum stays what it is)."""
        import cupy

        batch = cupy.empty((), dtype=total_dtype)
        running = total is not None
        total = total if running else cupy.empty((), dtype=total_dtype)
        rows, classes = outputs.shape
        source = KERNELS[name]
        kernel(name, T=outputs.dtype.name, L=labels.dtype.name)(
            (1,), (source.threads,),
            (outputs, labels, *scalars, np.int64(rows), np.int64(classes), np.bool_(running), batch, total),
        )
        return batch, total

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
