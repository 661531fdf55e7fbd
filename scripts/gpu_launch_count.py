"""Counts the real launches, copies and host synchronisations of one training step on a GPU, to
check the recording stand-in's model (tests/cupy_standin) against CuPy on the device. gpu_check.sh
runs it.

Prints one JSON object: for each workload and mode of tests/launch_workloads.py (the steps the
budget test counts on the stand-in), the kernels, memsets and copies the GPU ran and the host calls
that waited, as CUDA's profiling interface saw them through torch.profiler (CUPTI records every CUDA
call of the process, CuPy's included), counted as the stand-in's are (``launch_workloads.step_counts``:
launches are kernels and memsets, copies on their own, and the waits inside a step, which runs in a
``record_function`` range), beside the stand-in's count (launch_workloads.STEP_COUNTS); then the
same steps on the torch backend on CUDA ("torch_steps"), which must never wait inside a step.
Without a usable GPU or without torch it says why and exits 0: the counts are then missing, not zero.
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: host calls that wait for the device (runtime and driver API names as the profiler records them)
SYNC_CALLS = frozenset({
    "cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaEventSynchronize", "cudaMemcpy",
    "cuStreamSynchronize", "cuCtxSynchronize", "cuEventSynchronize", "cuMemcpyDtoH_v2", "cuMemcpy",
})
#: the profiler range each training step runs in
STEP_RANGE = "nnfs_gpu step"


def classify(name: str, on_device: bool) -> str | None:
    """The kind of a profiler event: GPU work is a 'kernel', 'memset' or 'copy'; a host call that
    waits is a 'sync'; anything else is None."""
    if on_device:
        lowered = name.lower()
        return "memset" if lowered.startswith("memset") else "copy" if lowered.startswith("memcpy") else "kernel"
    return "sync" if name in SYNC_CALLS else None


def summarize(events: collections.Counter, standin: dict[str, int] | None) -> dict[str, Any]:
    """One step's counts, as the stand-in's are counted, beside the stand-in's."""
    from launch_workloads import step_counts

    kinds = collections.Counter()
    for (kind, _), count in events.items():
        kinds[kind] += count
    measured = step_counts(list(events.elements()))
    return {**measured, "by_kind": dict(kinds), "standin": standin, "matches_standin": measured == standin,
            "operations": {f"{kind} {name}": count for (kind, name), count in sorted(events.items())}}


def in_step() -> Any:
    """A profiler range around a training step (``launch_workloads.one_step`` puts every step in one)."""
    from torch.profiler import record_function

    return record_function(STEP_RANGE)


class DeviceRecording:
    """torch.profiler around a block; afterwards ``events`` holds (kind, name) of what it saw, a wait
    made inside a step's range named as the step's (``launch_workloads.IN_STEP``)."""

    def __enter__(self) -> "DeviceRecording":
        from torch.profiler import ProfilerActivity, profile

        self.events: list[tuple[str, str]] = []
        self.profiler = profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA])
        self.profiler.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        import nnfs_gpu
        from launch_workloads import IN_STEP
        from torch.autograd import DeviceType

        nnfs_gpu.get_backend().synchronize()  # outside what is counted: the profiler stops after this
        self.profiler.__exit__(*exc)
        events = list(self.profiler.events())
        steps = [(event.time_range.start, event.time_range.end) for event in events if event.name == STEP_RANGE]
        for event in events:
            kind = classify(event.name, event.device_type == DeviceType.CUDA)
            if kind is None:
                continue
            inside = kind == "sync" and any(start <= event.time_range.start <= end for start, end in steps)
            self.events.append((kind, f"{IN_STEP if inside else ''}{event.name}"))


def why_no_counter() -> str | None:
    """Why the device's events cannot be counted on this GPU machine, or None."""
    try:
        import torch
        from torch.profiler import ProfilerActivity  # noqa: F401
    except ImportError as error:
        return f"no device counter: torch.profiler cannot be imported ({error})"
    return None if torch.cuda.is_available() else "no device counter: torch sees no CUDA device"


def main() -> int:
    """0 when every count matches the stand-in's and torch's steps never wait, or when there is no GPU
    to count on; 1 when a GPU is there and a count is missing, failed or differs, or a torch step
    waits (so gpu_check.sh's summary is not "ok")."""
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    import nnfs_gpu

    no_gpu = nnfs_gpu.available_backends()["cupy"].reason
    reason = no_gpu or why_no_counter()
    if reason is not None:
        print(json.dumps({"available": False, "reason": reason}, indent=1))
        return 0 if no_gpu else 1
    from launch_workloads import STEP_COUNTS

    steps = count_steps("cupy", STEP_COUNTS)
    torch_steps = count_steps("torch-on-cuda", dict.fromkeys(STEP_COUNTS))
    print(json.dumps({"available": True, "counter": "torch.profiler (CUPTI)", "steps": steps,
                      "torch_steps": torch_steps}, indent=1))
    return 0 if counts_agree(steps) and torch_never_waits(torch_steps) else 1


def count_steps(backend: str, standins: dict[tuple[str, str], Any]) -> dict[str, dict[str, Any]]:
    """Each workload and mode's step on ``backend`` ('cupy', or 'torch-on-cuda': torch on CUDA,
    which has no stand-in count), counted beside its stand-in's count."""
    import nnfs_gpu
    from launch_workloads import one_step

    steps = {}
    options = {"device": "cuda"} if backend == "torch-on-cuda" else {}
    with nnfs_gpu.use_backend(backend.removesuffix("-on-cuda"), **options):
        for (workload, mode), standin in standins.items():
            try:
                steps[f"{workload} {mode}"] = summarize(one_step(workload, mode, DeviceRecording, in_step), standin)
            except Exception as error:  # report and go on: one failed count must not hide the others
                steps[f"{workload} {mode}"] = {"error": f"{type(error).__name__}: {error}"}
    return steps


def torch_never_waits(steps: dict[str, dict[str, Any]]) -> bool:
    """The torch backend keeps CuPy's contract: every step counted, none waits for the device, and a
    quiet one copies nothing to the host (its launches are torch's own: no budget here)."""
    return bool(steps) and all("error" not in step and step["syncs"] == 0
                               and (step["copies"] == 0 or not name.endswith("quiet")) for name, step in steps.items())


def counts_agree(steps: dict[str, dict[str, Any]]) -> bool:
    """Every step counted (none failed) and equal to the stand-in's counts."""
    return bool(steps) and all(step.get("matches_standin") is True for step in steps.values())


if __name__ == "__main__":
    sys.exit(main())
