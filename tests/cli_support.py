"""What the in-process command-line tests share: a fixture that runs ``nnfs-gpu ARGS`` in a fresh
folder on the NumPy backend, and the check of a one-line refusal."""

from __future__ import annotations

import pytest

from nnfs_gpu import cli


@pytest.fixture
def run(fresh_selection, monkeypatch, tmp_path, capsys):
    """Runs ``nnfs-gpu ARGS`` in ``tmp_path`` (``cli.main``, this process); returns (status, stdout, stderr)."""
    monkeypatch.setenv("NNFS_GPU_BACKEND", "numpy")
    monkeypatch.chdir(tmp_path)

    def run_command(*args: str) -> tuple[int, str, str]:
        status = cli.main(list(args))
        out, err = capsys.readouterr()
        return status, out, err

    return run_command


def refused(result: tuple[int, str, str], message: str) -> None:
    """A one-line error with status 2, printed before any training (nothing on stdout)."""
    status, out, err = result
    assert (status, out) == (2, "")
    assert err == f"nnfs-gpu: error: {message}\n"


def succeeded(result: tuple[int, str, str]) -> list[str]:
    """The output lines of a run that ended well."""
    status, out, err = result
    assert status == 0, err
    return out.splitlines()
