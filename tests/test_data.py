"""Tests for nnzoo.data. Real-MNIST tests need NNZOO_DATA_DIR; they skip only when it is unset."""

import gzip
import hashlib
import os
import pathlib
import struct

import numpy as np
import pytest

from nnzoo import data
from nnzoo.data import DataError, Dataset


def write_idx(path, array, magic=None, compress=True, truncate=0):
    array = np.asarray(array, dtype=np.uint8)
    if magic is None:
        magic = 0x00000803 if array.ndim == 3 else 0x00000801
    raw = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    raw = raw[: len(raw) - truncate]
    if compress:
        raw = gzip.compress(raw)
    path.write_bytes(raw)
    return path


def write_small_idx_dir(directory, n_train=6, n_test=4):
    rng = np.random.default_rng(0)
    write_idx(directory / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (n_train, 28, 28)))
    write_idx(directory / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, n_train))
    write_idx(directory / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (n_test, 28, 28)))
    write_idx(directory / "t10k-labels-idx1-ubyte", rng.integers(0, 10, n_test), compress=False)


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def no_download(monkeypatch):
    """No test may reach the network: the Keras download raises if it is ever called."""
    import keras

    def fail():
        raise AssertionError("keras.datasets.mnist.load_data() must not be called")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", fail)


@pytest.fixture(scope="module")
def mnist_dir():
    directory = os.environ.get("NNZOO_DATA_DIR")
    if directory is None:
        pytest.skip("NNZOO_DATA_DIR is not set; real-MNIST tests skipped")
    return directory


@pytest.fixture(scope="module")
def split(mnist_dir):
    return data.load_split(mnist_dir)


# --- real MNIST -------------------------------------------------------------


def test_load_mnist_official_arrays(mnist_dir):
    x_train, y_train, x_test, y_test = data.load_mnist(mnist_dir)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert data.load_mnist(mnist_dir) is data.load_mnist(mnist_dir)


def test_env_var_is_used(mnist_dir, monkeypatch):
    monkeypatch.setenv("NNZOO_DATA_DIR", mnist_dir)
    assert data.load_mnist()[0] is data.load_mnist(mnist_dir)[0]


def test_book_split_shapes_and_ranges(split):
    for part, n in zip(split, (50000, 10000, 10000)):
        assert part.x.shape == (n, 28, 28, 1)
        assert part.x.dtype == np.float32
        assert part.x.min() == 0.0 and part.x.max() == 1.0
        assert part.y.shape == (n,) and part.y.dtype == np.int32
        assert part.y.min() == 0 and part.y.max() == 9


def test_validation_is_last_10000_of_official_train(mnist_dir, split):
    x_train, y_train, x_test, y_test = data.load_mnist(mnist_dir)
    np.testing.assert_array_equal(split.validation.x[..., 0], x_train[50000:] / np.float32(255))
    np.testing.assert_array_equal(split.validation.y, y_train[50000:])
    np.testing.assert_array_equal(split.train.y, y_train[:50000])
    np.testing.assert_array_equal(split.test.y, y_test)
    raw = data.load_split(mnist_dir, dtype="uint8")
    np.testing.assert_array_equal(raw.train.x[..., 0], x_train[:50000])
    np.testing.assert_array_equal(raw.test.x[..., 0], x_test)


def test_training_label_histogram(split):
    counts = np.bincount(split.train.y, minlength=10)
    assert len(counts) == 10
    assert ((counts >= 4000) & (counts <= 6000)).all(), counts


def test_expanded_real_data(mnist_dir):
    raw = data.load_split(mnist_dir, dtype="uint8")
    expanded = data.load_expanded_split(mnist_dir, dtype="uint8", shuffle_seed=None)
    x, y = expanded.train
    assert x.shape == (250000, 28, 28, 1) and x.dtype == np.uint8
    np.testing.assert_array_equal(y, np.repeat(raw.train.y, 5))
    for i in (0, 1, 12345, 49999):
        img = raw.train.x[i, ..., 0]
        up, down, left, right = (x[5 * i + k, ..., 0] for k in range(1, 5))
        np.testing.assert_array_equal(x[5 * i, ..., 0], img)
        np.testing.assert_array_equal(up[:-1], img[1:])
        assert not up[-1].any()
        np.testing.assert_array_equal(down[1:], img[:-1])
        assert not down[0].any()
        np.testing.assert_array_equal(left[:, :-1], img[:, 1:])
        assert not left[:, -1].any()
        np.testing.assert_array_equal(right[:, 1:], img[:, :-1])
        assert not right[:, 0].any()
    np.testing.assert_array_equal(expanded.validation.x, raw.validation.x)
    np.testing.assert_array_equal(expanded.test.y, raw.test.y)


def test_expanded_shuffle_is_seeded_permutation(mnist_dir):
    a = data.load_expanded_split(mnist_dir, dtype="uint8", shuffle_seed=3).train
    b = data.load_expanded_split(mnist_dir, dtype="uint8", shuffle_seed=3).train
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.x[:100], b.x[:100])
    raw_y = data.load_split(mnist_dir, dtype="uint8").train.y
    assert not np.array_equal(a.y, np.repeat(raw_y, 5))
    np.testing.assert_array_equal(np.bincount(a.y), 5 * np.bincount(raw_y))


def test_make_dataset_uint8_matches_float_split(mnist_dir, split):
    raw = data.load_split(mnist_dir, dtype="uint8")
    ds = data.make_dataset(*raw.test, 2500, cache=False)
    x = np.concatenate([xb for xb, _ in ds.as_numpy_iterator()])
    np.testing.assert_array_equal(x, split.test.x)


def test_sha256sums_of_real_dir_verified(mnist_dir):
    sums = os.path.join(mnist_dir, "SHA256SUMS")
    if os.path.exists(sums):
        directory = pathlib.Path(mnist_dir)
        data._verify_checksums(directory, [data._find_idx(directory, name) for name in data.IDX_FILES])


# --- synthetic: expand, shuffle, subset --------------------------------------


def test_expand_tiny_pattern():
    img = np.arange(1, 10, dtype=np.uint8).reshape(1, 3, 3)
    x, y = data.expand(img, np.array([4]))
    expected = np.array([
        [[1, 2, 3], [4, 5, 6], [7, 8, 9]],  # original
        [[4, 5, 6], [7, 8, 9], [0, 0, 0]],  # up
        [[0, 0, 0], [1, 2, 3], [4, 5, 6]],  # down
        [[2, 3, 0], [5, 6, 0], [8, 9, 0]],  # left
        [[0, 1, 2], [0, 4, 5], [0, 7, 8]],  # right
    ], dtype=np.uint8)
    np.testing.assert_array_equal(x, expected)
    np.testing.assert_array_equal(y, [4] * 5)


def test_expand_channel_axis_float_and_order():
    x = np.random.default_rng(1).random((3, 28, 28, 1), dtype=np.float32)
    xe, ye = data.expand(x, np.array([0, 1, 2]))
    assert xe.shape == (15, 28, 28, 1) and xe.dtype == np.float32
    np.testing.assert_array_equal(xe[0::5], x)
    np.testing.assert_array_equal(ye, [0] * 5 + [1] * 5 + [2] * 5)
    flat, _ = data.expand(x[..., 0], np.array([0, 1, 2]))
    np.testing.assert_array_equal(flat, xe[..., 0])


def test_expand_rejects_bad_input():
    with pytest.raises(ValueError, match="3 images but y has 2"):
        data.expand(np.zeros((3, 28, 28)), np.zeros(2))
    with pytest.raises(ValueError, match="shape"):
        data.expand(np.zeros((3, 784)), np.zeros(3))


def test_shuffle_once_is_seeded_and_paired():
    x, y = np.arange(100) * 10, np.arange(100)
    xs, ys = data.shuffle_once(x, y, seed=7)
    np.testing.assert_array_equal(xs, ys * 10)
    assert sorted(ys.tolist()) == list(range(100)) and ys.tolist() != list(range(100))
    np.testing.assert_array_equal(data.shuffle_once(x, y, seed=7)[1], ys)
    assert not np.array_equal(data.shuffle_once(x, y, seed=8)[1], ys)


def test_subset():
    ds = Dataset(np.arange(10), np.arange(10) % 3)
    part = data.subset(ds, 4)
    assert isinstance(part, Dataset)
    np.testing.assert_array_equal(part.x, [0, 1, 2, 3])
    assert len(data.subset(ds, 10).x) == 10
    for bad in (0, -1, 11, 2.5):
        with pytest.raises(ValueError, match=r"1\.\.10"):
            data.subset(ds, bad)


# --- synthetic: read_idx and load_mnist errors --------------------------------


def test_read_idx_roundtrip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    np.testing.assert_array_equal(data.read_idx(write_idx(tmp_path / "i.gz", images)), images)
    labels = np.array([3, 1, 4], dtype=np.uint8)
    out = data.read_idx(write_idx(tmp_path / "l", labels, compress=False))
    assert out.dtype == np.uint8 and out.shape == (3,)
    np.testing.assert_array_equal(out, labels)


def test_read_idx_truncated_payload(tmp_path):
    path = write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((2, 28, 28)), truncate=10)
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz") as info:
        data.read_idx(path)
    assert "1558" in str(info.value) and "1568" in str(info.value)


def test_read_idx_truncated_gzip_stream(tmp_path):
    path = write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(1000) % 10)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz"):
        data.read_idx(path)


def test_read_idx_bad_magic(tmp_path):
    path = write_idx(tmp_path / "bad-magic.gz", np.zeros(5), magic=0x00000802)
    with pytest.raises(DataError, match=r"bad-magic\.gz.*0x00000802"):
        data.read_idx(path)


def test_read_idx_not_gzip(tmp_path):
    path = tmp_path / "garbage-idx1-ubyte.gz"
    path.write_bytes(b"this is not gzip data at all" * 10)
    with pytest.raises(DataError, match="garbage-idx1-ubyte.gz") as info:
        data.read_idx(path)
    assert isinstance(info.value.__cause__, OSError)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(DataError, match="nope.gz.*NNZOO_DATA_DIR"):
        data.read_idx(tmp_path / "nope.gz")


def test_empty_data_dir(tmp_path):
    with pytest.raises(DataError) as info:
        data.load_mnist(tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message and "NNZOO_DATA_DIR" in message
    for name in data.IDX_FILES:
        assert name in message
    assert "mnist.npz" in message


def test_env_dir_set_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv("NNZOO_DATA_DIR", str(tmp_path / "does-not-exist"))
    with pytest.raises(DataError, match="does-not-exist.*does not exist"):
        data.load_mnist()
    monkeypatch.setenv("NNZOO_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match="NNZOO_DATA_DIR"):
        data.load_split()
    monkeypatch.setenv("NNZOO_DATA_DIR", "")
    with pytest.raises(DataError, match="set but empty"):
        data.load_mnist()


def test_download_failure_becomes_data_error(monkeypatch):
    import keras

    def offline():
        raise OSError("network unreachable")

    monkeypatch.delenv("NNZOO_DATA_DIR", raising=False)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    data.load_mnist.cache_clear()
    with pytest.raises(DataError, match="network unreachable.*NNZOO_DATA_DIR") as info:
        data.load_mnist()
    assert isinstance(info.value.__cause__, OSError)


def test_checksum_mismatch_names_file(tmp_path):
    write_small_idx_dir(tmp_path)
    good = tmp_path / "train-images-idx3-ubyte.gz"
    bad = tmp_path / "t10k-images-idx3-ubyte.gz"
    others = [p for p in tmp_path.iterdir() if p not in (good, bad)]
    (tmp_path / "SHA256SUMS").write_text(
        f"{sha256(good)}  {good.name}\n{'0' * 64}  {bad.name}\n{'1' * 64}  absent-file.gz\n"
        + "".join(f"{sha256(p)} *{p.name}\n" for p in others))
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz.*SHA-256"):
        data.load_mnist(tmp_path)


@pytest.mark.parametrize("sums", ["", "\n\n", f"{'0' * 64}  other-file.gz\n"])
def test_checksums_must_cover_every_file_read(tmp_path, sums):
    """An empty or non-matching SHA256SUMS checks nothing: refused, so tampered labels never load silently."""
    write_small_idx_dir(tmp_path)
    (tmp_path / "SHA256SUMS").write_text(sums)
    with pytest.raises(DataError, match=r"does not cover train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                                        r"t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte \(it names"):
        data.load_mnist(tmp_path)


def test_checksums_must_cover_the_npz(tmp_path):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((1, 28, 28), np.uint8))
    (tmp_path / "SHA256SUMS").write_text(f"{'0' * 64}  train-images-idx3-ubyte.gz\n")
    with pytest.raises(DataError, match=r"does not cover mnist.npz \(it names train-images-idx3-ubyte.gz\)"):
        data.load_mnist(tmp_path)


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "sub/train-images-idx3-ubyte.gz", "..", "a\\b"])
def test_checksums_name_only_files_beside_them(tmp_path, monkeypatch, name):
    """A line naming a file outside the data directory is refused before anything is hashed."""
    write_small_idx_dir(tmp_path)
    lines = [f"{sha256(p)}  {p.name}" for p in sorted(tmp_path.iterdir())]
    lines.insert(1, f"{'a' * 64}  {name}")
    (tmp_path / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    hashed = []
    monkeypatch.setattr(data, "sha256", lambda path: hashed.append(path))
    with pytest.raises(DataError) as info:
        data.load_mnist(tmp_path)
    assert f"line 2 names {name!r}; a SHA256SUMS may name only files in its own directory" in str(info.value)
    assert hashed == []


def test_idx_header_dimensions_that_overflow(tmp_path):
    """Dimensions whose product overflows 64 bits: the file, the header and the exact byte counts (no reshape error)."""
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(struct.pack(">IIII", 0x803, 21904793, 3289581145, 256) + bytes(100))
    with pytest.raises(DataError) as info:
        data.read_idx(path)
    expected = 21904793 * 3289581145 * 256
    assert str(info.value).startswith(f"{path}: the IDX header's dimensions 21904793 x 3289581145 x 256 need "
                                      f"exactly {expected} bytes after the 16-byte header, but the file has 100")
    path.write_bytes(struct.pack(">IIII", 0x803, *[0xFFFFFFFF] * 3) + bytes(8))
    with pytest.raises(DataError, match=f"4294967295 x 4294967295 x 4294967295 need exactly {0xFFFFFFFF ** 3} "
                                        "bytes after the 16-byte header, but the file has 8"):
        data.read_idx(path)


def test_checksums_ok_then_shape_checked(tmp_path):
    write_small_idx_dir(tmp_path)
    lines = [f"{sha256(p)}  {p.name}" for p in sorted(tmp_path.iterdir())]
    (tmp_path / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"x_train has shape \(6, 28, 28\), expected \(60000, 28, 28\)"):
        data.load_mnist(tmp_path)


def test_mnist_npz_source(tmp_path):
    x_train = np.zeros((60000, 28, 28), np.uint8)
    x_train[-1, 0, 0] = 255
    y_train = np.arange(60000, dtype=np.uint8) % 10
    np.savez_compressed(tmp_path / "mnist.npz", x_train=x_train, y_train=y_train,
                        x_test=np.zeros((10000, 28, 28), np.uint8),
                        y_test=np.full(10000, 9, np.uint8))
    split = data.load_split(tmp_path)
    assert [len(part.x) for part in split] == [50000, 10000, 10000]
    assert split.validation.x[-1, 0, 0, 0] == 1.0
    assert split.test.y.tolist() == [9] * 10000


def test_mnist_npz_bad_labels(tmp_path):
    np.savez_compressed(tmp_path / "mnist.npz", x_train=np.zeros((60000, 28, 28), np.uint8),
                        y_train=np.full(60000, 10, np.uint8),
                        x_test=np.zeros((10000, 28, 28), np.uint8),
                        y_test=np.zeros(10000, np.uint8))
    with pytest.raises(DataError, match="y_train holds label 10"):
        data.load_mnist(tmp_path)


def test_bad_dtype_argument():
    with pytest.raises(ValueError, match="float64.*float32"):
        data.load_split("/unused", dtype="float64")


# --- make_dataset --------------------------------------------------------------


def test_make_dataset_batches_and_order():
    x = np.arange(10 * 4, dtype=np.float32).reshape(10, 2, 2, 1)
    y = np.arange(10, dtype=np.int32)
    batches = list(data.make_dataset(x, y, 4).as_numpy_iterator())
    assert [b[0].shape for b in batches] == [(4, 2, 2, 1), (4, 2, 2, 1), (2, 2, 2, 1)]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    dropped = list(data.make_dataset(x, y, 4, drop_remainder=True, cache=False))
    assert [len(b[1]) for b in dropped] == [4, 4]


def test_make_dataset_converts_uint8():
    x = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)[..., None].repeat(3, axis=0)
    (xb, yb), = data.make_dataset(x, np.array([1, 2, 3]), 3).as_numpy_iterator()
    assert xb.dtype == np.float32
    np.testing.assert_array_equal(xb, x.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(yb, [1, 2, 3])


def test_make_dataset_shuffle_reshuffles_each_epoch():
    y = np.arange(64)
    ds = data.make_dataset(y.astype(np.float32), y, 64, shuffle=True, seed=0)
    first = next(iter(ds))[1].numpy()
    second = next(iter(ds))[1].numpy()
    assert sorted(first.tolist()) == y.tolist()
    assert not np.array_equal(first, y) and not np.array_equal(first, second)
    again = next(iter(data.make_dataset(y.astype(np.float32), y, 64, shuffle=True, seed=0)))
    np.testing.assert_array_equal(again[1].numpy(), first)


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, None])
def test_make_dataset_invalid_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size.*positive integer"):
        data.make_dataset(np.zeros((4, 1)), np.zeros(4), batch_size)
