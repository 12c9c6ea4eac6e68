"""The Keras rows: nnzoo's own training path, stock ``model.fit``, and SavedModel serving."""

import shutil
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

import nnzoo
from nnzoo import losses
from nnzoo.epoch import fit_epoch


def nnzoo_model(name, seed):
    """``nnzoo.build(name)`` as compiled by nnzoo (book cost, SGD(η), steps_per_execution=100)."""
    return nnzoo.build(name, seed=seed)


def stock_model(name, config, seed):
    """The same architecture compiled the stock way: plain SGD, the nnzoo cost, default settings.

    ``steps_per_execution`` stays at Keras's default of 1. The accuracy metric
    nnzoo compiles is kept, so the only difference from nnzoo's row is what nnzoo
    changes in ``compile`` and ``fit`` (steps per execution, no in-fit shuffle).
    """
    model = nnzoo.build(name, compile=False, seed=seed)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=config["eta"]),
        loss=losses.get(config["cost"]),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def nnzoo_pass(model, x, y, order=None, batch_size=10):
    """One epoch the way ``nnzoo.train`` runs it: ``nnzoo.epoch.fit_epoch`` over the resident set in ``order``."""
    fit_epoch(model, x, y, order=order, batch_size=batch_size)


def nnzoo_fit_pass(model, x, y, batch_size=10):
    """One epoch of ``model.fit`` on the model as ``nnzoo.build`` makes it (its fit runs the compiled epoch)."""
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)


def stock_pass(model, x, y, batch_size=10):
    """One epoch of stock ``keras.Model.fit`` with default settings (``shuffle=True``).

    Called through ``keras.Model`` explicitly: an nnzoo network's own ``fit`` is the compiled epoch.
    """
    keras.Model.fit(model, x, y, batch_size=batch_size, epochs=1, verbose=0)


def serving_throughput(name, images, *, batch_sizes=(1, 1000), calls=None, repeats=5, warmup_calls=None,
                       seed=0, log=print):
    """Images/s of ``nnzoo.export``'s ``serving_default`` signature, per batch size.

    The model (``nnzoo.build(name, seed=seed)``; weights do not change the cost
    of a forward pass) is exported to a temporary directory and reloaded with
    ``tf.saved_model.load``. For each batch size: ``warmup_calls`` untimed
    calls, then ``repeats`` timed runs of ``calls`` calls each on pre-made
    float32 tensors; the median run gives images/s and the per-call latency.
    """
    import tensorflow as tf

    calls = dict(calls or {})
    warmup_calls = dict(warmup_calls or {})
    tmp = Path(tempfile.mkdtemp(prefix="nnzoo-bench-"))
    try:
        model = nnzoo.build(name, seed=seed)
        version_dir = nnzoo.export(model, tmp / name)
        serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
        rows = []
        for batch in batch_sizes:
            n_calls = calls.get(batch, 100)
            n_batches = max(1, min(len(images) // batch, 100))
            tensors = [tf.constant(images[i * batch:(i + 1) * batch]) for i in range(n_batches)]
            for i in range(warmup_calls.get(batch, 5)):
                serve(image=tensors[i % n_batches])
            seconds = []
            for _ in range(repeats):
                started = time.perf_counter()
                for i in range(n_calls):
                    serve(image=tensors[i % n_batches])
                seconds.append(time.perf_counter() - started)
            median = float(np.median(seconds))
            row = dict(net=name, batch_size=batch, calls_per_repeat=n_calls, repeats=repeats,
                       seconds=seconds, images_per_second=batch * n_calls / median,
                       latency_ms=1000.0 * median / n_calls)
            log(f"  serving {name} batch {batch}: {row['images_per_second']:,.0f} images/s, "
                f"{row['latency_ms']:.3f} ms/call")
            rows.append(row)
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
