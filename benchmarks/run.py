"""One command for the benchmark suite: ``python benchmarks/run.py [--quick]`` (``make bench``).

Times every workload on every contender that can run here, in one run: nnfs_gpu on each usable
backend, the book-style NumPy baseline, PyTorch (CPU, and CUDA when present) when it is importable,
and each library's float32 matrix-multiply ceiling. Prints a table and the ratios, and writes JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable, Iterator

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import numpy as np  # noqa: E402

import contenders  # noqa: E402
import per_call  # noqa: E402
import nnfs_gpu  # noqa: E402
from workloads import WORKLOADS, Workload  # noqa: E402

GEMM_SHAPE = (1024, 4096, 4096)  # W3's dominant product: (m, k) @ (k, n)
#: a pause before each timed run: the thread pools of the contender that ran before (OpenBLAS,
#: OpenMP) keep spinning for a while after their last call and would slow the next one down
SETTLE_SECONDS = 0.5


def has_module(name: str) -> bool:
    with contextlib.suppress(Exception):
        __import__(name)
        return True
    return False


def torch_has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def available_contenders() -> dict[str, tuple[Callable, str]]:
    """Contender name -> (prepare, library whose GEMM ceiling applies)."""
    found: dict[str, tuple[Callable, str]] = {
        "nnfs_gpu[numpy]": (contenders.nnfs_gpu_contender("numpy"), "numpy"),
    }
    if nnfs_gpu.available_backends()["cupy"].available:
        found["nnfs_gpu[cupy]"] = (contenders.nnfs_gpu_contender("cupy"), "cupy")
    found["book-numpy"] = (contenders.book_contender, "numpy")
    if has_module("torch"):
        found["nnfs_gpu[torch-cpu]"] = (contenders.nnfs_gpu_contender("torch", device="cpu"), "torch-cpu")
        found["torch-cpu"] = (contenders.torch_contender("cpu"), "torch-cpu")
        if torch_has_cuda():
            found["nnfs_gpu[torch-cuda]"] = (contenders.nnfs_gpu_contender("torch", device="cuda"), "torch-cuda")
            found["torch-cuda"] = (contenders.torch_contender("cuda"), "torch-cuda")
    return found


def gemm_ceiling(library: str, repeats: int) -> float:
    """Best float32 GEMM GFLOP/s of ``library`` on GEMM_SHAPE (TF32 off on GPUs)."""
    m, k, n = GEMM_SHAPE
    if library == "numpy":
        a, b = np.ones((m, k), np.float32), np.ones((k, n), np.float32)
        multiply, synchronize = (lambda: a @ b), (lambda: None)
    elif library == "cupy":
        import cupy

        a, b = cupy.ones((m, k), cupy.float32), cupy.ones((k, n), cupy.float32)
        multiply, synchronize = (lambda: a @ b), cupy.cuda.get_current_stream().synchronize
    else:
        import torch

        device = "cuda" if library == "torch-cuda" else "cpu"
        torch.backends.cuda.matmul.allow_tf32 = False
        a, b = torch.ones((m, k), device=device), torch.ones((k, n), device=device)
        multiply = lambda: a @ b  # noqa: E731
        synchronize = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    multiply()
    synchronize()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        multiply()
        synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * m * k * n / best / 1e9


@contextlib.contextmanager
def peak_memory(library: str) -> Iterator[dict[str, float | None]]:
    """Peak bytes allocated by ``library`` inside the block (None where it cannot be seen)."""
    found: dict[str, float | None] = {"bytes": None}
    if library == "numpy":
        tracemalloc.start()
        try:
            yield found
        finally:
            found["bytes"] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    elif library == "cupy":
        import cupy

        pool = cupy.get_default_memory_pool()
        pool.free_all_blocks()
        yield found
        found["bytes"] = pool.total_bytes()
    elif library == "torch-cuda":
        import torch

        torch.cuda.reset_peak_memory_stats()
        yield found
        found["bytes"] = torch.cuda.max_memory_allocated()
    else:
        yield found


def time_contenders(contenders: dict[str, tuple[Callable, str]], workload: Workload, X: Any, y: Any,
                    repeats: int) -> dict[str, dict[str, Any]]:
    """Times every contender on one workload, taking turns: each round runs every contender once,
    so a slow patch on a shared machine lands on all of them instead of on one contender's runs
    (the ratios are what the project is judged on); each timed run starts after SETTLE_SECONDS."""
    runs: dict[str, tuple[Callable, Callable]] = {}
    memory_mb: dict[str, float | None] = {}
    for name, (prepare, library) in contenders.items():
        trainer = prepare(workload, X, y)
        if trainer is None:  # a contender that does not run this workload
            continue
        train, synchronize = trainer
        with peak_memory(library) as memory:  # the warm-up run: compiles, allocates, fills caches
            train()
            synchronize()
        runs[name] = (train, synchronize)
        memory_mb[name] = None if memory["bytes"] is None else memory["bytes"] / 2**20
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (train, synchronize) in runs.items():
            time.sleep(SETTLE_SECONDS)
            start = time.perf_counter()
            train()
            synchronize()
            seconds[name].append(time.perf_counter() - start)
    return {name: summary(times, memory_mb[name], workload) for name, times in seconds.items()}


def summary(seconds: list[float], memory_mb: float | None, workload: Workload) -> dict[str, Any]:
    median = statistics.median(seconds)
    return {
        "median_s": median,
        "min_s": min(seconds),
        "max_s": max(seconds),
        "samples_per_s": workload.samples * workload.epochs / median,
        "gflops": workload.useful_flops() / median / 1e9,
        "peak_memory_mb": memory_mb,
    }


#: a small training run in a fresh process: what the first call of the numba kernels costs
COMPILE_PROBE = """
import numpy as np, nnfs_gpu
from nnfs_gpu.datasets import spiral_data
X, y = spiral_data(100, 3)
for optimizer in (nnfs_gpu.Adam(), nnfs_gpu.SGD(momentum=0.9), nnfs_gpu.RMSprop(), nnfs_gpu.Adagrad()):
    model = nnfs_gpu.Model()
    for layer in (nnfs_gpu.Dense(2, 64), nnfs_gpu.ReLU(), nnfs_gpu.Dense(64, 3), nnfs_gpu.Softmax()):
        model.add(layer)
    model.set(loss=nnfs_gpu.CategoricalCrossentropy(), optimizer=optimizer, accuracy=nnfs_gpu.Categorical())
    model.finalize()
    model.train(X, y, epochs=2, verbose=False)
"""


def numba_first_call() -> dict[str, Any]:
    """Seconds a small training run takes in a fresh process: with numba and an empty kernel cache
    (the compile), with the cache filled by that run, and without numba; numba's version and threads."""
    import subprocess
    import tempfile

    from nnfs_gpu.backends import numba_ops

    if not numba_ops.wanted():
        return {"numba": None, "why": f"numba is not installed or {numba_ops.NUMBA_VARIABLE}=0"}
    import numba

    from nnfs_gpu.backends.cpu_threads import WORKERS

    def run(**variables: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", COMPILE_PROBE], check=True, env={**os.environ, **variables})
        return time.perf_counter() - start

    with tempfile.TemporaryDirectory() as cache:
        empty, filled = run(NUMBA_CACHE_DIR=cache), run(NUMBA_CACHE_DIR=cache)
    without = run(NNFS_GPU_NUMBA="0")
    return {"numba": numba.__version__, "threads": WORKERS, "empty_cache_s": empty, "filled_cache_s": filled,
            "without_numba_s": without, "first_call_compile_s": empty - without, "cached_load_s": filled - without}


def source_commit() -> str | None:
    """The commit of the nnfs_gpu that runs ("+changes" when tracked files differ), None outside git."""
    import subprocess

    folder = Path(nnfs_gpu.__file__).parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=folder, capture_output=True, text=True, check=True)
        changes = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=folder, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit.stdout.strip() + ("+changes" if changes.stdout.strip() else "")


def environment() -> dict[str, Any]:
    info: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "nnfs_gpu": nnfs_gpu.__version__,
        "commit": source_commit(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
    }
    with contextlib.suppress(Exception):
        import threadpoolctl

        info["blas"] = [{key: pool.get(key) for key in ("internal_api", "version", "architecture", "num_threads")}
                        for pool in threadpoolctl.threadpool_info()]
    if has_module("torch"):
        import torch

        info["torch"] = torch.__version__
    info["numba_kernels"] = numba_first_call()
    statuses = nnfs_gpu.available_backends()
    if statuses["cupy"].available:
        import cupy

        info["cupy"] = cupy.__version__
        info["cuda_runtime"] = cupy.cuda.runtime.runtimeGetVersion()
        info["cuda_driver"] = cupy.cuda.runtime.driverGetVersion()
        with nnfs_gpu.use_backend("cupy") as backend:
            info["gpu"] = backend.describe()
    return info


def ratios(results: dict[str, dict[str, dict[str, Any]]], ceilings: dict[str, float], libraries: dict[str, str]) -> list[dict[str, Any]]:
    """The comparisons the project is judged on, each as 'a is N x b' or 'a reaches N % of a ceiling'."""
    rows = []
    pairs = [("nnfs_gpu[numpy]", "book-numpy"), ("nnfs_gpu[numpy]", "torch-cpu"), ("nnfs_gpu[cupy]", "torch-cuda"),
             ("nnfs_gpu[cupy]", "nnfs_gpu[numpy]"), ("nnfs_gpu[cupy]", "book-numpy"),
             ("nnfs_gpu[torch-cpu]", "torch-cpu"), ("nnfs_gpu[torch-cuda]", "torch-cuda")]
    for workload, timings in results.items():
        for ours, theirs in pairs:
            if ours in timings and theirs in timings:
                rows.append({"workload": workload, "what": f"{ours} vs {theirs}",
                             "speedup": timings[theirs]["median_s"] / timings[ours]["median_s"]})
        for name, timing in timings.items():
            ceiling = ceilings.get(libraries[name])
            if ceiling:
                timing["percent_of_gemm_ceiling"] = 100 * timing["gflops"] / ceiling
    return rows


def print_report(results: dict[str, dict[str, dict[str, Any]]], ceilings: dict[str, float], rows: list[dict[str, Any]]) -> None:
    print(f"\n{'workload':9}{'contender':22}{'median s':>10}{'spread s':>16}{'samples/s':>12}{'GFLOP/s':>9}{'% ceil':>8}{'peak MB':>9}")
    for workload, timings in results.items():
        for name, t in timings.items():
            memory = "-" if t["peak_memory_mb"] is None else f"{t['peak_memory_mb']:.1f}"
            print(f"{workload:9}{name:22}{t['median_s']:10.4f}{t['min_s']:8.4f}-{t['max_s']:<7.4f}"
                  f"{t['samples_per_s']:12.0f}{t['gflops']:9.1f}{t.get('percent_of_gemm_ceiling', 0):7.1f}%{memory:>9}")
    print("\nfloat32 GEMM ceilings (GFLOP/s, %dx%d @ %dx%d): " % (GEMM_SHAPE[0], GEMM_SHAPE[1], GEMM_SHAPE[1], GEMM_SHAPE[2])
          + ", ".join(f"{library} {value:.0f}" for library, value in ceilings.items()))
    print("\nratios (speedup = their time / our time):")
    for row in rows:
        print(f"  {row['workload']}: {row['what']}: {row['speedup']:.2f}x")


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (about 2 minutes on 2 cores)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help=f"comma-separated subset of {','.join(WORKLOADS)}")
    parser.add_argument("--contenders", default=None, help="comma-separated subset of the contender names")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per contender (default 5; 3 with --quick)")
    parser.add_argument("--json", type=Path, default=None, help="where to write the JSON (default benchmarks/results/bench-<utc time>.json)")
    arguments = parser.parse_args(argv)
    unknown = set(arguments.workloads.split(",")) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads {sorted(unknown)}; choose from {', '.join(WORKLOADS)}")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    repeats = arguments.repeats or (3 if arguments.quick else 5)
    found = available_contenders()
    chosen = arguments.contenders.split(",") if arguments.contenders else list(found)
    missing = [name for name in chosen if name not in found]
    if missing:
        print(f"benchmarks: not available here: {', '.join(missing)} (available: {', '.join(found)})", file=sys.stderr)
        return 2
    libraries = {name: found[name][1] for name in chosen}
    info = environment()
    print(json.dumps(info, indent=1))
    if info.get("openblas_coretype"):
        print(f"note: OPENBLAS_CORETYPE={info['openblas_coretype']} is set; OpenBLAS may run slower kernels than this CPU allows")
    ceilings = {library: gemm_ceiling(library, repeats + 2) for library in dict.fromkeys(libraries.values())}
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for key in arguments.workloads.split(","):
        workload = WORKLOADS[key].scaled(arguments.quick)
        X, y = workload.data()
        print(f"{key}: {workload.description}" + (" [quick]" if arguments.quick else ""), flush=True)
        results[key] = time_contenders({name: found[name] for name in chosen}, workload, X, y, repeats)
        for name, timing in results[key].items():
            print(f"  {name}: {timing['median_s']:.4f} s", flush=True)
    rows = ratios(results, ceilings, libraries)
    print_report(results, ceilings, rows)
    costs = per_call.per_call_costs(repeats) if "W0" in results and "nnfs_gpu[numpy]" in chosen else None
    if costs:
        per_call.print_costs(costs)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = arguments.json or HERE / "results" / f"bench-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    report = {"environment": info, "quick": arguments.quick, "repeats": repeats, "gemm_ceiling_gflops": ceilings,
              "workloads": {key: WORKLOADS[key].scaled(arguments.quick).description for key in results},
              "results": results, "ratios": rows, "per_call_us": costs, "command": " ".join(["benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])])}
    path.write_text(json.dumps(report, indent=1))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
