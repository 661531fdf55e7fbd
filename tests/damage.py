"""Damaged files made from valid ones, as an attacker makes them: what the hostile-file tests share
(``tests/test_damaged_files.py`` names each kind of damage, ``tests/test_hostile_files.py`` mixes them)."""

from __future__ import annotations

import io
import json
import struct
import zipfile

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
