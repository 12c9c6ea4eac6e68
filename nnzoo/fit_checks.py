"""The input checks of ``fit`` on an nnzoo network: bad data is refused before a single step, never trained on.

``BookModel.fit`` and the compiled epoch (``nnzoo.epoch.fit_epoch``) call
these. Each error says what was received and what is expected:

- ``batch_size`` 0, negative, a float or a bool (``fit`` would train with 32);
- no images at all;
- labels outside 0-9 (10, -1, 10**6) or not whole numbers (``y + 0.7``),
  which the book's costs would turn into all-zero targets and a loss of 0;
- a NaN or infinite pixel, which makes every weight NaN in one step.

One-hot label rows ``(N, 10)`` are taken as the digits they encode, so they
train exactly as the integer labels do.

>>> import numpy as np
>>> labels(np.eye(10)[[3, 1]])
array([3, 1], dtype=int32)
>>> labels(np.array([3, 10]))
Traceback (most recent call last):
...
ValueError: y holds 1 label(s) that are not a digit 0-9 (y[1]=10). Received: y of shape (2,) and dtype int64. Expected integer labels 0-9 of shape (N,) (or one-hot rows of shape (N, 10)).
"""

import keras
import numpy as np

from nnzoo import losses

__all__ = ["check_batch_size", "check_fit_data", "check_images", "labels", "is_in_memory", "takes_digits"]

NUM_CLASSES = 10
_BOOK_COSTS = (losses.QuadraticCost, losses.CrossEntropyCost, losses.LogLikelihood)


def takes_digits(model):
    """Whether ``model`` is compiled with one of the book's costs, which take digit labels 0-9 (or one-hot rows)."""
    return isinstance(getattr(model, "loss", None), _BOOK_COSTS)
_SHOWN = 3  # how many offending entries an error lists


def is_in_memory(value):
    """Whether ``value`` is a NumPy array or a backend tensor (what these checks look at)."""
    return isinstance(value, np.ndarray) or keras.ops.is_tensor(value)


def check_batch_size(batch_size, *, default_allowed=True):
    """``batch_size`` as ``fit`` takes it: a positive integer (or ``None``, Keras's default of 32)."""
    if batch_size is None and default_allowed:
        return None
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer{' or None (32)' if default_allowed else ''}, "
                         f"e.g. the book's 10. Received: batch_size={batch_size!r}.")
    return int(batch_size)


def _as_numpy(value):
    return value if isinstance(value, np.ndarray) else keras.ops.convert_to_numpy(value)


def _positions(mask, name):
    """``"x[3, 14, 14, 0]"``-style names of the first few True entries of ``mask``."""
    found = np.argwhere(mask)[:_SHOWN]
    return [f"{name}[{', '.join(str(int(i)) for i in index)}]" for index in found]


def check_images(x, name="x"):
    """Refuse no images, and a NaN or infinite pixel (naming the first); ``x`` is not copied when it is fine."""
    shape = tuple(x.shape)
    if not shape or shape[0] == 0:
        raise ValueError(f"{name} holds no images (shape {shape}): there is nothing to fit.")
    dtype = keras.backend.standardize_dtype(x.dtype)
    if "float" not in dtype:
        return x
    values = _as_numpy(x)
    finite = np.isfinite(values)
    if not finite.all():
        bad = ~finite
        first = _positions(bad, name)[0]
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{first} is {values[index]}: {name} holds {int(bad.sum())} pixel(s) that are NaN or infinite, and one "
            f"SGD step on them makes every weight NaN. Received: {name} of shape {shape} and dtype {dtype}. "
            f"Expected finite pixels (the book's images are floats in [0, 1]); fix or drop those images."
        )
    return x


def _label_error(name, values, bad, extra=""):
    shown = ", ".join(f"{where}={values[tuple(int(i) for i in index)].item()!r}"
                      for where, index in zip(_positions(bad, name), np.argwhere(bad)))
    more = ", …" if int(bad.sum()) > _SHOWN else ""
    return ValueError(
        f"{name} holds {int(bad.sum())} label(s) that are not a digit 0-{NUM_CLASSES - 1} ({shown}{more}){extra}. "
        f"Received: {name} of shape {tuple(values.shape)} and dtype {values.dtype}. Expected integer labels "
        f"0-{NUM_CLASSES - 1} of shape (N,) (or one-hot rows of shape (N, {NUM_CLASSES}))."
    )


def labels(y, name="y"):
    """The digit labels of ``y``: integer labels 0-9 as they are, one-hot rows as the digits they encode.

    ``y`` of shape ``(N,)`` or ``(N, 1)``, integers or whole-number floats in
    0-9 (returned unchanged, a tensor included), or ``(N, 10)`` one-hot rows
    (returned as int32 digits). Anything else raises a ``ValueError`` naming
    the first offending entries.
    """
    values = _as_numpy(y)
    if values.ndim == 2 and values.shape[1] == NUM_CLASSES and len(values):
        if values.dtype == bool or not (np.issubdtype(values.dtype, np.integer)
                                        or np.issubdtype(values.dtype, np.floating)):
            raise _label_error(name, values, np.ones(values.shape, bool), " (one-hot rows must be numbers)")
        one_hot = ((values == 0) | (values == 1)).all(axis=1) & (values.sum(axis=1) == 1)
        if not one_hot.all():
            row = int(np.argmin(one_hot))
            raise ValueError(
                f"{name} has shape {values.shape}, so it is read as one-hot rows, but {int((~one_hot).sum())} "
                f"row(s) are not one 1 and nine 0s ({name}[{row}]={values[row].tolist()}). Received: {name} of "
                f"shape {values.shape} and dtype {values.dtype}. Expected integer labels 0-{NUM_CLASSES - 1} of "
                f"shape (N,) (or one-hot rows of shape (N, {NUM_CLASSES}))."
            )
        return np.argmax(values, axis=1).astype(np.int32)
    if values.ndim not in (1, 2) or (values.ndim == 2 and values.shape[1] != 1):
        raise ValueError(
            f"{name} has shape {values.shape}. Received: {name} of shape {values.shape} and dtype {values.dtype}. "
            f"Expected integer labels 0-{NUM_CLASSES - 1} of shape (N,) (or one-hot rows of shape "
            f"(N, {NUM_CLASSES}))."
        )
    if values.dtype == bool or not (np.issubdtype(values.dtype, np.integer)
                                    or np.issubdtype(values.dtype, np.floating)):
        raise _label_error(name, values, np.ones(values.shape, bool))
    with np.errstate(invalid="ignore"):
        bad = ~((values >= 0) & (values <= NUM_CLASSES - 1) & (values == np.round(values)))
    if bad.any():
        raise _label_error(name, values, bad)
    return y


def check_fit_data(x, y, batch_size=None, *, default_batch_size=True, digits=True):
    """All of the above for ``fit``'s ``x``, ``y`` and ``batch_size``; returns ``(x, y)``.

    ``digits``: ``y`` comes back as :func:`labels` gives it (one-hot rows as
    digits), for the book's costs and their accuracy metric; ``False`` (a model
    compiled with another loss) checks the labels and returns ``y`` as given.
    Only in-memory data (NumPy arrays, tensors) is checked; a dataset or a
    generator goes to Keras as it is.
    """
    check_batch_size(batch_size, default_allowed=default_batch_size)
    if not (is_in_memory(x) and is_in_memory(y)):
        return x, y
    check_images(x)
    if len(y) == 0:
        raise ValueError(f"y holds no labels (shape {tuple(y.shape)}): there is nothing to fit.")
    checked = labels(y)
    return x, checked if digits else y
