"""Tests of nnscratch.datasets: IDX checks, lookup order, downloads from a real local HTTP server.

Nothing here touches the internet or the real home folder: every test gets its own
XDG_CACHE_HOME, no NNSCRATCH_DATA / NNSCRATCH_MIRROR, no system folders and no mirrors unless
it sets them.  The real-data tests read NNSCRATCH_DATA as it was when pytest started (the CI
sets it to ../shared/datasets) and Debian's Fashion-MNIST folder.
"""
import functools
import gzip
import hashlib
import http.server
import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from nnscratch.datasets import DownloadError, _fetch, _idx, fashion_mnist, mnist

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = os.environ.get("NNSCRATCH_DATA") or str(REPO.parent / "shared" / "datasets")
DEBIAN_FOLDERS = fashion_mnist.SYSTEM_FOLDERS
TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = _fetch.FILES


# ---------------------------------------------------------------------------------------------
# Writing IDX files
# ---------------------------------------------------------------------------------------------
def idx_bytes(array, magic=None):
    """An IDX file's bytes: big-endian header (magic, sizes) then the uint8 data."""
    array = np.asarray(array, dtype=np.uint8)
    magic = 0x00000800 + array.ndim if magic is None else magic
    header = np.array([magic, *array.shape], dtype=">u4").tobytes()
    return header + array.tobytes()


def synthetic_images(n):
    """n valid 28x28 images: a square whose grey level tells the index modulo 10."""
    x = np.zeros((n, 28, 28), dtype=np.uint8)
    x[:, 10:18, 10:18] = (np.arange(n) % 10 * 25 + 5)[:, None, None]
    return x


def synthetic_labels(n, shift=0):
    """n valid labels, (i + shift) % 10: ``shift`` tells apart copies put in different places."""
    return ((np.arange(n) + shift) % 10).astype(np.uint8)


@functools.lru_cache(maxsize=None)
def image_file_gz(n):
    return gzip.compress(idx_bytes(synthetic_images(n)), compresslevel=1, mtime=0)


def dataset_files(shift=0):
    """{official .gz name: bytes} of a full-size (60000 + 10000) valid synthetic data set."""
    files = {}
    for images, labels, n in _fetch.SPLITS:
        files[images] = image_file_gz(n)
        files[labels] = gzip.compress(idx_bytes(synthetic_labels(n, shift)), mtime=0)
    return files


def write_dataset(folder, shift=0, gz=True):
    """Write the synthetic data set into ``folder`` (gzipped, or un-gzipped names)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in dataset_files(shift).items():
        if gz:
            (folder / name).write_bytes(data)
        else:
            (folder / name[:-3]).write_bytes(gzip.decompress(data))
    return folder


def loaded_shift(data):
    """Which ``shift`` the loaded data set was written with."""
    (x_train, y_train), (x_test, y_test) = data
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert all(a.dtype == np.uint8 for a in (x_train, y_train, x_test, y_test))
    np.testing.assert_array_equal(x_test, synthetic_images(10000))
    shift = int(y_train[0])
    np.testing.assert_array_equal(y_train, synthetic_labels(60000, shift))
    np.testing.assert_array_equal(y_test, synthetic_labels(10000, shift))
    return shift


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Own cache, no data/mirror variables, no system folders, no mirrors (so no internet)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("NNSCRATCH_DATA", raising=False)
    monkeypatch.delenv("NNSCRATCH_MIRROR", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    for module in (mnist, fashion_mnist):
        monkeypatch.setattr(module, "MIRRORS", [])
    monkeypatch.setattr(fashion_mnist, "SYSTEM_FOLDERS", ())


# ---------------------------------------------------------------------------------------------
# IDX structure
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, gz):
    x = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    y = np.array([0, 1, 2, 9, 8, 7, 3], dtype=np.uint8)
    xf, yf = tmp_path / "x.idx", tmp_path / "y.idx"
    if gz:
        xf, yf = xf.with_suffix(".gz"), yf.with_suffix(".gz")
        xf.write_bytes(gzip.compress(idx_bytes(x)))
        yf.write_bytes(gzip.compress(idx_bytes(y)))
    else:
        xf.write_bytes(idx_bytes(x))
        yf.write_bytes(idx_bytes(y))
    xr, yr = _idx.read_split(xf, yf, 7)
    np.testing.assert_array_equal(xr, x)
    np.testing.assert_array_equal(yr, y)
    assert xr.dtype == yr.dtype == np.uint8 and xr.flags.writeable


BAD_IMAGE_FILES = {
    # name: (file bytes, words the error must contain)
    "empty": (b"", ["empty"]),
    "truncated data": (idx_bytes(np.zeros((5, 28, 28)))[:-100], ["truncated", "5 images"]),
    "truncated header": (idx_bytes(np.zeros((5, 28, 28)))[:10], ["truncated IDX header"]),
    "extra bytes": (idx_bytes(np.zeros((5, 28, 28))) + b"\0", ["unexpected bytes"]),
    "wrong magic": (idx_bytes(np.zeros((5, 28, 28)), magic=0x00000D03),
                    ["magic", "0x00000D03", "0x00000803"]),
    "labels file": (idx_bytes(np.zeros(5)), ["magic", "0x00000801", "swapped"]),
    "wrong dims": (idx_bytes(np.zeros((5, 32, 32))), ["32x32", "expected 28x28"]),
    "gzip without .gz": (gzip.compress(idx_bytes(np.zeros((5, 28, 28)))), ["gzip-compressed"]),
}


@pytest.mark.parametrize("case", BAD_IMAGE_FILES)
def test_bad_image_file_is_named_and_explained(tmp_path, case):
    data, words = BAD_IMAGE_FILES[case]
    f = tmp_path / "train-images-idx3-ubyte"
    f.write_bytes(data)
    with pytest.raises(ValueError) as err:
        _idx.read_images(f, 5)
    assert str(f) in str(err.value)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("case", ["not gzip", "cut short", "corrupt"])
def test_bad_gzip(tmp_path, case):
    good = gzip.compress(idx_bytes(np.zeros((5, 28, 28))))
    data = {"not gzip": b"<html>404 Not Found</html>",
            "cut short": good[: len(good) // 2],
            "corrupt": good[:20] + bytes(b ^ 0xFF for b in good[20:30]) + good[30:]}[case]
    f = tmp_path / "train-images-idx3-ubyte.gz"
    f.write_bytes(data)
    with pytest.raises(ValueError, match="gzip") as err:
        _idx.read_images(f)
    assert str(f) in str(err.value)


def test_wrong_count_and_labels_out_of_range(tmp_path):
    f = tmp_path / "t10k-labels-idx1-ubyte"
    f.write_bytes(idx_bytes([1, 2, 3]))
    with pytest.raises(ValueError, match="header says 3 labels, expected 10000"):
        _idx.read_labels(f, 10000)
    f.write_bytes(idx_bytes([1, 2, 10, 3, 255]))
    with pytest.raises(ValueError, match=r"2 label\(s\) outside 0..9, first 10 at index 2"):
        _idx.read_labels(f)


def test_images_and_labels_counts_must_match(tmp_path):
    """A labels file one short of its images: load_data names it, says why and how to fix."""
    folder = write_dataset(tmp_path / "data")
    (folder / TRAIN_LABELS).write_bytes(gzip.compress(idx_bytes(synthetic_labels(59999))))
    with pytest.raises(ValueError) as err:
        mnist.load_data(path=folder)
    message = str(err.value)
    assert str(folder / TRAIN_LABELS) in message
    assert "59999 labels, expected 60000" in message
    assert "Replace it with a good copy" in message


def test_bad_file_in_env_folder_says_how_to_fix(tmp_path, monkeypatch):
    folder = write_dataset(tmp_path / "data" / "mnist")
    (folder / TEST_IMAGES).write_bytes((folder / TEST_IMAGES).read_bytes()[:5000])
    monkeypatch.setenv("NNSCRATCH_DATA", str(tmp_path / "data"))
    with pytest.raises(ValueError) as err:
        mnist.load_data()
    assert str(folder / TEST_IMAGES) in str(err.value)
    assert "gzip" in str(err.value) and "NNSCRATCH_DATA" in str(err.value)


# ---------------------------------------------------------------------------------------------
# Lookup order
# ---------------------------------------------------------------------------------------------
def test_path_beats_env_beats_cache(tmp_path, monkeypatch):
    write_dataset(tmp_path / "arg", shift=1)
    write_dataset(tmp_path / "env", shift=2)
    write_dataset(_fetch.cache_dir("mnist"), shift=3)
    monkeypatch.setenv("NNSCRATCH_DATA", str(tmp_path / "env"))
    assert loaded_shift(mnist.load_data(path=tmp_path / "arg")) == 1
    assert loaded_shift(mnist.load_data(path=str(tmp_path / "arg"))) == 1
    assert loaded_shift(mnist.load_data()) == 2
    monkeypatch.delenv("NNSCRATCH_DATA")
    assert loaded_shift(mnist.load_data()) == 3
    assert _fetch.cache_dir("mnist") == tmp_path / "xdg-cache" / "nnscratch" / "mnist"


def test_cache_beats_system_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_mnist, "SYSTEM_FOLDERS", (str(write_dataset(tmp_path / "deb", 4)),))
    assert loaded_shift(fashion_mnist.load_data()) == 4
    write_dataset(_fetch.cache_dir("fashion-mnist"), shift=5)
    assert loaded_shift(fashion_mnist.load_data()) == 5


def test_explicit_path_without_files_is_an_error(tmp_path, monkeypatch):
    """No silent fall-through from path= to the env var or cache, which both hold good data."""
    write_dataset(tmp_path / "env")
    write_dataset(_fetch.cache_dir("mnist"))
    monkeypatch.setenv("NNSCRATCH_DATA", str(tmp_path / "env"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="lacks train-images-idx3-ubyte.gz, train-labels"):
        mnist.load_data(path=tmp_path / "empty")
    with pytest.raises(ValueError, match="no such folder"):
        mnist.load_data(path=tmp_path / "typo")
    partial = write_dataset(tmp_path / "partial")
    (partial / TEST_LABELS).unlink()
    with pytest.raises(ValueError, match=f"lacks {TEST_LABELS} ") as err:
        mnist.load_data(path=partial)
    assert "found train-images" in str(err.value)


def test_env_var_errors(tmp_path, monkeypatch):
    write_dataset(_fetch.cache_dir("mnist"))
    monkeypatch.setenv("NNSCRATCH_DATA", str(tmp_path / "typo"))
    with pytest.raises(ValueError, match="NNSCRATCH_DATA=.*typo: no such folder"):
        mnist.load_data()
    folder = write_dataset(tmp_path / "data" / "mnist")
    (folder / TRAIN_IMAGES).unlink()
    monkeypatch.setenv("NNSCRATCH_DATA", str(tmp_path / "data"))
    with pytest.raises(ValueError, match=f"lacks {TRAIN_IMAGES}") as err:
        mnist.load_data()
    assert "Point NNSCRATCH_DATA at a folder" in str(err.value)


@pytest.mark.parametrize("module, sub", [(mnist, "mnist"), (fashion_mnist, "fashion-mnist"),
                                         (fashion_mnist, "fashion_mnist"), (mnist, None)])
def test_env_var_layouts(tmp_path, monkeypatch, module, sub):
    root = tmp_path / "data"
    write_dataset(root / sub if sub else root, shift=6, gz=sub != "fashion_mnist")
    monkeypatch.setenv("NNSCRATCH_DATA", str(root))
    assert loaded_shift(module.load_data()) == 6
    assert loaded_shift(module.load_data(path=root)) == 6


def test_env_folder_without_this_data_set_falls_through(tmp_path, monkeypatch):
    """NNSCRATCH_DATA holding only mnist/ must not stop Fashion-MNIST loading from the cache."""
    write_dataset(tmp_path / "data" / "mnist", shift=7)
    write_dataset(_fetch.cache_dir("fashion-mnist"), shift=8)
    monkeypatch.setenv("NNSCRATCH_DATA", str(tmp_path / "data"))
    assert loaded_shift(fashion_mnist.load_data()) == 8
    assert loaded_shift(mnist.load_data()) == 7


def test_other_data_set_in_the_folder_is_caught(tmp_path, monkeypatch):
    """MNIST files directly in NNSCRATCH_DATA must not be returned as Fashion-MNIST."""
    folder = write_dataset(tmp_path / "data")
    labels = synthetic_labels(60000)
    labels[:20] = _fetch.FIRST_TRAIN_LABELS["MNIST"]
    (folder / TRAIN_LABELS).write_bytes(gzip.compress(idx_bytes(labels)))
    monkeypatch.setenv("NNSCRATCH_DATA", str(folder))
    with pytest.raises(ValueError, match="these are MNIST's labels, but you asked for Fashion"):
        fashion_mnist.load_data()
    assert mnist.load_data()[0][1][0] == 5


# ---------------------------------------------------------------------------------------------
# Downloads from a real HTTP server on 127.0.0.1
# ---------------------------------------------------------------------------------------------
class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """A real HTTP server in a thread serving ``folder``; yields (base URL, folder, stop)."""
    folder = tmp_path / "www"
    folder.mkdir()
    handler = functools.partial(QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    stopped = []

    def stop():
        if not stopped:
            httpd.shutdown()
            httpd.server_close()
            stopped.append(True)

    yield f"http://127.0.0.1:{httpd.server_address[1]}/", folder, stop
    stop()


def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def publish(folder, shift=0):
    """Put the synthetic data set on the server; returns its {name: md5}."""
    write_dataset(folder, shift)
    return {name: hashlib.md5((folder / name).read_bytes()).hexdigest() for name in _fetch.FILES}


def test_download_then_cache(server, monkeypatch):
    url, www, stop = server
    monkeypatch.setattr(mnist, "MD5", publish(www, shift=9))
    (www / "empty").mkdir()
    # The first mirror is down, the second answers 404 (not found), the third has the files.
    monkeypatch.setattr(mnist, "MIRRORS", [closed_port_url(), url + "empty/", url])
    assert loaded_shift(mnist.load_data()) == 9
    cache = _fetch.cache_dir("mnist")
    assert sorted(p.name for p in cache.iterdir()) == sorted(_fetch.FILES)
    for name in _fetch.FILES:
        assert (cache / name).read_bytes() == (www / name).read_bytes()
    stop()
    assert loaded_shift(mnist.load_data()) == 9  # from the cache, server gone


def test_download_only_missing_files_via_env_mirror(server, monkeypatch):
    url, www, _ = server
    monkeypatch.setattr(fashion_mnist, "MD5", publish(www, shift=1))
    monkeypatch.setattr(fashion_mnist, "MIRRORS", [closed_port_url()])
    monkeypatch.setenv("NNSCRATCH_MIRROR", url)  # replaces the list
    cache = write_dataset(_fetch.cache_dir("fashion-mnist"), shift=1)
    (cache / TRAIN_IMAGES).unlink()
    (www / TRAIN_LABELS).unlink()  # would be a 404, but it is not needed
    assert loaded_shift(fashion_mnist.load_data()) == 1


def test_checksum_mismatch_keeps_nothing(server, monkeypatch):
    url, www, _ = server
    md5 = publish(www)
    wrong = "0" * 32
    md5[TRAIN_LABELS] = wrong
    monkeypatch.setattr(mnist, "MD5", md5)
    monkeypatch.setattr(mnist, "MIRRORS", [url])
    with pytest.raises(ValueError) as err:
        mnist.load_data()
    message = str(err.value)
    assert TRAIN_LABELS in message and wrong in message
    assert hashlib.md5((www / TRAIN_LABELS).read_bytes()).hexdigest() in message
    cache = _fetch.cache_dir("mnist")
    assert [p.name for p in cache.iterdir()] == [TRAIN_IMAGES]  # no partial, no bad file


class CutShortHandler(QuietHandler):
    """Announces the whole file, sends half of it, then drops the connection."""

    def do_GET(self):
        data = (Path(self.directory) / self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.close_connection = True


def test_connection_cut_mid_file_keeps_nothing(tmp_path, monkeypatch):
    www = tmp_path / "www"
    monkeypatch.setattr(mnist, "MD5", publish(www))
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(CutShortHandler, directory=str(www)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(mnist, "MIRRORS", [f"http://127.0.0.1:{httpd.server_address[1]}/"])
        with pytest.raises((DownloadError, ValueError), match=TRAIN_IMAGES):
            mnist.load_data()
    finally:
        httpd.shutdown()
        httpd.server_close()
    cache = _fetch.cache_dir("mnist")
    assert not cache.exists() or not any(cache.iterdir())


def test_server_down_fails_fast_and_says_where_to_put_files(monkeypatch):
    monkeypatch.setattr(mnist, "MIRRORS", [closed_port_url(), closed_port_url()])
    start = time.monotonic()
    with pytest.raises(DownloadError) as err:
        mnist.load_data()
    assert time.monotonic() - start < 5
    message = str(err.value)
    cache = _fetch.cache_dir("mnist")
    for words in ("MNIST is not on this computer", "ConnectionError", str(cache),
                  "NNSCRATCH_DATA", "mnist/ subfolder", "load_data(path=", TRAIN_IMAGES):
        assert words in message
    assert not cache.exists() or not any(cache.iterdir())
    assert isinstance(err.value, OSError)


def test_silent_server_times_out(monkeypatch):
    """A server that accepts the connection and never answers: a read timeout, not a hang."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setattr(_fetch, "TIMEOUT", (1, 1))
        monkeypatch.setattr(mnist, "MIRRORS", [f"http://127.0.0.1:{silent.getsockname()[1]}/"])
        start = time.monotonic()
        with pytest.raises(DownloadError, match="Timeout"):
            mnist.load_data()
        assert time.monotonic() - start < 5


def test_no_mirror_no_copy(tmp_path):
    with pytest.raises(DownloadError, match="no mirror to try") as err:
        fashion_mnist.load_data()
    assert "fashion-mnist/ subfolder" in str(err.value)


# ---------------------------------------------------------------------------------------------
# The real data sets
# ---------------------------------------------------------------------------------------------
def check_real(data, train_counts, test_counts):
    (x_train, y_train), (x_test, y_test) = data
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert all(a.dtype == np.uint8 for a in (x_train, y_train, x_test, y_test))
    assert x_train.max() == 255 and x_train.min() == 0
    assert np.bincount(y_train, minlength=10).tolist() == train_counts
    assert np.bincount(y_test, minlength=10).tolist() == test_counts


def test_real_mnist(monkeypatch):
    if not (Path(REAL_DATA) / "mnist").is_dir():
        pytest.skip(f"no MNIST copy at NNSCRATCH_DATA={REAL_DATA} (see ../shared/datasets)")
    monkeypatch.setenv("NNSCRATCH_DATA", REAL_DATA)
    check_real(mnist.load_data(),
               [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
               [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])


def test_real_fashion_mnist_from_debian(monkeypatch):
    if not any(Path(d, TRAIN_IMAGES).is_file() for d in DEBIAN_FOLDERS):
        pytest.skip(f"Fashion-MNIST not installed in {DEBIAN_FOLDERS} "
                    "(apt-get install dataset-fashion-mnist)")
    monkeypatch.setattr(fashion_mnist, "SYSTEM_FOLDERS", DEBIAN_FOLDERS)
    if Path(REAL_DATA).is_dir():  # NNSCRATCH_DATA without Fashion-MNIST must not block Debian's
        monkeypatch.setenv("NNSCRATCH_DATA", REAL_DATA)
    check_real(fashion_mnist.load_data(), [6000] * 10, [1000] * 10)
