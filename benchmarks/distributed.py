"""Samples/s of data-parallel training on W2 with 1, 2, ... ranks: ``python benchmarks/distributed.py``.

Launches ``mpiexec -n R`` for each rank count (the one beside this Python, or on PATH); each launch
trains W2 with ``Model.train(..., distributed=True)`` after a warm-up epoch and rank 0 prints its
timing as JSON. Ranks should not outnumber cores: MPI's busy-polling makes oversubscribed ranks crawl.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def worker(quick: bool, backend_name: str) -> None:
    sys.path[:0] = [str(HERE), str(HERE.parent)]
    import numpy as np

    import nnfs_gpu
    from nnfs_gpu.distributed import communicator, use_local_gpu
    from workloads import WORKLOADS

    workload = WORKLOADS["W2"].scaled(quick)
    X, y = workload.data()
    if backend_name == "cupy":
        use_local_gpu()  # before the backend is made: each rank takes its own GPU
    with nnfs_gpu.use_backend(backend_name) as backend:
        comm = communicator(backend)
        np.random.seed(0)
        model = nnfs_gpu.Model()
        layers = list(zip(workload.sizes, workload.sizes[1:]))
        for index, (n_in, n_out) in enumerate(layers):
            model.add(nnfs_gpu.Dense(n_in, n_out))
            model.add(nnfs_gpu.ReLU() if index < len(layers) - 1 else nnfs_gpu.Softmax())
        model.set(loss=nnfs_gpu.CategoricalCrossentropy(), optimizer=nnfs_gpu.Adam(workload.learning_rate), accuracy=nnfs_gpu.Categorical())
        model.finalize()
        train = lambda: model.train(X, y, epochs=workload.epochs, batch_size=workload.batch_size, verbose=False, distributed=comm)  # noqa: E731
        train()
        start = time.perf_counter()
        train()
        seconds = time.perf_counter() - start
    if comm.rank == 0:
        print(json.dumps({"ranks": comm.size, "seconds": seconds, "samples_per_s": workload.samples * workload.epochs / seconds,
                          "communicator": type(comm).__name__, "backend": backend_name}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/distributed.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="W2 on 12 800 samples instead of 60 000")
    parser.add_argument("--ranks", default="1,2", help="comma-separated rank counts (default 1,2)")
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.worker:
        worker(arguments.quick, arguments.backend)
        return 0
    beside = Path(sys.executable).parent / "mpiexec"
    mpiexec = str(beside) if beside.exists() else shutil.which("mpiexec")
    if mpiexec is None:
        print("benchmarks: no mpiexec; pip install 'nnfs_gpu[mpi]'", file=sys.stderr)
        return 2
    results = []
    for ranks in (int(count) for count in arguments.ranks.split(",")):
        command = [mpiexec, "-n", str(ranks), sys.executable, str(Path(__file__).resolve()), "--worker", "--backend", arguments.backend]
        if arguments.quick:
            command.append("--quick")
        single_threaded = {"OPENBLAS_NUM_THREADS": "1", "NNFS_GPU_CPU_THREADS": "1"}
        completed = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **single_threaded})
        if completed.returncode != 0:
            print(completed.stderr, file=sys.stderr)
            return 1
        results.append(json.loads(completed.stdout.strip().splitlines()[-1]))
        print(f"W2, {ranks} rank(s), {arguments.backend}: {results[-1]['samples_per_s']:.0f} samples/s ({results[-1]['seconds']:.2f} s)")
    base = results[0]["samples_per_s"]
    for result in results[1:]:
        print(f"  {result['ranks']} ranks vs {results[0]['ranks']}: {result['samples_per_s'] / base:.2f}x")
    if arguments.json:
        arguments.json.write_text(json.dumps({"workload": "W2", "quick": arguments.quick, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
