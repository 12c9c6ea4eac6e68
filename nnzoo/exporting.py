"""Export for TensorFlow Serving, TFLite and ONNX: ``nnzoo.export`` is this module's ``export``.

(Loading saved models back is ``nnzoo.weights_io``'s job: ``nnzoo.load``, ``nnzoo.load_weights``,
``nnzoo.read_card``.)

``export(model, path)`` writes ``path/VERSION/`` in TensorFlow Serving's layout
(``saved_model.pb``, ``variables/``, ``fingerprint.pb``, ``assets/``) plus the
model card ``path/VERSION/assets.extra/nnzoo_card.json`` (``assets.extra/`` is where TensorFlow
Serving's conventions keep files that travel with a version and are not part of the graph; the
server ignores it). VERSION is one more than the
largest version already under ``path`` (1 for a new directory), so TF Serving,
which serves the highest version, picks up every new export, and nothing is
ever overwritten. The version is written into a hidden temporary directory
under ``path`` and renamed into place in one step at the end: a failed or
interrupted export leaves no version directory behind (TF Serving ignores
non-numeric names, and the temporary directory is removed on failure).

The SavedModel has one signature, ``serving_default``, which needs neither
nnzoo nor Keras to run:

- input ``image``: float32 ``[batch, 28, 28, 1]``, pixels in [0, 1];
- output ``probabilities``: float32 ``[batch, 10]``, the model's output
  (dropout off; for the sigmoid-output nets of chapters 1-5 these are the 10
  output activations, which need not sum to 1; for an ensemble, the
  ``PluralityVote`` distribution);
- output ``digit``: int64 ``[batch]``, the argmax of ``probabilities`` (for an
  ensemble: the plurality vote).

The signature leaves every dimension of ``image`` open and the graph checks the
shape from run-time values (``tf.shape``, ``tf.size``), so no converter can fold
the check away: an input of another shape (RGB ``[b, 28, 28, 3]``, 29x29,
``[b, 784]``, channels first, ...) gets digit -1 and NaN probabilities for each
of its ``b`` images, like an image with a pixel outside [0, 1], and never
reaches the convolution kernels as something else. (A runtime that checks the
rank itself, as ONNX Runtime and TF.js do, refuses an input of another rank
first.) The graph is made of ops that TensorFlow Lite (builtins only), ONNX
(tf2onnx) and TF.js graph models (tensorflowjs_converter) run, so one export
serves all (``nnzoo.formats`` writes the TFLite and ONNX files).

Example:

>>> import nnzoo, tensorflow as tf                         # doctest: +SKIP
>>> version_dir = nnzoo.export(model, "exports/conv2_dropout",
...                            metadata={"test_accuracy": 0.9952})  # doctest: +SKIP
>>> nnzoo.export(model, "exports/conv2_dropout", format="tflite", quantize="dynamic")  # doctest: +SKIP
>>> serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]  # doctest: +SKIP
>>> serve(image=tf.zeros([1, 28, 28, 1]))["digit"]        # doctest: +SKIP
"""

import datetime
import errno
import json
import os
import functools
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path

import keras
import numpy as np

from nnzoo import data, formats, weights_io
from nnzoo.files import sha256

__all__ = ["export", "CARD_FILE", "SIGNATURE_NAME"]

SIGNATURE_NAME = "serving_default"
CARD_FILE = weights_io.CARD_FILE
CARD_DIR = weights_io.CARD_DIR
CARD_FORMAT = 1
_VERSION_NAME = weights_io.VERSION_NAME
_TMP_PREFIX = ".nnzoo-export-"
_IMAGE_SHAPE = (None, *data.IMAGE_SHAPE)
# What the signature accepts: any rank-4 float32 tensor, so the graph can check the shape at run time
# (a converter folds a check of dimensions fixed in the signature; see _serving_function).
_INPUT_SPEC_SHAPE = (None, None, None, None)
_NUM_CLASSES = data.NUM_CLASSES


# ----------------------------------------------------------------------------- export


def export(model, path, *, format="savedmodel", quantize=None, card=None, metadata=None):
    """Export ``model`` as a SavedModel ``path/VERSION/`` for TensorFlow Serving, or a TFLite or ONNX file.

    Args:
        model: a built ``keras.Model`` mapping float32 images
            ``(batch, 28, 28, 1)`` to ``(batch, 10)`` scores, e.g. any
            ``nnzoo.build(...)`` model, the ensemble included.
        path: for a SavedModel, the model's base directory (e.g.
            ``exports/conv2_dropout``), created if missing, not a version
            directory itself. For a TFLite or ONNX file, a directory (the file
            is ``path/NAME.tflite``, ``NAME_dynamic.tflite`` when quantized;
            ``.onnx`` likewise) or the file's own path ending in ``.tflite`` /
            ``.onnx``.
        format: ``"savedmodel"`` (default), ``"tflite"`` (builtin ops only)
            or ``"onnx"`` (tf2onnx: ``pip install 'nnzoo[onnx]'``), as
            Ultralytics' ``export(format=...)``. See ``nnzoo.formats``.
        quantize: ``None`` or ``"dynamic"`` (int8 weights, float activations;
            TFLite and ONNX only).
        card: where the recipe comes from when ``model.name`` is not a
            registered name (or to override it): a registry name, a
            ``nnzoo.ModelCard``, or a mapping with ``name`` / ``recipe`` /
            ``book_result`` keys. By default the registry card of
            ``model.name`` is used when there is one.
        metadata: what was measured, e.g. ``{"test_accuracy": 0.9952,
            "data": "expanded", "recipe": {...}}``. ``recipe`` (the recipe
            actually trained) replaces the card's; other keys are kept
            under ``metadata`` in the card. Must be JSON-serialisable.

    Returns:
        The ``pathlib.Path`` of the new version directory, ``path/VERSION``,
        or of the TFLite / ONNX file.

    Raises:
        ValueError: the model does not fit the serving signature, ``path``
            is itself a SavedModel, ``format`` / ``quantize`` is unknown, or
            ``card`` / ``metadata`` is invalid; raised before anything is written.

    The card (``nnzoo.formats.read_card(path)`` reads it from any format; in a
    SavedModel it is ``assets.extra/nnzoo_card.json``) holds: ``name``,
    ``registered_name``, ``recipe``, ``data``, ``test_accuracy`` (``null``
    when unknown), ``book_result``, ``metadata``, ``signature``, ``format``,
    ``quantize``, ``versions`` (nnzoo, tensorflow, keras), ``exported_at``
    (UTC, ISO 8601) and, for a SavedModel, ``saved_model_sha256`` (of
    ``saved_model.pb``).
    """
    import tensorflow as tf  # noqa: PLC0415

    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            f"nnzoo.export needs the TensorFlow backend. Received: KERAS_BACKEND={keras.backend.backend()!r}."
        )
    if not isinstance(model, keras.Model):
        raise ValueError(f"Expected a keras.Model. Received: model of type {type(model).__name__}.")
    formats.check(format, quantize)
    if format == "savedmodel":
        base = Path(path)
        if base.exists() and not base.is_dir():
            raise ValueError(f"The export path must be a directory. Received: path={str(base)!r}, a file.")
        if weights_io.is_saved_model(base):
            raise ValueError(
                f"{str(base)!r} is itself a SavedModel (a version directory). Pass its parent, the model's base "
                f"directory (e.g. 'exports/NAME'); the version number is chosen by export."
            )
    else:
        out_file = formats.target(path, model.name, format, quantize)
    card_fields = _card_fields(model, card, metadata)  # validated before anything is written
    card_fields.update(format=format, quantize=quantize)

    archive = keras.export.ExportArchive()
    archive.track(model)
    _store_variables_once(archive)
    serve = archive.add_endpoint(
        name=SIGNATURE_NAME,
        fn=_serving_function(model, tf),
        input_signature=[tf.TensorSpec(_INPUT_SPEC_SHAPE, tf.float32, name="image")],
    )
    _check_traced_outputs(model, serve)

    if format != "savedmodel":
        with tempfile.TemporaryDirectory(prefix=_TMP_PREFIX) as tmp:
            saved_model = Path(tmp) / "saved_model"
            _write_out(archive, saved_model, tf)
            card_fields["exported_at"] = _now()
            return formats.write(saved_model, out_file, format=format, quantize=quantize,
                                 card=json.loads(json.dumps(card_fields, default=_jsonable)))
    base.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_exports(base)
    # Same filesystem: the rename is atomic. The pid in the name tells a killed export's leftovers.
    tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-", dir=base))
    try:
        # The payload is a fresh subdirectory (mkdtemp's is mode 0700, too strict for a server user).
        payload = tmp / "version"
        _write_out(archive, payload, tf)
        card_fields["saved_model_sha256"] = sha256(payload / "saved_model.pb")
        card_fields["exported_at"] = _now()
        (payload / CARD_DIR).mkdir()
        (payload / CARD_DIR / CARD_FILE).write_text(json.dumps(card_fields, indent=2, default=_jsonable) + "\n")
        return _publish(payload, base)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_out(archive, directory, tf):
    try:
        archive.write_out(str(directory), verbose=False)
    except tf.errors.ResourceExhaustedError as err:  # TensorFlow's own error for a full disk
        raise OSError(errno.ENOSPC, f"No space left to write the SavedModel under {str(directory.parent)!r} "
                                    f"({err.message.splitlines()[0][:200]})") from err


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _store_variables_once(archive):
    """Make the archive's variable lists hold the model's TensorFlow variables themselves.

    ``ExportArchive.track`` lists the Keras variables, and the archive also lists
    the TensorFlow variables its endpoints capture. A SavedModel stores each
    object of its graph once, and these are two objects per weight, so every
    weight was written twice (13.4 MB of variables for conv2_dropout's 6.7 MB).
    The lists keep their names (``loaded.variables`` and friends still work).
    """
    tracked = archive._tf_trackable  # Keras 3.15's ExportArchive keeps its lists here
    for attribute in ("variables", "trainable_variables", "non_trainable_variables"):
        values = [v.value if isinstance(v, keras.Variable) else v for v in getattr(tracked, attribute)]
        setattr(tracked, attribute, values)


def _serving_function(model, tf):
    pixels = int(np.prod(data.IMAGE_SHAPE))
    image_dims = tf.constant(data.IMAGE_SHAPE, tf.int32)

    def serve(image):
        # The input signature leaves every dimension open (_INPUT_SPEC) and the graph checks the shape
        # from run-time values (tf.shape, tf.size): with [None, 28, 28, 1] in the signature, converters
        # fold a shape check into a constant (TFLite's did, and RGB or 30x30 images came out as digits).
        shape = tf.shape(image)
        batch = shape[0]
        size = tf.size(image)
        # dims 1-3 read with zeros after them, so a shorter shape compares unequal instead of failing;
        # the sum catches trailing dimensions of 1 (a rank the converters may take for the signature's 4).
        dims = tf.concat([shape, tf.zeros([4], tf.int32)], axis=0)[1:4]
        shape_ok = tf.logical_and(
            tf.logical_and(tf.reduce_all(tf.equal(dims, image_dims)), tf.equal(size, batch * pixels)),
            tf.equal(tf.reduce_sum(shape) - batch, tf.reduce_sum(image_dims)),
        )
        # Whatever the shape, the layers get whole 28x28x1 images (as many as the pixels fill) and one
        # blank image more, sliced off again: an empty batch gives empty outputs (oneDNN's convolution
        # refuses a batch of 0), without control flow a converter must support. For an image of the
        # contract these are its pixels in order, so the outputs are those of the model on `image`.
        whole = size // pixels
        flat = tf.concat([tf.reshape(image, [-1])[: whole * pixels], tf.zeros([pixels], image.dtype)], axis=0)
        padded = tf.reshape(flat, [-1, *data.IMAGE_SHAPE], name="images_and_blank")
        # One row per input image (batch of them) whatever was computed: rows past `whole` repeat the blank.
        rows = tf.minimum(tf.range(batch), whole)
        probabilities = tf.gather(tf.cast(model(padded, training=False), tf.float32), rows)
        # An image outside the contract (a pixel < 0, > 1 or NaN, e.g. raw 0-255 pixels), or any image of
        # an input of another shape, gets digit -1 and NaN probabilities: impossible to miss, and made
        # of ops every converter has.
        in_range = tf.logical_and(padded >= 0.0, padded <= 1.0)
        bad = tf.gather(tf.reduce_sum(tf.cast(tf.logical_not(in_range), tf.float32), axis=[1, 2, 3]) > 0.0, rows)
        bad = tf.logical_or(bad, tf.logical_not(shape_ok))
        digit = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        # NaN for a bad image's row, +0.0 for the others: log(1 - 2) is NaN and log(1) is 0 in every
        # runtime. Not tf.where: tf2onnx turns a select into cond * x + (1 - cond) * y, and NaN * 0 is
        # NaN, so every probability came out NaN in ONNX.
        nan_or_zero = tf.math.log(1.0 - 2.0 * tf.cast(bad, tf.float32))[:, None]
        return {
            "probabilities": probabilities + nan_or_zero,
            # -1 filled to the digits' shape, not a scalar: TF.js broadcasts a scalar to shape [0] as [1].
            "digit": tf.where(bad, tf.fill(tf.shape(digit), tf.constant(-1, tf.int64)), digit),
        }

    return serve


def _check_traced_outputs(model, serve):
    try:
        outputs = serve.get_concrete_function().structured_outputs
    except Exception as err:
        raise ValueError(
            f"Model {model.name!r} cannot be served with the nnzoo signature (float32 images "
            f"{list(_IMAGE_SHAPE)} → 10 scores): {err}"
        ) from err
    shape = outputs["probabilities"].shape
    if shape.rank != 2 or shape[-1] != _NUM_CLASSES:
        raise ValueError(
            f"Model {model.name!r} must output (batch, {_NUM_CLASSES}) scores to be served. "
            f"Received: output shape {shape}."
        )


def _remove_abandoned_exports(base):
    """Delete the temporary directories of exports whose process is gone (killed mid-write)."""
    for entry in base.glob(f"{_TMP_PREFIX}*"):
        pid = entry.name[len(_TMP_PREFIX):].split("-")[0]
        if not pid.isdigit() or not _alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _publish(payload, base):
    """Rename ``payload`` to ``base/N`` with N one past the largest version."""
    for _ in range(1000):
        target = base / str(_next_version(base))
        if target.exists():  # appeared since the scan: another export won the race
            continue
        try:
            os.rename(payload, target)
        except OSError as err:
            if err.errno in (errno.EEXIST, errno.ENOTEMPTY):
                continue
            raise
        return target
    raise RuntimeError(f"Could not claim a new version directory under {str(base)!r}.")


def _next_version(base):
    versions = [int(entry.name) for entry in base.iterdir() if _VERSION_NAME.fullmatch(entry.name)]
    return max(versions, default=0) + 1


def _card_fields(model, card, metadata):
    import tensorflow as tf  # noqa: PLC0415

    import nnzoo  # noqa: PLC0415
    from nnzoo import registry  # noqa: PLC0415

    from nnzoo import metadata as user_metadata  # noqa: PLC0415

    metadata = user_metadata.validate({} if metadata is None else metadata)  # no bool read as 100%, no deep nesting

    if card is None and model.name in registry.list_models():
        card = model.name
    if isinstance(card, str):
        card = registry.card(card)  # ValueError for an unknown name
    if isinstance(card, registry.ModelCard):
        card = card.to_dict()
    if card is not None and not isinstance(card, Mapping):
        raise ValueError(
            f"card must be a registry name, a ModelCard or a mapping. Received: {type(card).__name__}."
        )
    card = dict(card or {})

    recipe = metadata.pop("recipe", None) or card.get("recipe")
    recipe = dict(recipe) if recipe is not None else None
    data = metadata.pop("data", None) or (recipe or {}).get("data")
    test_accuracy = metadata.pop("test_accuracy", None)  # None or a fraction in [0, 1]: checked by validate
    if test_accuracy is not None:
        # float(str(...)): a float32 0.95 is stored as 0.95, not 0.949999988079071.
        test_accuracy = float(str(test_accuracy) if isinstance(test_accuracy, np.floating) else test_accuracy)

    fields = {
        "card_format": CARD_FORMAT,
        "name": model.name,
        "registered_name": card.get("name"),
        "recipe": recipe,
        "data": data,
        "test_accuracy": test_accuracy,
        "book_result": card.get("book_result"),
        "metadata": metadata,
        "signature": {
            "name": SIGNATURE_NAME,
            "inputs": {"image": {"dtype": "float32", "shape": list(_IMAGE_SHAPE)}},
            # What an input of another shape, or a pixel outside [0, 1], gives (see _serving_function).
            "out_of_contract": "digit -1 and NaN probabilities",
            "outputs": {
                "probabilities": {"dtype": "float32", "shape": [None, _NUM_CLASSES]},
                "digit": {"dtype": "int64", "shape": [None]},
            },
        },
        "versions": {"nnzoo": nnzoo.__version__, "tensorflow": tf.__version__, "keras": keras.__version__},
        "exported_at": None,
        "saved_model_sha256": None,
    }
    try:
        json.dumps(fields, default=_jsonable)
    except (TypeError, ValueError) as err:
        raise ValueError(f"The model card is not JSON-serialisable: {err}") from err
    return fields


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# ------------------------------------------------------------------- the old nnzoo.export module's names

def _moved(old, new, target):
    @functools.wraps(target)
    def moved(*args, **kwargs):
        warnings.warn(f"nnzoo.export.{old} is deprecated; use {new}.", DeprecationWarning, stacklevel=2)
        return target(*args, **kwargs)

    return moved


# nnzoo.export is the function above (the module that was also called nnzoo.export is this one, now
# nnzoo.exporting): what code wrote as that module's attributes keeps working, with a DeprecationWarning.
export.export = _moved("export", "nnzoo.export(...)", export)
export.load = _moved("load", "nnzoo.load", weights_io.load_model)
export.load_weights = _moved("load_weights", "nnzoo.load_weights", weights_io.load_weights)
export.read_card = _moved("read_card", "nnzoo.read_card", weights_io.read_card)
