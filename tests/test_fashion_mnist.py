"""Fashion-MNIST as chapter 19 loads it: PNG decoding, both file layouts, the download, the scaling.

Every dataset here is made in tmp_path by the small encoders below; no test touches the network.
"""

from __future__ import annotations

import gzip
import io
import struct
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from nnfs_gpu.datasets import (
    FASHION_MNIST_LABELS,
    FASHION_MNIST_URL,
    create_data_mnist,
    download_fashion_mnist,
    load_mnist_dataset,
    read_idx,
    read_png,
    scale_images,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # samples per pixel -> PNG colour type
NONE, SUB, UP, AVERAGE, PAETH = range(5)
ALL_FILTERS = (NONE, SUB, UP, AVERAGE, PAETH)


# --- a minimal PNG encoder: the forward direction of every filter, written independently of the decoder ---


def paeth_predictor(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_row(kind: int, row: list[int], prior: list[int], bpp: int) -> list[int]:
    filtered = []
    for i, value in enumerate(row):
        left = row[i - bpp] if i >= bpp else 0
        up_left = prior[i - bpp] if i >= bpp else 0
        predictor = [0, left, prior[i], (left + prior[i]) // 2, paeth_predictor(left, prior[i], up_left)][kind]
        filtered.append((value - predictor) % 256)
    return filtered


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bytes(
    width: int, height: int, raw: bytes, bit_depth: int = 8, colour_type: int = 0, interlace: int = 0
) -> bytes:
    """A PNG of already-filtered scanlines; the compressed data is split over two IDAT chunks."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, interlace)
    compressed = zlib.compress(raw)
    half = len(compressed) // 2
    return (
        PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", compressed[:half])
        + chunk(b"IDAT", compressed[half:])
        + chunk(b"IEND", b"")
    )


def encode_png(pixels: np.ndarray, filters: tuple[int, ...] = ALL_FILTERS) -> bytes:
    """(H, W) gray or (H, W, C) 8-bit pixels as a PNG; row y uses filters[y % len(filters)]."""
    pixels = np.asarray(pixels, np.uint8)
    height, width = pixels.shape[:2]
    bpp = 1 if pixels.ndim == 2 else pixels.shape[2]
    raw = bytearray()
    prior = [0] * (width * bpp)
    for y, row in enumerate(pixels.reshape(height, width * bpp).tolist()):
        kind = filters[y % len(filters)]
        raw += bytes([kind, *filter_row(kind, row, prior, bpp)])
        prior = row
    return png_bytes(width, height, bytes(raw), colour_type=COLOUR_TYPES[bpp])


def write_idx(path: Path, array: np.ndarray, magic: int | None = None) -> None:
    """An unsigned-byte IDX file, gzipped when the name ends in .gz."""
    magic = 0x0800 + array.ndim if magic is None else magic
    data = struct.pack(f">I{array.ndim}I", magic, *array.shape) + np.asarray(array, np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)


def random_images(count: int, seed: int, shape: tuple[int, ...] = (28, 28)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, *shape), dtype=np.uint8)


def write_png_folders(root: Path, split: str, samples: list[tuple[int, str, np.ndarray]], seed: int) -> None:
    """root/split/label/name.png for each (label, name, image), created in a shuffled order."""
    for index in np.random.default_rng(seed).permutation(len(samples)):
        label, name, image = samples[index]
        folder = root / split / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.png").write_bytes(encode_png(image))


def book_samples(count: int, seed: int) -> list[tuple[int, str, np.ndarray]]:
    """(label, NNNN name, image) triples over the ten Fashion-MNIST labels, in the order the loader returns."""
    images = random_images(count, seed)
    return [(index % 10, f"{index:04d}", image) for index, image in enumerate(images)]


def in_loading_order(samples: list[tuple[int, str, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    ordered = sorted(samples, key=lambda sample: (sample[0], sample[1]))
    return np.stack([image for _, _, image in ordered]), np.array([label for label, _, _ in ordered], np.uint8)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any urlopen a test has not replaced fails the test instead of reaching the network."""

    def refuse(*args, **kwargs):
        pytest.fail("a test tried to use the network")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


# --- read_png ---


@pytest.mark.parametrize(
    "filters", [(NONE,), (SUB,), (UP,), (AVERAGE,), (PAETH,), ALL_FILTERS, (PAETH, AVERAGE, UP, SUB, NONE)]
)
@pytest.mark.parametrize("shape", [(28, 28), (5, 9), (1, 1)])
def test_read_png_gray_round_trips_exactly(tmp_path: Path, filters: tuple[int, ...], shape: tuple[int, int]) -> None:
    pixels = random_images(1, seed=sum(filters) + shape[1], shape=shape)[0]
    path = tmp_path / "image.png"
    path.write_bytes(encode_png(pixels, filters))
    image = read_png(path)
    assert image.dtype == np.uint8 and image.shape == shape
    np.testing.assert_array_equal(image, pixels)


@pytest.mark.parametrize("filters", [(SUB,), (AVERAGE,), (PAETH,), ALL_FILTERS])
@pytest.mark.parametrize("channels", [3, 4])
def test_read_png_colour_becomes_rounded_itu601_luma(tmp_path: Path, filters: tuple[int, ...], channels: int) -> None:
    pixels = random_images(1, seed=channels, shape=(6, 7, channels))[0]
    path = tmp_path / "photo.png"
    path.write_bytes(encode_png(pixels, filters))
    image = read_png(path)
    r, g, b = (pixels[:, :, channel].astype(np.float64) for channel in range(3))
    assert image.dtype == np.uint8 and image.shape == (6, 7)
    assert np.all(np.abs(image - (0.299 * r + 0.587 * g + 0.114 * b)) <= 0.5)


def test_read_png_known_colours_to_gray(tmp_path: Path) -> None:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0), (77, 77, 77), (200, 100, 50)]
    path = tmp_path / "colours.png"
    path.write_bytes(encode_png(np.array([colours], np.uint8)))
    # 0.299 R + 0.587 G + 0.114 B: 76.245, 149.685, 29.07, 255, 0, 77, 124.2
    np.testing.assert_array_equal(read_png(path), [[76, 150, 29, 255, 0, 77, 124]])


def test_read_png_gray_alpha_keeps_the_gray_channel(tmp_path: Path) -> None:
    pixels = random_images(1, seed=2, shape=(4, 5, 2))[0]
    path = tmp_path / "gray_alpha.png"
    path.write_bytes(encode_png(pixels, (PAETH, AVERAGE, SUB, UP)))
    np.testing.assert_array_equal(read_png(path), pixels[:, :, 0])


def corrupt_crc(png: bytes) -> bytes:
    idat = png.index(b"IDAT")
    return png[: idat + 4] + bytes([png[idat + 4] ^ 0xFF]) + png[idat + 5 :]


def gray_raw(width: int, height: int, filter_type: int = NONE, bytes_per_pixel: int = 1) -> bytes:
    return bytes([filter_type] + [0] * width * bytes_per_pixel) * height


BAD_PNGS = {
    "bad signature": (lambda good: b"GIF89a" + good[6:], "signature"),
    "corrupt CRC": (corrupt_crc, "CRC mismatch"),
    "truncated file": (lambda good: good[: len(good) - 20], "truncated"),
    "no IEND": (lambda good: good[:-12], "truncated"),
    "16-bit": (lambda good: png_bytes(3, 2, gray_raw(3, 2, bytes_per_pixel=2), bit_depth=16), "16-bit"),
    "palette": (lambda good: png_bytes(3, 2, gray_raw(3, 2), colour_type=3), "palette"),
    "interlaced": (lambda good: png_bytes(3, 2, gray_raw(3, 2), interlace=1), "interlaced"),
    "corrupt zlib stream": (
        lambda good: PNG_SIGNATURE
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 3, 2, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", b"not zlib data")
        + chunk(b"IEND", b""),
        "corrupt PNG image data",
    ),
    "missing scanlines": (lambda good: png_bytes(3, 2, gray_raw(3, 1)), "expected 8"),
    "unknown filter type": (lambda good: png_bytes(3, 2, gray_raw(3, 2, filter_type=5)), "unknown filter type 5"),
}


@pytest.mark.parametrize("case", BAD_PNGS)
def test_read_png_rejects_what_it_cannot_decode_naming_file_and_problem(tmp_path: Path, case: str) -> None:
    make, problem = BAD_PNGS[case]
    path = tmp_path / "bad.png"
    path.write_bytes(make(encode_png(random_images(1, seed=3, shape=(3, 2))[0])))
    with pytest.raises(ValueError) as raised:
        read_png(path)
    assert str(path) in str(raised.value) and problem in str(raised.value)


# --- the PNG folder layout ---


def test_loading_order_is_sorted_whatever_the_creation_order(tmp_path: Path) -> None:
    # 12 labels, so numeric (0, 1, 2, ..., 10, 11) and text order (0, 1, 10, 11, 2, ...) differ
    rng = np.random.default_rng(4)
    images = random_images(36, seed=5, shape=(3, 3))
    names = rng.choice(10000, size=36, replace=False)
    samples = [(index % 12, f"{names[index]:04d}", image) for index, image in enumerate(images)]
    X_expected, y_expected = in_loading_order(samples)
    for attempt, root in enumerate([tmp_path / "a", tmp_path / "b"]):
        write_png_folders(root, "train", samples, seed=attempt)
        X, y = load_mnist_dataset("train", root)
        np.testing.assert_array_equal(X, X_expected)
        np.testing.assert_array_equal(y, y_expected)


def test_create_data_mnist_reads_train_then_test_with_labels_from_folder_names(tmp_path: Path) -> None:
    train, test = book_samples(30, seed=6), book_samples(10, seed=7)
    write_png_folders(tmp_path, "train", train, seed=8)
    write_png_folders(tmp_path, "test", test, seed=9)
    X, y, X_test, y_test = create_data_mnist(tmp_path)
    assert X.shape == (30, 28, 28) and y.shape == (30,) and X_test.shape == (10, 28, 28) and y_test.shape == (10,)
    assert all(array.dtype == np.uint8 for array in (X, y, X_test, y_test))
    for (images, labels), samples in [((X, y), train), ((X_test, y_test), test)]:
        expected_images, expected_labels = in_loading_order(samples)
        np.testing.assert_array_equal(images, expected_images)
        np.testing.assert_array_equal(labels, expected_labels)
    assert set(y.tolist()) == set(FASHION_MNIST_LABELS)


def test_images_of_different_sizes_are_refused(tmp_path: Path) -> None:
    samples = [(0, "0000", np.zeros((28, 28), np.uint8)), (1, "0000", np.zeros((27, 28), np.uint8))]
    write_png_folders(tmp_path, "train", samples, seed=0)
    with pytest.raises(ValueError, match="differs"):
        load_mnist_dataset("train", tmp_path)


def test_missing_data_says_what_layout_is_expected_and_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as raised:
        create_data_mnist(tmp_path / "fashion_mnist_images")
    message = str(raised.value)
    for needed in (FASHION_MNIST_URL, "download_fashion_mnist", "NNNN.png", "train-images-idx3-ubyte"):
        assert needed in message
    assert str(tmp_path / "fashion_mnist_images") in message


# --- the IDX layout ---


def write_idx_dataset(root: Path, split: str, samples: list[tuple[int, str, np.ndarray]], suffix: str) -> None:
    images, labels = in_loading_order(samples)
    prefix = {"train": "train", "test": "t10k"}[split]
    root.mkdir(parents=True, exist_ok=True)
    write_idx(root / f"{prefix}-images-idx3-ubyte{suffix}", images)
    write_idx(root / f"{prefix}-labels-idx1-ubyte{suffix}", labels)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_png_and_idx_layouts_give_equal_arrays(tmp_path: Path, suffix: str) -> None:
    train, test = book_samples(20, seed=10), book_samples(10, seed=11)
    for split, samples in [("train", train), ("test", test)]:
        write_png_folders(tmp_path / "png", split, samples, seed=12)
        write_idx_dataset(tmp_path / "idx", split, samples, suffix)
    from_png, from_idx = create_data_mnist(tmp_path / "png"), create_data_mnist(tmp_path / "idx")
    for png_array, idx_array in zip(from_png, from_idx):
        assert idx_array.dtype == png_array.dtype == np.uint8
        np.testing.assert_array_equal(idx_array, png_array)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_refuses_a_bad_magic_number(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"train-images-idx3-ubyte{suffix}"
    write_idx(path, random_images(2, seed=13), magic=0x00000801)
    with pytest.raises(ValueError, match="bad IDX magic") as raised:
        read_idx(path, 3)
    assert str(path) in str(raised.value)


def test_read_idx_refuses_a_size_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "t10k-images-idx3-ubyte"
    write_idx(path, random_images(2, seed=14))
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match="sizes") as raised:
        read_idx(path, 3)
    assert str(path) in str(raised.value)


def test_idx_images_and_labels_must_hold_the_same_count(tmp_path: Path) -> None:
    write_idx(tmp_path / "train-images-idx3-ubyte", random_images(3, seed=15))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match="3 images but .* 2 labels"):
        load_mnist_dataset("train", tmp_path)


# --- scale_images ---


def test_scale_images_is_chapter_19s_preprocessing() -> None:
    X = random_images(5, seed=16)
    X[0, 0, 0], X[0, 0, 1] = 0, 255
    scaled = scale_images(X)
    assert scaled.dtype == np.float32 and scaled.shape == (5, 784)
    assert scaled[0, 0] == -1.0 and scaled[0, 1] == 1.0
    assert scaled.min() >= -1.0 and scaled.max() <= 1.0
    np.testing.assert_array_equal(scaled, (X.reshape(X.shape[0], -1).astype(np.float32) - 127.5) / 127.5)
    np.testing.assert_array_equal(scaled.reshape(5, 28, 28)[3], (X[3].astype(np.float32) - 127.5) / 127.5)


def test_scale_images_flattens_any_image_size() -> None:
    assert scale_images(random_images(3, seed=17, shape=(4, 6))).shape == (3, 24)


def test_labels_are_the_books() -> None:
    assert FASHION_MNIST_LABELS == {
        0: "T-shirt/top", 1: "Trouser", 2: "Pullover", 3: "Dress", 4: "Coat",
        5: "Sandal", 6: "Shirt", 7: "Sneaker", 8: "Bag", 9: "Ankle boot",
    }  # fmt: skip


# --- download_fashion_mnist, against a monkeypatched urlopen ---


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def book_zip(train: list[tuple[int, str, np.ndarray]], test: list[tuple[int, str, np.ndarray]]) -> bytes:
    """The layout of the book's zip: train/<label>/NNNN.png and test/<label>/NNNN.png at its root."""
    members = {}
    for split, samples in [("train", train), ("test", test)]:
        members.update({f"{split}/{label}/{name}.png": encode_png(image) for label, name, image in samples})
    return zip_of(members)


def serve(monkeypatch: pytest.MonkeyPatch, body: bytes) -> list[str]:
    """Make urlopen answer with ``body``; returns the list of URLs it was asked for."""
    requested: list[str] = []

    def fake_urlopen(url: str, *args, **kwargs) -> io.BytesIO:
        requested.append(url)
        return io.BytesIO(body)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    return requested


def leftovers(folder: Path) -> list[str]:
    """Temporary files and folders of an unfinished download or extraction."""
    unfinished = (path for path in folder.iterdir() if path.suffix == ".part" or path.name.startswith(".extracting"))
    return sorted(path.name for path in unfinished)


def test_download_writes_the_zip_beside_the_folder_and_extracts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train, test = book_samples(10, seed=18), book_samples(5, seed=19)
    body = book_zip(train, test)
    requested = serve(monkeypatch, body)
    folder = download_fashion_mnist(tmp_path / "fashion_mnist_images")
    assert requested == [FASHION_MNIST_URL]
    assert folder == tmp_path / "fashion_mnist_images"
    assert (tmp_path / "fashion_mnist_images.zip").read_bytes() == body
    X, y, X_test, y_test = create_data_mnist(folder)
    for (images, labels), samples in [((X, y), train), ((X_test, y_test), test)]:
        expected_images, expected_labels = in_loading_order(samples)
        np.testing.assert_array_equal(images, expected_images)
        np.testing.assert_array_equal(labels, expected_labels)
    assert leftovers(tmp_path) == [] and leftovers(folder) == []


def test_download_skips_when_the_data_is_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    serve(monkeypatch, book_zip(book_samples(2, seed=20), book_samples(2, seed=21)))
    folder = download_fashion_mnist(tmp_path / "data")
    (tmp_path / "data.zip").unlink()
    monkeypatch.setattr(urllib.request, "urlopen", lambda *args, **kwargs: pytest.fail("downloaded again"))
    before = sorted(path.relative_to(folder) for path in folder.rglob("*"))
    assert download_fashion_mnist(tmp_path / "data") == folder
    assert sorted(path.relative_to(folder) for path in folder.rglob("*")) == before
    assert not (tmp_path / "data.zip").exists()


def test_download_reuses_a_zip_already_beside_the_folder(tmp_path: Path) -> None:
    train, test = book_samples(3, seed=22), book_samples(2, seed=23)
    (tmp_path / "data.zip").write_bytes(book_zip(train, test))  # urlopen still refuses (no_network)
    X, y, _, _ = create_data_mnist(download_fashion_mnist(tmp_path / "data"))
    np.testing.assert_array_equal(X, in_loading_order(train)[0])


def test_download_refuses_a_zip_slip_member(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    serve(monkeypatch, zip_of({"train/0/0000.png": encode_png(np.zeros((2, 2), np.uint8)), "../escaped.txt": b"x"}))
    with pytest.raises(ValueError, match="outside") as raised:
        download_fashion_mnist(tmp_path / "target" / "fashion_mnist_images")
    assert "../escaped.txt" in str(raised.value)
    assert not any(path.name == "escaped.txt" for path in tmp_path.rglob("*"))
    assert not (tmp_path / "target" / "fashion_mnist_images" / "train").exists()


def test_offline_download_says_nnfs_io_is_unreachable_and_how_to_get_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ConnectionError) as raised:
        download_fashion_mnist(tmp_path / "fashion_mnist_images")
    message = str(raised.value)
    assert "cannot reach nnfs.io" in message and FASHION_MNIST_URL in message
    assert str(tmp_path / "fashion_mnist_images") in message
    assert isinstance(raised.value.__cause__, urllib.error.URLError)
    assert not (tmp_path / "fashion_mnist_images.zip").exists() and leftovers(tmp_path) == []


def test_an_interrupted_download_leaves_no_zip_to_be_taken_as_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class CutOff(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if self.tell():
                raise ConnectionResetError("connection reset by peer")
            return super().read(100)

    body = book_zip(book_samples(4, seed=24), book_samples(2, seed=25))
    monkeypatch.setattr(urllib.request, "urlopen", lambda *args, **kwargs: CutOff(body))
    with pytest.raises(ConnectionError):
        download_fashion_mnist(tmp_path / "fashion_mnist_images")
    assert not (tmp_path / "fashion_mnist_images.zip").exists() and leftovers(tmp_path) == []
    requested = serve(monkeypatch, body)
    download_fashion_mnist(tmp_path / "fashion_mnist_images")
    assert requested == [FASHION_MNIST_URL] and (tmp_path / "fashion_mnist_images.zip").read_bytes() == body


def test_read_idx_refuses_a_gzip_bomb_before_unpacking_it(tmp_path: Path) -> None:
    """A .gz file may unpack to no more than a model file of its size (model_file.array_budget)."""
    path = tmp_path / "train-images-idx3-ubyte.gz"
    write_idx(path, np.zeros((40_000, 28, 28), np.uint8))  # 31 MB of zeros in about 30 KB
    assert path.stat().st_size < 100_000
    with pytest.raises(ValueError, match=rf"^{path}: IDX sizes \(40000, 28, 28\) need 31360000 bytes of data, more than a "
                                         r"gzipped file of \d+ bytes may unpack to \(16777216\); the file is damaged or crafted"):
        read_idx(path, 3)
