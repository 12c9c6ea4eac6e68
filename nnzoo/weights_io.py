"""Loading weights into a built model: ``.weights.h5`` files, ``.keras`` files, run directories and SavedModels.

Every check says which file and what does not fit; a file whose arrays are not
exactly the model's is refused (Keras 3 would load some subsets silently).
"""

import tempfile
from pathlib import Path

from nnzoo.rundir import load_model_file, run_dir_model

__all__ = ["load", "is_saved_model"]


def is_saved_model(directory):
    """Whether ``directory`` is a SavedModel (a version directory, as ``nnzoo.export`` writes)."""
    directory = Path(directory)
    return (directory / "saved_model.pb").is_file() or (directory / "saved_model.pbtxt").is_file()


def load(model, source, registered=()):
    """Load the weights of ``source`` into ``model``; return ``model``.

    Args:
        model: the built ``keras.Model`` to fill.
        source: a ``.weights.h5`` file, a ``.keras`` file, a run directory
            (its ``model.keras``, else the checkpoint its history points to) or
            a SavedModel version directory of ``nnzoo.export`` (its variables,
            checked to compute what the SavedModel's ``serving_default`` does).
        registered: the registered network names: a ``.keras`` model saved
            under another of them is refused even when its shapes fit.
    """
    source = Path(source)
    if source.is_dir() and is_saved_model(source):
        return _load_saved_model(model, source)
    if not source.exists():
        raise FileNotFoundError(
            f"No such file or directory: {str(source)!r}. Expected a .keras file, a .weights.h5 file or a "
            f"run directory containing model.keras."
        )
    if source.is_file() and source.name.endswith(".weights.h5"):
        _check_h5_layout(model, source)
        try:
            model.load_weights(source)
        except ValueError as err:
            raise ValueError(f"The weights in {str(source)!r} do not fit model {model.name!r}: {err}") from err
        return model
    file = run_dir_model(source) if source.is_dir() else source
    if file is None:
        raise ValueError(f"The directory {str(source)!r} holds no model.keras or checkpoint to load weights from.")
    if file.suffix != ".keras":
        raise ValueError(f"Expected a .weights.h5 file, a .keras file or a run directory. Received: {str(source)!r}.")
    loaded = load_model_file(file, compile=False)
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
    model.set_weights(loaded.get_weights())
    return model


def _load_saved_model(model, directory):
    """Assign a SavedModel's variables to ``model``'s, in order, then check both compute the same outputs.

    The shapes alone do not tell a sigmoid net from a tanh one, or network3's
    dropout from Keras's inverted form (whose weights stand for (1 − p) times
    network3's): a probe of two images through the SavedModel's signature and
    through ``model`` must agree.
    """
    import keras  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415

    try:
        loaded = tf.saved_model.load(str(directory))
    except Exception as err:  # TensorFlow raises several kinds for a broken SavedModel
        raise ValueError(f"{str(directory)!r} is not a readable SavedModel ({type(err).__name__}: "
                         f"{str(err)[:200]}). Export it again (nnzoo export).") from None
    values = list(getattr(loaded, "variables", ()))
    expected = [tuple(variable.shape) for variable in model.variables]
    received = [tuple(value.shape) for value in values]
    if expected != received:
        raise ValueError(
            f"The variables of the SavedModel {str(directory)!r} ({len(received)} arrays) do not fit model "
            f"{model.name!r} ({len(expected)} arrays): {_first_difference(model.variables, expected, received)}."
        )
    for variable, value in zip(model.variables, values):
        variable.assign(value)
    serve = getattr(loaded, "signatures", {}).get("serving_default")
    if serve is not None and "image" in serve.structured_input_signature[1]:
        probe = np.random.default_rng(0).uniform(0.0, 1.0, (2, *model.input_shape[1:])).astype("float32")
        served = serve(image=tf.constant(probe))["probabilities"].numpy()
        ours = keras.ops.convert_to_numpy(model(probe, training=False))
        if not np.allclose(served, ours, atol=1e-5):
            raise ValueError(
                f"The SavedModel {str(directory)!r} computes other outputs than model {model.name!r} with the same "
                f"weights (largest difference {np.abs(served - ours).max():.3g}): the two networks differ beyond "
                f"their weights' shapes (another activation, or a SavedModel exported before nnzoo used network3's "
                f"dropout, 2026-12-01). Serve the SavedModel as it is: "
                f"keras.layers.TFSMLayer({str(directory)!r}, call_endpoint='serving_default')."
            )
    return model


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
