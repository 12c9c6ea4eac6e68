"""``BookModel``: the Functional model every nnzoo network is, with ``fit`` on the compiled epoch.

``model.fit(x, y, ...)`` with in-memory arrays or tensors runs nnzoo's compiled
epoch (``nnzoo.epoch.fit_epoch``: the same ``train_step`` updates as stock
Keras, one compiled loop per epoch instead of one call per few steps). Anything
it does not cover goes to stock ``keras.Model.fit`` unchanged, so no argument
ever changes meaning: a ``tf.data.Dataset``, a generator or a ``PyDataset``;
``validation_split``, ``class_weight``, ``sample_weight``, ``steps_per_epoch``,
``validation_steps``, ``validation_freq`` other than 1, ``shuffle="batch"``;
a multi-replica distribution strategy; a backend without the compiled epoch.

Either way, in-memory data is checked first (``nnzoo.fit_checks``): labels
that are not digits 0-9, a NaN or infinite pixel, no images or a
``batch_size`` that is not a positive integer raise a ``ValueError`` before
any step; one-hot labels ``(N, 10)`` train exactly as the digits they encode.

On the fast path, callbacks get ``on_train_begin``, ``on_epoch_begin``,
``on_epoch_end`` (``loss``, ``accuracy`` and, with ``validation_data``,
``val_loss`` and ``val_accuracy``) and ``on_train_end``; batch-level hooks are
not called (an epoch is one compiled loop), so the progress bar advances once
per epoch. ``shuffle=True`` draws each epoch's order from NumPy's global
generator (``keras.utils.set_random_seed`` seeds it).

Example:

>>> model = nnzoo.build("network2")  # doctest: +SKIP
>>> history = model.fit(x_train, y_train, batch_size=10, epochs=30,
...                     validation_data=(x_val, y_val))  # doctest: +SKIP
"""

import warnings

import keras
import numpy as np

from nnzoo import epoch as compiled_epoch, fit_checks
from nnzoo.regularizers import _TrainingSetPenalty

__all__ = ["BookModel", "fast_path_refusal"]

_UNSUPPORTED_WHEN_SET = ("class_weight", "sample_weight", "steps_per_epoch", "validation_steps")


@keras.saving.register_keras_serializable(package="nnzoo")
class BookModel(keras.Model):
    """A Functional ``keras.Model`` whose ``fit`` runs the compiled epoch for in-memory data."""

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None, sample_weight=None,
            initial_epoch=0, steps_per_epoch=None, validation_steps=None, validation_batch_size=None,
            validation_freq=1):
        arguments = dict(x=x, y=y, batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=callbacks,
                         validation_split=validation_split, validation_data=validation_data, shuffle=shuffle,
                         class_weight=class_weight, sample_weight=sample_weight, initial_epoch=initial_epoch,
                         steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
                         validation_batch_size=validation_batch_size, validation_freq=validation_freq)
        digits = fit_checks.takes_digits(self)  # one-hot rows become digits for the book's costs' metric
        x, y = fit_checks.check_fit_data(x, y, batch_size, digits=digits)  # bad data is refused before any step
        if _is_pair(validation_data) and all(fit_checks.is_in_memory(v) for v in validation_data):
            validation_y = fit_checks.labels(validation_data[1], "validation y")
            validation_data = (validation_data[0], validation_y if digits else validation_data[1])
        arguments.update(x=x, y=y, validation_data=validation_data)
        _warn_about_penalty_scaling(self, x)
        if fast_path_refusal(self, arguments) is not None:
            return super().fit(**arguments)
        return _fit_compiled(self, **arguments)


def fast_path_refusal(model, arguments):
    """Why ``model.fit(**arguments)`` goes to stock Keras, or ``None`` when it takes the compiled epoch."""
    if not compiled_epoch.supported() or not hasattr(model, "_symbolic_build"):
        return f"the {keras.backend.backend()} backend has no compiled epoch"
    if not getattr(model, "compiled", False):
        return "the model is not compiled"
    if _replicas(model) > 1:
        return "a multi-replica distribution strategy"
    x, y = arguments["x"], arguments["y"]
    if not (_in_memory(x) and _in_memory(y)):
        return "x and y are not in-memory arrays or tensors"
    if len(x) != len(y) or len(y) < (arguments["batch_size"] or 32):
        return "x and y differ in length, or hold less than one batch"
    for key in _UNSUPPORTED_WHEN_SET:
        if arguments[key] is not None:
            return f"{key} is set"
    if arguments["validation_split"] or arguments["validation_freq"] != 1:
        return "validation_split or validation_freq is set"
    if not isinstance(arguments["shuffle"], bool):
        return f"shuffle={arguments['shuffle']!r}"
    validation = arguments["validation_data"]
    if validation is not None and not (_is_pair(validation) and all(_in_memory(v) for v in validation)):
        return "validation_data is not an (x, y) pair of arrays"
    return None


_in_memory = fit_checks.is_in_memory


def _is_pair(value):
    return isinstance(value, (tuple, list)) and len(value) == 2


def _replicas(model):
    """How many replicas the model trains on: its tf.distribute strategy's (2 stands for any Keras distribution)."""
    if keras.backend.backend() != "tensorflow":
        return 1 if keras.distribution.distribution() is None else 2  # stock fit knows how
    strategy = getattr(model, "distribute_strategy", None)  # the strategy whose scope built the model
    return strategy.num_replicas_in_sync if strategy is not None else 1


def _fit_compiled(model, *, x, y, batch_size, epochs, verbose, callbacks, validation_data, shuffle, initial_epoch,
                  validation_batch_size, **_):
    batch_size = 32 if batch_size is None else batch_size  # Keras's default (0 was refused by fit)
    verbose = 1 if verbose == "auto" else verbose
    n = len(y)
    x, y = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)  # moved once, not every epoch
    callback_list = callbacks if isinstance(callbacks, keras.callbacks.CallbackList) else \
        keras.callbacks.CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=model,
                                     verbose=verbose, epochs=epochs, steps=-(-n // batch_size))
    model.stop_training = False
    callback_list.on_train_begin()
    logs = {}
    for epoch in range(initial_epoch, epochs):
        callback_list.on_epoch_begin(epoch)
        order = np.random.permutation(n) if shuffle else None
        logs = compiled_epoch.fit_epoch(model, x, y, batch_size=batch_size, order=order)
        if validation_data is not None:
            scores = model.evaluate(*validation_data, batch_size=validation_batch_size or batch_size, verbose=0,
                                    return_dict=True)
            logs.update({f"val_{key}": float(value) for key, value in scores.items()})
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    return model.history


def _warn_about_penalty_scaling(model, x):
    """The book's λ/n uses n, the training-set size the model was built for: say so when x is another size."""
    try:
        n = len(x)
    except TypeError:
        return
    penalties = [layer.kernel_regularizer for layer in model.layers
                 if isinstance(getattr(layer, "kernel_regularizer", None), _TrainingSetPenalty)]
    if penalties and penalties[0].lmbda and penalties[0].n != n:
        built = penalties[0].n
        warnings.warn(
            f"{model.name} was built with n_train={built} (the n of the book's λ/n penalty), and is fitted on "
            f"{n} examples: the penalty is {built / n:.3g}x {'weaker' if built > n else 'stronger'} than the "
            f"book's scaling for this set. Build it with n_train={n} (nnzoo.build(..., n_train=len(x))) for the "
            f"book's scaling.",
            stacklevel=3,
        )
