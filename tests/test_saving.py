"""Saving loses nothing: killed saves leave no debris past the next save, a running save's file is
left alone, links are written through, folders and unwritable places are refused before writing
(naming the target, not a temporary file), and a diverged model never replaces a good one."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nnfs_gpu
from nnfs_gpu import Model, files
from test_model_files import ROOT, trained_and_saved


@pytest.fixture
def saved(tmp_path):
    """A trained model saved to spiral.model, on NumPy (where the test's loads go too)."""
    with nnfs_gpu.use_backend("numpy"):
        yield trained_and_saved(tmp_path / "spiral.model"), tmp_path / "spiral.model"


KILLED_SAVE = """
import os, signal, sys
from nnfs_gpu.files import write_atomically

def write_then_die(file):
    file.write(b"PK" + bytes(1 << 20))
    file.flush()
    os.kill(os.getpid(), signal.SIGKILL)

write_atomically(sys.argv[1], write_then_die, "save to")
"""


def test_a_killed_save_leaves_debris_that_the_next_save_removes(saved):
    model, path = saved
    before, left = path.read_bytes(), set()
    for _ in range(2):  # each killed save removes the debris of the one before
        killed = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(path)], env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert killed.returncode == -signal.SIGKILL
        debris = list(path.parent.glob(".spiral.model.*.partial"))
        assert len(debris) == 1 and debris[0].stat().st_size > 1 << 20 and debris[0] not in left
        left.add(debris[0])
    assert path.read_bytes() == before
    model.save(path)
    assert sorted(os.listdir(path.parent)) == ["spiral.model"]
    assert Model.load(path).optimizer.iterations == model.optimizer.iterations


def test_the_temporary_file_of_a_running_save_is_left_alone(saved):
    pytest.importorskip("fcntl")
    import fcntl

    model, path = saved
    running = path.parent / ".spiral.model.running1.partial"
    running.write_bytes(b"being written")
    with open(running, "rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # as a writer in another process holds it
        model.save(path)
        assert running.read_bytes() == b"being written"
    model.save(path)
    assert not running.exists()


def test_saving_onto_a_symbolic_link_writes_through_it(saved, tmp_path):
    model, path = saved
    (tmp_path / "runs").mkdir()
    target, link = tmp_path / "runs" / "best.model", tmp_path / "latest.model"
    target.write_bytes(b"an older model")
    link.symlink_to(target)
    model.save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert Model.load(target).optimizer.iterations == model.optimizer.iterations
    dangling = tmp_path / "dangling.model"
    dangling.symlink_to(tmp_path / "nowhere" / "x.model")
    with pytest.raises(FileNotFoundError, match=r"cannot save to .*dangling.model: it is a symbolic link to .*x.model, which does not exist"):
        model.save(dangling)
    assert sorted(os.listdir(tmp_path / "runs")) == ["best.model"]


def test_saving_onto_a_folder_is_refused_before_writing(saved, tmp_path):
    model, _ = saved
    folder = tmp_path / "models"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match=r"cannot save to .*models: it is a folder; name a file"):
        model.save(folder)
    with pytest.raises(TypeError, match=r"the path to save to must be a file path \(str or os.PathLike\), got 3 \(int\)"):
        model.save(3)
    assert os.listdir(folder) == [] and not list(tmp_path.glob(".*partial"))


def test_an_unwritable_folder_is_named_not_the_temporary_file(saved, monkeypatch):
    model, path = saved

    def refused(**arguments):
        raise PermissionError(13, "Permission denied", str(Path(arguments["dir"]) / ".spiral.model.x.partial"))

    monkeypatch.setattr(files.tempfile, "mkstemp", refused)
    with pytest.raises(PermissionError) as caught:
        model.save(path)
    assert str(caught.value) == f"cannot save to {path}: cannot create a file in {path.parent} (Permission denied)"
    with pytest.raises(PermissionError, match="cannot create a file in"):
        files.check_writable(path, "save to")


@pytest.mark.parametrize("where", ["weights", "weight_cache"])
def test_a_diverged_model_is_not_saved_over_a_good_one(saved, where):
    model, path = saved
    before = path.read_bytes()
    layer = model.layers[2]
    getattr(layer, where)[0, 0] = np.nan
    with pytest.raises(ValueError, match=rf"cannot save to {path}: layer 2 Dense\(16, 3\) has NaN or infinite {where} "
                                         r"\(the run diverged\); nothing was written"):
        model.save(path)
    if where == "weights":
        with pytest.raises(ValueError, match="has NaN or infinite weights"):
            model.save_parameters(path)
    assert path.read_bytes() == before and os.listdir(path.parent) == ["spiral.model"]


def test_a_refused_save_keeps_the_errno_strerror_and_filename_of_its_cause(saved, monkeypatch):
    """Programs test ``error.errno == errno.EROFS``; the message still names the target, not the temporary file."""
    model, path = saved
    temporary = str(path.parent / ".spiral.model.x.partial")

    def read_only(**arguments):
        raise OSError(errno.EROFS, "Read-only file system", temporary)

    monkeypatch.setattr(files.tempfile, "mkstemp", read_only)
    with pytest.raises(OSError) as caught:
        model.save(path)
    assert (caught.value.errno, caught.value.strerror, caught.value.filename) == (errno.EROFS, "Read-only file system", temporary)
    assert str(caught.value) == f"cannot save to {path}: cannot create a file in {path.parent} (Read-only file system)"
