"""scripts/gpu_check.sh and its helpers, as far as a machine without a GPU can check them: the shell
script's syntax and plan (a dry run), and each Python helper's answer where there is no GPU."""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.sh"
sys.path.insert(0, str(ROOT / "scripts"))

import gpu_check_report  # noqa: E402
import nnfs_gpu  # noqa: E402
import gpu_launch_count  # noqa: E402
from launch_workloads import IN_STEP  # noqa: E402


def run(*command: str, **environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env={**os.environ, **environment})


def test_the_script_parses():
    assert run("bash", "-n", str(SCRIPT)).returncode == 0


@pytest.fixture(scope="module")
def plan(tmp_path_factory) -> list[str]:
    completed = run("bash", str(SCRIPT), str(tmp_path_factory.mktemp("out")), GPU_CHECK_DRY_RUN="1")
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.splitlines()


def test_every_step_runs_under_timeout_within_five_minutes(plan):
    steps = [line for line in plan if line.startswith("step ")]
    names = [line.split(":")[0].removeprefix("step ") for line in steps]
    assert names == ["install", "environment", "gpu-tests", "launch-count", "graph-capture", "demo", "bench-quick",
                     "summary"]
    assert all(re.search(r": timeout -k \d+ \d+ ", line) for line in steps), steps
    budget = int(re.fullmatch(r"budget: (\d+)s", plan[-1]).group(1))
    assert budget <= 300


def test_it_installs_from_wheels_into_a_target_folder_offline(plan):
    install = next(line for line in plan if line.startswith("step install"))
    assert "--no-index" in install and "--target" in install and re.search(r" wheels/\S*\.whl", install)
    code = [line for line in SCRIPT.read_text().splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in code if "venv" in line or "ensurepip" in line]


def test_at_most_eight_result_files(plan):
    outputs = {line.rsplit("> ", 1)[1] for line in plan if line.startswith("step ")}
    outputs |= set(re.findall(r'"\$OUT/([\w.-]+)"', SCRIPT.read_text()))
    assert outputs == {"steps.log", "environment.json", "pytest.log", "launch_count.json", "graph_capture.json",
                       "bench-quick.json", "summary.json"}  # at most eight come back from a GPU run


#: these check what a machine without a GPU reports; on a GPU machine gpu_check.sh checks the rest
WITHOUT_A_GPU = pytest.mark.skipif(nnfs_gpu.available_backends()["cupy"].available, reason="this machine has a GPU")


@WITHOUT_A_GPU
def test_the_environment_report_says_there_is_no_gpu_here():
    report = json.loads(run(sys.executable, "scripts/gpu_check_report.py", "environment").stdout)
    assert set(report) == {"python", "numpy", "array_api_compat", "cupy", "cuda_runtime", "cuda_driver", "nvrtc",
                           "gpu_usable", "nvidia_smi"}
    assert report["gpu_usable"] is False or str(report["gpu_usable"]).startswith("unavailable")


def test_the_summary_reads_statuses_and_results(tmp_path):
    (tmp_path / "pytest.log").write_text("...\n3 passed, 1 skipped in 2.0s\n")
    (tmp_path / "launch_count.json").write_text('{"available": false, "reason": "no GPU"}')
    (tmp_path / "graph_capture.json").write_text("{half written")
    summary = gpu_check_report.summary(tmp_path, ["install 0 3", "gpu-tests 0 40", "gpu-tests-ran 1 0"])
    assert summary["ok"] is False
    assert summary["steps"]["gpu-tests"] == {"exit_status": 0, "seconds": 40}
    assert summary["pytest"] == "3 passed, 1 skipped in 2.0s"
    assert summary["launch_count"] == {"available": False, "reason": "no GPU"}
    assert summary["graph_capture"].startswith("unreadable: JSONDecodeError")
    assert summary["environment"].startswith("unreadable: FileNotFoundError")
    assert gpu_check_report.summary(tmp_path, ["install 0 3"])["ok"] is True


@WITHOUT_A_GPU
def test_the_launch_counter_says_why_it_cannot_count_here():
    completed = run(sys.executable, "scripts/gpu_launch_count.py")
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["available"] is False and "CUDA device" in report["reason"]


def test_the_launch_count_fails_unless_every_step_matches_the_stand_in():
    matching = {"launches": 9, "matches_standin": True}
    assert gpu_launch_count.counts_agree({"W2 quiet": matching, "W1 quiet": matching})
    assert not gpu_launch_count.counts_agree({"W2 quiet": matching, "W1 quiet": {**matching, "matches_standin": False}})
    assert not gpu_launch_count.counts_agree({"W2 quiet": matching, "W1 quiet": {"error": "RuntimeError: boom"}})
    assert not gpu_launch_count.counts_agree({})


def test_a_torch_step_that_waits_or_copies_when_quiet_fails_the_count():
    quiet, shown = {"launches": 30, "copies": 0, "syncs": 0}, {"launches": 30, "copies": 2, "syncs": 0}
    assert gpu_launch_count.torch_never_waits({"W1 quiet": quiet, "W1 book lines": shown})
    assert not gpu_launch_count.torch_never_waits({"W1 quiet": quiet, "W1 book lines": {**shown, "syncs": 1}})
    assert not gpu_launch_count.torch_never_waits({"W1 quiet": {**quiet, "copies": 1}})
    assert not gpu_launch_count.torch_never_waits({"W1 quiet": {"error": "RuntimeError: boom"}})
    assert not gpu_launch_count.torch_never_waits({})


def test_profiler_events_are_classified_as_the_stand_in_counts():
    classify = gpu_launch_count.classify
    assert classify("ampere_sgemm_32x32_sliced1x4_nn", on_device=True) == "kernel"
    assert classify("Memset (Device)", on_device=True) == "memset"
    assert classify("Memcpy DtoH (Device -> Pageable)", on_device=True) == "copy"
    assert classify("cudaStreamSynchronize", on_device=False) == "sync"
    assert classify("cudaLaunchKernel", on_device=False) is None
    events = collections.Counter({("kernel", "gemm"): 8, ("memset", "Memset (Device)"): 1,
                                  ("copy", "Memcpy DtoH (Device -> Pinned)"): 2, ("sync", "cudaEventSynchronize"): 1,
                                  ("sync", f"{IN_STEP}cudaMemcpy"): 3})
    counted = gpu_launch_count.summarize(events, {"launches": 9, "copies": 2, "syncs": 3})
    assert (counted["launches"], counted["copies"], counted["syncs"], counted["matches_standin"]) == (9, 2, 3, True)
    assert gpu_launch_count.summarize(events, {"launches": 9, "copies": 2, "syncs": 4})["matches_standin"] is False
