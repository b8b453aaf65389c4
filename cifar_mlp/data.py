"""CIFAR-10 into NumPy: find it, verify it, parse the official binary format, cache it.

Where :func:`load_cifar10` looks, in order:

1. the decoded-array cache ``data/cifar10-uint8.npz`` (checked, rebuilt when damaged);
2. a directory passed in, then the directory named by ``CIFAR10_DIR``;
3. ``data/cifar-10-batches-bin/`` (an extracted archive), then
   ``data/cifar-10-binary.tar.gz`` (extracted safely);
4. a download of the official binary archive (retries, timeout, progress bar,
   checksum verified before the file is kept).

Only the *binary* version is read, with NumPy. The "python version" of CIFAR-10
holds serialized Python objects, and deserializing a downloaded file can run
arbitrary code.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CLASS_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
IMAGE_SHAPE = (32, 32, 3)
RECORD_BYTES = 1 + 32 * 32 * 3  # one label byte, then the red, green and blue planes
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"
ARCHIVE_FOLDER = "cifar-10-batches-bin"  # the folder inside the official archive
ARCHIVE_NAME = "cifar-10-binary.tar.gz"
# Members of the official archive that are not data: extracted (meta) or skipped (readme).
META_FILE = "batches.meta.txt"
SKIPPED_MEMBERS = ("readme.html",)

REPO_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_DIR / "data"
SAMPLE_DIR = DATA_DIR / "sample"
CACHE_NAME = "cifar10-uint8.npz"
ENV_DIR = "CIFAR10_DIR"


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
    """Base class of every data error of this module."""


class ChecksumError(CIFAR10Error):
    """A file's bytes are not the expected ones."""


class UnsafeArchiveError(CIFAR10Error):
    """An archive member would be written outside its folder, or is not one we expect."""


class DownloadError(CIFAR10Error):
    """The archive could not be downloaded (network, HTTP status, checksum)."""


class DataNotFoundError(CIFAR10Error):
    """No copy of the data set was found and none could be downloaded."""


@dataclass(frozen=True)
class CIFAR10:
    """The official split as uint8 arrays, images NHWC (N, 32, 32, 3)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple = CLASS_NAMES
    source: str = "full"  # "full" or "sample"
    origin: str = field(default="", compare=False)  # where it was read from


# ---------------------------------------------------------------------------
# The binary format


def parse_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read one ``.bin`` file: records of 1 label byte + 3,072 pixel bytes.

    Returns images (N, 32, 32, 3) uint8 and labels (N,) uint8.
    """
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % RECORD_BYTES:
        raise CIFAR10Error(
            f"{path}: {raw.size} bytes is not a whole number of {RECORD_BYTES}-byte records"
        )
    records = raw.reshape(-1, RECORD_BYTES)
    labels = records[:, 0].copy()
    if labels.max() >= len(CLASS_NAMES):
        raise CIFAR10Error(f"{path}: label {labels.max()} is outside 0-9")
    # Each record stores the planes R, G, B one after another (channel-first);
    # we return channel-last images, contiguous, as matplotlib and Keras expect.
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def write_batch(path: str | os.PathLike, images: np.ndarray, labels: np.ndarray) -> None:
    """Write images (N, 32, 32, 3) uint8 and labels in the official binary format."""
    images = np.asarray(images, dtype=np.uint8)
    planes = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    records = np.concatenate([np.asarray(labels, np.uint8)[:, None], planes], axis=1)
    records.tofile(path)


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


def read_folder(folder: Path, spec: DatasetSpec = OFFICIAL) -> CIFAR10:
    """Verify and parse the six data files of an extracted ``cifar-10-batches-bin``."""
    folder = Path(folder)
    missing = [name for name in spec.file_md5 if not (folder / name).is_file()]
    if missing:
        raise DataNotFoundError(f"{folder} lacks {', '.join(missing)}")
    for name, md5 in spec.file_md5.items():
        verify_file(folder / name, md5)
    train = [parse_batch(folder / name) for name in TRAIN_FILES]
    x_test, y_test = parse_batch(folder / TEST_FILE)
    return CIFAR10(
        x_train=np.concatenate([x for x, _ in train]),
        y_train=np.concatenate([y for _, y in train]),
        x_test=x_test,
        y_test=y_test,
        source="sample" if spec is SAMPLE else "full",
        origin=str(folder),
    )


# ---------------------------------------------------------------------------
# The decoded-array cache


def _array_digest(arrays: dict) -> str:
    digest = hashlib.sha256()
    for key in sorted(arrays):
        digest.update(key.encode())
        digest.update(np.ascontiguousarray(arrays[key]).data)
    return digest.hexdigest()


def save_cache(path: Path, data: CIFAR10, spec: DatasetSpec) -> None:
    """Write the arrays to ``path`` atomically (a temporary file renamed when complete)."""
    arrays = {k: getattr(data, k) for k in ("x_train", "y_train", "x_test", "y_test")}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".cache-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays, digest=np.array(_array_digest(arrays)),
                     identity=np.array(spec.identity()))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_cache(path: Path, spec: DatasetSpec) -> CIFAR10 | None:
    """Return the cached arrays, or ``None`` when the cache is missing, stale or damaged.

    A damaged cache (truncated, flipped bytes, wrong content) is deleted so that it is
    rebuilt, never used.
    """
    if not path.is_file():
        return None
    try:
        with np.load(path) as npz:  # plain arrays only: np.load refuses object arrays
            arrays = {k: npz[k] for k in ("x_train", "y_train", "x_test", "y_test")}
            digest, identity = str(npz["digest"]), str(npz["identity"])
        if identity != spec.identity() or digest != _array_digest(arrays):
            raise ValueError("content does not match its digest")
    except Exception as error:  # any failure to read it means: rebuild it
        print(f"cache {path} is unusable ({error}); rebuilding it")
        path.unlink(missing_ok=True)
        return None
    return CIFAR10(**arrays, origin=str(path))


# ---------------------------------------------------------------------------
# The archive: safe extraction and download


def extract_archive(archive: Path, target: Path, spec: DatasetSpec = OFFICIAL) -> Path:
    """Extract the data files of ``archive`` into ``target/cifar-10-batches-bin``.

    Every member is checked before anything is written: only the expected regular
    files under ``cifar-10-batches-bin/``, no absolute path, no ``..``, no link or
    device, none larger than ``spec.max_member_bytes``. Each data file is verified
    against its md5 before it is renamed into place.
    """
    expected = {*spec.file_md5, META_FILE, *SKIPPED_MEMBERS}
    folder = Path(target) / ARCHIVE_FOLDER
    with tarfile.open(archive, "r:gz") as tar:
        members = tar.getmembers()
        for member in members:
            name = member.name
            parts = Path(name).parts
            if name.startswith(("/", "\\")) or ".." in parts:
                raise UnsafeArchiveError(f"{archive}: member {name!r} escapes its folder")
            if member.issym() or member.islnk():
                raise UnsafeArchiveError(f"{archive}: member {name!r} is a link")
            if member.isdir() and parts == (ARCHIVE_FOLDER,):
                continue
            if not member.isfile():
                raise UnsafeArchiveError(f"{archive}: member {name!r} is not a regular file")
            if len(parts) != 2 or parts[0] != ARCHIVE_FOLDER or parts[1] not in expected:
                raise UnsafeArchiveError(f"{archive}: unexpected member {name!r}")
            if member.size > spec.max_member_bytes:
                raise UnsafeArchiveError(
                    f"{archive}: member {name!r} is {member.size:,} bytes, "
                    f"over the limit of {spec.max_member_bytes:,}"
                )
        folder.mkdir(parents=True, exist_ok=True)
        for member in members:
            name = Path(member.name).name
            if not member.isfile() or name in SKIPPED_MEMBERS:
                continue
            _extract_member(tar, member, folder / name, spec.file_md5.get(name))
    return folder


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path,
                    md5: str | None) -> None:
    """Copy one member to a temporary file, verify it, then rename it to ``dest``."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out, tar.extractfile(member) as src:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                out.write(chunk)
        if md5 is not None:
            actual = md5_of(tmp)
            if actual != md5:
                raise ChecksumError(
                    f"checksum mismatch for {member.name} in the archive: "
                    f"expected md5 {md5}, got {actual}"
                )
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        Path(tmp).unlink(missing_ok=True)


def download_archive(directory: Path, spec: DatasetSpec = OFFICIAL, *,
                     retries: int = 2, timeout: float = 60.0,
                     progressbar: bool = True) -> Path:
    """Download ``spec.url`` into ``directory`` with pooch and return the file's path.

    Pooch streams into a temporary file next to the target, checks the md5 and only
    then renames it, so an interrupted or corrupt transfer leaves nothing behind.
    """
    import pooch
    import requests

    directory.mkdir(parents=True, exist_ok=True)
    fetcher = pooch.create(
        path=directory,
        base_url="",
        registry={ARCHIVE_NAME: f"md5:{spec.archive_md5}"},
        urls={ARCHIVE_NAME: spec.url},
        retry_if_failed=retries,
    )
    downloader = pooch.HTTPDownloader(progressbar=progressbar, timeout=timeout)
    try:
        return Path(fetcher.fetch(ARCHIVE_NAME, downloader=downloader))
    except (requests.exceptions.RequestException, ValueError, OSError) as error:
        raise DownloadError(f"download of {spec.url} failed: {error}") from error


# ---------------------------------------------------------------------------
# The one call


def load_cifar10(data_dir: str | os.PathLike | None = None, *,
                 spec: DatasetSpec = OFFICIAL,
                 cache_dir: str | os.PathLike | None = DATA_DIR,
                 download: bool = True, retries: int = 2,
                 timeout: float = 60.0) -> CIFAR10:
    """Return CIFAR-10's official split as uint8 arrays (see the module docstring).

    ``data_dir``: an extracted ``cifar-10-batches-bin`` folder to read first.
    ``cache_dir``: where the archive, its extraction and the array cache live
    (``data/`` of the repository); ``None`` reads without caching anything.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else None
    folders = []
    for where, folder in (("data_dir", data_dir), (ENV_DIR, os.environ.get(ENV_DIR))):
        if folder:
            if not Path(folder).is_dir():
                raise DataNotFoundError(f"{where}={folder} is not a directory")
            folders.append(Path(folder))

    cache = cache_dir / CACHE_NAME if cache_dir is not None else None
    if cache is not None and (data := load_cache(cache, spec)) is not None:
        return data

    tried = []
    if cache_dir is not None:
        folders.append(cache_dir / ARCHIVE_FOLDER)
    for folder in folders:
        if all((folder / name).is_file() for name in spec.file_md5):
            data = read_folder(folder, spec)
            break
        tried.append(f"folder {folder}: missing or incomplete")
    else:
        data = _from_archive(cache_dir, spec, tried, download, retries, timeout)

    if cache is not None:
        save_cache(cache, data, spec)
    return data


def _from_archive(cache_dir, spec, tried, download, retries, timeout) -> CIFAR10:
    """Extract the archive in ``cache_dir``, downloading it first when allowed."""
    if cache_dir is None:
        tried.append("archive: no cache_dir to keep it in")
        raise _not_found(spec, tried)
    archive = cache_dir / ARCHIVE_NAME
    if archive.is_file():
        verify_file(archive, spec.archive_md5)
    elif not download or spec.url is None:
        tried.append(f"archive {archive}: not there, and downloading is off")
        raise _not_found(spec, tried)
    else:
        try:
            archive = download_archive(cache_dir, spec, retries=retries, timeout=timeout)
        except DownloadError as error:
            tried.append(f"archive {archive}: not there; {error}")
            raise _not_found(spec, tried) from error
    return read_folder(extract_archive(archive, cache_dir, spec), spec)


def _not_found(spec: DatasetSpec, tried: list) -> DataNotFoundError:
    lines = "\n".join(f"  - {t}" for t in tried)
    return DataNotFoundError(
        f"{spec.name} not found. Tried:\n{lines}\n"
        f"To fix it: put {ARCHIVE_NAME} (from {spec.url}) in {DATA_DIR}, "
        f"or set {ENV_DIR} to an extracted {ARCHIVE_FOLDER} folder."
    )


def load_sample() -> CIFAR10:
    """The small real sample committed in ``data/sample`` (2,000 train, 500 test)."""
    return read_folder(SAMPLE_DIR, SAMPLE)
