"""What a copy of CIFAR-10 is made of: its files, their checksums (the official set and
the committed sample), and the errors raised when a copy is not right.

:mod:`cifar_mlp.data` reads the files and :mod:`cifar_mlp.download` fetches and
extracts the archive; both import what they check against from here.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
ARCHIVE_FOLDER = "cifar-10-batches-bin"  # the folder inside the official archive
ARCHIVE_NAME = "cifar-10-binary.tar.gz"


@dataclass(frozen=True)
class DatasetSpec:
    """What a copy of the data set must look like: where to get it and its checksums."""

    name: str
    file_md5: dict  # data file name -> md5 of its bytes
    records: dict  # data file name -> number of images in it
    url: str | None = None
    archive_md5: str | None = None
    archive_bytes: int | None = None
    max_member_bytes: int = 31_000_000  # larger archive members are rejected unread

    def identity(self) -> str:
        """A string naming exactly which files the arrays were decoded from."""
        return json.dumps(self.file_md5, sort_keys=True)


OFFICIAL = DatasetSpec(
    name="CIFAR-10",
    url="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    archive_md5="c32a1d4ab5d03f1284b67883e8d87530",
    archive_bytes=170_052_171,
    file_md5={
        "data_batch_1.bin": "5dd7e06a14cb22eb9f671a540d1b7c25",
        "data_batch_2.bin": "5ea93a67294ea407fff1d09f752e9692",
        "data_batch_3.bin": "942cd6a4bcdd0dd3c604fbe906cb4421",
        "data_batch_4.bin": "ae636b3ba5c66a11e91e8cb52e771fcb",
        "data_batch_5.bin": "53f37980c15c3d472c316c40844f3f0d",
        "test_batch.bin": "803d5f7f4d78ea53de84dbe85f74fb6d",
    },
    records={name: 10_000 for name in (*TRAIN_FILES, TEST_FILE)},
)

# The committed sample (data/sample/), written by scripts/make_sample.py from the
# full set: 2,000 training and 500 test images, balanced per class.
SAMPLE = DatasetSpec(
    name="CIFAR-10 sample",
    file_md5={
        "data_batch_1.bin": "73ff2e0cbdc4575bb6162c25a2e564f0",
        "data_batch_2.bin": "e6451a3a2fb86094a9e669819eb6aa69",
        "data_batch_3.bin": "a3f5ddb4cc13ad4c393b3edfb1ff9945",
        "data_batch_4.bin": "728647ced5ba84aa37f7e9751b541ae7",
        "data_batch_5.bin": "4626496721423ec5fefe9945f8f80388",
        "test_batch.bin": "6fc49841ca73df1f373b8e31cf411ca7",
    },
    records={**{name: 400 for name in TRAIN_FILES}, TEST_FILE: 500},
)


class CIFAR10Error(RuntimeError):
    """Base class of every data error of the package."""


class ChecksumError(CIFAR10Error):
    """A file's bytes are not the expected ones."""


class DataNotFoundError(CIFAR10Error):
    """No copy of the data set was found and none could be downloaded."""


def md5_of(path: str | os.PathLike) -> str:
    """The md5 hex digest of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: Path, expected_md5: str) -> None:
    """Raise :class:`ChecksumError` naming the file, the expected and the actual md5."""
    actual = md5_of(path)
    if actual != expected_md5:
        raise ChecksumError(
            f"checksum mismatch for {path}: expected md5 {expected_md5}, got {actual}"
        )
