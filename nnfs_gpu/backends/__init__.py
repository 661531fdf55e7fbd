"""Backend registry and selection.

The current backend lives in a ``ContextVar`` (so ``use_backend`` blocks nest and are thread- and
task-safe) with a module-level fallback (notebooks lose context variables between cells). Objects
bind to the backend that is current when they are created.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib.metadata
import importlib.util
import logging
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from .array_api import ArrayAPIBackend
from .base import Backend, BackendUnavailableError, ForeignArrayError, Readback, array_origin, is_host
from .cupy_backend import CupyBackend
from .numpy_backend import NumpyBackend
from .precision import with_book_precision
from .strict_backend import StrictBackend
from .torch_backend import TorchBackend

__all__ = [
    "ArrayAPIBackend",
    "Backend",
    "BackendStatus",
    "BackendUnavailableError",
    "ForeignArrayError",
    "ALIASES",
    "ENV_VAR",
    "Readback",
    "available_backends",
    "chosen_name",
    "create_backend",
    "create_requested",
    "get_backend",
    "is_host",
    "register_backend",
    "register_namespace",
    "requested_name",
    "set_backend",
    "to_numpy",
    "use_backend",
]

ENV_VAR = "NNFS_GPU_BACKEND"
AUTO = "auto"
#: other names people use for the backends: the CPU as 'cpu', Apple's GPU as 'mps' (torch on MPS),
#: an NVIDIA GPU as 'cuda' or 'gpu': CuPy when CuPy can run here, else torch on CUDA when torch can
#: (else CuPy, whose error then says why neither can)
ALIASES = {"cuda": "cupy", "gpu": "cupy", "cpu": "numpy", "mps": "torch"}
#: the device an alias implies when it names torch
ALIAS_DEVICES = {"cuda": "cuda", "gpu": "cuda", "mps": "mps"}

logger = logging.getLogger("nnfs_gpu")

BackendFactory = Callable[..., Backend]

_registry: dict[str, BackendFactory] = {}
_current: contextvars.ContextVar[Backend | None] = contextvars.ContextVar("nnfs_gpu_backend", default=None)
_fallback: Backend | None = None


@dataclass(frozen=True)
class BackendStatus:
    """Whether a registered backend can run on this machine, and if not, why."""

    available: bool
    reason: str | None = None


def register_backend(name: str, factory: BackendFactory) -> None:
    """Makes ``set_backend(name, **options)`` call ``factory(**options)``.

    ``factory`` is usually a ``Backend`` subclass; its ``unavailable_reason`` classmethod, when it has
    one, tells ``available_backends`` and ``set_backend`` whether it can run here.
    """
    if name == AUTO:
        raise ValueError(f"'{AUTO}' is reserved for automatic selection")
    _registry[name] = factory


def register_namespace(name: str, namespace: Any, device: Any = None) -> None:
    """Makes ``set_backend(name)`` an ``ArrayAPIBackend`` on ``namespace`` (an eager, mutable
    array-API namespace such as dpnp) and ``device`` (or the device given to ``set_backend``); its
    options are every backend's (``dtype``, ``precision``). An unfit namespace is refused here."""
    ArrayAPIBackend(namespace, device)

    def factory(**options: Any) -> Backend:
        kind = with_book_precision(ArrayAPIBackend) if options.get("precision") == "book" else ArrayAPIBackend
        return kind(namespace, **{"device": device, **options}, name=name)

    register_backend(name, factory)


def _unavailable_reason(factory: BackendFactory, device: Any = None) -> str | None:
    probe = getattr(factory, "unavailable_reason", None)
    if probe is None:
        return None
    try:
        return probe() if device is None else probe(device)
    except Exception as error:  # a third-party probe must not break selection
        return f"availability check failed: {error}"


def available_backends() -> dict[str, BackendStatus]:
    """Every registered backend, whether it is usable now and, if not, why."""
    statuses = {}
    for name, factory in _registry.items():
        reason = _unavailable_reason(factory)
        statuses[name] = BackendStatus(available=reason is None, reason=reason)
    return statuses


def _known_names() -> str:
    aliases = ", ".join(f"{alias!r} for {name!r}" for alias, name in ALIASES.items())
    return ", ".join(repr(name) for name in [AUTO, *_registry]) + f" (and {aliases})"


def requested_name(name: str | None = None) -> str:
    """The backend a command asks for: ``name`` when given, else ``NNFS_GPU_BACKEND``, else 'auto'."""
    return name or os.environ.get(ENV_VAR, "").strip() or AUTO


def _auto_choice() -> tuple[str, str | None]:
    """What 'auto' takes here, and why it is not CuPy (None when it is)."""
    reason = _unavailable_reason(_registry["cupy"])
    return ("cupy", None) if reason is None else ("numpy", reason)


def _resolve_alias(name: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The registered name an alias stands for (see ALIASES), with the device it implies for torch."""
    target = ALIASES.get(name, name)
    if target == "cupy" and name != "cupy" and _unavailable_reason(_registry["cupy"]) is not None:
        device = options.get("device") or ALIAS_DEVICES[name]
        if "torch" in _registry and _unavailable_reason(_registry["torch"], device) is None:
            target = "torch"
    if target == "torch" and name in ALIAS_DEVICES:
        options = {"device": ALIAS_DEVICES[name], **options}
    return target, options


def chosen_name(name: str | None = None) -> str:
    """The registered backend that ``requested_name(name)`` comes to ('auto' and aliases resolved)."""
    name = _resolve_alias(requested_name(name), {})[0]
    return _auto_choice()[0] if name == AUTO else name


def create_backend(name: str | Backend = AUTO, **options: Any) -> Backend:
    """A backend of that name (or the instance itself), without making it current."""
    if isinstance(name, Backend):
        if options:
            raise ValueError("options apply to a backend name, not to a backend instance")
        return name
    return _create_named(name, options, source="")


def create_requested(name: str | None = None, **options: Any) -> Backend:
    """The backend ``requested_name(name)`` names, without making it current; when the name came
    from ``NNFS_GPU_BACKEND``, an unknown or unusable name is an error that says so."""
    requested = requested_name(name)
    return _create_named(requested, options, source="" if name else f" (from the environment variable {ENV_VAR})")


def _create_named(asked: str, options: dict[str, Any], source: str) -> Backend:
    name, options = _resolve_alias(asked, options)
    if name == AUTO:
        return _create_auto(options)
    factory = _registry.get(name)
    if factory is None:
        fix = f"; set {ENV_VAR} to one of them, or unset it" if source else ""
        raise ValueError(f"unknown backend {name!r}{source}; known backends: {_known_names()}{fix}")
    device = options.get("device")
    reason = _unavailable_reason(factory, device)
    if reason is not None:
        where = "" if device is None else f" on device {str(device)!r}"
        if name == "cupy" and asked in ("cuda", "gpu") and "torch" in _registry:  # neither CuPy nor torch
            torch_reason = _unavailable_reason(_registry["torch"], device or ALIAS_DEVICES[asked])
            reason += f"; nor can torch run on {device or ALIAS_DEVICES[asked]!r}: {torch_reason}"
        raise BackendUnavailableError(f"backend {name!r}{source}{where} is not available: {reason}")
    return _with_precision(factory, options)(**options)


def _with_precision(factory: BackendFactory, options: dict[str, Any]) -> BackendFactory:
    """The backend class with the book-precision layer over it when ``precision='book'`` is asked for."""
    if options.get("precision") == "book" and isinstance(factory, type) and issubclass(factory, Backend):
        return with_book_precision(factory)
    return factory


_announced: tuple[str, str | None] | None = None


def _create_auto(options: dict[str, Any]) -> Backend:
    """The backend 'auto' takes here, said once in one short line: at INFO level, or at WARNING
    when a GPU library is installed but cannot run (its user evidently wanted a GPU)."""
    global _announced
    name, reason = _auto_choice()
    backend = _with_precision(_registry[name], options)(**options)
    if _announced != (name, reason):
        _announced = (name, reason)
        idle = None if reason is None else _idle_gpu_library(reason)
        library, why = idle or ("cupy", reason)
        said = backend.describe() if reason is None else f"CPU; no GPU for {library}: {str(why).split(';')[0]}"
        logger.log(logging.INFO if idle is None else logging.WARNING, "nnfs_gpu: backend 'auto' chose %s (%s)",
                   name, said)
    return backend


def _installed(module: str) -> bool:
    """Whether ``module`` can be found, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a module already in sys.modules without a spec
        return sys.modules.get(module) is not None


def _idle_gpu_library(cupy_reason: str) -> tuple[str, str] | None:
    """A GPU library installed here that reaches no GPU, and why, or None: CuPy, or a GPU build of
    torch (any but a '+cpu' wheel) that can use neither CUDA nor MPS."""
    if _installed("cupy"):
        return "cupy", cupy_reason
    if not _installed("torch"):
        return None
    try:
        cpu_only = "+cpu" in importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return None
    reasons = [] if cpu_only else [_unavailable_reason(_registry["torch"], device) for device in ("cuda", "mps")]
    if not reasons or None in reasons:
        return None
    return "torch", str(reasons[0])


def set_backend(name: str | Backend = AUTO, **options: Any) -> Backend:
    """Makes ``name`` the current backend and returns it.

    Names: 'numpy', 'cupy', 'torch', 'strict', any registered name, or 'auto' (CuPy when a CUDA
    device is usable, NumPy otherwise); 'cpu' names 'numpy', 'mps' torch on MPS, 'cuda' and 'gpu'
    CuPy when it can run here, else torch on CUDA when torch can (see ALIASES); a ``Backend``
    instance is used as it is. Options: ``dtype`` ('float32' or 'float64', or NumPy's spellings of
    them: np.float64, 'f8', a backend's ``dtype``), ``precision`` ('default' or 'book') and
    ``device`` (torch's: 'cpu', 'cuda', 'cuda:1', 'mps', 'xpu'; the other backends accept only their
    own). Objects created afterwards run on this backend; existing ones keep theirs.
    """
    global _fallback
    backend = create_backend(name, **options)
    _fallback = backend
    _current.set(backend)
    return backend


def get_backend() -> Backend:
    """The current backend; on first use, the one ``NNFS_GPU_BACKEND`` names ('auto' when unset)."""
    global _fallback
    backend = _current.get()
    if backend is not None:
        return backend
    if _fallback is None:
        _fallback = create_requested()
    return _fallback


@contextlib.contextmanager
def use_backend(name: str | Backend = AUTO, **options: Any) -> Iterator[Backend]:
    """Runs a block on another backend (a name or an instance); the previous one is restored afterwards, also on error."""
    token = _current.set(create_backend(name, **options))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def to_numpy(array: Any) -> np.ndarray:
    """Brings an array of any registered backend, host data or any other library's array (through
    DLPack) to the host as a NumPy array."""
    origin = array_origin(array)
    for factory in _registry.values():
        if isinstance(factory, type) and issubclass(factory, Backend) and factory.array_library == origin:
            return factory.to_numpy(array)
    return Backend.to_numpy(array)


register_backend("numpy", NumpyBackend)
register_backend("cupy", CupyBackend)
register_backend("strict", StrictBackend)
register_backend("torch", TorchBackend)
