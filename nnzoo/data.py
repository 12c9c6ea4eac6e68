"""MNIST as numpy arrays and ``tf.data`` pipelines, split the way Nielsen's book does.

The book (*Neural Networks and Deep Learning*, ch. 1-6) trains on 50,000 images,
holds out 10,000 validation images, and tests on the official 10,000 test images.
The book does not say which 10,000 training images form the validation set; we
follow its data file, the LISA ``mnist.pkl.gz``, whose validation set is the
LAST 10,000 images of the official training set.

Where the data comes from (see :func:`load_mnist`):

1. the ``data_dir`` argument, else the ``NNZOO_DATA_DIR`` environment variable:
   a directory holding the four official IDX files (plain or ``.gz``) or a
   Keras-format ``mnist.npz``; an optional ``SHA256SUMS`` file is verified
   (it must cover every file read and may name only files beside it);
2. only when neither is given: ``keras.datasets.mnist.load_data()`` (downloads
   once into ``~/.keras/datasets``).

>>> split = load_split()                                  # doctest: +SKIP
>>> split.train.x.shape, split.validation.x.shape, split.test.x.shape  # doctest: +SKIP
((50000, 28, 28, 1), (10000, 28, 28, 1), (10000, 28, 28, 1))
>>> ds = make_dataset(*split.train, batch_size=10, shuffle=True, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import gzip
import math
import os
import re
import struct
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from nnzoo.files import sha256

ENV_VAR = "NNZOO_DATA_DIR"
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
NPZ_FILE = "mnist.npz"
CHECKSUM_FILE = "SHA256SUMS"
TRAIN_SIZE = 50_000
IMAGE_SHAPE = (28, 28, 1)  # one image as the networks take it: float32 pixels in [0, 1]
NUM_CLASSES = 10
_DATA_SPEC = re.compile(r"^(mnist|expanded)(?:\[:(\d+)\])?$")

_IDX_MAGIC = {0x00000803: 3, 0x00000801: 1}
_HOW_TO_FIX = (
    f"set {ENV_VAR} (or pass data_dir=) to a directory holding "
    + ", ".join(f"{name}.gz" for name in IDX_FILES)
    + f" (each may also be uncompressed), or a Keras {NPZ_FILE} with keys "
    "x_train, y_train, x_test, y_test"
)


class DataError(RuntimeError):
    """Any problem obtaining or validating MNIST: missing, corrupt or malformed data."""


class Dataset(NamedTuple):
    """Images ``x`` and integer labels ``y`` of one split."""

    x: np.ndarray
    y: np.ndarray


class BookSplit(NamedTuple):
    """The book's three splits: 50,000 train / 10,000 validation / 10,000 test."""

    train: Dataset
    validation: Dataset
    test: Dataset


def read_idx(path) -> np.ndarray:
    """Read one IDX file (gzip'd if the name ends in ``.gz``) into a uint8 array.

    Images (magic 0x00000803) come back as ``(N, rows, cols)``, labels
    (magic 0x00000801) as ``(N,)``.

    >>> read_idx("/data/mnist/t10k-labels-idx1-ubyte.gz")[:5]  # doctest: +SKIP
    array([7, 2, 1, 0, 4], dtype=uint8)
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except FileNotFoundError as err:
        raise DataError(f"{path}: file not found; {_HOW_TO_FIX}") from err
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(
            f"{path}: cannot read ({type(err).__name__}: {err}); the file is corrupt "
            f"or truncated, download it again. Expected a gzip'd IDX file."
        ) from err

    if len(raw) < 4:
        raise DataError(f"{path}: only {len(raw)} bytes, too short for an IDX header; "
                        "download the file again")
    (magic,) = struct.unpack(">I", raw[:4])
    if magic not in _IDX_MAGIC:
        raise DataError(
            f"{path}: bad IDX magic number 0x{magic:08x}, expected 0x00000803 (images) "
            "or 0x00000801 (labels); the file is not an MNIST IDX file or is corrupt"
        )
    ndim = _IDX_MAGIC[magic]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: header truncated ({len(raw)} bytes, expected at least "
                        f"{header}); download the file again")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    shown = " x ".join(str(d) for d in dims)
    if any(d == 0 for d in dims):
        raise DataError(f"{path}: IDX header has a zero dimension ({shown}); the file is corrupt, "
                        "download it again")
    expected = math.prod(dims)  # Python ints: no overflow, whatever the header says
    received = len(raw) - header
    if received != expected:
        raise DataError(
            f"{path}: the IDX header's dimensions {shown} need exactly {expected} bytes after the "
            f"{header}-byte header, but the file has {received}; the file is truncated or corrupt, "
            "download it again"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _checksum_lines(sums: Path) -> dict:
    """``{bare file name: sha256}`` of a SHA256SUMS file; every line must name a file beside it."""
    try:
        lines = sums.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{sums}: cannot read ({err}); delete or repair it") from err
    wanted = {}
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64 or not all(c in "0123456789abcdefABCDEF" for c in parts[0]):
            raise DataError(f"{sums}: line {lineno} is not '<sha256>  <filename>': {line!r}")
        name = parts[1].strip()
        name = name[1:] if name.startswith("*") else name  # sha256sum's binary-mode marker
        if name in ("", ".", "..") or "/" in name or "\\" in name or Path(name).name != name:
            raise DataError(
                f"{sums}: line {lineno} names {name!r}; a SHA256SUMS may name only files in its own "
                f"directory, by their bare names (e.g. 'train-images-idx3-ubyte.gz'). Fix or delete that line."
            )
        wanted[name] = parts[0].lower()
    return wanted


def _verify_checksums(directory: Path, paths) -> None:
    """Check the files about to be read, ``paths``, against ``directory``'s SHA256SUMS, if it has one.

    The SHA256SUMS must name every one of them (by bare name), and may name only
    files in ``directory``; nothing else is hashed.
    """
    sums = directory / CHECKSUM_FILE
    if not sums.is_file():
        return
    wanted = _checksum_lines(sums)
    missing = [Path(p).name for p in paths if Path(p).name not in wanted]
    if missing:
        raise DataError(
            f"{sums} does not cover {', '.join(missing)} (it names "
            f"{', '.join(sorted(wanted)) or 'no file'}); a SHA256SUMS beside the data must hold a line "
            f"'<sha256>  <name>' for every file read. Add the missing lines (e.g. `sha256sum "
            f"{' '.join(missing)} >> {CHECKSUM_FILE}` in that directory) or delete {CHECKSUM_FILE}."
        )
    for path in paths:
        path = Path(path)
        try:
            digest = sha256(path)
        except OSError as err:
            raise DataError(f"{path}: cannot read for checksum ({err})") from err
        if digest != wanted[path.name]:
            raise DataError(
                f"{path}: SHA-256 is {digest}, but {sums} expects {wanted[path.name]}; "
                "the file is corrupt or a different file, download it again"
            )


def _find_idx(directory: Path, name: str) -> Path | None:
    for candidate in (directory / f"{name}.gz", directory / name):
        if candidate.is_file():
            return candidate
    return None


def _load_from_dir(directory: Path):
    if directory.is_file():
        raise DataError(f"data directory {directory} is a file, not a directory; {_HOW_TO_FIX}")
    if not directory.is_dir():
        raise DataError(f"data directory {directory} does not exist; {_HOW_TO_FIX}")
    paths = [_find_idx(directory, name) for name in IDX_FILES]
    if all(paths):
        _verify_checksums(directory, paths)
        return tuple(read_idx(p) for p in paths), str(directory)
    npz = directory / NPZ_FILE
    if npz.is_file():
        _verify_checksums(directory, [npz])
        try:
            with np.load(npz, allow_pickle=False) as f:
                arrays = tuple(np.asarray(f[k]) for k in ("x_train", "y_train", "x_test", "y_test"))
        except KeyError as err:
            raise DataError(f"{npz}: missing key {err}; expected keys x_train, y_train, "
                            "x_test, y_test (the Keras mnist.npz format)") from err
        except Exception as err:
            raise DataError(f"{npz}: cannot read ({type(err).__name__}: {err}); "
                            "the file is corrupt, download it again") from err
        return arrays, str(npz)
    missing = [name for name, p in zip(IDX_FILES, paths) if p is None]
    raise DataError(
        f"data directory {directory} has no MNIST data (missing {', '.join(missing)} "
        f"and no {NPZ_FILE}); {_HOW_TO_FIX}"
    )


def _load_from_keras():
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as err:
        raise DataError(
            f"could not download MNIST with keras.datasets.mnist.load_data() "
            f"({type(err).__name__}: {err}); without network access, {_HOW_TO_FIX}"
        ) from err
    return (x_train, y_train, x_test, y_test), "keras.datasets.mnist"


def _validate(arrays, source: str):
    names = ("x_train", "y_train", "x_test", "y_test")
    shapes = ((60_000, 28, 28), (60_000,), (10_000, 28, 28), (10_000,))
    out = []
    for name, arr, shape in zip(names, arrays, shapes):
        arr = np.asarray(arr)
        if arr.shape != shape:
            raise DataError(f"{source}: {name} has shape {arr.shape}, expected {shape} "
                            f"(official MNIST); {_HOW_TO_FIX}")
        if arr.dtype != np.uint8:
            if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() > 255:
                raise DataError(f"{source}: {name} has dtype {arr.dtype}, expected uint8 "
                                "values in 0..255")
            arr = arr.astype(np.uint8)
        if name.startswith("y") and arr.max() > 9:
            raise DataError(f"{source}: {name} holds label {arr.max()}, expected 0..9")
        arr.flags.writeable = False
        out.append(arr)
    return tuple(out)


@functools.lru_cache(maxsize=4)
def _load_cached(directory: str | None):
    if directory is None:
        arrays, source = _load_from_keras()
    else:
        arrays, source = _load_from_dir(Path(directory))
    return _validate(arrays, source)


def _resolve_dir(data_dir) -> str | None:
    if data_dir is None:
        data_dir = os.environ.get(ENV_VAR)
        if data_dir is None:
            return None
        if not data_dir.strip():
            raise DataError(f"{ENV_VAR} is set but empty; {_HOW_TO_FIX}, or unset "
                            f"{ENV_VAR} to let Keras download MNIST")
    return str(Path(data_dir).expanduser().resolve())


def load_mnist(data_dir=None):
    """Return the official MNIST arrays ``(x_train, y_train, x_test, y_test)``.

    Shapes (60000, 28, 28), (60000,), (10000, 28, 28), (10000,); all uint8 and
    read-only (results are cached per directory; copy before modifying).
    Reads ``data_dir``, else ``$NNZOO_DATA_DIR``; if that is set the download is
    never attempted. With neither, Keras downloads MNIST.

    >>> x_train, y_train, x_test, y_test = load_mnist("/data/mnist")  # doctest: +SKIP
    >>> x_train.shape, y_test[:3]                                  # doctest: +SKIP
    ((60000, 28, 28), array([7, 2, 1], dtype=uint8))
    """
    return _load_cached(_resolve_dir(data_dir))


load_mnist.cache_clear = _load_cached.cache_clear


def _to_float(x: np.ndarray) -> np.ndarray:
    out = x.astype(np.float32)
    out /= np.float32(255)
    return out


def _prepare(x: np.ndarray, y: np.ndarray, dtype: str) -> Dataset:
    x = x[..., np.newaxis]
    out = _to_float(x) if dtype == "float32" else np.array(x, dtype=np.uint8)
    return Dataset(out, y.astype(np.int32))


def _check_dtype(dtype) -> str:
    dtype = np.dtype(dtype).name
    if dtype not in ("float32", "uint8"):
        raise ValueError(f"dtype={dtype!r} is not supported; use 'float32' "
                         "(pixels in [0, 1]) or 'uint8' (raw 0..255)")
    return dtype


def load_split(data_dir=None, dtype="float32") -> BookSplit:
    """The book's split: first 50,000 train, last 10,000 validation, official test.

    ``x`` has shape (N, 28, 28, 1): float32 in [0, 1] (``dtype="float32"``) or raw
    uint8 (``dtype="uint8"``); ``y`` is int32 in 0..9. The validation set is the
    last 10,000 official training images, as in the LISA ``mnist.pkl.gz`` the book
    uses (the book's text does not say which 10,000).

    >>> train, validation, test = load_split()   # doctest: +SKIP
    >>> len(train.x), len(validation.x), len(test.x)  # doctest: +SKIP
    (50000, 10000, 10000)
    """
    dtype = _check_dtype(dtype)
    x_train, y_train, x_test, y_test = load_mnist(data_dir)
    return BookSplit(
        _prepare(x_train[:TRAIN_SIZE], y_train[:TRAIN_SIZE], dtype),
        _prepare(x_train[TRAIN_SIZE:], y_train[TRAIN_SIZE:], dtype),
        _prepare(x_test, y_test, dtype),
    )


def expand(x, y):
    """The book's expanded training set: each image then its 4 one-pixel shifts.

    Output order is ``[img0, up0, down0, left0, right0, img1, ...]``; vacated
    rows/columns are zero (no wrap-around). "Up" means the content moves up one
    pixel: row r of the result is row r+1 of the original and the last row is 0.
    Accepts x of shape (N, 28, 28) or (N, 28, 28, 1), any dtype. (The book's
    ``expand_mnist.py`` emits down, up, right, left and then shuffles, so the
    order within a group does not matter for training.)

    >>> import numpy as np
    >>> xe, ye = expand(np.eye(3, dtype=np.uint8)[None], np.array([7]))
    >>> xe[1]                                  # up
    array([[0, 1, 0],
           [0, 0, 1],
           [0, 0, 0]], dtype=uint8)
    >>> ye
    array([7, 7, 7, 7, 7])
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] != 1):
        raise ValueError(f"expand: x has shape {x.shape}, expected (N, H, W) or (N, H, W, 1)")
    if len(x) != len(y):
        raise ValueError(f"expand: x has {len(x)} images but y has {len(y)} labels")
    out = np.zeros((5 * len(x),) + x.shape[1:], dtype=x.dtype)
    out[0::5] = x
    out[1::5, :-1] = x[:, 1:]
    out[2::5, 1:] = x[:, :-1]
    out[3::5, :, :-1] = x[:, :, 1:]
    out[4::5, :, 1:] = x[:, :, :-1]
    return out, np.repeat(y, 5)


def shuffle_once(x, y, seed):
    """Apply one seeded permutation to ``x`` and ``y`` together (returns copies).

    >>> xs, ys = shuffle_once(np.arange(4), np.arange(4), seed=0)
    >>> bool((xs == ys).all())
    True
    """
    if len(x) != len(y):
        raise ValueError(f"shuffle_once: x has {len(x)} examples but y has {len(y)}")
    perm = np.random.default_rng(seed).permutation(len(x))
    return x[perm], y[perm]


def subset(dataset: Dataset, n: int) -> Dataset:
    """The first ``n`` examples of ``dataset`` (e.g. the book's 1,000-image runs).

    >>> subset(Dataset(np.arange(5), np.arange(5)), 2)
    Dataset(x=array([0, 1]), y=array([0, 1]))
    """
    size = len(dataset.x)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 < n <= size:
        raise ValueError(f"subset: n={n!r} is invalid; expected an integer in 1..{size} "
                         "(the dataset's size)")
    return Dataset(dataset.x[:n], dataset.y[:n])


def load_expanded_split(data_dir=None, dtype="float32", shuffle_seed=0) -> BookSplit:
    """:func:`load_split` with the training set expanded 5x to 250,000 images.

    The expanded set is shuffled once with ``shuffle_seed`` (as the book's
    ``expand_mnist.py`` does); ``shuffle_seed=None`` keeps :func:`expand`'s order.
    Validation and test are unchanged. float32 needs ~0.8 GB; prefer
    ``dtype="uint8"`` with :func:`make_dataset`, which converts per batch.

    >>> split = load_expanded_split(dtype="uint8")  # doctest: +SKIP
    >>> split.train.x.shape                         # doctest: +SKIP
    (250000, 28, 28, 1)
    """
    dtype = _check_dtype(dtype)
    raw = load_split(data_dir, dtype="uint8")
    x, y = expand(*raw.train)
    if shuffle_seed is not None:
        x, y = shuffle_once(x, y, shuffle_seed)
    if dtype == "float32":
        return BookSplit(Dataset(_to_float(x), y),
                         *(Dataset(_to_float(d.x), d.y) for d in raw[1:]))
    return BookSplit(Dataset(x, y), raw.validation, raw.test)


def make_dataset(x, y, batch_size, *, shuffle=False, seed=None,
                 drop_remainder=False, cache=True):
    """A batched ``tf.data.Dataset`` of ``(x, y)``.

    ``shuffle=True`` reshuffles the whole set every epoch (network.py/network2.py);
    leave it False for a fixed order (network3.py). uint8 images are converted to
    float32 / 255 per batch, so large sets can stay uint8 in memory.

    >>> train = load_split(dtype="uint8").train                     # doctest: +SKIP
    >>> ds = make_dataset(*train, batch_size=10, shuffle=True, seed=1)  # doctest: +SKIP
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size <= 0:
        raise ValueError(f"make_dataset: batch_size={batch_size!r} is invalid; "
                         "expected a positive integer such as 10")
    if len(x) != len(y):
        raise ValueError(f"make_dataset: x has {len(x)} examples but y has {len(y)}")
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(int(batch_size), drop_remainder=drop_remainder)
    if np.asarray(x).dtype == np.uint8:
        ds = ds.map(lambda xb, yb: (tf.cast(xb, tf.float32) / 255.0, yb),
                    num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def parse_spec(spec):
    """``(source, n)`` of a recipe's ``data`` string: ``"mnist"``, ``"expanded"``, or the first n training
    images of either, ``"mnist[:1000]"`` (``n`` is ``None`` for the whole set).

    >>> parse_spec("mnist[:1000]")
    ('mnist', 1000)
    """
    match = _DATA_SPEC.match(spec) if isinstance(spec, str) else None
    if not match:
        raise ValueError(
            f"Unknown data. Received: data={spec!r}. Expected 'mnist', 'expanded' or a "
            f"first-n subset such as 'mnist[:1000]'."
        )
    first = int(match.group(2)) if match.group(2) else None
    if first == 0:
        raise ValueError(
            f"data={spec!r} selects no training images. Expected a first-n subset with n >= 1, such as "
            f"'{match.group(1)}[:1000]', or '{match.group(1)}' for the whole set."
        )
    return match.group(1), first


_EVALUATION_SIZES = {"n_validation": 10_000, "n_test": 10_000}


def check_request(spec, *, n_validation=None, n_test=None):
    """Refuse a training run's data request that would select nothing, before anything is read or created.

    ``spec`` as :func:`parse_spec` takes it (``None``: the caller's default);
    ``n_validation`` / ``n_test``: ``None`` (all 10,000 images) or a number of
    images in 1..10,000. Returns ``spec``. ``0``, a negative count or an empty
    string is an error, never "the whole set".

    >>> check_request("mnist[:1000]", n_validation=100)
    'mnist[:1000]'
    """
    if spec is not None:
        parse_spec(spec)
    for key, value in (("n_validation", n_validation), ("n_test", n_test)):
        size = _EVALUATION_SIZES[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                                  or not 0 < value <= size):
            raise ValueError(
                f"{key} must be None (all {size:,} images) or a number of images in 1..{size}. "
                f"Received: {key}={value!r}."
            )
    return spec


def first_n_spec(spec, n):
    """The data string for the first ``n`` training images of ``spec`` (or fewer, if it already has fewer).

    >>> first_n_spec("mnist[:1000]", 5000), first_n_spec("expanded", 500)
    ('mnist[:1000]', 'expanded[:500]')
    """
    source, first = parse_spec(spec)
    return f"{source}[:{min(n, first) if first else n}]"


def accuracy(scores, labels):
    """The fraction of rows of ``scores`` (n, 10) whose largest entry is at the label.

    >>> accuracy(np.eye(10)[[3, 1, 4]], np.array([3, 1, 5]))
    0.6666666666666666
    """
    return float(np.mean(np.argmax(scores, axis=-1) == np.asarray(labels)))


def load_book_split(spec, *, n_validation=None, n_test=None):
    """The book split a training reads for a recipe's ``data`` string: ``mnist``, ``expanded``, ``mnist[:1000]``.

    All images are float32 in [0, 1]. ``n_validation`` / ``n_test`` keep the
    first n images.
    """
    check_request(spec, n_validation=n_validation, n_test=n_test)  # 0 or "" is an error, not the whole set
    source, first = parse_spec(spec)
    loader = load_expanded_split if source == "expanded" else load_split
    split = loader(dtype="uint8")
    train = split.train if not first else subset(split.train, first)

    def as_float(dataset, n=None):
        dataset = subset(dataset, n) if n else dataset
        return Dataset(dataset.x.astype("float32") / np.float32(255.0), dataset.y)

    return BookSplit(as_float(train), as_float(split.validation, n_validation),
                     as_float(split.test, n_test))
