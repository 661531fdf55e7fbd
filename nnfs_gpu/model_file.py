"""Reading a model file without trusting it.

The file is a zip of ``.npy`` members (see ``nnfs_gpu.serialization`` for the format). Before any
array is read, its description (JSON, at most ``MAX_DESCRIPTION_BYTES``) and every array header the
model needs are checked against each other and against the file's size: a member must lie inside the
file, hold exactly the bytes its header claims, be a float array of the shape the description
gives, and all of them together may unpack to at most ``MAX_EXPANSION`` times the file's size (at
least ``MIN_ARRAY_BUDGET``). Only the members the model needs are read, never more bytes than their
checked headers claim, so a small file cannot make the reader allocate much, whatever it says.
Every problem is a ``ModelFileError`` that names the file and what is wrong.
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "nnfs_gpu"
FORMAT_VERSION = 1
META = "__nnfs_gpu__"
MAX_DESCRIPTION_BYTES = 1 << 20
MAX_HEADER_BYTES = 10_000
#: np.savez stores arrays uncompressed and float parameters compress little, so only a crafted
#: file unpacks to many times its size
MAX_EXPANSION = 16
MIN_ARRAY_BUDGET = 16 << 20
CHUNK_BYTES = 1 << 20
HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class ModelFileError(ValueError):
    """A file that is not a readable nnfs_gpu model or parameter file; the message names it and says why."""


@dataclass
class Member:
    """One ``.npy`` member of the archive, its header read and checked against the file."""

    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    fortran_order: bool
    dtype: np.dtype
    data_offset: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


class ModelFile:
    """An open model file: its checked ``description`` and ``read_arrays`` for the members a model needs."""

    def __init__(self, path: str | Path, kinds: tuple[str, ...]) -> None:
        self.path = Path(path)
        self._check_what_it_is()
        self.size = self.path.stat().st_size
        self.budget = max(MIN_ARRAY_BUDGET, MAX_EXPANSION * self.size)
        try:
            self.zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
            raise self.error(f"is damaged or truncated ({type(error).__name__}: {error})") from None
        try:
            self.description = self._read_description(kinds)
        except BaseException:
            self.zip.close()
            raise

    def __enter__(self) -> ModelFile:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.zip.close()

    def error(self, what: str) -> ModelFileError:
        return ModelFileError(f"{self.path} {what}")

    def _check_what_it_is(self) -> None:
        if self.path.is_dir():
            raise IsADirectoryError(f"{self.path} is a folder, not a model file")
        if not self.path.is_file():
            raise FileNotFoundError(f"no such file: {self.path}")
        with open(self.path, "rb") as handle:
            head = handle.read(2)
        if head[:1] == b"\x80":
            raise self.error(
                "is a pickle file (the book's save format); nnfs_gpu never unpickles files, because unpickling "
                "can run code. Load it with the book's code, then save with nnfs_gpu"
            )
        if head != b"PK":
            raise self.error("is not an nnfs_gpu file (not a zip/npz archive)")

    # -- the description --------------------------------------------------------------------------

    def _read_description(self, kinds: tuple[str, ...]) -> dict[str, Any]:
        member = self._member(META)
        if member is None:
            raise self.error(f"is an npz archive but not an nnfs_gpu file (no {META} member)")
        if member.dtype != np.uint8 or len(member.shape) != 1 or member.nbytes > MAX_DESCRIPTION_BYTES:
            raise self.error(
                f"has a malformed description: a {member.dtype} array of shape {member.shape}, where UTF-8 "
                f"bytes (a 1-D uint8 array) of at most {MAX_DESCRIPTION_BYTES} belong"
            )
        try:
            meta = json.loads(self._read(META, member).tobytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise self.error(f"is damaged: its description is not JSON ({error})") from None
        self._check_description(meta, kinds)
        return meta

    def _check_description(self, meta: Any, kinds: tuple[str, ...]) -> None:
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise self.error(f"is not an nnfs_gpu file (format {meta.get('format') if isinstance(meta, dict) else meta!r})")
        version = meta.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
            raise self.error(f"has format version {version!r}; this nnfs_gpu reads up to {FORMAT_VERSION}: upgrade nnfs_gpu")
        if meta.get("kind") not in kinds:
            other = {"model": "Model.load(path)", "parameters": "model.load_parameters(path)"}.get(meta.get("kind"), "?")
            raise self.error(f"holds {meta.get('kind')!r}, not {kinds[0]!r}; load it with {other}")
        layers = meta.get("layers")
        if not isinstance(layers, list) or not all(isinstance(spec, dict) for spec in layers):
            raise self.error("has a missing or malformed layer list")
        if not layers:
            raise self.error("describes no layers (its layer list is empty)")

    # -- arrays -----------------------------------------------------------------------------------

    def read_arrays(self, shapes: dict[str, tuple[int, ...] | None], optional: dict[str, tuple[int, ...] | None]
                    ) -> dict[str, np.ndarray]:
        """The members named in ``shapes`` (which must be there) and in ``optional`` (where they are),
        each a finite float array of its given shape (of any shape where it is None: the caller
        checks it); nothing is read until every header has passed, and all of them together within
        the file's budget."""
        members = {}
        for name, shape in {**shapes, **optional}.items():
            member = self._member(name)
            if member is None:
                if name in shapes:
                    raise self.error(f"lacks the array {name!r}")
                continue
            if member.dtype.kind != "f" or member.dtype.itemsize > 8:
                raise self.error(f"holds {member.dtype} values in the array {name!r}; parameters are float32 or float64")
            if shape is not None and member.shape != tuple(shape):
                raise self.error(f"has the array {name!r} of shape {member.shape}, where its description needs {tuple(shape)}")
            members[name] = member
        total = sum(member.nbytes for member in members.values())
        if total > self.budget:
            raise self.error(
                f"claims arrays of {total} bytes, more than a file of {self.size} bytes may hold "
                f"(at most {MAX_EXPANSION} times its size, or {MIN_ARRAY_BUDGET} bytes); the file is damaged or crafted"
            )
        return {name: self._checked_finite(name, self._read(name, member)) for name, member in members.items()}

    def _checked_finite(self, name: str, array: np.ndarray) -> np.ndarray:
        if not np.isfinite(array).all():
            raise self.error(f"holds NaN or infinity in the array {name!r} (saved from a diverged run?)")
        return array

    def _member(self, name: str) -> Member | None:
        """The member ``name`` with its header, checked against the file, or None when it is absent."""
        try:
            info = self.zip.getinfo(f"{name}.npy")
        except KeyError:
            return None
        if info.compress_type not in METHODS:
            raise self.error(f"has the array {name!r} compressed with an unsupported method ({info.compress_type})")
        stored = info.compress_type == zipfile.ZIP_STORED
        if info.header_offset + info.compress_size > self.size or (stored and info.compress_size != info.file_size):
            raise self.error(f"is damaged or truncated: the member {name!r} claims more bytes than the file holds")
        try:
            with self.zip.open(info) as handle:
                reader = HEADER_READERS.get(np.lib.format.read_magic(handle))
                if reader is None:
                    raise ValueError("an unsupported .npy format version")
                shape, fortran_order, dtype = reader(handle, max_header_size=MAX_HEADER_BYTES)
                member = Member(info, tuple(shape), fortran_order, dtype, handle.tell())
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            raise self.error(f"is damaged or truncated: the array {name!r} has a bad header ({error})") from None
        if dtype.hasobject or info.file_size != member.data_offset + member.nbytes:
            raise self.error(
                f"is damaged or truncated: the header of {name!r} claims a {dtype} array of shape {member.shape}, "
                f"which does not fit the {info.file_size - member.data_offset} bytes it holds"
            )
        return member

    def _read(self, name: str, member: Member) -> np.ndarray:
        """The member's data, read in chunks straight into the array (no second copy in memory)."""
        array = np.empty(member.shape, dtype=member.dtype, order="F" if member.fortran_order else "C")
        flat = array.reshape(-1, order="A").view(np.uint8)
        try:
            with self.zip.open(member.info) as handle:
                handle.read(member.data_offset)
                filled = 0
                while filled < member.nbytes:
                    chunk = handle.read(min(CHUNK_BYTES, member.nbytes - filled))
                    if not chunk:
                        raise EOFError("the data ends early")
                    flat[filled : filled + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
                    filled += len(chunk)
                handle.read(1)  # at the end: the zip checks the member's checksum
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            raise self.error(f"is damaged or truncated: reading {name!r} failed ({type(error).__name__}: {error})") from None
        return array
