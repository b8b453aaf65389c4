"""CIFAR-10 into NumPy: find it, verify it, parse the official binary format, cache it.

Where :func:`load_cifar10` looks, in order, given the caller's ``cache_dir`` (the
book passes the repository's ``data/``):

1. the decoded-array cache ``cache_dir/cifar10-uint8.npz`` (checked, rebuilt when
   damaged);
2. a directory passed in, then the directory named by ``CIFAR10_DIR``;
3. ``cache_dir/cifar-10-batches-bin/`` (an extracted archive), then
   ``cache_dir/cifar-10-binary.tar.gz`` (extracted safely);
4. a download of the official binary archive into ``cache_dir`` (retries, timeout,
   progress bar, checksum verified before the file is kept): see :mod:`.download`.

Only the *binary* version is read, with NumPy. The "python version" of CIFAR-10
holds serialized Python objects, and deserializing a downloaded file can run
arbitrary code.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .download import DownloadError, download_archive, extract_archive
from .files import (  # noqa: F401 (the names of the files and errors, re-exported)
    ARCHIVE_FOLDER, ARCHIVE_NAME, OFFICIAL, SAMPLE, TEST_FILE, TRAIN_FILES, ChecksumError,
    CIFAR10Error, DatasetSpec, DataNotFoundError, md5_of, verify_file)

CLASS_NAMES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
RECORD_BYTES = 1 + 32 * 32 * 3  # one label byte, then the red, green and blue planes
CACHE_NAME = "cifar10-uint8.npz"
ENV_DIR = "CIFAR10_DIR"


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
# The one call


def load_cifar10(data_dir: str | os.PathLike | None = None, *,
                 cache_dir: str | os.PathLike | None,
                 spec: DatasetSpec = OFFICIAL,
                 download: bool = True, retries: int = 2,
                 timeout: float = 60.0) -> CIFAR10:
    """Return CIFAR-10's official split as uint8 arrays (see the module docstring).

    ``data_dir``: an extracted ``cifar-10-batches-bin`` folder to read first.
    ``cache_dir`` (required): the folder where the archive, its extraction and the
    array cache live, such as the repository's ``data/``; ``None`` reads only
    ``data_dir`` and ``CIFAR10_DIR``, and caches and downloads nothing.
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
        raise _not_found(spec, tried, cache_dir)
    archive = cache_dir / ARCHIVE_NAME
    if archive.is_file():
        verify_file(archive, spec.archive_md5)
    elif not download or spec.url is None:
        tried.append(f"archive {archive}: not there, and downloading is off")
        raise _not_found(spec, tried, cache_dir)
    else:
        try:
            archive = download_archive(cache_dir, spec, retries=retries, timeout=timeout)
        except DownloadError as error:
            tried.append(f"archive {archive}: not there; {error}")
            raise _not_found(spec, tried, cache_dir) from error
    return read_folder(extract_archive(archive, cache_dir, spec), spec)


def _not_found(spec: DatasetSpec, tried: list, cache_dir: Path | None) -> DataNotFoundError:
    lines = "\n".join(f"  - {t}" for t in tried)
    return DataNotFoundError(
        f"{spec.name} not found. Tried:\n{lines}\n"
        f"To fix it: put {ARCHIVE_NAME} (from {spec.url}) in {cache_dir or 'a cache_dir'}, "
        f"or set {ENV_DIR} to an extracted {ARCHIVE_FOLDER} folder."
    )


def load_sample(folder: str | os.PathLike) -> CIFAR10:
    """The small real sample in ``folder`` (2,000 train, 500 test images), verified.

    The repository commits it in ``data/sample``.
    """
    return read_folder(folder, SAMPLE)
