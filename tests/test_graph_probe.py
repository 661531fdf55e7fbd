"""The CUDA-graph capture probe that gpu_check.sh runs: it reports, and never crashes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from support import HANG_GUARD_S

ROOT = Path(__file__).resolve().parents[1]
PIECES = {"elementwise_into_out", "fused_relu_backward_into_out", "sum_over_rows_into_out", "matmul_into_out",
          "elementwise_allocating", "matmul_allocating"}


def test_the_graph_capture_probe_reports_what_it_found():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    completed = subprocess.run([sys.executable, str(ROOT / "scripts" / "probe_graph_capture.py")],
                               capture_output=True, text=True, env=env, timeout=HANG_GUARD_S)
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    if not report["available"]:  # no GPU here: it says why
        assert report["reason"]
        return
    assert set(report["pieces"]) == PIECES
    for name, found in report["pieces"].items():
        assert isinstance(found["captured"], bool), name
        assert ("replay_matches_eager" in found) == found["captured"] and ("error" in found) != found["captured"], name
    # the plainest capture must work, or the probe itself is broken
    assert report["pieces"]["elementwise_into_out"] == {"captured": True, "replay_matches_eager": True}
