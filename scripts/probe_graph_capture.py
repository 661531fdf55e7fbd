"""Which pieces of a training step CuPy can capture into a CUDA graph here (run by gpu_check.sh).

Prints one JSON object. For each piece (an element-wise op, one of nnfs_gpu's fused kernels, a
reduction, cupy.matmul, an op that allocates its result) it says whether the capture worked and
whether replaying the graph on new inputs gives what the eager op gives, or which error the capture
raised. CuPy has refused some CUDA libraries during capture (cupy/cupy#6290 lists cuBLAS as not yet
supported), so the opt-in CUDA-graph training step of issue 4 is designed from these answers.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable

import numpy as np


def probe(cupy: Any, step: Callable[[Any], Any], shape: tuple[int, ...]) -> dict[str, Any]:
    """Captures ``step(x)`` once, then replays it after ``x`` changed and compares with eager."""
    stream = cupy.cuda.Stream(non_blocking=True)
    try:
        with stream:
            x = cupy.random.standard_normal(shape, dtype=cupy.float32)
            step(x)  # warm-up: compiles kernels and fills the memory pool outside the capture
            stream.synchronize()
            stream.begin_capture()
            try:
                captured = step(x)
            finally:
                graph = stream.end_capture()
            x[...] = cupy.random.standard_normal(shape, dtype=cupy.float32)
            graph.launch()
            stream.synchronize()
            replayed = cupy.asnumpy(captured)
            expected = cupy.asnumpy(step(x))
            stream.synchronize()
        return {"captured": True, "replay_matches_eager": bool(np.allclose(replayed, expected, rtol=1e-5, atol=1e-6))}
    except Exception as error:  # the point is to record what fails, whatever it is
        return {"captured": False, "error": f"{type(error).__name__}: {error}"}


def main() -> int:
    try:
        import cupy

        if not cupy.cuda.is_available():
            raise RuntimeError("no usable CUDA device")
    except Exception as error:
        print(json.dumps({"available": False, "reason": f"{type(error).__name__}: {error}"}))
        return 0
    from nnfs_gpu.backends.cupy_kernels import kernel

    rows, width = 128, 256
    weights = cupy.random.standard_normal((width, width), dtype=cupy.float32)
    out = cupy.empty((rows, width), dtype=cupy.float32)
    row = cupy.empty((1, width), dtype=cupy.float32)
    pieces = {
        "elementwise_into_out": lambda x: cupy.multiply(x, 2, out=out),
        "fused_relu_backward_into_out": lambda x: kernel("relu_backward")(x, x, out),
        "sum_over_rows_into_out": lambda x: cupy.sum(x, axis=0, keepdims=True, out=row),
        "matmul_into_out": lambda x: cupy.matmul(x, weights, out=out),
        "elementwise_allocating": lambda x: x * 2,
        "matmul_allocating": lambda x: x @ weights,
    }
    report = {"available": True, "cupy": cupy.__version__,
              "pieces": {name: probe(cupy, step, (rows, width)) for name, step in pieces.items()}}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
