"""The official CIFAR-10 archive: download it, and extract it safely.

:func:`cifar_mlp.data.load_cifar10` calls these when it finds no extracted copy.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from pathlib import Path

from .files import (ARCHIVE_FOLDER, ARCHIVE_NAME, OFFICIAL, ChecksumError, CIFAR10Error,
                   DatasetSpec, md5_of)

# Members of the official archive that are not data: extracted (meta) or skipped (readme).
META_FILE = "batches.meta.txt"
SKIPPED_MEMBERS = ("readme.html",)


class UnsafeArchiveError(CIFAR10Error):
    """An archive member would be written outside its folder, or is not one we expect."""


class DownloadError(CIFAR10Error):
    """The archive could not be downloaded (network, HTTP status, checksum)."""


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
