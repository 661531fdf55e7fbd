"""What every layer, activation and loss shares: the backend it was created under."""

from __future__ import annotations

from typing import Any, Callable

from .backends import Backend, get_backend


class BackendBound:
    """Binds an object to the backend that is current when it is created.

    Its calls accept host NumPy data (moved explicitly) and arrays of that backend; an array of
    another backend is refused with an error naming both.
    """

    backend: Backend

    def __init__(self) -> None:
        self.backend = get_backend()

    def _where_given(self, data: Any, compute: Callable[[Any], Any]) -> Any:
        """Applies ``compute`` on this backend; host data in gives host data out (as ``Model.predict`` returns)."""
        if self.backend.owns(data):
            return compute(data)
        return self.backend.to_numpy(compute(self.backend.asarray(data)))
