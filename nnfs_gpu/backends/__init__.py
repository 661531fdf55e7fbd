"""Backend registry and selection.

The current backend lives in a ``ContextVar`` (so ``use_backend`` blocks nest and are thread- and
task-safe) with a module-level fallback (notebooks lose context variables between cells). Objects
bind to the backend that is current when they are created.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from .base import Backend, BackendUnavailableError, ForeignArrayError, Readback, array_origin, is_host
from .cupy_backend import CupyBackend
from .numpy_backend import NumpyBackend
from .precision import with_book_precision
from .strict_backend import StrictBackend

__all__ = [
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
    "requested_name",
    "set_backend",
    "to_numpy",
    "use_backend",
]

ENV_VAR = "NNFS_GPU_BACKEND"
AUTO = "auto"
#: other names people use for the backends: the GPU as 'cuda' or 'gpu', the CPU as 'cpu'
ALIASES = {"cuda": "cupy", "gpu": "cupy", "cpu": "numpy"}

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


def _unavailable_reason(factory: BackendFactory) -> str | None:
    probe = getattr(factory, "unavailable_reason", None)
    if probe is None:
        return None
    try:
        return probe()
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


def chosen_name(name: str | None = None) -> str:
    """The registered backend that ``requested_name(name)`` comes to ('auto' and aliases resolved)."""
    name = requested_name(name)
    name = ALIASES.get(name, name)
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


def _create_named(name: str, options: dict[str, Any], source: str) -> Backend:
    name = ALIASES.get(name, name)
    if name == AUTO:
        return _create_auto(options)
    factory = _registry.get(name)
    if factory is None:
        fix = f"; set {ENV_VAR} to one of them, or unset it" if source else ""
        raise ValueError(f"unknown backend {name!r}{source}; known backends: {_known_names()}{fix}")
    reason = _unavailable_reason(factory)
    if reason is not None:
        raise BackendUnavailableError(f"backend {name!r}{source} is not available: {reason}")
    return _with_precision(factory, options)(**options)


def _with_precision(factory: BackendFactory, options: dict[str, Any]) -> BackendFactory:
    """The backend class with the book-precision layer over it when ``precision='book'`` is asked for."""
    if options.get("precision") == "book" and isinstance(factory, type) and issubclass(factory, Backend):
        return with_book_precision(factory)
    return factory


_announced: tuple[str, str | None] | None = None


def _create_auto(options: dict[str, Any]) -> Backend:
    """The backend 'auto' takes here, said once (at INFO level) in one short line."""
    global _announced
    name, reason = _auto_choice()
    backend = _with_precision(_registry[name], options)(**options)
    if _announced != (name, reason):
        _announced = (name, reason)
        why = backend.describe() if reason is None else f"CPU; no GPU for cupy: {reason.split(';')[0]}"
        logger.info("nnfs_gpu: backend 'auto' chose %s (%s)", name, why)
    return backend


def set_backend(name: str | Backend = AUTO, **options: Any) -> Backend:
    """Makes ``name`` the current backend and returns it.

    Names: 'numpy', 'cupy', 'strict', any registered name, or 'auto' (CuPy when a CUDA device is
    usable, NumPy otherwise); 'cuda' and 'gpu' name 'cupy', 'cpu' names 'numpy'; a ``Backend``
    instance is used as it is. Options: ``dtype`` ('float32' or 'float64', or NumPy's spellings of
    them: np.float64, 'f8', a backend's ``dtype``) and ``precision`` ('default' or 'book'). Objects created afterwards run on this backend; existing ones keep theirs.
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
    """Brings an array of any registered backend (or host data) to the host as a NumPy array."""
    origin = array_origin(array)
    for factory in _registry.values():
        if isinstance(factory, type) and issubclass(factory, Backend) and factory.array_library == origin:
            return factory.to_numpy(array)
    return np.asarray(array)


register_backend("numpy", NumpyBackend)
register_backend("cupy", CupyBackend)
register_backend("strict", StrictBackend)
