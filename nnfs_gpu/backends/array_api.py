"""Any eager, mutable array-API namespace as a backend: ``ArrayAPIBackend(namespace, device)``.

The generic code of ``Backend`` is written against the array API alone, so a namespace such as
dpnp (Intel GPUs), ``array_api_compat.numpy`` or ``array_api_strict`` runs it as it is, with no
fast paths. The framework updates parameters, optimizer state and a step's arrays in place
(``x += v``, ``x[...] = v``), so a namespace whose arrays are immutable (JAX) or lazy (Dask, where
``+=`` builds a new graph) cannot be one: it is refused with the reason, by its name where it is
known and otherwise by a probe of those two updates on a tiny array on the device.
"""

from __future__ import annotations

from typing import Any

from .base import Backend, array_origin

#: namespaces known to be unfit, by a part of their module name, and why
UNFIT_NAMESPACES = {
    "jax": "JAX arrays are immutable (an update makes a new array: x.at[i].set(v))",
    "dask": "Dask arrays are lazy (each operation adds to a graph, and x += v makes a new array)",
    "tensorflow": "TensorFlow tensors are immutable",
    "mlx": "MLX arrays are lazy (computed when read)",
    "ndonnx": "ndonnx arrays are lazy (they build an ONNX graph)",
}


def namespace_name(namespace: Any) -> str:
    return getattr(namespace, "__name__", type(namespace).__name__)


def why_unfit(namespace: Any, device: Any = None) -> str | None:
    """Why ``namespace`` cannot be a backend (None when it can): a known immutable or lazy library,
    or one whose ``+=`` and ``x[...] = v`` on a tiny array on ``device`` do not change that array."""
    for part in namespace_name(namespace).split("."):
        if part in UNFIT_NAMESPACES:
            return UNFIT_NAMESPACES[part]
    try:
        probe = namespace.zeros((2,), dtype=namespace.float32, device=device)
        same = probe
        probe += 1
        probe[...] = probe * 2
        changed = probe is same and bool(namespace.all(same == 2))
    except Exception as error:  # any failure of the probe is the answer
        return f"an in-place update failed ({type(error).__name__}: {error})"
    return None if changed else "an in-place update (x += v, x[...] = v) did not change the array"


class ArrayAPIBackend(Backend):
    """An array-API ``namespace`` on ``device`` (its default device when None), with the generic ops.

    ``set_backend(ArrayAPIBackend(dpnp, device="gpu"))`` uses one directly;
    ``register_namespace("dpnp", dpnp, device="gpu")`` gives it a name for ``set_backend``,
    ``NNFS_GPU_BACKEND`` and ``Model.to``. A namespace that cannot update arrays in place is refused
    with a ``ValueError`` saying why (see ``why_unfit``).
    """

    def __init__(self, namespace: Any, device: Any = None, dtype: str = "float32", precision: str | None = None,
                 name: str | None = None) -> None:
        reason = why_unfit(namespace, device)
        if reason is not None:
            raise ValueError(
                f"{namespace_name(namespace)} cannot be an nnfs_gpu backend: {reason}; nnfs_gpu updates parameters, "
                "optimizer state and step arrays in place, so it needs an eager namespace with mutable arrays "
                "(NumPy, CuPy, PyTorch, dpnp, array_api_strict)"
            )
        self._namespace = namespace
        self.name = name or namespace_name(namespace)
        super().__init__(dtype, precision, device)
        self.array_library = array_origin(self.zeros((1,)))

    def _load_namespace(self) -> Any:
        return self._namespace

    def _select_device(self, device: Any) -> Any:
        """The device an array made on ``device`` reports, so that ``owns`` compares like with like."""
        return self.xp.zeros((1,), device=device).device

    def owns(self, array: Any) -> bool:
        return array_origin(array) == self.array_library and getattr(array, "device", None) == self.device

    def describe(self) -> str:
        return f"{namespace_name(self.xp)} on {self.device}, {self.dtype_name}"

    def __repr__(self) -> str:
        return f"<ArrayAPIBackend {namespace_name(self.xp)} on {self.device}, {self.dtype_name}, precision={self.precision}>"
