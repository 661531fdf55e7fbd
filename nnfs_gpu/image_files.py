"""Image files without OpenCV: 8-bit PNGs (as the book's Fashion-MNIST folders hold them, or a
user's photo) and the original MNIST IDX files, read with NumPy and the standard library."""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .model_file import array_budget

StrPath = str | os.PathLike[str]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel: gray, RGB, gray+alpha, RGBA


def read_png(path: StrPath) -> np.ndarray:
    """An 8-bit PNG as a 2-D uint8 gray array, as ``cv2.imread`` gives the book, without OpenCV.

    Gray images come back as stored; RGB, RGBA and gray+alpha become gray (ITU-R 601 luma, rounded;
    alpha is dropped). Anything else raises a ValueError that names the file and the problem.
    """
    data = Path(path).read_bytes()
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError(f"{path}: not a PNG file (bad signature)")
    chunks = _png_chunks(data, path)
    kind, header = next(chunks, (b"", b""))
    if kind != b"IHDR" or len(header) != 13:
        raise ValueError(f"{path}: corrupt PNG, the first chunk is not a valid IHDR")
    width, height, channels = _png_header(header, path)
    compressed = b"".join(body for kind, body in chunks if kind == b"IDAT")
    try:
        raw = zlib.decompress(compressed)
    except zlib.error as error:
        raise ValueError(f"{path}: corrupt PNG image data ({error})") from None
    stride = width * channels
    if len(raw) != height * (stride + 1):
        raise ValueError(f"{path}: corrupt PNG, {len(raw)} bytes of image data, expected {height * (stride + 1)}")
    pixels = _unfilter(np.frombuffer(raw, np.uint8).reshape(height, stride + 1), channels, path)
    return _to_gray(pixels.reshape(height, width, channels))


def _png_chunks(data: bytes, path: StrPath) -> Iterator[tuple[bytes, bytes]]:
    """(type, body) of each chunk up to IEND, CRC-checked, so corruption is reported, not decoded."""
    position = len(_PNG_SIGNATURE)
    while position + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        end = position + 12 + length
        if end > len(data):
            break
        body = data[position + 8 : end - 4]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[end - 4 : end])[0]:
            raise ValueError(f"{path}: corrupt PNG, CRC mismatch in the {kind!r} chunk")
        if kind == b"IEND":
            return
        yield kind, body
        position = end
    raise ValueError(f"{path}: truncated PNG (the file ends before its IEND chunk)")


def _png_header(header: bytes, path: StrPath) -> tuple[int, int, int]:
    """Width, height and samples per pixel, refusing what ``read_png`` does not decode."""
    width, height, bit_depth, colour_type, compression, filtering, interlace = struct.unpack(">IIBBBBB", header)
    if colour_type == 3:
        raise ValueError(f"{path}: palette PNGs are not supported (only 8-bit gray, gray+alpha, RGB, RGBA)")
    if colour_type not in _PNG_CHANNELS:
        raise ValueError(f"{path}: corrupt PNG, invalid colour type {colour_type}")
    if bit_depth != 8:
        raise ValueError(f"{path}: {bit_depth}-bit PNGs are not supported (only 8-bit samples)")
    if interlace != 0:
        raise ValueError(f"{path}: interlaced PNGs are not supported")
    if compression != 0 or filtering != 0 or width == 0 or height == 0:
        raise ValueError(f"{path}: corrupt PNG header")
    return width, height, _PNG_CHANNELS[colour_type]


def _unfilter(rows: np.ndarray, bpp: int, path: StrPath) -> np.ndarray:
    """Undo each scanline's filter (None, Sub, Up, Average, Paeth; byte 0 of each row names it)."""
    out = np.empty((rows.shape[0], rows.shape[1] - 1), np.uint8)
    prior = np.zeros(out.shape[1], np.uint8)
    for y, (kind, line) in enumerate(zip(rows[:, 0], rows[:, 1:])):
        if kind == 0:
            prior = line
        elif kind == 1:
            prior = np.cumsum(line.reshape(-1, bpp), axis=0, dtype=np.uint8).ravel()
        elif kind == 2:
            prior = line + prior
        elif kind == 3:
            prior = _unfilter_average(line, prior, bpp)
        elif kind == 4:
            prior = _unfilter_paeth(line, prior, bpp)
        else:
            raise ValueError(f"{path}: corrupt PNG, unknown filter type {kind} on row {y}")
        out[y] = prior
    return out


def _unfilter_average(line: np.ndarray, prior: np.ndarray, bpp: int) -> np.ndarray:
    """Average filter: each byte adds the floored mean of its left and upper neighbours (sequential)."""
    row, up = line.tolist(), prior.tolist()
    for i in range(len(row)):
        left = row[i - bpp] if i >= bpp else 0
        row[i] = (row[i] + ((left + up[i]) >> 1)) & 0xFF
    return np.array(row, np.uint8)


def _unfilter_paeth(line: np.ndarray, prior: np.ndarray, bpp: int) -> np.ndarray:
    """Paeth filter: each byte adds whichever of left, up, upper-left is nearest to left + up - upper-left."""
    row, up = line.tolist(), prior.tolist()
    for i in range(len(row)):
        a, b, c = (row[i - bpp], up[i], up[i - bpp]) if i >= bpp else (0, up[i], 0)
        pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
        predictor = a if pa <= pb and pa <= pc else b if pb <= pc else c
        row[i] = (row[i] + predictor) & 0xFF
    return np.array(row, np.uint8)


def _to_gray(pixels: np.ndarray) -> np.ndarray:
    """(H, W, C) samples -> (H, W) gray: gray channel as is, colour as ITU-R 601 luma rounded half up."""
    if pixels.shape[2] <= 2:
        return np.ascontiguousarray(pixels[:, :, 0])
    r, g, b = (pixels[:, :, channel].astype(np.uint32) for channel in range(3))
    return ((299 * r + 587 * g + 114 * b + 500) // 1000).astype(np.uint8)


def read_idx(path: StrPath, ndim: int) -> np.ndarray:
    """An unsigned-byte IDX file (the original Fashion-MNIST format, optionally .gz) as a uint8 array.

    ``ndim`` is what the file must hold (3 for images, 1 for labels): its magic number and sizes are
    checked, so a wrong or damaged file raises a ValueError naming it instead of loading garbage.
    The sizes are checked before the data is read: a plain file must hold exactly their bytes, a
    gzipped one may unpack to no more than a model file of its size (``model_file.array_budget``).
    """
    gzipped = str(path).endswith(".gz")
    header_size = 4 * (ndim + 1)
    try:
        with (gzip.open if gzipped else open)(path, "rb") as file:
            header = file.read(header_size)
            shape = _idx_shape(header, ndim, path)
            size = math.prod(shape)
            stored = os.path.getsize(path)
            if gzipped and size > array_budget(stored):
                raise ValueError(f"{path}: IDX sizes {shape} need {size} bytes of data, more than a gzipped file of "
                                 f"{stored} bytes may unpack to ({array_budget(stored)}); the file is damaged or crafted")
            if not gzipped and size != stored - header_size:
                raise ValueError(f"{path}: IDX sizes {shape} need {size} bytes of data, the file has {stored - header_size}")
            data = file.read(size + 1)
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise ValueError(f"{path}: corrupt gzip data ({error})") from None
    if len(data) != size:
        raise ValueError(f"{path}: IDX sizes {shape} need {size} bytes of data, the file has {len(data)}")
    return np.frombuffer(data, np.uint8).reshape(shape).copy()


def _idx_shape(header: bytes, ndim: int, path: StrPath) -> tuple[int, ...]:
    """The sizes an IDX header gives, after its magic number (0x0800 + ndim: ``ndim`` unsigned-byte dimensions)."""
    expected_magic = 0x0800 + ndim
    if len(header) < 4 * (ndim + 1) or struct.unpack(">I", header[:4])[0] != expected_magic:
        found = header[:4].hex() or "nothing"
        expected = f"{expected_magic:08x} ({ndim}-D unsigned bytes)"
        raise ValueError(f"{path}: bad IDX magic number {found}, expected {expected}")
    return struct.unpack(f">{ndim}I", header[4:])
