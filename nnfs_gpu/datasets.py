"""The book's toy datasets, made exactly as the ``nnfs`` package makes them, as host NumPy arrays.

With ``dtype="float32"`` (the default) the arithmetic is the one ``nnfs.init()`` produces (random
draws rounded to float32 before use, results stored in float32); with ``dtype="float64"`` it is
that of plain ``nnfs`` without ``init()``. Both draw from NumPy's global legacy RNG in the same
order, so a seed gives the same data as ``nnfs.datasets`` does.
"""

from __future__ import annotations

import http.client
import os
import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .files import write_atomically
from .image_files import StrPath, read_idx, read_png  # noqa: F401 (read_png is public here too)

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


def _per_class(samples: int, classes: int, dtype: str, points: Callable[[int, int, np.dtype], Any]) -> tuple[np.ndarray, np.ndarray]:
    """``samples`` 2-D points for each class in turn, from ``points(class_number, samples, dtype)``,
    with uint8 labels in blocks 0…0, 1…1, …"""
    float_dtype = _check(samples, classes, dtype)
    X = np.zeros((samples * classes, 2), dtype=float_dtype)
    y = np.zeros(samples * classes, dtype="uint8")
    for class_number in range(classes):
        rows = slice(samples * class_number, samples * (class_number + 1))
        X[rows] = points(class_number, samples, float_dtype)
        y[rows] = class_number
    return X, y


def _spiral_arm(class_number: int, samples: int, dtype: np.dtype) -> Any:
    r = np.linspace(0.0, 1, samples)
    t = np.linspace(class_number * 4, (class_number + 1) * 4, samples) + _randn(samples, dtype) * 0.2
    return np.c_[r * np.sin(t * 2.5), r * np.cos(t * 2.5)]


def _vertical_cluster(class_number: int, samples: int, dtype: np.dtype) -> Any:
    x_noise = _randn(samples, dtype) * 0.1
    y_noise = _randn(samples, dtype) * 0.1
    return np.c_[x_noise + class_number / 3, y_noise + 0.5]


def spiral_data(samples: int, classes: int, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """``classes`` interleaved spiral arms of ``samples`` points each; labels in blocks 0…0, 1…1, …"""
    return _per_class(samples, classes, dtype, _spiral_arm)


def vertical_data(samples: int, classes: int, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """``classes`` vertical clusters of ``samples`` points each around x = class / 3, y = 0.5."""
    return _per_class(samples, classes, dtype, _vertical_cluster)


def sine_data(samples: int = 1000, dtype: str = "float64") -> tuple[np.ndarray, np.ndarray]:
    """``X = i / samples`` and ``y = sin(2πX)`` as ``(samples, 1)`` columns; float64, as in ``nnfs``."""
    float_dtype = _check(samples, 1, dtype)
    X = np.arange(samples).reshape(-1, 1) / samples
    y = np.sin(2 * np.pi * X).reshape(-1, 1)
    return X.astype(float_dtype), y.astype(float_dtype)


# --- Fashion-MNIST, as chapter 19 loads it (NumPy and the standard library only, no OpenCV) ---


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

_IDX_PREFIXES = {"train": "train", "test": "t10k"}


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
    """Writes ``url`` to ``archive`` atomically (``files.write_atomically``: no half-written zip)."""
    archive.parent.mkdir(parents=True, exist_ok=True)

    def write(file: Any) -> None:
        for block in _download_blocks(url, archive, folder):
            file.write(block)

    write_atomically(archive, write, "the Fashion-MNIST archive")


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
