"""Reading model files, and the arrays of data files, without trusting them.

A model file is a zip of ``.npy`` members (see ``nnfs_gpu.serialization`` for the format). Before
any array is read, its description (JSON, at most ``MAX_DESCRIPTION_BYTES``) and every array header
the model needs are checked against each other and against the file's size: a member must lie
inside the file, be stored or deflated without encryption, hold exactly the bytes its header claims,
be a float array of the shape the description gives, and all of them together may unpack to at most
``MAX_EXPANSION`` times the file's size (at least ``MIN_ARRAY_BUDGET``). The description's structure
is checked before anything else sees it: every ``type`` and ``kind`` a string, every layer a dict of
JSON scalars, every number a finite float (or an integer a float can hold), nesting at most
``MAX_DEPTH`` deep and at most ``MAX_LAYERS`` layers. Only the members the model needs are read,
never more bytes than their checked headers claim, so a small file cannot make the reader allocate
much, whatever it says. Every problem is a ``ModelFileError`` that names the file and what is wrong.

The data files of the command line (``.npz`` archives, ``.npy`` arrays) are read by the same
``Archive`` and ``read_npy``, with the same bounds, each problem raised as the error its caller asks for.
"""

from __future__ import annotations

import json
import math
import tokenize
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np

from .checks import shown

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
#: no array has more elements than this, not even one with a zero-length axis (NumPy refuses to make
#: an empty array whose other axes multiply beyond its index range)
MAX_ELEMENTS = 1 << 48
#: the book's networks have a handful of layers; the cap keeps loading a crafted file cheap
MAX_LAYERS = 20_000
#: nnfs_gpu writes descriptions 3 levels deep (the optimizer's hyper-parameters)
MAX_DEPTH = 8
HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
#: zip flag bits of what is not read: encryption (0x1), patched data (0x20), strong encryption (0x40)
UNREAD_FLAGS = {0x1: "encrypted", 0x20: "patched data", 0x40: "strongly encrypted"}
#: what zipfile, zlib and NumPy's header parser raise for a file's content
READ_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError,
               tokenize.TokenError, OverflowError)
SCALARS = (str, int, float, bool, type(None))


class ModelFileError(ValueError):
    """A file that is not a readable nnfs_gpu model or parameter file; the message names it and says why."""


Refuse = Callable[[str], Exception]


@dataclass
class Header:
    """An ``.npy`` header, read and checked against the bytes that hold it."""

    shape: tuple[int, ...]
    fortran_order: bool
    dtype: np.dtype
    data_offset: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def read_header(handle: IO[bytes], size: int, name: str, refuse: Refuse) -> Header:
    """The header of the ``.npy`` data in ``handle`` (``size`` bytes in all), refused unless it
    claims a plain array of exactly the bytes that follow it."""
    try:
        reader = HEADER_READERS.get(np.lib.format.read_magic(handle))
        if reader is None:
            raise ValueError("an unsupported .npy format version")
        shape, fortran_order, dtype = reader(handle, max_header_size=MAX_HEADER_BYTES)
        header = Header(tuple(shape), fortran_order, dtype, handle.tell())
    except READ_ERRORS as error:
        raise refuse(f"is damaged or truncated: the array {name!r} has a bad header ({type(error).__name__}: {error})") from None
    if not all(type(length) is int and length >= 0 for length in header.shape) or math.prod(
            length for length in header.shape if length) > MAX_ELEMENTS:
        raise refuse(f"is damaged: the header of {name!r} claims the shape {header.shape!r}, which is not a shape "
                     "an array here can have")
    if dtype.hasobject:
        raise refuse(f"has the array {name!r} of Python objects (a pickle, which nnfs_gpu never runs); the file is "
                     "damaged or crafted, or the array must be saved as numbers or text")
    if size != header.data_offset + header.nbytes:
        raise refuse(
            f"is damaged or truncated: the header of {name!r} claims a {dtype} array of shape {header.shape}, "
            f"which does not fit the {size - header.data_offset} bytes it holds"
        )
    return header


def read_data(handle: IO[bytes], header: Header, name: str, refuse: Refuse) -> np.ndarray:
    """The data after ``header``, read in chunks straight into the array (no second copy in memory)."""
    array = np.empty(header.shape, dtype=header.dtype, order="F" if header.fortran_order else "C")
    flat = array.reshape(-1, order="A").view(np.uint8)
    try:
        filled = 0
        while filled < header.nbytes:
            chunk = handle.read(min(CHUNK_BYTES, header.nbytes - filled))
            if not chunk:
                raise EOFError("the data ends early")
            flat[filled : filled + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
            filled += len(chunk)
        handle.read(1)  # at the end: a zip member checks its checksum
    except READ_ERRORS as error:
        raise refuse(f"is damaged or truncated: reading {name!r} failed ({type(error).__name__}: {error})") from None
    return array


def array_budget(size: int) -> int:
    """How many bytes of arrays a file of ``size`` bytes may unpack to."""
    return max(MIN_ARRAY_BUDGET, MAX_EXPANSION * size)


def read_npy(path: str | Path, refuse: Refuse) -> np.ndarray:
    """The array of an ``.npy`` file, its header checked against the file's size before anything is allocated."""
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(0)
        header = read_header(handle, size, Path(path).name, refuse)
        return read_data(handle, header, Path(path).name, refuse)


class Archive:
    """An open zip of ``.npy`` members (an ``.npz`` file), each member's header checked before it is read."""

    def __init__(self, path: str | Path, refuse: Refuse) -> None:
        self.path, self.refuse = Path(path), refuse
        self.size = self.path.stat().st_size
        self.budget = array_budget(self.size)
        try:
            self.zip = zipfile.ZipFile(self.path)
        except READ_ERRORS as error:
            raise refuse(f"is damaged or truncated ({type(error).__name__}: {error})") from None

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.zip.close()

    def names(self) -> list[str]:
        """The names of its arrays (members ``NAME.npy``)."""
        return [name[:-4] for name in self.zip.namelist() if name.endswith(".npy")]

    def member(self, name: str) -> tuple[zipfile.ZipInfo, Header] | None:
        """The member ``name`` with its header, checked against the file, or None when it is absent."""
        try:
            info = self.zip.getinfo(f"{name}.npy")
        except KeyError:
            return None
        if info.compress_type not in METHODS:
            raise self.refuse(f"has the array {name!r} compressed with an unsupported method ({info.compress_type})")
        unread = [what for bit, what in UNREAD_FLAGS.items() if info.flag_bits & bit]
        if unread:  # (zipfile refuses the archive of a member that needs a newer zip)
            raise self.refuse(f"has the array {name!r} stored as nnfs_gpu never stores it ({' and '.join(unread)}); "
                              "the file is damaged or crafted")
        stored = info.compress_type == zipfile.ZIP_STORED
        if info.header_offset + info.compress_size > self.size or (stored and info.compress_size != info.file_size):
            raise self.refuse(f"is damaged or truncated: the member {name!r} claims more bytes than the file holds")
        with self._open(name, info) as handle:
            return info, read_header(handle, info.file_size, name, self.refuse)

    def check_budget(self, headers: list[Header]) -> None:
        total = sum(header.nbytes for header in headers)
        if total > self.budget:
            raise self.refuse(
                f"claims arrays of {total} bytes, more than a file of {self.size} bytes may hold "
                f"(at most {MAX_EXPANSION} times its size, or {MIN_ARRAY_BUDGET} bytes); the file is damaged or crafted"
            )

    def read(self, name: str, info: zipfile.ZipInfo, header: Header) -> np.ndarray:
        """The member's data (its header already checked)."""
        with self._open(name, info) as handle:
            try:
                handle.read(header.data_offset)
            except READ_ERRORS as error:
                raise self.refuse(f"is damaged or truncated: reading {name!r} failed ({type(error).__name__}: {error})") from None
            return read_data(handle, header, name, self.refuse)

    def _open(self, name: str, info: zipfile.ZipInfo) -> IO[bytes]:
        try:
            return self.zip.open(info)
        except READ_ERRORS as error:
            raise self.refuse(f"is damaged or truncated: the array {name!r} cannot be opened ({type(error).__name__}: {error})") from None


class ModelFile(Archive):
    """An open model file: its checked ``description`` and ``read_arrays`` for the members a model needs."""

    def __init__(self, path: str | Path, kinds: tuple[str, ...]) -> None:
        self.path = Path(path)
        self._check_what_it_is()
        super().__init__(path, self.error)
        try:
            self.description = self._read_description(kinds)
        except BaseException:
            self.zip.close()
            raise

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
        found = self.member(META)
        if found is None:
            raise self.error(f"is an npz archive but not an nnfs_gpu file (no {META} member)")
        info, header = found
        if header.dtype != np.uint8 or len(header.shape) != 1 or header.nbytes > MAX_DESCRIPTION_BYTES:
            raise self.error(
                f"has a malformed description: a {header.dtype} array of shape {header.shape}, where UTF-8 "
                f"bytes (a 1-D uint8 array) of at most {MAX_DESCRIPTION_BYTES} belong"
            )
        text = self.read(META, info, header).tobytes()
        try:
            meta = json.loads(text.decode("utf-8"))
        except RecursionError:
            raise self.error(f"has a description nested too deeply (at most {MAX_DEPTH} levels)") from None
        except (UnicodeDecodeError, ValueError) as error:
            raise self.error(f"is damaged: its description is not JSON ({error})") from None
        self._check_values(meta)
        self._check_description(meta, kinds)
        return meta

    def _check_values(self, meta: Any) -> None:
        """Every number a finite float (or an integer a float holds), nested at most MAX_DEPTH deep."""
        found = _bad_value(meta, 0)
        if found is not None:
            path, problem = found
            raise self.error(f"has {problem} at {''.join(f'[{key!r}]' for key in path) or 'its top'}")

    def _check_description(self, meta: Any, kinds: tuple[str, ...]) -> None:
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise self.error(f"is not an nnfs_gpu file (format {shown(meta.get('format') if isinstance(meta, dict) else meta)})")
        version = meta.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
            raise self.error(f"has format version {version!r}; this nnfs_gpu reads up to {FORMAT_VERSION}: upgrade nnfs_gpu")
        kind = meta.get("kind")
        if kind not in kinds:
            if not isinstance(kind, str):
                raise self.error(f"has {shown(kind)} as its kind, where 'model' or 'parameters' belongs")
            other = {"model": "Model.load(path)", "parameters": "model.load_parameters(path)"}.get(kind, "?")
            raise self.error(f"holds {kind!r}, not {kinds[0]!r}; load it with {other}")
        layers = meta.get("layers")
        if not isinstance(layers, list):
            raise self.error("has a missing or malformed layer list")
        if not layers:
            raise self.error("describes no layers (its layer list is empty)")
        if len(layers) > MAX_LAYERS:
            raise self.error(f"describes {len(layers)} layers, more than the {MAX_LAYERS} nnfs_gpu loads; the file is damaged or crafted")
        for index, spec in enumerate(layers):
            self._check_part(spec, f"layer {index}", nested=False)
        for part in ("loss", "accuracy", "optimizer"):
            if meta.get(part) is not None:
                self._check_part(meta[part], f"the {part}", nested=part == "optimizer")
        for entry in ("dtype", "saved_from"):
            if not isinstance(meta.get(entry, ""), str):
                raise self.error(f"has {shown(meta[entry])} as its {entry}, where a name belongs")

    def _check_part(self, spec: Any, what: str, nested: bool) -> None:
        """A layer, loss, accuracy or optimizer: a dict with a string ``type`` and scalar settings
        (an optimizer's also dicts of them: its hyper-parameters)."""
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            raise self.error(f"describes {what} as {shown(spec)}, where a dict with a 'type' such as 'Dense' belongs")
        for key, value in spec.items():
            settings = value.values() if nested and isinstance(value, dict) else (value,)
            if not all(isinstance(setting, SCALARS) for setting in settings):
                raise self.error(f"describes {what} with {key} = {shown(value)}, where a number, a name or null belongs")

    # -- arrays -----------------------------------------------------------------------------------

    def read_arrays(self, shapes: dict[str, tuple[int, ...]], optional: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
        """The members named in ``shapes`` (which must be there) and in ``optional`` (where they are),
        each a finite float array of its given shape; nothing is read until every header has passed,
        and all of them together within the file's budget."""
        members = {}
        for name, shape in {**shapes, **optional}.items():
            found = self.member(name)
            if found is None:
                if name in shapes:
                    raise self.error(f"lacks the array {name!r}")
                continue
            header = found[1]
            if header.dtype.kind != "f" or header.dtype.itemsize > 8:
                raise self.error(f"holds {header.dtype} values in the array {name!r}; parameters are float32 or float64")
            if header.shape != tuple(shape):
                raise self.error(f"has the array {name!r} of shape {header.shape}, where its description needs {tuple(shape)}")
            members[name] = found
        self.check_budget([header for _, header in members.values()])
        return {name: self._checked_finite(name, self.read(name, *found)) for name, found in members.items()}

    def _checked_finite(self, name: str, array: np.ndarray) -> np.ndarray:
        if not np.isfinite(array).all():
            raise self.error(f"holds NaN or infinity in the array {name!r} (saved from a diverged run?)")
        return array


def _bad_value(value: Any, depth: int) -> tuple[list[Any], str] | None:
    """The path to the first value nested deeper than MAX_DEPTH, or to the first number that is no
    finite float, and what is wrong with it; None when there is none."""
    if depth > MAX_DEPTH:
        return [], f"a description nested too deeply (at most {MAX_DEPTH} levels)"
    if isinstance(value, (dict, list)):
        for key, item in value.items() if isinstance(value, dict) else enumerate(value):
            found = _bad_value(item, depth + 1)
            if found is not None:
                found[0].insert(0, key)
                return found
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and not _finite_float(value):
        number = f"an integer of {len(str(value))} digits" if isinstance(value, int) else repr(value)
        return [], f"{number}, where settings are finite numbers a float can hold,"
    return None


def _finite_float(number: int | float) -> bool:
    try:
        return math.isfinite(float(number))
    except OverflowError:
        return False
