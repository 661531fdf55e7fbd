"""Writing files so that nothing is lost: checked before any work, replaced only when complete.

A write goes to a hidden temporary file beside the target, ``.NAME.XXXXXXXX.partial``, which
replaces the target only when it is complete, so a failed or killed write leaves the previous file
intact. The writer holds a lock on its temporary file (``flock``, released by the system when the
process dies), so the next write to that path removes the temporary files that killed writers left
behind, and never one that a running writer still holds.

A target that is a symbolic link is written through: the file the link points to is replaced and
the link stays, as ``cp`` and a shell's ``>`` treat links; a link to nothing is refused, as
``cp`` refuses it. An existing folder, or anything else that is not a regular file, is refused.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Any, Callable

from .checks import shown

try:
    import fcntl
except ImportError:  # Windows: an open file cannot be removed there, which protects a running writer
    fcntl = None  # type: ignore[assignment]

PARTIAL_SUFFIX = ".partial"


def refusal(kind: type[OSError], what: str, path: Any, reason: str, original: OSError | None = None) -> OSError:
    """An error ``cannot WHAT PATH: REASON`` that keeps ``reason`` apart (the command line shows it
    after the option that named the path) and, when it wraps the ``original`` error, its ``errno``,
    ``strerror`` and ``filename`` (so that a program can test ``error.errno == errno.EROFS``)."""
    error = _showing_its_message(kind)(f"cannot {what} {path}: {reason}")
    error.reason = reason  # type: ignore[attr-defined]
    if original is not None:
        error.errno, error.strerror, error.filename = original.errno, original.strerror, original.filename
    return error


@functools.cache
def _showing_its_message(kind: type[OSError]) -> type[OSError]:
    """``kind``, shown as its message: an OSError whose ``errno`` is set shows ``[Errno N] strerror: filename``."""
    return type(kind.__name__, (kind,), {"__str__": lambda self: str(self.args[0]), "__module__": __name__})


def target_of(path: Any, what: str) -> Path:
    """The regular file a write to ``path`` replaces (a link's target), checked without writing;
    ``what`` says what the write does ("save to", ...), for the messages."""
    try:
        path = Path(os.fspath(path))
    except TypeError:
        raise TypeError(f"the path to {what} must be a file path (str or os.PathLike), got {shown(path)}") from None
    target = path
    if path.is_symlink():
        target = Path(os.path.realpath(path))
        if not target.exists():
            raise refusal(FileNotFoundError, what, path, f"it is a symbolic link to {target}, which does not exist")
    if target.is_dir():
        raise refusal(IsADirectoryError, what, path, "it is a folder; name a file (in it, or beside it)")
    if target.exists() and not target.is_file():
        raise refusal(OSError, what, path, "it exists and is not a regular file")
    folder = target.parent
    if not folder.exists():
        raise refusal(FileNotFoundError, what, path, f"the folder {folder} does not exist")
    if not folder.is_dir():
        raise refusal(NotADirectoryError, what, path, f"{folder} is not a folder")
    return target


def check_writable(path: Any, what: str) -> Path:
    """``target_of(path)``, after creating and removing a temporary file beside it: fails now, not
    after the work, in a folder that is read-only, on a read-only disk, or without permission."""
    target = target_of(path, what)
    handle, name = _new_partial(target, path, what)
    os.close(handle)
    with contextlib.suppress(FileNotFoundError):  # a concurrent write's clean-up may have removed it
        os.unlink(name)
    return target


def write_atomically(path: Any, write: Callable[[IO[bytes]], None], what: str) -> Path:
    """Calls ``write`` with a binary file that replaces ``path`` (its link's target) only once
    ``write`` has returned and the data is on disk; returns the file written."""
    target = target_of(path, what)
    remove_abandoned_partials(target)
    handle, name = _locked_partial(target, path, what)
    try:
        with os.fdopen(os.dup(handle), "wb") as file:  # the lock stays with ``handle`` until the end
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(name, _file_mode(target))  # temporary files are private (0o600); written files are not
        os.replace(name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
    finally:
        os.close(handle)
    return target


def remove_abandoned_partials(target: Path) -> None:
    """Removes the temporary files of writes to ``target`` that nobody is writing any more."""
    for candidate in glob.glob(os.path.join(glob.escape(str(target.parent)), f".{glob.escape(target.name)}.*{PARTIAL_SUFFIX}")):
        with contextlib.suppress(OSError):  # gone already, or a running writer's (locked; open on Windows)
            handle = os.open(candidate, os.O_RDONLY)
            try:
                if fcntl is not None:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.unlink(candidate)
            finally:
                os.close(handle)


def _new_partial(target: Path, path: Any, what: str) -> tuple[int, str]:
    try:
        return tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=PARTIAL_SUFFIX)
    except OSError as error:
        reason = f"cannot create a file in {target.parent} ({error.strerror or error})"
        raise refusal(type(error), what, path, reason, error) from None


def _locked_partial(target: Path, path: Any, what: str) -> tuple[int, str]:
    """A new temporary file beside ``target``, locked; made again if a cleaner removed it between
    its creation and the lock."""
    while True:
        handle, name = _new_partial(target, path, what)
        if fcntl is None:
            return handle, name
        fcntl.flock(handle, fcntl.LOCK_EX)
        with contextlib.suppress(FileNotFoundError):
            if os.path.samestat(os.stat(name), os.fstat(handle)):
                return handle, name
        os.close(handle)


def _umask() -> int:
    """The process's umask, read without changing it (os.umask can only be read by setting it,
    which would race with other threads creating files); 0o022, the usual one, where unreadable."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def _file_mode(path: Path) -> int:
    """The permissions a plain write would give: an existing file's own, else 0o666 less the umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()
