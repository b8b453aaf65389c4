"""The CIFAR-10 pipeline: parser, checksums, download, safe extraction, cache, preprocessing."""

import hashlib
import http.server
import io
import os
import socket
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from cifar_mlp import data as D
from cifar_mlp import download as DL
from cifar_mlp.preprocess import prepare, split_train_val, to_features

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"
RECORDS_PER_FILE = 20  # the archives the tests build hold 20 images per file
# Read before any test runs: each test then runs with CIFAR10_DIR unset.
FULL_DIR = os.environ.get(D.ENV_DIR)


# ---------------------------------------------------------------------------
# Helpers: a small archive in the official layout, and a spec that describes it


def small_batches(sample):
    """Six tiny data files (name -> bytes) cut from the real sample."""
    files = {}
    for i, name in enumerate(D.TRAIN_FILES):
        rows = slice(i * RECORDS_PER_FILE, (i + 1) * RECORDS_PER_FILE)
        files[name] = batch_bytes(sample.x_train[rows], sample.y_train[rows])
    files[D.TEST_FILE] = batch_bytes(sample.x_test[:RECORDS_PER_FILE],
                                     sample.y_test[:RECORDS_PER_FILE])
    return files


def batch_bytes(images, labels):
    planes = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    return np.concatenate([labels[:, None], planes], axis=1).astype(np.uint8).tobytes()


def tar_gz(members):
    """A .tar.gz (bytes) from a list of TarInfo, bytes-or-None pairs."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, payload in members:
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return buffer.getvalue()


def file_member(name, payload):
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    return info, payload


def official_layout(files, extra=()):
    folder = tarfile.TarInfo(D.ARCHIVE_FOLDER)
    folder.type = tarfile.DIRTYPE
    members = [(folder, None)]
    members += [file_member(f"{D.ARCHIVE_FOLDER}/{n}", p) for n, p in files.items()]
    members.append(file_member(f"{D.ARCHIVE_FOLDER}/{DL.META_FILE}",
                               "\n".join(D.CLASS_NAMES).encode()))
    return tar_gz(members + list(extra))


def spec_for(files, archive=b"", url=None, **overrides):
    fields = dict(
        name="test CIFAR-10",
        file_md5={n: hashlib.md5(p).hexdigest() for n, p in files.items()},
        records={n: RECORDS_PER_FILE for n in files},
        url=url,
        archive_md5=hashlib.md5(archive).hexdigest(),
        archive_bytes=len(archive),
        max_member_bytes=100_000,
    )
    fields.update(overrides)
    return D.DatasetSpec(**fields)


def listing(folder):
    """Every file under ``folder``, relative, sorted (what a failed load left behind)."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def sample():
    return D.load_sample(SAMPLE_DIR)


@pytest.fixture(scope="module")
def files(sample):
    return small_batches(sample)


@pytest.fixture(scope="module")
def full_dir():
    if not FULL_DIR:
        pytest.skip("the full data set is not here: set CIFAR10_DIR")
    return Path(FULL_DIR)


@pytest.fixture(autouse=True)
def no_env_dir(monkeypatch):
    monkeypatch.delenv(D.ENV_DIR, raising=False)


# ---------------------------------------------------------------------------
# A real HTTP server on 127.0.0.1, started by the tests


class ArchiveServer(http.server.ThreadingHTTPServer):
    """Serves ``payload`` at /cifar-10-binary.tar.gz; ``truncate`` cuts the body short."""

    payload = b""
    truncate = False

    def url(self, path=D.ARCHIVE_NAME):
        return f"http://127.0.0.1:{self.server_address[1]}/{path}"


class ArchiveHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the http.server API)
        server = self.server
        if self.path != f"/{D.ARCHIVE_NAME}":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/gzip")
        self.send_header("Content-Length", str(len(server.payload)))
        self.end_headers()
        body = server.payload[: len(server.payload) // 2] if server.truncate else server.payload
        self.wfile.write(body)
        if server.truncate:
            self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = ArchiveServer(("127.0.0.1", 0), ArchiveHandler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{D.ARCHIVE_NAME}"


# ---------------------------------------------------------------------------
# Parser and checksums


def test_sample_parses_in_the_official_layout(sample):
    assert sample.x_train.shape == (2000, 32, 32, 3) and sample.x_train.dtype == np.uint8
    assert sample.x_test.shape == (500, 32, 32, 3) and sample.y_test.dtype == np.uint8
    assert np.bincount(sample.y_train).tolist() == [200] * 10
    assert np.bincount(sample.y_test).tolist() == [50] * 10
    assert sample.class_names == D.CLASS_NAMES and sample.source == "sample"


def test_sample_matches_its_source_indices(sample, full_dir):
    """Each sample image is the full-set image its provenance file names."""
    full = D.read_folder(full_dir)
    train_idx = np.loadtxt(SAMPLE_DIR / "source_indices_train.txt", dtype=int)
    np.testing.assert_array_equal(full.x_train[train_idx], sample.x_train)
    np.testing.assert_array_equal(full.y_train[train_idx], sample.y_train)


def test_write_then_parse_round_trips(tmp_path, sample):
    path = tmp_path / "batch.bin"
    D.write_batch(path, sample.x_test[:7], sample.y_test[:7])
    x, y = D.parse_batch(path)
    np.testing.assert_array_equal(x, sample.x_test[:7])
    np.testing.assert_array_equal(y, sample.y_test[:7])


def test_channel_planes_are_decoded_as_rgb(tmp_path):
    """One record whose red plane is 1s, green 2s, blue 3s decodes to pixels (1, 2, 3)."""
    record = np.concatenate([[4], np.full(1024, 1), np.full(1024, 2), np.full(1024, 3)])
    path = tmp_path / "one.bin"
    record.astype(np.uint8).tofile(path)
    x, y = D.parse_batch(path)
    assert y.tolist() == [4]
    assert (x[0] == [1, 2, 3]).all()


@pytest.mark.parametrize("size", [0, 100, D.RECORD_BYTES + 1])
def test_parser_rejects_partial_records(tmp_path, size):
    path = tmp_path / "bad.bin"
    path.write_bytes(bytes(size))
    with pytest.raises(D.CIFAR10Error, match="whole number"):
        D.parse_batch(path)


def test_parser_rejects_labels_out_of_range(tmp_path):
    path = tmp_path / "bad.bin"
    path.write_bytes(bytes([10]) + bytes(D.RECORD_BYTES - 1))
    with pytest.raises(D.CIFAR10Error, match="label 10"):
        D.parse_batch(path)


def test_checksum_mismatch_names_file_expected_and_actual(tmp_path, files):
    for name, payload in files.items():
        (tmp_path / name).write_bytes(payload)
    spec = spec_for(files)
    corrupt = bytearray(files["data_batch_3.bin"])
    corrupt[100] ^= 0xFF
    (tmp_path / "data_batch_3.bin").write_bytes(bytes(corrupt))
    with pytest.raises(D.ChecksumError) as error:
        D.read_folder(tmp_path, spec)
    message = str(error.value)
    assert "data_batch_3.bin" in message
    assert spec.file_md5["data_batch_3.bin"] in message
    assert hashlib.md5(corrupt).hexdigest() in message


def test_folder_missing_files_is_a_clear_error(tmp_path, files):
    with pytest.raises(D.DataNotFoundError, match="test_batch.bin"):
        D.read_folder(tmp_path, spec_for(files))


# ---------------------------------------------------------------------------
# Download against the local server


def test_download_success_extracts_verifies_and_caches(tmp_path, server, files):
    server.payload = official_layout(files)
    spec = spec_for(files, server.payload, url=server.url())
    data = D.load_cifar10(spec=spec, cache_dir=tmp_path, retries=0)
    assert data.x_train.shape == (5 * RECORDS_PER_FILE, 32, 32, 3)
    assert data.y_test.shape == (RECORDS_PER_FILE,)
    assert listing(tmp_path) == sorted(
        [D.ARCHIVE_NAME, D.CACHE_NAME, f"{D.ARCHIVE_FOLDER}/{DL.META_FILE}"]
        + [f"{D.ARCHIVE_FOLDER}/{n}" for n in files])
    again = D.load_cifar10(spec=spec, cache_dir=tmp_path, download=False)
    assert again.origin.endswith(D.CACHE_NAME)
    np.testing.assert_array_equal(again.x_train, data.x_train)


@pytest.mark.parametrize("failure", ["checksum", "truncated", "404", "refused"])
def test_download_failures_raise_clearly_and_leave_nothing(tmp_path, server, files, failure):
    server.payload = official_layout(files)
    spec = spec_for(files, server.payload, url=server.url())
    if failure == "checksum":
        spec = spec_for(files, b"other bytes", url=server.url())
        expected = "md5"
    elif failure == "truncated":
        server.truncate = True
        expected = "failed"
    elif failure == "404":
        spec = spec_for(files, server.payload, url=server.url("missing.tar.gz"))
        expected = "404"
    else:
        spec = spec_for(files, server.payload, url=closed_port_url())
        expected = "onnect"  # "Connection refused" / "Failed to establish a new connection"
    with pytest.raises(DL.DownloadError, match=expected):
        DL.download_archive(tmp_path, spec, retries=0, progressbar=False)
    assert listing(tmp_path) == []
    with pytest.raises(D.DataNotFoundError, match="CIFAR10_DIR"):
        D.load_cifar10(spec=spec, cache_dir=tmp_path, retries=0)
    assert listing(tmp_path) == []


def test_offline_without_a_copy_says_what_was_tried_and_what_to_do(tmp_path):
    with pytest.raises(D.DataNotFoundError) as error:
        D.load_cifar10(cache_dir=tmp_path, download=False)
    message = str(error.value)
    assert str(tmp_path / D.ARCHIVE_FOLDER) in message
    assert f"put {D.ARCHIVE_NAME} (from {D.OFFICIAL.url}) in {tmp_path}," in message
    assert "CIFAR10_DIR" in message


def test_the_caller_names_the_cache_folder():
    with pytest.raises(TypeError, match="cache_dir"):
        D.load_cifar10()


def test_without_a_cache_dir_only_the_given_folders_are_read(tmp_path, files):
    for name, payload in files.items():
        (tmp_path / name).write_bytes(payload)
    data = D.load_cifar10(tmp_path, cache_dir=None, spec=spec_for(files))
    assert data.origin == str(tmp_path) and listing(tmp_path) == sorted(files)
    with pytest.raises(D.DataNotFoundError, match="no cache_dir"):
        D.load_cifar10(cache_dir=None, spec=spec_for(files))


def test_missing_data_dir_is_an_error(tmp_path):
    with pytest.raises(D.DataNotFoundError, match="not a directory"):
        D.load_cifar10(tmp_path / "nowhere", cache_dir=tmp_path)


def test_archive_in_data_dir_is_used_offline(tmp_path, files):
    archive = official_layout(files)
    (tmp_path / D.ARCHIVE_NAME).write_bytes(archive)
    data = D.load_cifar10(spec=spec_for(files, archive), cache_dir=tmp_path, download=False)
    assert data.x_test.shape == (RECORDS_PER_FILE, 32, 32, 3)


def test_corrupt_archive_in_data_dir_is_rejected(tmp_path, files):
    archive = official_layout(files)
    (tmp_path / D.ARCHIVE_NAME).write_bytes(archive[:-10])
    with pytest.raises(D.ChecksumError, match=D.ARCHIVE_NAME):
        D.load_cifar10(spec=spec_for(files, archive), cache_dir=tmp_path, download=False)
    assert not (tmp_path / D.CACHE_NAME).exists()


# ---------------------------------------------------------------------------
# Malicious archives


def malicious_members(kind, files):
    inside = f"{D.ARCHIVE_FOLDER}/"
    if kind == "dotdot":
        return [file_member(f"{inside}../../escaped.bin", b"x")]
    if kind == "absolute":
        return [file_member("/tmp/escaped-cifar.bin", b"x")]
    if kind == "symlink":
        link = tarfile.TarInfo(f"{inside}data_batch_6.bin")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        return [(link, None)]
    if kind == "hardlink":
        link = tarfile.TarInfo(f"{inside}readme.html")
        link.type, link.linkname = tarfile.LNKTYPE, "/etc/passwd"
        return [(link, None)]
    if kind == "device":
        device = tarfile.TarInfo(f"{inside}readme.html")
        device.type = tarfile.CHRTYPE
        return [(device, None)]
    if kind == "extra":
        return [file_member(f"{inside}run_me.sh", b"echo hi")]
    if kind == "oversize":
        return [file_member(f"{inside}readme.html", bytes(100_001))]
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind", ["dotdot", "absolute", "symlink", "hardlink", "device", "extra", "oversize"])
def test_malicious_archives_are_rejected_before_anything_is_written(tmp_path, files, kind):
    archive_path = tmp_path / "in" / D.ARCHIVE_NAME
    archive_path.parent.mkdir()
    archive_path.write_bytes(official_layout(files, extra=malicious_members(kind, files)))
    target = tmp_path / "out" / "data"
    target.mkdir(parents=True)
    with pytest.raises(DL.UnsafeArchiveError):
        DL.extract_archive(archive_path, target, spec_for(files))
    assert listing(tmp_path / "out") == []
    assert not Path("/tmp/escaped-cifar.bin").exists()


def test_member_with_wrong_checksum_is_not_kept(tmp_path, files):
    archive_path = tmp_path / D.ARCHIVE_NAME
    tampered = dict(files, **{"test_batch.bin": files["data_batch_1.bin"]})
    archive_path.write_bytes(official_layout(tampered))
    target = tmp_path / "out"
    with pytest.raises(D.ChecksumError, match="test_batch.bin"):
        DL.extract_archive(archive_path, target, spec_for(files))
    assert "test_batch.bin" not in " ".join(listing(target))
    assert not [p for p in listing(target) if ".part-" in p]


# ---------------------------------------------------------------------------
# The array cache


def make_cache(tmp_path, files):
    folder = tmp_path / "src"
    folder.mkdir()
    for name, payload in files.items():
        (folder / name).write_bytes(payload)
    spec = spec_for(files)
    cache_dir = tmp_path / "cache"
    first = D.load_cifar10(folder, spec=spec, cache_dir=cache_dir)
    return folder, spec, cache_dir, first


@pytest.mark.parametrize("damage", ["truncate", "flip_quarter", "flip_three_quarters", "garbage"])
def test_damaged_cache_is_detected_and_rebuilt(tmp_path, files, damage):
    folder, spec, cache_dir, first = make_cache(tmp_path, files)
    cache = cache_dir / D.CACHE_NAME
    raw = bytearray(cache.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "flip_quarter":  # one bit inside the training images
        raw[len(raw) // 4] ^= 0x01
    elif damage == "flip_three_quarters":  # one bit inside the test images
        raw[3 * len(raw) // 4] ^= 0x01
    else:
        raw = bytearray(b"not a zip file at all")
    cache.write_bytes(bytes(raw))
    assert D.load_cache(cache, spec) is None  # detected, and deleted
    assert not cache.exists()
    cache.write_bytes(bytes(raw))
    rebuilt = D.load_cifar10(folder, spec=spec, cache_dir=cache_dir)
    assert rebuilt.origin == str(folder)  # read from the source again, not the cache
    np.testing.assert_array_equal(rebuilt.x_train, first.x_train)
    assert D.load_cache(cache, spec) is not None  # and the cache is whole again


def test_cache_of_other_files_is_not_used(tmp_path, files):
    folder, spec, cache_dir, _ = make_cache(tmp_path, files)
    other = spec_for(dict(files, **{"test_batch.bin": files["data_batch_1.bin"]}))
    assert D.load_cache(cache_dir / D.CACHE_NAME, other) is None


# ---------------------------------------------------------------------------
# Preprocessing


def test_features_rgb_and_gray(sample):
    rgb = to_features(sample.x_train[:5], "rgb")
    gray = to_features(sample.x_train[:5], "gray")
    assert rgb.shape == (5, 3072) and gray.shape == (5, 1024)
    assert rgb.dtype == gray.dtype == np.float32
    assert 0 <= rgb.min() and rgb.max() <= 1
    pixel = sample.x_train[0, 0, 0].astype(np.float32) / 255
    assert gray[0, 0] == pytest.approx(0.299 * pixel[0] + 0.587 * pixel[1] + 0.114 * pixel[2])
    np.testing.assert_array_equal(rgb[0, :3], pixel)


@pytest.mark.parametrize("bad", [np.zeros((2, 32, 32), np.uint8), np.zeros((2, 32, 32, 3))])
def test_features_reject_wrong_input(bad):
    with pytest.raises(ValueError, match="uint8 images"):
        to_features(bad)


def test_features_reject_unknown_mode(sample):
    with pytest.raises(ValueError, match="mode"):
        to_features(sample.x_train[:1], "hsv")


def test_split_is_stratified_and_seeded(sample):
    x = to_features(sample.x_train, "gray")
    x_tr, x_val, y_tr, y_val = split_train_val(x, sample.y_train, n_val=500, seed=3)
    assert np.bincount(y_val).tolist() == [50] * 10
    assert np.bincount(y_tr).tolist() == [150] * 10
    again = split_train_val(x, sample.y_train, n_val=500, seed=3)
    np.testing.assert_array_equal(again[3], y_val)


def test_standardization_uses_training_statistics_only(sample):
    prepared = prepare(sample, "rgb", n_val=500)
    assert prepared.x_train.dtype == prepared.x_test.dtype == np.float32
    np.testing.assert_allclose(prepared.x_train.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(prepared.x_train.std(axis=0), 1, atol=1e-3)
    # The same transform on the other splits: not centred exactly, by construction.
    raw_val = to_features(sample.x_train, "rgb")  # rebuild val from the same split
    _, raw_val, _, _ = split_train_val(raw_val, sample.y_train.astype(np.int64), 500, 0)
    expected = (raw_val - prepared.scaler.mean_) / prepared.scaler.scale_
    np.testing.assert_allclose(prepared.x_val, expected, rtol=1e-5, atol=1e-5)
    assert abs(prepared.x_val.mean()) > 1e-4


# ---------------------------------------------------------------------------
# The full data set (CI has it through CIFAR10_DIR)


def test_full_data_set(full_dir, tmp_path):
    data = D.load_cifar10(full_dir, cache_dir=tmp_path)
    assert data.x_train.shape == (50000, 32, 32, 3) and data.x_train.dtype == np.uint8
    assert data.y_train.shape == (50000,) and data.y_test.shape == (10000,)
    assert data.x_test.shape == (10000, 32, 32, 3)
    assert np.bincount(data.y_train).tolist() == [5000] * 10
    assert np.bincount(data.y_test).tolist() == [1000] * 10
    assert data.y_train[0] == 6 and data.y_test[0] == 3
    means = data.x_train.reshape(-1, 3).mean(axis=0)
    np.testing.assert_allclose(means, [125.31, 122.95, 113.87], atol=0.01)
    assert data.class_names == D.CLASS_NAMES and data.source == "full"
    again = D.load_cifar10(full_dir, cache_dir=tmp_path)
    assert again.origin == str(tmp_path / D.CACHE_NAME)  # the second load reads the cache
    np.testing.assert_array_equal(again.x_test, data.x_test)


def test_cache_holding_objects_is_refused(tmp_path, files):
    """An npz that would need object deserialization to load is never loaded."""
    folder, spec, cache_dir, _ = make_cache(tmp_path, files)
    cache = cache_dir / D.CACHE_NAME
    np.savez(cache, x_train=np.array([{"not": "an image"}], dtype=object))
    assert D.load_cache(cache, spec) is None
    assert not cache.exists()
