"""What every layer, activation and loss shares: the backend it was created under."""

from __future__ import annotations

from .backends import Backend, get_backend


class BackendBound:
    """Binds an object to the backend that is current when it is created.

    Its calls accept host NumPy data (moved explicitly) and arrays of that backend; an array of
    another backend is refused with an error naming both.
    """

    backend: Backend

    def __init__(self) -> None:
        self.backend = get_backend()
