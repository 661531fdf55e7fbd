"""What every layer, activation and loss shares: the backend it was created under."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, ClassVar, Iterable, Iterator

from .backends import Backend, get_backend
from .backends.base import running_sum


class BackendBound:
    """Binds an object to the backend that is current when it is created.

    Its calls accept host NumPy data (moved explicitly) and arrays of that backend; an array of
    another backend is refused with an error naming both. ``to`` moves the object to another backend.
    """

    backend: Backend
    #: attributes holding one step's values (recomputed by the next step): never moved or saved
    transient: ClassVar[tuple[str, ...]] = ("inputs", "output", "dinputs")
    #: (name, shape) -> the array a training step writes that result into; None outside training
    _step_arrays: dict[tuple[str, tuple[int, ...]], Any] | None = None

    def __init__(self) -> None:
        self.backend = get_backend()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def to(self, backend: Backend) -> None:
        """Moves every array this object holds (parameters, optimizer state) to ``backend`` through
        the host, and drops its ``transient`` ones; the object then runs on ``backend``."""
        source = self.backend
        for attribute in self.transient:
            self.__dict__.pop(attribute, None)
        for attribute, value in list(vars(self).items()):
            if attribute != "backend" and source.owns(value):
                setattr(self, attribute, backend.asfloat(source.to_numpy(value)))
        self.backend = backend

    def _step_array(self, name: str, shape: tuple[int, ...]) -> Any:
        """Where to write this step's ``name``: inside ``reusing_step_arrays``, the array of that
        name and shape from the step before; otherwise None, asking for a fresh array."""
        arrays = self._step_arrays
        if arrays is None:
            return None
        key = (name, tuple(shape))
        if key not in arrays:
            arrays[key] = self.backend.empty(tuple(shape))
        return arrays[key]

    def _kept_by_forward(self, name: str, forward: str = "forward(inputs)") -> Any:
        """What ``forward`` kept for ``backward`` (its inputs, output or mask); an error naming the
        fix when ``forward`` has not run (or moving the object dropped it)."""
        value = getattr(self, name, None)
        if value is None:
            raise RuntimeError(f"{self!r}: backward was called before forward; call {forward} first")
        return value

    def _gradient_of(self, dvalues: Any, shape: tuple[int, ...]) -> Any:
        """``dvalues`` on this backend, checked to have ``shape``, the shape of ``forward``'s output."""
        dvalues = self.backend.asfloat(dvalues)
        if tuple(dvalues.shape) != tuple(shape):
            raise ValueError(
                f"{self!r}: backward got dvalues of shape {tuple(dvalues.shape)}; it needs {tuple(shape)}, "
                "the shape of the last forward's output"
            )
        return dvalues

    def _where_given(self, data: Any, compute: Callable[[Any], Any]) -> Any:
        """Applies ``compute`` on this backend; host data in gives host data out (as ``Model.predict`` returns)."""
        if self.backend.owns(data):
            return compute(data)
        return self.backend.to_numpy(compute(self.backend.asarray(data)))


class PassMean(BackendBound):
    """A number averaged over a pass of batches (a loss, an accuracy): a running total that stays on
    the device, and a count, until ``accumulated_mean`` reads it back."""

    transient: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        super().__init__()
        self.new_pass()

    def to(self, backend: Backend) -> None:
        super().to(backend)
        self.new_pass()

    def new_pass(self) -> None:
        self.accumulated_sum: Any = 0.0
        self.accumulated_count = 0

    @property
    def running_total(self) -> Any:
        """The total so far (a 0-d array), or None before the pass's first batch."""
        return self.accumulated_sum if self.accumulated_count else None

    def _add(self, batch: Any, total: Any, count: int) -> Any:
        """Records a batch: its sum ``batch`` over ``count`` values and the running ``total`` that
        includes it (see ``Backend.crossentropy_sum``); returns ``batch``."""
        self.accumulated_sum, self.accumulated_count = total, self.accumulated_count + count
        return batch

    def _add_sum(self, batch: Any, count: int) -> Any:
        """``_add`` for a batch sum computed here: the total is the running total plus it."""
        return self._add(batch, running_sum(self.running_total, batch), count)

    def accumulated_mean(self) -> float:
        if self.accumulated_count == 0:
            raise RuntimeError("no batch was calculated since new_pass()")
        return float(self.accumulated_sum) / self.accumulated_count


@contextlib.contextmanager
def reusing_step_arrays(objects: Iterable[BackendBound]) -> Iterator[None]:
    """Lets ``objects`` write each training step's activations and gradients into the arrays of the
    step before, where their backend ``reuses_step_arrays``: a step has consumed its arrays when
    the next one starts. Afterwards each object keeps the arrays it holds, and later steps get new
    ones (so nothing read from a layer after training changes under the reader)."""
    before = [(obj, obj._step_arrays) for obj in objects
              if isinstance(obj, BackendBound) and obj.backend.reuses_step_arrays]
    for obj, _ in before:
        obj._step_arrays = {}
    try:
        yield
    finally:
        for obj, arrays in before:
            obj._step_arrays = arrays
