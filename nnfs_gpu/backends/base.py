"""The interface every backend implements, with generic code written once against the array API.

A backend is a small object in the spirit of chainer's ``Device`` and thinc's ``Ops``: an array-API
namespace (``xp``), a device, a default float dtype, explicit host transfers, and a handful of hot
composite ops. Layers, losses and optimizers use only ``backend.xp`` and these ops, so one code path
runs on NumPy, CuPy and the strict stand-in. A backend overrides an op only to make it faster.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .dlpack import HOST_LIBRARIES, dlpack_device, host_view, is_host_producer, on_stand_in_device, readable, to_host, where_is

FLOAT_DTYPES = ("float32", "float64")
PRECISIONS = ("default", "book")
#: probabilities are clipped to [CLIP, 1 - CLIP] before a logarithm, as the book clips them
CLIP = 1e-7


class BackendUnavailableError(RuntimeError):
    """Raised when a backend is asked for on a machine that cannot run it; the message says the fix."""


class ForeignArrayError(TypeError):
    """Raised when an array of one backend is handed to an object bound to another backend."""


def array_origin(array: Any) -> str:
    """Names the library an array belongs to ('numpy', 'cupy', 'array_api_strict', ...)."""
    return type(array).__module__.split(".")[0]


def is_host(data: Any) -> bool:
    """Whether ``data`` lives on the host: NumPy's and Python's data, or another library's array in
    host memory (a DLPack producer on the CPU: a torch CPU tensor). The one test of which side of the
    host/device boundary a value is on (a CPU backend's own arrays: ``Backend.comes_from_host``)."""
    return array_origin(data) in HOST_LIBRARIES or is_host_producer(data)


def running_sum(total: Any, batch: Any) -> Any:
    """A pass's running total with this batch's sum added (the batch's sum itself at the pass's start)."""
    return batch if total is None else total + batch


class Readback:
    """Numbers on their way to the host (``Backend.read_later``): ``ready`` says whether they have
    arrived, ``values`` waits for them and gives them as NumPy scalars of their own dtypes."""

    def __init__(self, values: list[Any]) -> None:
        self._values = values

    def ready(self) -> bool:
        return True

    def values(self) -> list[Any]:
        return self._values


def _float_dtype_name(dtype: Any, xp: Any) -> str:
    """'float32' or 'float64' for any spelling of them: the name, NumPy's (np.float64, 'f8',
    np.dtype('float32')) or the array namespace's own (a backend's ``dtype``)."""
    try:
        name = None if dtype is None or isinstance(dtype, bool) else np.dtype(dtype).name
    except (TypeError, ValueError):
        name = next((candidate for candidate in FLOAT_DTYPES if dtype == getattr(xp, candidate)), None)
    if name not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be one of {FLOAT_DTYPES} (or a NumPy spelling of them), got {dtype!r}")
    return name


class Backend:
    """One array library on one device.

    ``dtype`` is the float dtype of parameters and activations. ``set_backend(name,
    precision="book")`` makes an instance of the class with the book's arithmetic layered over it
    (``backends/precision.py``): the ops here and their fast overrides never test the precision.
    """

    name: ClassVar[str] = "base"
    #: whether a reshaped slice is a view that writes through to its base (NumPy, CuPy); the
    #: array API leaves this unspecified, so the generic code never relies on it
    supports_views: ClassVar[bool] = False
    #: the array library this backend's arrays come from, as ``array_origin`` reports it
    array_library: ClassVar[str] = ""
    #: whether a training step should write activations and gradients into the arrays of the step
    #: before (see ``BackendBound._step_array``): on the CPU a fresh large array costs page faults
    #: every step; a GPU memory pool hands out freed blocks cheaply
    reuses_step_arrays: ClassVar[bool] = False

    #: whether a step's arrays may be float64 on a float32 backend (the book's precision keeps them
    #: where the book has them): then flat buffers of one dtype cannot hold its gradients
    mixes_float64: ClassVar[bool] = False

    #: 'default', or 'book' on a class with the book-precision layer
    precision: ClassVar[str] = "default"

    def __init__(self, dtype: Any = "float32", precision: str | None = None, device: Any = None) -> None:
        if precision not in (None, *PRECISIONS):
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if precision not in (None, self.precision):
            raise ValueError(
                f"{type(self).__name__} computes in {self.precision!r} precision; for {precision!r} use "
                f"set_backend(name, precision={precision!r}) (or nnfs_gpu.backends.precision.with_book_precision)"
            )
        self.xp = self._load_namespace()
        self.device = self._select_device(device)
        self.dtype = getattr(self.xp, _float_dtype_name(dtype, self.xp))

    # -- what a subclass provides -------------------------------------------------------------

    @classmethod
    def unavailable_reason(cls, device: Any = None) -> str | None:
        """Why this backend cannot run here (on ``device``, when given), or None when it can. Never raises."""
        return None

    @classmethod
    def is_available(cls, device: Any = None) -> bool:
        """Whether this backend can run here (on ``device``, when given). Never raises."""
        return cls.unavailable_reason(device) is None

    def _load_namespace(self) -> Any:
        raise NotImplementedError

    def _default_device(self) -> Any:
        return None

    def _select_device(self, device: Any) -> Any:
        """The device ``device`` names (the default one when None). A backend of one device
        accepts only that device, by its name or itself, and refuses any other with the fix."""
        default = self._default_device()
        if device is None or device == default or str(device) == str(default):
            return default
        raise ValueError(
            f"the '{self.name}' backend runs on {str(default)!r} only, not on device={device!r}; for another "
            f"device choose a backend that has it, e.g. set_backend('torch', device={str(device)!r})"
        )

    def describe(self) -> str:
        """One line naming the device and dtype, for logs and the demo."""
        return f"{self.name}, {self.dtype_name}"

    @classmethod
    def to_numpy(cls, array: Any) -> np.ndarray:
        """A backend array as host NumPy data (the only way data leaves the device; on the CPU
        backend this is the array itself, not a copy)."""
        return to_host(array)

    def synchronize(self) -> None:
        """Waits until queued device work is done (for timing); a no-op on the CPU."""

    def read_later(self, values: list[Any]) -> Readback:
        """Starts bringing a few 0-d arrays (or Python numbers) to the host without waiting for the
        device: a GPU backend copies them asynchronously; here they are read at once."""
        return Readback([self.to_numpy(value)[()] if self.owns(value) else value for value in values])

    # -- transfers ----------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.dtype_name}, precision={self.precision}>"

    @property
    def dtype_name(self) -> str:
        return "float64" if self.dtype == self.xp.float64 else "float32"

    def owns(self, array: Any) -> bool:
        """Whether ``array`` is an array of this backend (on its device)."""
        return array_origin(array) == self.array_library

    def comes_from_host(self, data: Any) -> bool:
        """Whether ``data`` is host data to check on the host, then move here: NumPy's, Python's, other
        libraries' in host memory; not this backend's own library's (torch moves its CPU tensors), which
        a step's targets are: they are told apart by their library, without asking DLPack."""
        return isinstance(data, np.ndarray) or (array_origin(data) != self.array_library and is_host(data))

    def asarray(self, data: Any, dtype: Any = None) -> Any:
        """Puts host data (NumPy arrays, lists, scalars), this backend's arrays, or another library's
        arrays that DLPack can reach (see ``_foreign``) on this backend.

        An array on another device is refused with a message naming both: moving data between
        devices is always explicit (``nnfs_gpu.to_numpy(array)`` first).
        """
        if self.owns(data):
            if dtype is None or data.dtype == dtype:
                return data
        elif array_origin(data) in HOST_LIBRARIES:
            data = np.asarray(data)
        else:
            data = self._foreign(data)
        return self.xp.asarray(data, dtype=dtype, device=self.device)

    def host_data(self, data: Any) -> np.ndarray:
        """Host data as NumPy, to check on the host and move here; another library's through DLPack,
        without a copy: read-only for a backend of NumPy arrays, which computes on that very memory
        and must never write it (torch takes only writable memory: others get a writable view)."""
        if array_origin(data) in HOST_LIBRARIES:
            return np.asarray(data)
        return host_view(data) if self.array_library == "numpy" else readable(data)

    def _foreign(self, data: Any) -> Any:
        """Another library's array as ``xp.asarray`` takes it. On this backend's device (but for a
        backend of NumPy arrays, see ``host_data``) it is taken without a copy (DLPack). In host
        memory it is host data: an array of this backend's own library as it is (the library moves
        it), any other as ``host_data``. Anywhere else it is refused, naming both devices when the
        array says where it is."""
        probe = self.empty((1,))
        mine = None if self.array_library == "numpy" or on_stand_in_device(probe) else dlpack_device(probe)
        device = dlpack_device(data)
        if device is not None and device == mine and not on_stand_in_device(data):
            return self.xp.from_dlpack(data)
        if is_host(data):
            return data if array_origin(data) == self.array_library else self.host_data(data)
        where = where_is(data)
        where, here = ("", "") if where is None else (f" on {where}", f" on {self.device}")
        raise ForeignArrayError(
            f"got a {array_origin(data)} array ({type(data).__name__}){where} but this object runs on the "
            f"'{self.name}' backend{here}; bring it to the host first with "
            f"nnfs_gpu.to_numpy(array), or create the object under the backend that owns the array"
        )

    def asfloat(self, data: Any) -> Any:
        """Like ``asarray``, in this backend's float dtype (inputs, gradients, parameters)."""
        if self.owns(data):
            return data if data.dtype == self.dtype else self.xp.astype(data, self.dtype)
        if array_origin(data) in HOST_LIBRARIES:  # cast on the host: fewer bytes to move
            return self.asarray(np.asarray(data).astype(self.dtype_name, copy=False))
        return self.asarray(data, self.dtype)  # another library's: as ``asarray`` takes it, or refused

    def zeros(self, shape: tuple[int, ...]) -> Any:
        return self.xp.zeros(shape, dtype=self.dtype, device=self.device)

    def empty(self, shape: tuple[int, ...]) -> Any:
        return self.xp.empty(shape, dtype=self.dtype, device=self.device)

    def copy(self, array: Any) -> Any:
        return self.xp.asarray(array, copy=True)

    # -- math that the book-precision layer computes its own way ----------------------------

    def dot(self, a: Any, b: Any, out: Any = None) -> Any:
        """Matrix product; with ``out`` (an earlier result of the same product, possibly a view
        into a larger buffer) the result is written into it and ``out`` is returned."""
        return self._write(out, self.xp.matmul(a, b))

    def _write(self, out: Any, result: Any) -> Any:
        """``result`` copied into ``out`` (returned) when ``out`` is given, else ``result`` itself."""
        if out is None:
            return result
        out[...] = result
        return out

    def sum_rows(self, x: Any, out: Any = None) -> Any:
        """The sum over the batch (axis 0) as one row, a Dense layer's bias gradient; into ``out`` when given.

        A row of ones times ``x``, so BLAS adds (NumPy's sum over axis 0 goes one row at a time and
        is several times slower).
        """
        xp = self.xp
        ones = xp.ones((1, x.shape[0]), dtype=x.dtype, device=self.device)
        return self._write(out, xp.matmul(ones, x))

    def add_bias(self, output: Any, biases: Any) -> None:
        """Adds the row ``biases`` to every row of ``output``, in place (a Dense layer's forward)."""
        output += biases

    def exp(self, x: Any) -> Any:
        return self.xp.exp(x)

    def log(self, x: Any) -> Any:
        return self.xp.log(x)

    # -- hot composite ops (generic versions; a backend may override them) --------------------
    # Those that take ``out`` write their result into it (an array of the result's shape and dtype
    # that no argument shares memory with) and return it.

    def clip(self, values: Any) -> Any:
        """Probabilities clipped to [CLIP, 1 - CLIP] with two element-wise ops (array-api-compat's
        generic ``clip`` uses boolean masks, which read a count back from a GPU)."""
        return self.xp.minimum(self.xp.maximum(values, CLIP), 1 - CLIP)

    def relu(self, x: Any, out: Any = None) -> Any:
        return self._write(out, self.xp.maximum(x, 0.0))

    def bias_relu(self, z: Any, biases: Any, out: Any = None) -> Any:
        """A Dense layer's ``biases`` added to its product ``z`` in place, then ReLU of ``z`` (into
        ``out``): the forward of Dense + ReLU, one pass where a backend fuses it."""
        self.add_bias(z, biases)
        return self.relu(z, out)

    def bias_softmax(self, z: Any, biases: Any, out: Any = None) -> Any:
        """``biases`` added to ``z`` in place, then the softmax of ``z``: the forward of Dense + Softmax."""
        self.add_bias(z, biases)
        return self.softmax(z, out)

    def relu_backward(self, dvalues: Any, inputs: Any, out: Any = None) -> Any:
        """Gradient of ReLU: ``dvalues`` where the input was positive, 0 elsewhere (0 at 0, as the book)."""
        return self._write(out, self.xp.where(inputs > 0, dvalues, 0.0))

    def softmax(self, x: Any, out: Any = None) -> Any:
        xp = self.xp
        exp_values = self.exp(x - xp.max(x, axis=1, keepdims=True))
        return self._write(out, exp_values / xp.sum(exp_values, axis=1, keepdims=True))

    def softmax_backward(self, dvalues: Any, output: Any) -> Any:
        """Vectorized form of the book's per-sample Jacobian product ``(diag(s) - s sᵀ) · d``."""
        xp = self.xp
        return output * (dvalues - xp.sum(output * dvalues, axis=1, keepdims=True))

    def one_hot(self, labels: Any, classes: int, dtype: Any = None) -> Any:
        xp = self.xp
        columns = xp.arange(classes, dtype=xp.int64, device=self.device)
        labels = xp.astype(labels, xp.int64)
        return xp.astype(xp.expand_dims(labels, axis=1) == columns, dtype or self.dtype)

    def pick(self, values: Any, labels: Any) -> Any:
        """``values[i, labels[i]]`` for every row i, without fancy indexing."""
        xp = self.xp
        index = xp.expand_dims(xp.astype(labels, xp.int64), axis=1)
        return xp.take_along_axis(values, index, axis=1)[:, 0]

    def softmax_cce_backward(self, softmax_output: Any, labels: Any, out: Any = None) -> Any:
        """Gradient of mean categorical cross-entropy w.r.t. the softmax's inputs: ``(s - onehot) / n``."""
        samples, classes = softmax_output.shape
        one_hot = self.one_hot(labels, classes, softmax_output.dtype)
        return self._write(out, (softmax_output - one_hot) / samples)

    # -- a batch's sum, and a pass's running total: 0-d arrays that stay on the device ------------
    # ``total`` is the running total so far (None for the first batch); it may be updated in place.

    def crossentropy_sum(self, probabilities: Any, labels: Any, total: Any = None) -> tuple[Any, Any]:
        """The batch's summed cross-entropy ``Σ -log(clip(probabilities[i, labels[i]]))``, and the total."""
        batch = self.xp.sum(-self.log(self.clip(self.pick(probabilities, labels))))
        return batch, running_sum(total, batch)

    def argmax_matches(self, outputs: Any, labels: Any, total: Any = None) -> tuple[Any, Any]:
        """How many rows have their largest output (the first, on ties) at their label, as an
        int64, and the total: a classifier's right answers. The labels are compared as int64 (the
        array API does not promote int64 with uint64, and torch not with any unsigned dtype but uint8)."""
        xp = self.xp
        batch = xp.sum(xp.astype(xp.argmax(outputs, axis=1) == xp.astype(labels, xp.int64), xp.int64))
        return batch, running_sum(total, batch)

    # -- optimizer updates: in place on the parameter and its state, with the book's arithmetic ----
    # The book's ``grad**2`` is written ``grad * grad``: NumPy computes ``x**2`` as ``x * x``, CuPy as
    # ``powf(x, 2)``, which may be an ulp or two off; a product is one rounding everywhere.

    def _add_into(self, target: Any, value: Any) -> None:
        """``target += value``, in place (the book's precision also adds float64 values into float32 arrays)."""
        target += value

    def sgd_update(self, param: Any, grad: Any, learning_rate: float) -> None:
        """``param += -learning_rate * grad``."""
        self._add_into(param, -learning_rate * grad)

    def momentum_update(self, param: Any, grad: Any, momentums: Any, learning_rate: float, momentum: float) -> None:
        """``momentums = momentum * momentums - learning_rate * grad; param += momentums``."""
        momentums *= momentum
        self._add_into(momentums, -learning_rate * grad)
        self._add_into(param, momentums)

    def adagrad_update(self, param: Any, grad: Any, cache: Any, learning_rate: float, epsilon: float) -> None:
        """``cache += grad²; param += -learning_rate * grad / (√cache + epsilon)``."""
        self._add_into(cache, grad * grad)
        self._add_into(param, (-learning_rate * grad) / (self.xp.sqrt(cache) + epsilon))

    def rmsprop_update(self, param: Any, grad: Any, cache: Any, learning_rate: float, rho: float, epsilon: float) -> None:
        """``cache = rho * cache + (1 - rho) * grad²; param += -learning_rate * grad / (√cache + epsilon)``."""
        cache *= rho
        self._add_into(cache, (1 - rho) * (grad * grad))
        self._add_into(param, (-learning_rate * grad) / (self.xp.sqrt(cache) + epsilon))

    def adam_update(self, param: Any, grad: Any, momentums: Any, cache: Any, learning_rate: float, beta_1: float,
                    beta_2: float, epsilon: float, step: int) -> None:
        """Adam with bias correction for update number ``step`` (1 for the first update)."""
        momentums *= beta_1
        self._add_into(momentums, (1 - beta_1) * grad)
        cache *= beta_2
        self._add_into(cache, (1 - beta_2) * (grad * grad))
        corrected_momentums = momentums / (1 - beta_1**step)
        corrected_cache = cache / (1 - beta_2**step)
        self._add_into(param, (-learning_rate * corrected_momentums) / (self.xp.sqrt(corrected_cache) + epsilon))

    # -- randomness ---------------------------------------------------------------------------

    def dropout_mask(self, shape: tuple[int, ...], keep_probability: float, host_rng: bool = False) -> Any:
        """An inverted-dropout mask: 1 / keep_probability with that probability, else 0.

        Drawn on the host from NumPy's global legacy RNG, as the book draws it
        (``np.random.binomial(1, keep, size) / keep``), so every backend sees the same masks for the
        same seed. A GPU backend, and torch on any device, draws on the device instead unless ``host_rng`` is set.
        """
        mask = dropout_draws(shape, keep_probability) / keep_probability
        return self.asarray(mask.astype(self.dtype_name))


def dropout_draws(shape: tuple[int, ...], keep_probability: float) -> np.ndarray:
    """The book's draw of which inputs a dropout keeps (1) or drops (0), as int64 on the host."""
    return np.random.binomial(1, keep_probability, size=shape)
