"""Data-parallel training on several processes: MPI through mpi4py, with NCCL for CuPy arrays.

Every rank holds the whole model and trains on its shard of each global batch; one all-reduce of a
flat gradient buffer per step gives every rank the global mean gradient, and every rank applies the
same update (ChainerMN's design). Launch with ``mpiexec -n N python train.py`` and call
``Model.train(..., distributed=True)``. Importing nnfs_gpu never imports mpi4py; this module does
so only when a communicator is made.
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Any, Iterator, NoReturn

import numpy as np

from .backends import Backend
from .training import LocalSteps

INSTALL_HINT = "pip install 'nnfs_gpu[mpi]' (mpi4py and the MPICH wheel; no system MPI needed)"
POLL_SECONDS = 1e-4
ABORT_GRACE_SECONDS = 1.0


class DistributedError(RuntimeError):
    """Raised when distributed training cannot start; the message says what to install or do."""


def _mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise DistributedError(f"distributed training needs mpi4py: {INSTALL_HINT} ({error})") from error
    except RuntimeError as error:  # mpi4py is there but finds no MPI library
        raise DistributedError(f"mpi4py cannot load an MPI library: {INSTALL_HINT} ({error})") from error
    return MPI


class Communicator:
    """Collectives over host buffers through MPI; ``timeout`` (seconds) bounds each collective.

    A collective that does not finish in time aborts every rank with a message, so a rank that died
    or hangs never leaves the others waiting forever.
    """

    def __init__(self, backend: Backend, timeout: float | None = None) -> None:
        self.MPI = _mpi()
        self.comm = self.MPI.COMM_WORLD
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.backend = backend
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"<{type(self).__name__} rank {self.rank} of {self.size}, {self.backend.name}>"

    def _wait(self, request: Any, what: str) -> None:
        if self.timeout is None:
            request.Wait()
            return
        deadline = time.monotonic() + self.timeout
        while not request.Test():
            if time.monotonic() > deadline:
                self.abort(f"{what} did not finish within {self.timeout:g} s; a rank may have died or hung")
            time.sleep(POLL_SECONDS)

    def allreduce_sum(self, buffer: Any) -> Any:
        """The element-wise sum of ``buffer`` over all ranks, as an array of this backend."""
        host = np.ascontiguousarray(self.backend.to_numpy(buffer))
        self._wait(self.comm.Iallreduce(self.MPI.IN_PLACE, host, op=self.MPI.SUM), "an all-reduce")
        return host if self.backend.owns(host) else self.backend.asarray(host)

    def broadcast(self, buffer: Any, root: int = 0) -> Any:
        """Rank ``root``'s ``buffer`` on every rank, as an array of this backend."""
        host = self.broadcast_host(self.backend.to_numpy(buffer), root)
        return host if self.backend.owns(host) else self.backend.asarray(host)

    def broadcast_host(self, array: np.ndarray, root: int = 0) -> np.ndarray:
        """Rank ``root``'s host array (same shape and dtype everywhere) on every rank."""
        array = np.ascontiguousarray(array)
        self._wait(self.comm.Ibcast(array, root=root), "a broadcast")
        return array

    def host_extremes(self, value: int) -> tuple[int, int]:
        """The smallest and largest ``value`` over the ranks."""
        both = np.array([value, -value], dtype=np.int64)
        self._wait(self.comm.Iallreduce(self.MPI.IN_PLACE, both, op=self.MPI.MAX), "an all-reduce")
        return int(-both[1]), int(both[0])

    def abort(self, message: str, code: int = 1) -> NoReturn:
        """Ends every rank: prints why on this rank, then MPI_Abort (no rank is left waiting)."""
        print(f"nnfs_gpu: rank {self.rank} of {self.size}: {message}; stopping all ranks", file=sys.stderr, flush=True)
        time.sleep(ABORT_GRACE_SECONDS)  # the launcher forwards output asynchronously; the abort would cut it off
        self.comm.Abort(code)
        raise SystemExit(code)  # not reached: MPI_Abort does not return

    @contextlib.contextmanager
    def stopping_all_on_error(self) -> Iterator[None]:
        """Any error inside ends every rank with its message (no rank is left waiting for this one)."""
        try:
            yield
        except BaseException as error:
            self.abort(" ".join(f"{type(error).__name__}: {error}".split()))


class NcclCommunicator(Communicator):
    """Gradients summed on the GPUs with NCCL; MPI only bootstraps NCCL and broadcasts host data.

    Each rank needs its own GPU: call ``use_local_gpu()`` before creating the backend. With a
    ``timeout``, each all-reduce is followed by an event that is polled against the deadline.
    """

    def __init__(self, backend: Backend, timeout: float | None = None) -> None:
        super().__init__(backend, timeout)
        from cupy.cuda import nccl

        self._check_one_gpu_per_rank()
        self.nccl = nccl
        unique_id = self.comm.bcast(nccl.get_unique_id() if self.rank == 0 else None, root=0)
        with backend.device:
            self.nccl_comm = nccl.NcclCommunicator(self.size, unique_id, self.rank)

    def _check_one_gpu_per_rank(self) -> None:
        places = self.comm.allgather((self.MPI.Get_processor_name(), self.backend.device.id))
        if len(set(places)) < len(places):
            raise DistributedError(
                f"several ranks use the same GPU ({places}); call nnfs_gpu.distributed.use_local_gpu() "
                "before creating the cupy backend, so that each rank takes its own"
            )

    def allreduce_sum(self, buffer: Any) -> Any:
        import cupy

        nccl = self.nccl
        dtype = {np.dtype("float32"): nccl.NCCL_FLOAT32, np.dtype("float64"): nccl.NCCL_FLOAT64}[np.dtype(buffer.dtype)]
        buffer = cupy.ascontiguousarray(buffer)
        stream = cupy.cuda.get_current_stream()
        self.nccl_comm.allReduce(buffer.data.ptr, buffer.data.ptr, buffer.size, dtype, nccl.NCCL_SUM, stream.ptr)
        if self.timeout is not None:
            done = stream.record()
            deadline = time.monotonic() + self.timeout
            while not done.done:
                if time.monotonic() > deadline:
                    self.abort(f"an NCCL all-reduce did not finish within {self.timeout:g} s; a rank may have died or hung")
                time.sleep(POLL_SECONDS)
        return buffer


def nccl_available() -> bool:
    try:
        from cupy.cuda import nccl
    except Exception:
        return False
    return bool(getattr(nccl, "available", False))


def communicator(backend: Backend, timeout: float | None = None) -> Communicator:
    """The communicator for ``backend``: NCCL for CuPy when available, MPI over host buffers otherwise."""
    if backend.name == "cupy" and nccl_available():
        return NcclCommunicator(backend, timeout)
    return Communicator(backend, timeout)


def use_local_gpu() -> int:
    """Makes this rank's GPU (local rank modulo the GPU count) current; call it before building the model."""
    import cupy

    MPI = _mpi()
    local = MPI.COMM_WORLD.Split_type(MPI.COMM_TYPE_SHARED).Get_rank()
    device = local % cupy.cuda.runtime.getDeviceCount()
    cupy.cuda.Device(device).use()
    return device


class DataParallel(LocalSteps):
    """The step strategy of ``Model.train(..., distributed=...)``: shards, averaged gradients, global numbers.

    Each rank trains on a contiguous shard of every global batch. Its gradients are scaled by its
    share of the batch before one summing all-reduce of a flat buffer, so every rank ends the step
    with the gradient of the global batch's mean loss (and the full regularization gradient), and
    every rank applies the same update. Rank 0's weights and shuffles hold for all.
    """

    collective = True

    def __init__(self, comm: Communicator) -> None:
        self.comm = comm

    @property
    def is_root(self) -> bool:  # type: ignore[override]
        return self.comm.rank == 0

    def start(self, samples: int, batches: list[slice], layers: list[Any]) -> None:
        self.check_batches(samples, batches)
        self.broadcast_parameters(layers)

    def stopping_all_on_error(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return self.comm.stopping_all_on_error()

    def shard(self, rows: slice) -> slice:
        """This rank's contiguous part of the global batch ``rows``."""
        start, stop = rows.start, rows.stop
        bounds = [start + (stop - start) * rank // self.comm.size for rank in range(self.comm.size + 1)]
        return slice(bounds[self.comm.rank], bounds[self.comm.rank + 1])

    def check_batches(self, samples: int, batches: list[slice]) -> None:
        """Refuses what would pair different collectives across ranks or leave a rank without data."""
        fewest, most = self.comm.host_extremes(samples)
        if fewest != most:
            raise ValueError(
                f"the ranks hold different numbers of training samples ({fewest} to {most}); every rank "
                "must load the same data (the ranks shard each global batch among themselves)"
            )
        smallest = min(rows.stop - rows.start for rows in batches)
        if smallest < self.comm.size:
            raise ValueError(
                f"a global batch of {smallest} samples cannot be shared by {self.comm.size} ranks; "
                f"use a batch_size of at least {self.comm.size} (and enough samples)"
            )

    def shuffled_order(self, samples: int) -> np.ndarray:
        """Rank 0's permutation of the samples, on every rank."""
        order = np.random.permutation(samples) if self.is_root else np.empty(samples, dtype=np.int64)
        return self.comm.broadcast_host(order.astype(np.int64))

    def _flat(self, arrays: list[Any]) -> Any:
        xp = self.comm.backend.xp
        return xp.concat([xp.reshape(array, (-1,)) for array in arrays])

    def _unflat(self, flat: Any, like: list[Any]) -> list[Any]:
        xp, pieces, start = self.comm.backend.xp, [], 0
        for array in like:
            size = int(np.prod(array.shape))
            pieces.append(xp.reshape(flat[start : start + size], tuple(array.shape)))
            start += size
        return pieces

    def broadcast_parameters(self, layers: list[Any]) -> None:
        """Gives every rank rank 0's weights and biases, so all ranks start equal."""
        arrays = [array for layer in layers for array in (layer.weights, layer.biases)]
        shared = self._unflat(self.comm.broadcast(self._flat(arrays)), arrays)
        for layer, weights, biases in zip(layers, shared[0::2], shared[1::2]):
            layer.weights, layer.biases = weights, biases

    def average_gradients(self, update: Any, local_samples: int, global_samples: int) -> None:
        """Makes ``update``'s gradients those of the global batch (one all-reduce): a single flat
        buffer in place, several through one concatenated buffer."""
        gradients = update.gradients()
        share = local_samples / global_samples
        if len(gradients) == 1:
            (flat,) = gradients
            flat *= share
            update.set_gradients([self.comm.allreduce_sum(flat)])
            return
        summed = self.comm.allreduce_sum(self._flat(gradients) * share)
        update.set_gradients(self._unflat(summed, gradients))

    def sums(self, numbers: list[Any]) -> list[float]:
        return self.sum_numbers([float(number) for number in numbers])

    def sum_numbers(self, numbers: list[float]) -> list[float]:
        """Sums a few host numbers over the ranks (for the printed and recorded loss and accuracy)."""
        totals = self.comm.allreduce_sum(self.comm.backend.asarray(np.asarray(numbers, dtype=np.float64)))
        return [float(value) for value in self.comm.backend.to_numpy(totals)]
