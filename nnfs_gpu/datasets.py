"""The book's toy datasets, made exactly as the ``nnfs`` package makes them, as host NumPy arrays.

With ``dtype="float32"`` (the default) the arithmetic is the one ``nnfs.init()`` produces (random
draws rounded to float32 before use, results stored in float32); with ``dtype="float64"`` it is
that of plain ``nnfs`` without ``init()``. Both draw from NumPy's global legacy RNG in the same
order, so a seed gives the same data as ``nnfs.datasets`` does.
"""

from __future__ import annotations

import gzip
import http.client
import os
import shutil
import struct
import tempfile
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

FLOAT_DTYPES = ("float32", "float64")


def _check(samples: int, classes: int, dtype: str) -> np.dtype:
    if samples < 1 or classes < 1:
        raise ValueError(f"samples and classes must be >= 1, got samples={samples}, classes={classes}")
    if classes > 256:
        raise ValueError(f"labels are uint8, so at most 256 classes, got {classes}")
    if dtype not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be one of {FLOAT_DTYPES}, got {dtype!r}")
    return np.dtype(dtype)


def _randn(samples: int, dtype: np.dtype) -> np.ndarray:
    return np.random.randn(samples).astype(dtype)


def spiral_data(samples: int, classes: int, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """``classes`` interleaved spiral arms of ``samples`` points each; labels in blocks 0…0, 1…1, …"""
    float_dtype = _check(samples, classes, dtype)
    X = np.zeros((samples * classes, 2), dtype=float_dtype)
    y = np.zeros(samples * classes, dtype="uint8")
    for class_number in range(classes):
        rows = slice(samples * class_number, samples * (class_number + 1))
        r = np.linspace(0.0, 1, samples)
        t = np.linspace(class_number * 4, (class_number + 1) * 4, samples) + _randn(samples, float_dtype) * 0.2
        X[rows] = np.c_[r * np.sin(t * 2.5), r * np.cos(t * 2.5)]
        y[rows] = class_number
    return X, y


def vertical_data(samples: int, classes: int, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """``classes`` vertical clusters of ``samples`` points each around x = class / 3, y = 0.5."""
    float_dtype = _check(samples, classes, dtype)
    X = np.zeros((samples * classes, 2), dtype=float_dtype)
    y = np.zeros(samples * classes, dtype="uint8")
    for class_number in range(classes):
        rows = slice(samples * class_number, samples * (class_number + 1))
        x_noise = _randn(samples, float_dtype) * 0.1
        y_noise = _randn(samples, float_dtype) * 0.1
        X[rows] = np.c_[x_noise + class_number / 3, y_noise + 0.5]
        y[rows] = class_number
    return X, y


def sine_data(samples: int = 1000, dtype: str = "float64") -> tuple[np.ndarray, np.ndarray]:
    """``X = i / samples`` and ``y = sin(2πX)`` as ``(samples, 1)`` columns; float64, as in ``nnfs``."""
    float_dtype = _check(samples, 1, dtype)
    X = np.arange(samples).reshape(-1, 1) / samples
    y = np.sin(2 * np.pi * X).reshape(-1, 1)
    return X.astype(float_dtype), y.astype(float_dtype)


# --- Fashion-MNIST, as chapter 19 loads it (NumPy and the standard library only, no OpenCV) ---

StrPath = str | os.PathLike[str]

FASHION_MNIST_URL = "https://nnfs.io/datasets/fashion_mnist_images.zip"
FASHION_MNIST_LABELS = {
    0: "T-shirt/top",
    1: "Trouser",
    2: "Pullover",
    3: "Dress",
    4: "Coat",
    5: "Sandal",
    6: "Shirt",
    7: "Sneaker",
    8: "Bag",
    9: "Ankle boot",
}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel: gray, RGB, gray+alpha, RGBA
_IDX_PREFIXES = {"train": "train", "test": "t10k"}


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
    """
    try:
        with (gzip.open if str(path).endswith(".gz") else open)(path, "rb") as file:
            data = file.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise ValueError(f"{path}: corrupt gzip data ({error})") from None
    expected_magic = 0x0800 + ndim
    header_size = 4 * (ndim + 1)
    if len(data) < header_size or struct.unpack(">I", data[:4])[0] != expected_magic:
        found = data[:4].hex() or "nothing"
        expected = f"{expected_magic:08x} ({ndim}-D unsigned bytes)"
        raise ValueError(f"{path}: bad IDX magic number {found}, expected {expected}")
    shape = struct.unpack(f">{ndim}I", data[4:header_size])
    size = int(np.prod(shape))
    if len(data) - header_size != size:
        found = len(data) - header_size
        raise ValueError(f"{path}: IDX sizes {shape} need {size} bytes of data, the file has {found}")
    return np.frombuffer(data, np.uint8, offset=header_size).reshape(shape).copy()


def load_mnist_dataset(dataset: str, path: StrPath) -> tuple[np.ndarray, np.ndarray]:
    """The book's loader: ``X`` (N, 28, 28) uint8 and ``y`` (N,) uint8 for ``dataset`` ("train" or "test").

    Reads the book's PNG folders ``path/dataset/<label>/NNNN.png`` or, failing that, the original IDX
    files in ``path``. Labels and file names are sorted, so the order is the same on every file system.
    """
    root = Path(path)
    if (root / dataset).is_dir():
        return _load_png_folders(root / dataset, root, dataset)
    idx_files = _idx_files(root, dataset)
    if idx_files is None:
        raise FileNotFoundError(_missing_data_message(root, dataset))
    return _load_idx(*idx_files)


def create_data_mnist(path: StrPath) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The book's ``X, y, X_test, y_test``: the train set, then the test set, from ``path``."""
    X, y = load_mnist_dataset("train", path)
    X_test, y_test = load_mnist_dataset("test", path)
    return X, y, X_test, y_test


def _load_png_folders(folder: Path, root: Path, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """Every PNG of every label folder, labels in numeric order and files in name order."""
    images, labels = [], []
    for label, label_folder in _label_folders(folder):
        for file in sorted(entry for entry in label_folder.iterdir() if entry.suffix.lower() == ".png"):
            image = read_png(file)
            if images and image.shape != images[0].shape:
                raise ValueError(f"{file}: image shape {image.shape} differs from the others' {images[0].shape}")
            images.append(image)
            labels.append(label)
    if not images:
        raise FileNotFoundError(_missing_data_message(root, dataset))
    return np.stack(images), np.array(labels, dtype=np.uint8)


def _label_folders(folder: Path) -> list[tuple[int, Path]]:
    """(label, folder) for each subfolder of ``folder``, whose names must be labels 0-255, numerically sorted."""
    folders = []
    for entry in (entry for entry in folder.iterdir() if entry.is_dir()):
        if not (entry.name.isascii() and entry.name.isdigit()) or int(entry.name) > 255:
            raise ValueError(f"{entry}: label folders must be named by a uint8 label (0-255)")
        folders.append((int(entry.name), entry))
    return sorted(folders)


def _idx_files(root: Path, dataset: str) -> tuple[Path, Path] | None:
    """The (images, labels) IDX files of ``dataset`` in ``root``, plain or .gz, or None if either is missing."""
    if dataset not in _IDX_PREFIXES:
        return None
    found = []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        stem = root / f"{_IDX_PREFIXES[dataset]}-{kind}"
        matches = [file for file in (stem, stem.with_name(stem.name + ".gz")) if file.is_file()]
        if not matches:
            return None
        found.append(matches[0])
    return found[0], found[1]


def _load_idx(images_file: Path, labels_file: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels from their IDX files, which must hold the same number of samples."""
    X, y = read_idx(images_file, 3), read_idx(labels_file, 1)
    if len(X) != len(y):
        raise ValueError(f"{images_file} holds {len(X)} images but {labels_file} holds {len(y)} labels")
    return X, y


def _missing_data_message(root: Path, dataset: str) -> str:
    """What layout ``load_mnist_dataset`` expects and how to get the data."""
    prefix = _IDX_PREFIXES.get(dataset, dataset)
    return (
        f"no Fashion-MNIST {dataset!r} data in {root}: expected the book's PNG folders "
        f"{root / dataset}/<label 0-9>/NNNN.png, or the IDX files {prefix}-images-idx3-ubyte and "
        f"{prefix}-labels-idx1-ubyte (optionally .gz) in {root}. Download {FASHION_MNIST_URL} and extract "
        f"it into {root}, or, when online, call nnfs_gpu.datasets.download_fashion_mnist({str(root)!r})."
    )


def download_fashion_mnist(path: StrPath = "fashion_mnist_images") -> Path:
    """The book's download: fetch FASHION_MNIST_URL into ``<path>.zip`` and extract it into ``path``.

    Does nothing when ``path`` already holds ``train`` and ``test``, and reuses a zip already there.
    The zip is written through a temporary file and each top-level folder is moved into place only once
    fully extracted, so an interrupted run never leaves partial data that a later run takes as complete.
    Offline, raises ConnectionError saying how to get the files by hand.
    """
    folder = Path(path)
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        return folder
    archive = folder.with_name(folder.name + ".zip")
    if not archive.is_file():
        _fetch(FASHION_MNIST_URL, archive, folder)
    _extract(archive, folder)
    return folder


def _fetch(url: str, archive: Path, folder: Path) -> None:
    """Write ``url`` to ``archive`` atomically: into a temporary file, then renamed."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    descriptor, partial = tempfile.mkstemp(dir=archive.parent, prefix=archive.name, suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as file:
            for block in _download_blocks(url, archive, folder):
                file.write(block)
        os.replace(partial, archive)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def _download_blocks(url: str, archive: Path, folder: Path) -> Iterator[bytes]:
    """The body of ``url`` in blocks; network failures become a ConnectionError that says what to do."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            while block := response.read(1 << 20):
                yield block
    except (OSError, http.client.HTTPException) as error:
        raise ConnectionError(
            f"cannot download {url}: this machine cannot reach nnfs.io ({error}). Get the files by hand: "
            f"download {url} on a machine that is online, copy it to {archive} and run "
            f"download_fashion_mnist again, or extract it yourself into {folder} (so that "
            f"{folder / 'train' / '0' / '0000.png'} exists)."
        ) from error


def _extract(archive: Path, folder: Path) -> None:
    """Extract ``archive`` into ``folder``, refusing members that would land outside it (zip-slip)."""
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".extracting-"))
    try:
        with zipfile.ZipFile(archive) as zip_file:
            for name in zip_file.namelist():
                if not (staging / name).resolve().is_relative_to(staging.resolve()):
                    raise ValueError(f"{archive}: member {name!r} would be extracted outside {folder}; refusing")
            zip_file.extractall(staging)
        for entry in staging.iterdir():
            if not (folder / entry.name).exists():
                os.replace(entry, folder / entry.name)
    finally:
        shutil.rmtree(staging)


def scale_images(X: np.ndarray) -> np.ndarray:
    """Chapter 19's preprocessing: each image flattened, 0..255 mapped to [-1, 1], as float32.

    (N, 28, 28) uint8 becomes (N, 784); any (N, H, W) becomes (N, H * W).
    """
    X = np.asarray(X)
    return (X.reshape(X.shape[0], -1).astype(np.float32) - 127.5) / 127.5
