#!/usr/bin/env bash
# Everything a GPU machine should run, in one command, offline, in at most 5 minutes:
#   make wheels                         (beforehand, where there is network: the pure-Python packages
#                                        a GPU image lacks, as wheels in ./wheels)
#   bash scripts/gpu_check.sh [OUT_DIR] (on the GPU machine; default benchmarks/results/gpu-check-<time>)
# It needs python3 with CuPy, NumPy and pytest (as on the H200 image); the wheels are installed with
# `pip install --target` into a folder put on PYTHONPATH (no venv, no ensurepip). Every step runs under
# `timeout`, cut to what is left of the budget. OUT_DIR gets 7 files: environment.json (driver, CUDA,
# NVRTC, CuPy, array-api-compat versions), pytest.log (the GPU tests: the parity suite on CuPy and on the
# torch backend on CUDA, 'torch-cuda'), launch_count.json (real launches, copies and syncs per step against
# the recording stand-in's, and the torch backend's, which must never wait), graph_capture.json, bench-quick.json, steps.log
# (every step's output: install, demo, benchmark) and summary.json (read it first).
# Exits non-zero when a step fails or when the CuPy tests did not run.
# GPU_CHECK_DRY_RUN=1 prints each step with its time limit instead of running it.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-benchmarks/results/gpu-check-$(date -u +%Y%m%dT%H%M%SZ)}
PY=${PYTHON:-python3}
SITE=${GPU_CHECK_SITE:-${TMPDIR:-/tmp}/nnfs-gpu-site}
DRY_RUN=${GPU_CHECK_DRY_RUN:-0}
BUDGET_S=285      # for the steps; the summary gets SUMMARY_S more, and a step ignoring TERM KILL_S
SUMMARY_S=10
KILL_S=5
START=$(date +%s)
STATUS=$(mktemp)
mkdir -p "$OUT"

# step NAME LIMIT_S OUTPUT COMMAND...: COMMAND under timeout (LIMIT_S, cut to what is left of the
# budget), its stdout into OUT/OUTPUT and its stderr into steps.log (both into steps.log when OUTPUT is
# steps.log); records "NAME STATUS SECONDS" in the status file.
step() {
    local name=$1 limit=$2 output=$3
    shift 3
    local left=$((START + BUDGET_S - KILL_S - $(date +%s)))
    if ((left < limit)); then limit=$left; fi
    if [ "$DRY_RUN" = 1 ]; then
        echo "step $name: timeout -k $KILL_S $limit $* > $output"
        return 0
    fi
    echo "== $name (at most ${limit}s): $*" >>"$OUT/steps.log"
    if ((limit <= 0)); then
        echo "$name 124 0" >>"$STATUS"
        echo "$name: not run, the time budget is spent" | tee -a "$OUT/steps.log"
        return 0
    fi
    local began status
    began=$(date +%s)
    if [ "$output" = steps.log ]; then
        timeout -k "$KILL_S" "$limit" "$@" >>"$OUT/steps.log" 2>&1
    else
        timeout -k "$KILL_S" "$limit" "$@" >"$OUT/$output" 2>>"$OUT/steps.log"
    fi
    status=$?
    echo "$name $status $(($(date +%s) - began))" >>"$STATUS"
    echo "$name: exit $status after $(($(date +%s) - began))s"
}

if [ "$DRY_RUN" != 1 ] && ! ls wheels/*.whl >/dev/null 2>&1; then
    echo "no wheels in ./wheels: run 'make wheels' where there is network, and bring the folder along" >&2
    echo "install 1 0" >>"$STATUS"
else
    step install 60 steps.log "$PY" -m pip install --quiet --no-index --no-deps --no-compile --upgrade \
        --target "$SITE" wheels/*.whl
fi
export PYTHONPATH="$PWD:$SITE${PYTHONPATH:+:$PYTHONPATH}"

step environment 30 environment.json "$PY" scripts/gpu_check_report.py environment
step gpu-tests 150 pytest.log "$PY" -m pytest -m gpu -q -ra -p no:cacheprovider
if [ "$DRY_RUN" != 1 ]; then
    skipped=$(grep -cE '^SKIPPED .*(CuPy|CUDA)' "$OUT/pytest.log")
    echo "gpu-tests-ran $((skipped > 0)) 0" >>"$STATUS"
fi
step launch-count 60 launch_count.json "$PY" scripts/gpu_launch_count.py
step graph-capture 40 graph_capture.json "$PY" scripts/probe_graph_capture.py
step demo 40 steps.log env NNFS_GPU_BACKEND=cupy "$PY" examples/ch10_sgd.py --epochs 1001
step bench-quick 150 steps.log "$PY" benchmarks/run.py --quick --json "$OUT/bench-quick.json"

if [ "$DRY_RUN" = 1 ]; then
    echo "step summary: timeout -k $KILL_S $SUMMARY_S $PY scripts/gpu_check_report.py summary > summary.json"
    echo "budget: $((BUDGET_S + SUMMARY_S + KILL_S))s"
    rm -f "$STATUS"
    exit 0
fi
timeout -k "$KILL_S" "$SUMMARY_S" "$PY" scripts/gpu_check_report.py summary "$OUT" "$STATUS" >"$OUT/summary.json"
failed=$(awk '$2 != 0 {print $1}' "$STATUS" | tr '\n' ' ')
rm -f "$STATUS"
echo "gpu check: ${failed:+FAILED: }${failed:-passed}; $(($(date +%s) - START))s; results in $OUT"
[ -z "$failed" ]
