"""Loading what nnzoo saved: models (``load_model``, alias ``nnzoo.load``) and weights into a built model
(``load_weights``, public as ``nnzoo.load_weights``): ``.weights.h5`` files, ``.keras`` files, run
directories and SavedModels.

Every check says which file and what does not fit; a file whose arrays are not
exactly the model's is refused (Keras 3 would load some subsets silently). A
SavedModel's graph is never run: its variables are read from ``variables/`` as
data, after its nnzoo card says which network it holds. A load that fails
leaves the model exactly as it was.
"""

import contextlib
import os
import re
import tempfile
from pathlib import Path

from nnzoo import rundir
from nnzoo.rundir import load_model_file

__all__ = ["load", "load_model", "load_weights", "is_saved_model", "saved_model_in", "checked_path", "read_card",
           "read_keras_file", "restored_on_failure", "CARD_DIR", "CARD_FILE", "VERSION_NAME"]

#: Where ``nnzoo.export`` puts the model card in a SavedModel version directory (TensorFlow Serving's
#: ``assets.extra/``: files that travel with a version and are not part of the graph).
CARD_DIR = "assets.extra"
CARD_FILE = "nnzoo_card.json"
#: The name of a version directory under an export's base directory (TensorFlow Serving's layout: ``1``, ``2``, ...).
VERSION_NAME = re.compile(r"[0-9]+")


def load_model(path, *, compile=True):
    """Load a Keras model saved by nnzoo: a ``.keras`` file or a run directory (``nnzoo.load``).

    Args:
        path: a ``.keras`` file, or a run directory: its trained model
            (``rundir.RunDir.load_model``: the best run's ``model.keras``, or
            the checkpoint of an unfinished run, with the weights of the
            epoch the protocol picks, the same weights as
            ``build(NAME, weights=path)``).
        compile: passed to ``keras.models.load_model``.

    Returns:
        The ``keras.Model``, with nnzoo's costs, penalties, initialisers and
        layers restored (importing nnzoo registers them).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is a SavedModel (see below), a ``.weights.h5``
            file, or a directory without a ``.keras`` model.

    A SavedModel written by ``nnzoo.export`` is not a Keras model file; reload
    it as a Keras layer, without nnzoo, with its ``serving_default`` endpoint:

    >>> import keras                                           # doctest: +SKIP
    >>> layer = keras.layers.TFSMLayer("savedmodels/conv2_dropout/1",
    ...                                call_endpoint="serving_default")  # doctest: +SKIP
    >>> outputs = layer(images)        # {"probabilities": ..., "digit": ...}  # doctest: +SKIP

    or with ``tf.saved_model.load(path).signatures["serving_default"](image=images)``.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"nnzoo.load expects a path. Received: {path!r} (of type {type(path).__name__}).")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"No such file or directory: {str(path)!r}. nnzoo.load expects a .keras file or a run "
            f"directory containing {' or '.join(rundir.MODEL_FILES)}."
        )
    if path.is_dir():
        saved_model = saved_model_in(path)
        if saved_model is not None:
            raise ValueError(_tfsm_hint(path, saved_model))
        # The trained model (rundir.RunDir): the best run's model with its weights at the protocol's epoch.
        return rundir.RunDir(path).load_model(compile=compile, read=read_keras_file)
    if path.name in ("saved_model.pb", "saved_model.pbtxt"):
        raise ValueError(_tfsm_hint(path, path.parent))
    if path.name.endswith(".weights.h5"):
        raise ValueError(
            f"{str(path)!r} holds weights only, not a model. Build the model, then load them: "
            f"model = nnzoo.build(NAME, compile=False); model.load_weights({str(path)!r})."
        )
    if path.suffix != ".keras":
        raise ValueError(f"Expected a .keras file or a run directory. Received: {str(path)!r}.")
    return read_keras_file(path, compile=compile)


def load_weights(model, source):
    """Load the weights of ``source`` into ``model`` (built with the same architecture); return ``model``.

    Args:
        model: the ``keras.Model`` to fill, e.g. ``nnzoo.build(NAME, compile=False)``.
        source: a ``.weights.h5`` file, a ``.keras`` file, a run directory
            (see ``load_model``), or a SavedModel of ``nnzoo.export``: a version
            directory, or a base directory (its latest version). A SavedModel's
            variables are read from its ``variables/`` checkpoint as data
            (nothing of it is run), and only when its nnzoo card names
            ``model``'s network and its variables and activations are
            ``model``'s. A load that fails leaves ``model`` exactly as it was.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ValueError: the weights do not fit ``model``, or ``source`` is a model
            saved under another registered name.

    Example:

    >>> model = nnzoo.build("conv2_dropout", compile=False)  # doctest: +SKIP
    >>> nnzoo.load_weights(model, "savedmodels/conv2_dropout")  # doctest: +SKIP
    """
    import nnzoo  # noqa: PLC0415  (nnzoo.list_models: the registry itself imports this module's callers)

    source = checked_path(source, "source")
    saved_model = saved_model_in(source) if source.is_dir() else None
    return load(model, saved_model or source, registered=nnzoo.list_models())


def saved_model_in(directory):
    """The SavedModel at ``directory`` or, for an export's base directory, its latest version; ``None`` if neither."""
    directory = Path(directory)
    if is_saved_model(directory):
        return directory
    versions = sorted(
        (int(entry.name), entry) for entry in directory.iterdir()
        if VERSION_NAME.fullmatch(entry.name) and is_saved_model(entry)
    )
    return versions[-1][1] if versions else None


def _tfsm_hint(path, saved_model):
    return (
        f"{str(path)!r} is a TensorFlow SavedModel (as written by nnzoo.export), not a Keras model file, so "
        f"nnzoo.load cannot rebuild the Keras model from it. Reload it as a layer: "
        f"keras.layers.TFSMLayer({str(saved_model)!r}, call_endpoint='serving_default'), or call "
        f"tf.saved_model.load({str(saved_model)!r}).signatures['serving_default'](image=images). To get "
        f"the Keras model back, load the run's .keras file instead."
    )


def is_saved_model(directory):
    """Whether ``directory`` is a SavedModel (a version directory, as ``nnzoo.export`` writes)."""
    directory = Path(directory)
    return (directory / "saved_model.pb").is_file() or (directory / "saved_model.pbtxt").is_file()


def checked_path(source, argument="weights"):
    """``source`` as a ``Path``; an empty string is refused (``Path("")`` would be the current directory)."""
    if isinstance(source, str) and not source.strip():
        raise ValueError(
            f"{argument} is an empty path. Received: {source!r}. Expected the path of a .weights.h5 "
            f"file, a .keras file, a run directory or a SavedModel version directory; for the current "
            f"directory, pass '.' explicitly."
        )
    return Path(source)


def read_card(version_dir, why=None):
    """The model card of an exported version (``assets.extra/nnzoo_card.json``; versions exported before
    2026-12 kept it beside ``saved_model.pb``).

    Raises:
        FileNotFoundError: the directory holds no card (``why`` says what it is needed for).
        ValueError: the card is not a JSON object.
    """
    version_dir = Path(version_dir)
    for path in (version_dir / CARD_DIR / CARD_FILE, version_dir / CARD_FILE):
        if path.is_file():
            card = rundir.read_json(path, "a SavedModel's model card", "Export the model again (nnzoo export).")
            if not isinstance(card, dict):
                raise ValueError(f"{str(path)!r} is not a model card (a JSON object). Received: "
                                 f"{type(card).__name__}. Export the model again (nnzoo export).")
            return card
    reason = f" ({why})" if why else ""
    raise FileNotFoundError(
        f"{str(version_dir)!r} holds no {CARD_DIR}/{CARD_FILE}: it is not a SavedModel written by nnzoo.export, "
        f"and nothing of it was loaded or run{reason}. Export the network with nnzoo export, or serve this "
        f"SavedModel as it is: keras.layers.TFSMLayer({str(version_dir)!r}, call_endpoint='serving_default')."
    )


def load(model, source, registered=()):
    """Load the weights of ``source`` into ``model``; return ``model``.

    Args:
        model: the built ``keras.Model`` to fill.
        source: a ``.weights.h5`` file, a ``.keras`` file, a run directory
            (its trained model, ``rundir.RunDir.trained_weights``: the best
            run's weights at the protocol's epoch, as ``build(weights=)``) or
            a SavedModel version directory of ``nnzoo.export`` (its variables,
            checked to compute what the SavedModel's ``serving_default`` does).
        registered: the registered network names: a ``.keras`` model saved
            under another of them is refused even when its shapes fit.
    """
    source = checked_path(source)
    if source.is_dir() and is_saved_model(source):
        return _load_saved_model(model, source, registered)
    if not source.exists():
        raise FileNotFoundError(
            f"No such file or directory: {str(source)!r}. Expected a .keras file, a .weights.h5 file or a "
            f"run directory containing model.keras."
        )
    if source.is_file() and source.name.endswith(".weights.h5"):
        _check_h5_layout(model, source)
        try:
            with restored_on_failure(model):
                model.load_weights(source)
        except Exception as err:  # h5py's and Keras's errors for an array that cannot be read or assigned
            raise ValueError(f"The weights in {str(source)!r} do not fit model {model.name!r} "
                             f"({type(err).__name__}: {' '.join(str(err).split())[:300]}); the model keeps its weights.") from err
        return model
    # A run directory stands for its trained model (rundir.RunDir): the best run's weights at the protocol's epoch.
    file = rundir.RunDir(source).trained_weights() if source.is_dir() else source
    if source.is_dir() and file is not None and file.name.endswith(".weights.h5"):
        return load(model, file, registered)
    if file is None:
        raise ValueError(f"The directory {str(source)!r} holds no model.keras or checkpoint to load weights from.")
    if file.suffix != ".keras":
        raise ValueError(f"Expected a .weights.h5 file, a .keras file or a run directory. Received: {str(source)!r}.")
    loaded = read_keras_file(file, compile=False)
    if loaded.name != model.name and loaded.name in registered:
        raise ValueError(
            f"{str(source)!r} holds a {loaded.name!r} model, not {model.name!r}. "
            f"Export it under its own name: nnzoo export {loaded.name} --weights {source}"
        )
    expected = [tuple(weight.shape) for weight in model.weights]
    received = [tuple(weight.shape) for weight in loaded.weights]
    if expected != received:
        raise ValueError(
            f"The weights in {str(source)!r} (model {loaded.name!r}: {len(received)} arrays) do not fit model "
            f"{model.name!r} ({len(expected)} arrays): {_first_difference(model.weights, expected, received)}."
        )
    with restored_on_failure(model):
        model.set_weights(loaded.get_weights())
    return model


def read_keras_file(path, compile=True):
    """Load a ``.keras`` model (Keras's safe mode on); one it cannot rebuild is a ``ValueError`` naming the file.

    Safe mode refuses a Python lambda, and a function Keras does not know (a
    custom activation or loss that was never registered) cannot be rebuilt:
    either way nothing from the file was run.
    """
    try:
        return load_model_file(path, compile=compile)
    except TypeError as err:  # Keras: "<class 'Functional'> could not be deserialized properly"
        raise ValueError(
            f"{str(path)!r} could not be loaded as a Keras model: it uses a function or object Keras cannot rebuild "
            f"in safe mode (a Python lambda, or a custom function that was not registered with "
            f"@keras.saving.register_keras_serializable). Nothing from the file was run: safe mode stays on. "
            f"Import the module that registers it first, or save the model without it. (Keras: "
            f"{str(err).split('. ')[0][:200]}.)"
        ) from None


def _load_saved_model(model, directory, registered=()):
    """Fill ``model`` from a SavedModel's ``variables/`` checkpoint, read as data; nothing of it is run.

    The SavedModel must carry an nnzoo card (``assets.extra/nnzoo_card.json``)
    naming ``model``'s network; its checkpoint must hold exactly ``model``'s
    variables (``variables/I`` is the model's I-th variable, as ``nnzoo.export``
    writes them), shape for shape and dtype for dtype. The shapes alone do not
    tell a sigmoid net from a tanh one, so the graph's activation ops (read
    from ``saved_model.pb`` as data) must be the model's; and a network with
    network3's dropout refuses a SavedModel exported before nnzoo used it
    (Keras's inverted dropout, whose weights stand for (1 − p) times network3's).
    """
    card = read_card(directory, why="weights are read only from SavedModels that nnzoo exported")
    held = card.get("name")
    if held != model.name:
        build = (f"Build that one: nnzoo.build({held!r}, weights={str(directory)!r})" if held in registered
                 else f"Load it into a network named {held!r}, the one it was exported from")
        raise ValueError(
            f"The SavedModel {str(directory)!r} holds the network {held!r} (its card, {CARD_DIR}/{CARD_FILE}), "
            f"not {model.name!r}: its weights do not fit this network. {build}, or serve it as it is: "
            f"keras.layers.TFSMLayer({str(directory)!r}, call_endpoint='serving_default')."
        )
    _check_dropout_form(model, directory, card)
    values = _checkpoint_values(model, directory)
    _check_activations(model, directory)
    with restored_on_failure(model):
        for variable, value in zip(model.variables, values):
            variable.assign(value)
    return model


#: When nnzoo's networks started using network3's dropout (nnzoo.layers.BookDropout).
_BOOK_DROPOUT_SINCE = "2026-12-01T09:23:09+00:00"


def _check_dropout_form(model, directory, card):
    import datetime  # noqa: PLC0415

    uses_dropout = any(type(layer).__name__ == "BookDropout" for layer in _all_layers(model))
    exported_at = card.get("exported_at")
    if not uses_dropout or not isinstance(exported_at, str):
        return
    try:
        older = datetime.datetime.fromisoformat(exported_at) < datetime.datetime.fromisoformat(_BOOK_DROPOUT_SINCE)
    except (TypeError, ValueError):
        older = False
    if older:
        raise ValueError(
            f"The SavedModel {str(directory)!r} was exported {exported_at}, before nnzoo used network3's dropout "
            f"({_BOOK_DROPOUT_SINCE[:10]}): its weights stand for Keras's inverted dropout, not {model.name!r}'s. "
            f"Serve it as it is: keras.layers.TFSMLayer({str(directory)!r}, call_endpoint='serving_default')."
        )


def _checkpoint_values(model, directory):
    """The arrays of ``directory/variables/``, one per ``model.variables``, checked before any is assigned."""
    import numpy as np  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    try:
        reader = tf.train.load_checkpoint(str(Path(directory) / "variables" / "variables"))
        shapes = reader.get_variable_to_shape_map()
        dtypes = reader.get_variable_to_dtype_map()
    except Exception as err:  # TensorFlow raises several kinds for a missing or broken checkpoint
        raise ValueError(f"The variables of the SavedModel {str(directory)!r} are not readable "
                         f"({type(err).__name__}: {str(err)[:200]}). Export it again (nnzoo export).") from None
    stored = sorted((key for key in shapes if key.startswith(_VARIABLE_PREFIX) and key.endswith(_VARIABLE_SUFFIX)),
                    key=lambda key: int(key[len(_VARIABLE_PREFIX):-len(_VARIABLE_SUFFIX)] or -1))
    expected_keys = [_variable_key(index) for index in range(len(model.variables))]
    expected = [tuple(variable.shape) for variable in model.variables]
    received = [tuple(shapes[key]) for key in stored]
    if stored != expected_keys or expected != received:
        raise ValueError(
            f"The variables of the SavedModel {str(directory)!r} ({len(received)} arrays) do not fit model "
            f"{model.name!r} ({len(expected)} arrays): {_first_difference(model.variables, expected, received)}."
        )
    values = []
    for key, variable in zip(stored, model.variables):
        if dtypes[key].name != variable.dtype:
            raise ValueError(f"The variables of the SavedModel {str(directory)!r} do not fit model {model.name!r}: "
                             f"{variable.path} is {variable.dtype}, the file has {dtypes[key].name}.")
        try:
            values.append(np.asarray(reader.get_tensor(key)))
        except Exception as err:  # a data file cut short or damaged
            raise ValueError(f"The variables of the SavedModel {str(directory)!r} are not readable "
                             f"({type(err).__name__}: {str(err)[:200]}). Export it again (nnzoo export).") from None
    return values


_VARIABLE_PREFIX = "variables/"
_VARIABLE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def _variable_key(index):
    return f"{_VARIABLE_PREFIX}{index}{_VARIABLE_SUFFIX}"


#: The TensorFlow op of each Keras activation nnzoo's networks use.
_ACTIVATION_OPS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "softmax": "Softmax"}


def _check_activations(model, directory):
    """The SavedModel's graph (parsed, not run) computes with the model's activations, and no others."""
    used = {getattr(getattr(layer, "activation", None), "__name__", None) for layer in _all_layers(model)}
    used.discard(None)
    used.discard("linear")
    if not used <= set(_ACTIVATION_OPS):
        return  # an activation this check does not know: the weights' shapes are all it can compare
    from tensorflow.core.protobuf import saved_model_pb2  # noqa: PLC0415

    graph = saved_model_pb2.SavedModel()
    try:
        graph.ParseFromString((Path(directory) / "saved_model.pb").read_bytes())
    except Exception as err:  # protobuf's DecodeError, an unreadable file
        raise ValueError(f"{str(directory / 'saved_model.pb')!r} is not a readable SavedModel graph "
                         f"({type(err).__name__}). Export it again (nnzoo export).") from None
    ops = {node.op for meta in graph.meta_graphs for node in meta.graph_def.node}
    ops.update(node.op for meta in graph.meta_graphs for function in meta.graph_def.library.function
               for node in function.node_def)
    by_op = {op: name for name, op in _ACTIVATION_OPS.items()}
    found = {by_op[op] for op in ops if op in by_op}
    if found != used:
        raise ValueError(
            f"The SavedModel {str(directory)!r} computes with {', '.join(sorted(found)) or 'no known activation'}, "
            f"model {model.name!r} with {', '.join(sorted(used))}: the two networks differ beyond their weights' "
            f"shapes. Build the network it was exported from, or serve it as it is: "
            f"keras.layers.TFSMLayer({str(directory)!r}, call_endpoint='serving_default')."
        )


def _all_layers(model):
    return model._flatten_layers(include_self=False, recursive=True)


@contextlib.contextmanager
def restored_on_failure(model):
    """Whatever fails inside leaves ``model``'s variables (and its optimizer's) exactly as they were."""
    import keras  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    variables = list(model.variables)
    optimizer = getattr(model, "optimizer", None)
    variables += list(getattr(optimizer, "variables", None) or ())
    before = [np.array(keras.ops.convert_to_numpy(variable)) for variable in variables]
    try:
        yield
    except BaseException:
        for variable, value in zip(variables, before):
            variable.assign(value)
        raise


def _first_difference(weights, expected, received):
    for index, (want, got) in enumerate(zip(expected, received)):
        if want != got:
            return f"{weights[index].path} has shape {want}, the file has {got}"
    return "the number of weight arrays differs"


def _check_h5_layout(model, source):
    """Refuse a ``.weights.h5`` file whose arrays are not exactly ``model``'s (Keras 3 loads some subsets)."""
    import h5py  # noqa: PLC0415  (a Keras dependency)

    def layout(file):
        arrays = {}
        try:
            handle = h5py.File(file, "r")
        except OSError as err:
            raise ValueError(
                f"{str(file)!r} is not a readable .weights.h5 file (truncated, corrupt or not HDF5: {err}). "
                f"Save the weights again with model.save_weights(...)."
            ) from None
        with handle:
            handle.visititems(
                lambda name, item: arrays.__setitem__(name, item.shape)
                if isinstance(item, h5py.Dataset) and not name.startswith("optimizer/") else None
            )  # the optimizer's state (a checkpoint's) is not the model's weights
        return arrays

    with tempfile.TemporaryDirectory(prefix="nnzoo-weights-") as scratch:
        own = Path(scratch) / "own.weights.h5"
        model.save_weights(own)
        expected = layout(own)
    received = layout(source)
    if expected != received:
        missing = sorted(set(expected) - set(received))
        extra = sorted(set(received) - set(expected))
        reshaped = sorted(k for k in set(expected) & set(received) if expected[k] != received[k])
        detail = "; ".join(
            f"{label}: {', '.join(items[:3])}{' ...' if len(items) > 3 else ''}"
            for label, items in (("missing", missing), ("unexpected", extra), ("other shape", reshaped))
            if items
        )
        raise ValueError(f"The weights in {str(source)!r} do not fit model {model.name!r} ({detail}).")
