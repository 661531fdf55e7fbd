"""The two reports of gpu_check.sh: ``environment`` (versions, before the checks) and ``summary``
(after them, from the result files). Both print JSON and run anywhere: without a GPU they say so."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable


def _version(read: Callable[[], Any]) -> Any:
    """What ``read`` gives, or the reason it could not (a missing driver is an answer, not a crash)."""
    try:
        return read()
    except Exception as error:  # any failure of a probe is the fact to record
        return f"unavailable: {type(error).__name__}: {error}"


def _nvidia_smi() -> str:
    result = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                            capture_output=True, text=True, timeout=30)
    return result.stdout.strip() or result.stderr.strip()


def environment() -> dict[str, Any]:
    import numpy

    def cupy_part(read: Callable[[Any], Any]) -> Callable[[], Any]:
        def call() -> Any:
            import cupy

            return read(cupy)

        return call

    def nvrtc_version() -> str:
        from cupy_backends.cuda.libs import nvrtc

        return ".".join(map(str, nvrtc.getVersion()))

    def array_api_compat_version() -> str:
        import array_api_compat

        return array_api_compat.__version__

    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "array_api_compat": _version(array_api_compat_version),
        "cupy": _version(cupy_part(lambda cupy: cupy.__version__)),
        "cuda_runtime": _version(cupy_part(lambda cupy: cupy.cuda.runtime.runtimeGetVersion())),
        "cuda_driver": _version(cupy_part(lambda cupy: cupy.cuda.runtime.driverGetVersion())),
        "nvrtc": _version(nvrtc_version),
        "gpu_usable": _version(cupy_part(lambda cupy: bool(cupy.cuda.is_available()))),
        "nvidia_smi": _version(_nvidia_smi),
    }


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except Exception as error:  # a step that crashed leaves no JSON: say so instead of failing the summary
        return f"unreadable: {type(error).__name__}: {error}"


def summary(out: Path, statuses: list[str]) -> dict[str, Any]:
    """The one file to read first: each step's exit status and time, and the JSON results."""
    steps = {}
    for line in statuses:
        name, status, seconds = line.rsplit(" ", 2)
        steps[name] = {"exit_status": int(status), "seconds": int(seconds)}
    pytest_lines = (out / "pytest.log").read_text().strip().splitlines() if (out / "pytest.log").exists() else []
    return {
        "ok": bool(steps) and all(step["exit_status"] == 0 for step in steps.values()),
        "steps": steps,
        "pytest": pytest_lines[-1] if pytest_lines else "no pytest.log",
        "environment": _read_json(out / "environment.json"),
        "launch_count": _read_json(out / "launch_count.json"),
        "graph_capture": _read_json(out / "graph_capture.json"),
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["environment"]:
        print(json.dumps(environment(), indent=1))
    elif argv[:1] == ["summary"] and len(argv) == 3:
        out = Path(argv[1])
        statuses = Path(argv[2]).read_text().splitlines() if Path(argv[2]).exists() else []
        print(json.dumps(summary(out, statuses), indent=1))
    else:
        print("usage: gpu_check_report.py environment | summary OUT_DIR STATUS_FILE", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
