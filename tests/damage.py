"""Damaged files made from valid ones, as an attacker makes them: what the hostile-file tests share
(``tests/test_damaged_files.py`` names each kind of damage, ``tests/test_hostile_files.py`` mixes them)."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import numpy as np

CENTRAL = b"PK\x01\x02"


def members(raw: bytes) -> dict[str, bytes]:
    """The members of a zip, by name, uncompressed."""
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezipped(raw: bytes, method: int = zipfile.ZIP_STORED, **replaced: bytes) -> bytes:
    """The zip ``raw`` written again with ``method``, members named in ``replaced`` (without .npy) replaced."""
    contents = {**members(raw), **{f"{name}.npy": data for name, data in replaced.items()}}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def data_offset(raw: bytes, index: int = 0) -> int:
    """Where member ``index``'s (compressed) data starts."""
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        offset = archive.infolist()[index].header_offset
    name_length, extra_length = struct.unpack("<HH", raw[offset + 26 : offset + 30])
    return offset + 30 + name_length + extra_length


def deflate_damaged(raw: bytes, index: int = 0) -> bytes:
    """Every member deflated, member ``index``'s deflate stream starting with an invalid block type."""
    damaged = bytearray(rezipped(raw, zipfile.ZIP_DEFLATED))
    damaged[data_offset(bytes(damaged), index)] = 0xFF
    return bytes(damaged)


def central_entry(raw: bytes, index: int = 0) -> int:
    """The offset of member ``index``'s central-directory entry."""
    offset = raw.index(CENTRAL)
    for _ in range(index):
        offset = raw.index(CENTRAL, offset + 4)
    return offset


def with_flags(raw: bytes, bits: int, index: int = 0) -> bytes:
    """Member ``index``'s central-directory flags or-ed with ``bits`` (1: encrypted, 0x40: strongly)."""
    damaged = bytearray(raw)
    damaged[central_entry(raw, index) + 8] |= bits
    return bytes(damaged)


def with_version_needed(raw: bytes, version: int, index: int = 0) -> bytes:
    damaged = bytearray(raw)
    damaged[central_entry(raw, index) + 6] = version
    return bytes(damaged)


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npy_with_header(header: str, data: bytes = b"") -> bytes:
    """An .npy file (format 1.0) whose header is the text ``header``, as written, followed by ``data``."""
    text = header.encode("latin1")
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + data


def description_bytes(meta: object) -> bytes:
    """A description member holding the JSON of ``meta`` (or ``meta`` itself when it is bytes)."""
    text = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
    return npy_bytes(np.frombuffer(text, dtype=np.uint8))


def with_description(raw: bytes, meta: object) -> bytes:
    return rezipped(raw, __nnfs_gpu__=description_bytes(meta))


def description(raw: bytes) -> dict:
    return json.loads(np.load(io.BytesIO(members(raw)["__nnfs_gpu__.npy"])).tobytes())


def changed(raw: bytes, change) -> bytes:
    """The model file ``raw`` with ``change(description)`` applied to its description."""
    meta = description(raw)
    change(meta)
    return with_description(raw, meta)


def damaged_models(raw: bytes) -> dict[str, bytes]:
    """One file for each kind of damage that once escaped as another error, made from the model file ``raw``."""
    bools = description(raw)
    bools["layers"][0]["n_inputs"] = 1
    return {
        "damaged deflate data": deflate_damaged(raw, 2),
        "an encrypted array": with_flags(raw, 0x1, index=2),
        "a strongly encrypted description": with_flags(raw, 0x40),
        "a zip version 255": with_version_needed(raw, 255),
        "a list as a layer's type": changed(raw, lambda meta: meta["layers"][0].update(type=["Dense"])),
        "10**400 as a setting": changed(raw, lambda meta: meta["layers"][0].update(weight_regularizer_l2=10**400)),
        "a description nested 100000 deep": with_description(raw, b"[" * 100_000 + b"]" * 100_000),
        "an unclosed header": rezipped(raw, **{"layers.0.weights": npy_with_header(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 16), ", bytes(128))}),
        "a shape of bools": rezipped(with_description(raw, bools), **{"layers.0.weights": npy_with_header(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (True, 16), }", bytes(64))}),
    }


def crafted_data_files(folder: Path) -> dict[str, Path]:
    """Data files under 1 MB that claim much more, or cost much to read: each is read or refused cheaply."""
    files = {
        "an .npy header claiming (10**12, 4)": ("huge.npy", npy_with_header(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 4), }", bytes(64))),
        "an .npz of 100 MB of deflated zeros": ("bomb.npz", deflated_zeros({"X": ((100, 1 << 17), "<f8"), "y": ((100,), "<f8")})),
        "an .npz with damaged deflate data": ("damaged.npz", deflate_damaged(npz_bytes(X=np.ones((300, 2)), y=np.zeros(300)))),
        "a CSV of 1 MB of zeros": ("zeros.csv", b"0,0\n" * 262_000),
        "a CSV with a label of 100000 characters": ("labels.csv", b"1," + b"a" * 100_000 + b"\n" + b"1,b\n" * 200_000),
    }
    for name, data in files.values():
        (folder / name).write_bytes(data)
    return {what: folder / name for what, (name, _) in files.items()}


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def deflated_zeros(arrays: dict[str, tuple[tuple[int, ...], str]]) -> bytes:
    """A zip of arrays of zeros, deflated, by name: (shape, dtype)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, (shape, dtype) in arrays.items():
            write_zeros(archive, name, shape, dtype)
    return buffer.getvalue()


def write_zeros(archive: zipfile.ZipFile, name: str, shape: tuple[int, ...], dtype: str) -> None:
    """Adds the member ``name``: an array of zeros, deflated (a 1 GB array takes about 1 MB)."""
    with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": dtype, "fortran_order": False, "shape": shape})
        member.write(header.getvalue())
        left = int(np.prod(shape)) * np.dtype(dtype).itemsize
        while left:
            member.write(bytes(min(left, 1 << 20)))
            left -= min(left, 1 << 20)
