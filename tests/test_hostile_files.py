"""A seeded fuzz test: a few hundred model, parameter and data files mutated from valid saves (byte
flips, truncations, deflate damage, zip flag, method, size and version games, JSON and ``.npy``
header mutations) are loaded, and only the documented errors may escape: ``ModelFileError`` naming
the file from ``Model.load`` and ``load_parameters``; one ``nnfs-gpu: error:`` line and exit status 2
from ``nnfs-gpu predict`` and ``evaluate``. Each kind it found has a named test in
``tests/test_damaged_files.py``."""

from __future__ import annotations

import json
import random
import struct
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import nnfs_gpu
from damage import central_entry, data_offset, description, members, npy_bytes, npz_bytes, rezipped, with_description
from nnfs_gpu import Model, ModelFileError
from test_model_files import trained_and_saved

SEED = 21
#: mutated files of each kind; the command line reads every data file and every third model
CASES = {"model": 160, "parameters": 60, "npz": 60, "npy": 40, "csv": 40}
HOSTILE_VALUES = [
    10**400, -(10**400), float("inf"), float("nan"), -1, 0, 10**18, 2.5, True, None, "", "Dense", "x" * 1000,
    [], {}, ["Dense"], {"type": "ReLU"}, [[[[[[[[[[[0]]]]]]]]]]], list(range(50)), {"type": {"type": "ReLU"}},
]
HEADER_PARTS = {
    "descr": ["'<f4'", "'<f8'", "'|O'", "'<c8'", "'|V8'", "'<U3'", "[('a', '<f4')]", "('<f4', (3,))", "'>f2'", "'bogus'", "3"],
    "fortran_order": ["False", "True", "'yes'", "1"],
    "shape": ["(2, 16)", "(True, 16)", "(-2, -16)", "(10**12, 4)", "(2**62, 2**62)", "()", "(0,)", "[2, 16]",
              "(2.0, 16)", "(1,) * 40", "None"],
}
Mutation = Callable[[bytes, random.Random], bytes]


def flipped(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] ^= rng.randint(1, 255)
    return bytes(data)


def truncated(raw: bytes, rng: random.Random) -> bytes:
    return raw[: rng.randrange(len(raw))]


def deflate_damaged(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(rezipped(raw, zipfile.ZIP_DEFLATED))
    start = data_offset(bytes(data), rng.randrange(len(members(raw))))
    for _ in range(rng.randint(1, 4)):
        data[start + rng.randrange(min(64, len(data) - start))] ^= rng.randint(1, 255)
    return bytes(data)


def zip_games(raw: bytes, rng: random.Random) -> bytes:
    """A central-directory field of a random member set to a value zipfile treats specially."""
    data = bytearray(raw)
    entry = central_entry(raw, rng.randrange(len(members(raw))))
    field, values = rng.choice([
        (6, [20, 45, 63, 64, 255]),  # version needed (one byte)
        (8, [0x1, 0x8, 0x20, 0x40, 0x41, 0x800]),  # flags
        (10, [1, 8, 9, 12, 14, 93, 99]),  # compression method
        (20, [0, 1, 2**31, 2**32 - 1]),  # compressed size
        (24, [0, 1, 2**31, 2**32 - 1]),  # uncompressed size
        (42, [0, 1, 2**32 - 1]),  # local header offset
    ])
    value = rng.choice(values)
    size = 1 if field == 6 else 2 if field in (8, 10) else 4
    data[entry + field : entry + field + size] = value.to_bytes(size, "little")
    return bytes(data)


def header_mutated(raw: bytes, rng: random.Random) -> bytes:
    """A random member's .npy header replaced by a hostile one (its data kept)."""
    contents = members(raw)
    name = rng.choice(sorted(contents))
    return rezipped(raw, **{name[:-4]: hostile_npy(contents[name], rng)})


def hostile_npy(npy: bytes, rng: random.Random) -> bytes:
    parts = {key: rng.choice(values) for key, values in HEADER_PARTS.items()}
    text = "{" + ", ".join(f"'{key}': {value}" for key, value in parts.items() if rng.random() > 0.1) + ", }"
    if rng.random() < 0.2:
        text = text[: rng.randrange(len(text))]
    text = text.encode("latin1") + b" " * (-(11 + len(text)) % 64) + b"\n"
    length = struct.unpack("<H", npy[8:10])[0]
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + npy[10 + length :]


def json_mutated(raw: bytes, rng: random.Random) -> bytes:
    """One value of the description (or a key of it removed) replaced by a hostile value."""
    meta = description(raw)
    containers = [meta]
    for container in containers:
        children = container.values() if isinstance(container, dict) else container
        containers.extend(child for child in children if isinstance(child, (dict, list)) and child)
    target = rng.choice(containers)
    key = rng.choice(list(target) if isinstance(target, dict) else range(len(target)))
    if isinstance(target, dict) and rng.random() < 0.15:
        del target[key]
    else:
        target[key] = rng.choice(HOSTILE_VALUES)
    return with_description(raw, json.dumps(meta).encode())


def description_text_mutated(raw: bytes, rng: random.Random) -> bytes:
    """The description's JSON text replaced by text a JSON parser chokes on."""
    text = json.dumps(description(raw)).encode()
    return with_description(raw, rng.choice([
        b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000, text[: rng.randrange(len(text))],
        b"\xff" + text, text + b" trailing", text.replace(b'"layers"', b'"layers": 1, "layers"'), b"1" * 5000, b"",
    ]))


def csv_mutated(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 4)):
        position = rng.randrange(len(data))
        data[position:position] = rng.choice([b"\x00", b'"', b"\xff\xfe", b"\n", b",", b";", b"nan", b"1e999", b"\r", b'"a\n"'])
    return bytes(data)


ARCHIVE_MUTATIONS = [flipped, truncated, deflate_damaged, zip_games, header_mutated]
MUTATIONS: dict[str, list[Mutation]] = {
    "model": [*ARCHIVE_MUTATIONS, json_mutated, json_mutated, description_text_mutated],
    "parameters": [*ARCHIVE_MUTATIONS, json_mutated, description_text_mutated],
    "npz": ARCHIVE_MUTATIONS,
    "npy": [flipped, truncated, lambda raw, rng: hostile_npy(raw, rng)],
    "csv": [flipped, truncated, csv_mutated],
}


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory) -> dict[str, bytes]:
    """A valid file of each kind: a trained model, its parameters, and its data as .npz, .npy and .csv."""
    folder = tmp_path_factory.mktemp("valid")
    with nnfs_gpu.use_backend("numpy"):
        model = trained_and_saved(folder / "m.model")
        model.save_parameters(folder / "m.params")
    rng = np.random.default_rng(SEED)
    X, y = rng.normal(size=(12, 2)), np.arange(12) % 3
    np.savetxt(folder / "d.csv", np.c_[X, y], delimiter=",", fmt="%.6g")
    return {"model": (folder / "m.model").read_bytes(), "parameters": (folder / "m.params").read_bytes(),
            "npz": npz_bytes(X=X, y=y), "npy": npy_bytes(np.c_[X, y]),
            "csv": (folder / "d.csv").read_bytes()}


def mutated_cases() -> list[tuple[str, int]]:
    return [(kind, index) for kind, count in CASES.items() for index in range(count)]


def escaped(call: Callable[[], Any], path: Path) -> str | None:
    """What went wrong when ``call`` raised anything but a ModelFileError naming ``path``; None when nothing did."""
    try:
        call()
    except ModelFileError as error:
        return None if str(error).startswith(f"{path} ") else f"ModelFileError not naming the file: {error}"
    except Exception as error:  # noqa: BLE001 (what escapes is the finding)
        return f"{type(error).__name__}: {error}"
    return None


def cli_escaped(run, *arguments: str) -> str | None:
    try:
        status, out, err = run(*arguments)
    except Exception as error:  # noqa: BLE001
        return f"nnfs-gpu {' '.join(arguments)} raised {type(error).__name__}: {error}"
    if status == 0 or (status == 2 and out == "" and err.startswith("nnfs-gpu: error: ") and err.count("\n") == 1):
        return None
    return f"nnfs-gpu {' '.join(arguments)} ended with {status}: {err[-300:]}"


def test_mutated_files_raise_only_the_documented_errors(run, tmp_path, valid_files):
    rng = random.Random(SEED)
    (tmp_path / "m.model").write_bytes(valid_files["model"])
    (tmp_path / "d.csv").write_bytes(valid_files["csv"])
    with nnfs_gpu.use_backend("numpy"):
        model = Model.load(tmp_path / "m.model")
    findings = []
    for kind, index in mutated_cases():
        mutation = rng.choice(MUTATIONS[kind])
        data = mutation(valid_files[kind], rng)
        suffix = {"model": ".model", "parameters": ".params"}.get(kind, f".{kind}")
        path = tmp_path / f"case-{kind}-{index}{suffix}"
        path.write_bytes(data)
        if kind in ("model", "parameters"):
            with nnfs_gpu.use_backend("numpy"):
                problem = escaped(lambda: Model.load(path) if kind == "model" else model.load_parameters(path), path)
            if problem is None and kind == "model" and index % 3 == 0:
                problem = cli_escaped(run, "predict", path.name, "d.csv")
        else:
            problem = cli_escaped(run, "evaluate", "m.model", path.name)
        if problem is not None:
            findings.append(f"{kind} case {index} ({getattr(mutation, '__name__', 'hostile_npy')}): {problem}")
    assert not findings, f"{len(findings)} escaped:\n" + "\n".join(findings[:20])
