#!/usr/bin/env bash
# Everything a GPU machine should run, in one command:
#   bash scripts/gpu_check.sh [OUT_DIR]        (default OUT_DIR: benchmarks/results/gpu-check-<date>)
# Needs Python with CuPy, NumPy and pytest; the other pure-Python packages come from ./wheels
# (made beforehand, with network, by `make wheels`), so the machine needs no network.
# Writes into OUT_DIR: environment.txt, pytest.log (the whole suite, the cupy parity cases included),
# demo_cupy.log, graph_capture.json (what CuPy can capture into a CUDA graph here), bench-quick.log
# and bench-quick.json (benchmarks/run.py --quick), and summary.json.
# Exits non-zero when a step fails or when the CuPy tests did not run.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-benchmarks/results/gpu-check-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
status=0

if ! "$PY" -c "import array_api_compat, array_api_strict, nnfs, hypothesis, tqdm" 2>/dev/null; then
    if [ -d wheels ]; then
        "$PY" -m venv --system-site-packages .gpu-venv && PY=.gpu-venv/bin/python
        "$PY" -m pip install --quiet --no-index --find-links wheels \
            array-api-compat array-api-strict nnfs hypothesis tqdm || status=1
    else
        echo "missing packages and no ./wheels folder: run 'make wheels' where there is network" >&2
        status=1
    fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
    "$PY" - <<'PYEOF'
import platform, numpy
print("python:", platform.python_version())
print("numpy:", numpy.__version__)
try:
    import cupy
    print("cupy:", cupy.__version__)
    print("cuda runtime:", cupy.cuda.runtime.runtimeGetVersion())
    print("cuda driver:", cupy.cuda.runtime.driverGetVersion())
    print("cupy usable:", cupy.cuda.is_available())
except Exception as error:
    print("cupy: unavailable:", error)
PYEOF
} > "$OUT/environment.txt" 2>&1
cat "$OUT/environment.txt"

start=$(date +%s)
"$PY" -m pytest -ra -p no:cacheprovider > "$OUT/pytest.log" 2>&1 || status=1
tests_s=$(( $(date +%s) - start ))
tail -n 1 "$OUT/pytest.log"
cupy_skips=$(grep -cE '^SKIPPED .*(CuPy|CUDA)' "$OUT/pytest.log")
if [ "$cupy_skips" -gt 0 ]; then
    echo "the CuPy tests were skipped ($cupy_skips lines in pytest.log): no usable GPU" >&2
    status=1
fi

start=$(date +%s)
NNFS_GPU_BACKEND=cupy "$PY" examples/ch10_sgd.py > "$OUT/demo_cupy.log" 2>&1 || status=1
demo_s=$(( $(date +%s) - start ))
head -n 1 "$OUT/demo_cupy.log"; tail -n 1 "$OUT/demo_cupy.log"

"$PY" scripts/probe_graph_capture.py > "$OUT/graph_capture.json" 2> "$OUT/graph_capture.log" || status=1
echo "graph capture probe: $OUT/graph_capture.json"

start=$(date +%s)
"$PY" benchmarks/run.py --quick --json "$OUT/bench-quick.json" > "$OUT/bench-quick.log" 2>&1 || status=1
bench_s=$(( $(date +%s) - start ))
sed -n '/^ratios/,$p' "$OUT/bench-quick.log"

"$PY" - "$OUT" "$status" "$tests_s" "$demo_s" "$bench_s" <<'PYEOF'
import json, sys
out, status, tests_s, demo_s, bench_s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def read_json(path):
    try:
        return json.load(open(path))
    except Exception as error:  # a crashed probe leaves no JSON; say so instead of failing the summary
        return f"unreadable: {error}"
lines = open(f"{out}/pytest.log").read().strip().splitlines()
summary = {
    "environment": dict(line.split(": ", 1) for line in open(f"{out}/environment.txt").read().splitlines() if ": " in line),
    "pytest_result": lines[-1] if lines else "",
    "pytest_seconds": tests_s,
    "demo_last_line": (open(f"{out}/demo_cupy.log").read().strip().splitlines() or [""])[-1],
    "demo_seconds": demo_s,
    "graph_capture": read_json(f"{out}/graph_capture.json"),
    "bench_quick_seconds": bench_s,
    "ok": status == 0,
}
json.dump(summary, open(f"{out}/summary.json", "w"), indent=1)
PYEOF
echo "gpu check: $([ $status -eq 0 ] && echo passed || echo FAILED); logs in $OUT"
exit $status
