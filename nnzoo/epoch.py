"""One SGD epoch as one compiled program: nnzoo's fast path at the book's mini-batch of 10.

At 10 images a step, a training step is a few microseconds of arithmetic
wrapped in tens to hundreds of microseconds of per-step overhead (Python,
the input pipeline, one graph launch per step or per ``steps_per_execution``
steps). ``fit_epoch`` removes that overhead: the whole epoch, every mini-batch
slice and every ``model.train_step`` of it, is one compiled loop over the
training set held in memory (on the device, under JAX). The step is Keras's
own ``train_step``, so the cost, the optimizer update, dropout and the
metrics are exactly those of ``model.fit``; only the driving loop changes.
One exception, the same update computed more cheaply: with plain SGD, nnzoo's
L2 penalties are applied as the book's weight decay,
w ← w − η·∂C₀/∂w − η·(λ/n)·w (network2.py's own line), instead of being
differentiated from a Σw² added to every step's loss. On the 2-core CPU it is
several times faster than ``fit`` with ``steps_per_execution=100`` on the
dense nets and 1.1-1.3x on the conv nets (``bench/``, ``docs/PERFORMANCE.md``).

Backends: TensorFlow (``tf.function`` around a ``tf.range`` loop, XLA-compiled
unless the model has convolutions on a CPU) and JAX (``jax.jit`` around
``lax.fori_loop`` with the stateless ``train_step``). On both,
``fit_epochs_lockstep`` steps several models together in one compiled epoch
(the book's three runs, the ensemble's members). Any other backend falls back
to ``model.fit``.

Example:

>>> import numpy as np, nnzoo
>>> from nnzoo.epoch import fit_epoch
>>> model = nnzoo.build("shallow_sigmoid")
>>> x = np.random.rand(100, 28, 28, 1).astype("float32")
>>> y = np.random.randint(0, 10, 100)
>>> logs = fit_epoch(model, x, y, batch_size=10)  # 10 SGD steps, in order
>>> sorted(logs)
['accuracy', 'loss']
"""

import contextlib
import functools

import keras
import numpy as np

from nnzoo import fit_checks

__all__ = ["fit_epoch", "fit_epochs_lockstep", "single_threaded_ops", "supported"]

_CACHE_ATTRIBUTE = "_nnzoo_epoch_functions"


THREADS_ENV_VAR = "NNZOO_INTRA_OP_THREADS"


def single_threaded_ops(threads=None):
    """Run each TensorFlow op on ``threads`` threads (default 1), process-wide.

    At the book's mini-batch of 10 every op is tiny, and handing it to a pool
    of threads costs more than it saves. On the project's 2-core CPU, one
    thread per op made the compiled epoch 1.2-1.35x faster (shallow_sigmoid
    192,000 -> 257,000 images/s, deep_sigmoid_4 98,000 -> 120,000, conv2
    5,300 -> 6,500). Large batches (e.g. serving 1,000 images at a time) want
    the default instead, so only the training entry points set it:
    ``nnzoo.train`` (and so ``nnzoo train``) and the recipes. The environment
    variable ``NNZOO_INTRA_OP_THREADS`` overrides ``threads`` (``0`` keeps
    TensorFlow's default).

    It must run before TensorFlow executes anything. Returns the thread count
    applied, or ``None`` when nothing changed (another backend, ``0``, or
    TensorFlow already running, which is left as it is).
    """
    import os

    requested = os.environ.get(THREADS_ENV_VAR)
    if requested is not None:
        if not requested.strip().isdigit():
            raise ValueError(f"{THREADS_ENV_VAR} must be a whole number of threads (0 = TensorFlow's default). "
                             f"Received: {requested!r}.")
        threads = int(requested)
    threads = 1 if threads is None else threads
    if threads == 0 or keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow's runtime has started: too late, keep it as it is
        return None
    return threads


def supported():
    """Whether the current Keras backend has the compiled epoch (TF or JAX)."""
    return keras.backend.backend() in ("tensorflow", "jax")


def _resolve_jit(model, jit_compile):
    if keras.backend.backend() == "jax":
        return True
    if jit_compile != "auto":
        return jit_compile
    import tensorflow as tf

    has_convolutions = any(isinstance(layer, keras.layers.Conv2D) for layer in _all_layers(model))
    return not has_convolutions or bool(tf.config.list_logical_devices("GPU"))


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def _check(model, x, y, batch_size, jit_compile, verbose):
    if verbose not in (0, 1):
        raise ValueError(f"verbose must be 0 or 1. Received: verbose={verbose!r}.")
    if jit_compile not in ("auto", True, False):
        raise ValueError(f"jit_compile must be 'auto', True or False. Received: jit_compile={jit_compile!r}.")
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", False):
        raise ValueError(
            f"fit_epoch needs a compiled model. Received: {model.name!r}, not compiled. "
            f"Build it with nnzoo.build(name) (which compiles it) or call model.compile(...)."
        )
    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer. Received: batch_size={batch_size!r}.")
    if len(x) != len(y):
        raise ValueError(
            f"x and y must hold the same number of examples. Received: {len(x)} images and {len(y)} labels."
        )
    if len(y) < batch_size:
        raise ValueError(
            f"The training set is smaller than one mini-batch. Received: {len(y)} examples, "
            f"batch_size={batch_size}."
        )


def _checked_data(models, x, y):
    """``(x, y)`` refused if there is nothing to fit, a NumPy ``x`` has a NaN or infinite pixel, or, for nnzoo's
    costs, ``y`` is not digits 0-9; one-hot ``y`` becomes the digits (``nnzoo.fit_checks``). A tensor ``x`` is
    taken as it is: it is moved to the device once and not re-read every epoch (``BookModel.fit`` checks it)."""
    if isinstance(x, np.ndarray):
        fit_checks.check_images(x)
    elif not len(x):
        raise ValueError(f"x holds no images (shape {tuple(x.shape)}): there is nothing to fit.")
    if all(fit_checks.takes_digits(model) for model in models):
        y = fit_checks.labels(y)
    return x, y


def _weight_decays(model):
    """``[(index into model.trainable_variables, decay_rate)]`` for the penalties to run as weight decay.

    An L2 penalty c·Σw² adds 2c·w to a weight's gradient. With plain SGD that
    is the book's own update, w ← w − η·∂C₀/∂w − η·2c·w, and applying it that
    way skips the per-step Σw², which XLA reduces on the CPU as a serial loop
    (~100 µs a step for network2's 78,400 weights: 2.4x the whole step). The
    penalties that allow it say so with a ``decay_rate`` (nnzoo's L2 ones).
    Any other optimizer setting (momentum, clipping, decay, schedules...) keeps
    the penalty in the loss, as ``fit`` does.
    """
    optimizer = model.optimizer
    plain_sgd = (
        type(optimizer) is keras.optimizers.SGD
        and not optimizer.momentum
        and optimizer.weight_decay is None
        and optimizer.clipnorm is None and optimizer.clipvalue is None and optimizer.global_clipnorm is None
        and not optimizer.use_ema
        and not optimizer.gradient_accumulation_steps
        and isinstance(optimizer.learning_rate, keras.Variable)
    )
    if not plain_sgd:
        return []
    return [(index, float(variable.regularizer.decay_rate))
            for index, variable in enumerate(model.trainable_variables)
            if getattr(variable.regularizer, "decay_rate", None) is not None]


@contextlib.contextmanager
def _penalties_as_decay(models, decays):
    """While tracing the epoch, take the decayed penalties out of the loss (the step applies them)."""
    saved = [(variable, variable.regularizer) for model in models
             for variable in (model.trainable_variables[index] for index, _ in decays)]
    for variable, _ in saved:
        variable.regularizer = None
    try:
        yield
    finally:
        for variable, regularizer in saved:
            variable.regularizer = regularizer


@contextlib.contextmanager
def _fused_sgd_update(optimizer):
    """While tracing a TensorFlow step, apply plain SGD with one fused kernel per variable.

    Keras's SGD computes ``η·g`` into a new tensor and then subtracts it from
    the weights: two passes over memory per variable. TensorFlow's
    ``ResourceApplyGradientDescent`` makes the same update, ``w ← w − η·g``, in
    one pass over ``w`` and ``g``. In a plain graph (the conv nets on a CPU,
    where XLA, which fuses the two anyway, is not used) that matters for the big
    fully-connected layers: ``conv2_dropout``'s 1.6 M weights made its step
    ~13% slower (``docs/PERFORMANCE.md``).
    """
    import tensorflow as tf

    if type(optimizer) is not keras.optimizers.SGD or optimizer.momentum:
        yield
        return

    def update_step(gradient, variable, learning_rate):
        handle = variable.handle if hasattr(variable, "handle") else variable.value.handle
        tf.raw_ops.ResourceApplyGradientDescent(var=handle, alpha=tf.cast(learning_rate, variable.dtype),
                                                delta=tf.cast(gradient, variable.dtype))

    optimizer.update_step = update_step
    try:
        yield
    finally:
        del optimizer.update_step


def _tensorflow_epoch(models, batch_size, jit_compile, decays):
    """The compiled epoch under TensorFlow, for one model or several stepped together.

    Several models make one graph whose every step runs each model's
    ``train_step`` on its mini-batch. Their steps are independent, so
    TensorFlow's inter-op threads run them side by side: on the 2-core CPU
    three ``conv2`` runs train in ~0.7x the time of three separate epochs.
    """
    import tensorflow as tf

    def train_step(model, batch):
        variables = model.trainable_variables
        before = [tf.identity(variables[index].value) for index, _ in decays]
        with _fused_sgd_update(model.optimizer):
            model.train_step(batch)
        if decays:
            eta = tf.cast(model.optimizer.learning_rate, before[0].dtype)
            for (index, rate), weights in zip(decays, before):
                variables[index].assign_sub(eta * rate * weights)

    def rows(tensor, start, size):
        # tf.slice, not tensor[a:b]: XLA turns a dynamic strided slice into a slow gather.
        return tf.slice(tensor, [start] + [0] * (tensor.shape.rank - 1), [size, *tensor.shape[1:]])

    @tf.function(jit_compile=jit_compile)
    def run(x, y, order):  # one trace per set size, for no order, one order or one per model
        n = (y if order is None else order).shape[-1]

        def batches(start, size):
            if order is None:
                return [(rows(x, start, size), rows(y, start, size))] * len(models)
            if order.shape.rank == 1:
                indices = rows(order, start, size)
                return [(tf.gather(x, indices), tf.gather(y, indices))] * len(models)
            indices = tf.slice(order, [0, start], [len(models), size])
            return [(tf.gather(x, indices[k]), tf.gather(y, indices[k])) for k in range(len(models))]

        def step(start, size):
            for model, batch in zip(models, batches(start, size)):
                train_step(model, batch)

        full = n // batch_size
        if full:  # a set smaller than one mini-batch would fail the slices' static shape checks
            for i in tf.range(full):
                step(i * batch_size, batch_size)
        if n % batch_size:  # the book's last, smaller mini-batch
            step(full * batch_size, n % batch_size)
        return tf.constant(0)

    def epoch(x, y, order):
        run(tf.convert_to_tensor(x), tf.convert_to_tensor(y),
            None if order is None else tf.convert_to_tensor(order, tf.int32))

    return epoch


def _jax_epoch(model, batch_size, jit_compile, decays, members=1):
    """The compiled epoch under JAX; with ``members`` > 1, that many models of this
    architecture step in lockstep, their states stacked and ``train_step`` vmapped
    (over the mini-batches too when each model has its own order)."""
    import jax
    import jax.numpy as jnp

    del jit_compile  # always compiled: the loop is lax.fori_loop
    eta_index = next((i for i, v in enumerate(model.optimizer.variables) if v is model.optimizer.learning_rate),
                     None)

    def decayed_train_step(state, batch):
        logs, new_state = model.train_step(state, batch)
        if decays:
            trainable, eta = list(new_state[0]), state[2][eta_index]
            for index, rate in decays:
                trainable[index] = trainable[index] - eta * rate * state[0][index]
            new_state = (trainable, *new_state[1:])
        return logs, new_state

    def run(state, x, y, order):
        n = (y if order is None else order).shape[-1]
        own_batches = order is not None and order.ndim == 2  # one order per model
        train_step = decayed_train_step if members == 1 else \
            jax.vmap(decayed_train_step, in_axes=(0, 0 if own_batches else None))

        def batch(start, size):
            if order is None:
                return (jax.lax.dynamic_slice_in_dim(x, start, size), jax.lax.dynamic_slice_in_dim(y, start, size))
            indices = jax.lax.dynamic_slice_in_dim(order, start, size, axis=-1)
            return x[indices], y[indices]

        full = n // batch_size
        if full:
            state = jax.lax.fori_loop(0, full, lambda i, state: train_step(state, batch(i * batch_size,
                                                                                    batch_size))[1], state)
        if n % batch_size:
            state = train_step(state, batch(full * batch_size, n % batch_size))[1]
        return state

    compiled = jax.jit(run, donate_argnums=0)

    def variables(each):
        return (each.trainable_variables, each.non_trainable_variables,
                each.optimizer.variables, each.metrics_variables)

    def epoch(x, y, order, models=(model,)):
        states = [tuple([v.value for v in group] for group in variables(each)) for each in models]
        state = states[0] if members == 1 else jax.tree.map(lambda *values: jnp.stack(values), *states)
        state = compiled(state, x, y, None if order is None else jnp.asarray(order, jnp.int32))
        for index, each in enumerate(models):
            mine = state if members == 1 else jax.tree.map(lambda value: value[index], state)
            for group, values in zip(variables(each), mine):
                for variable, value in zip(group, values):
                    variable.assign(value)

    return epoch


_PROGRESS_CHUNKS = 20


def _chunks(n, batch_size, verbose):
    """[start, stop) ranges that cover the set: one, or ~20 whole-mini-batch pieces to show progress."""
    if not verbose:
        return [(0, n)]
    size = max(batch_size, n // _PROGRESS_CHUNKS // batch_size * batch_size)
    return [(start, min(start + size, n)) for start in range(0, n, size)]


def _start_epoch(model, x, y, batch_size):
    """Build the optimizer and compiled metrics as fit would, without a step; restart the metrics."""
    model._symbolic_build(data_batch=(x[:batch_size], y[:batch_size], None))
    model.reset_metrics()


def _run_in_pieces(epoch, x, y, order, batch_size, verbose):
    """Call the compiled ``epoch`` over the set, in ~20 pieces under a progress bar when verbose."""
    n = len(y) if order is None else order.shape[-1]
    bar = keras.utils.Progbar(n, unit_name="image") if verbose else None
    for start, stop in _chunks(n, batch_size, verbose):
        if order is None:
            epoch(x[start:stop], y[start:stop], None)
        else:
            epoch(x, y, order[..., start:stop])
        if bar:
            bar.update(stop)


def _check_order(order, n, batch_size, models=1):
    """``order`` as NumPy int32 indices: ``None``, one order, or (lockstep) one order per model."""
    if order is None:
        return None
    try:
        values = np.asarray(order)
    except ValueError:  # orders of different lengths
        values = np.asarray(order, dtype=object)
    shapes = "a 1-D array of integer indices into x" + (
        f", or {models} of them of one length (one per model)" if models > 1 else "")
    if values.ndim not in ((1, 2) if models > 1 else (1,)) or not np.issubdtype(values.dtype, np.integer) \
            or (values.ndim == 2 and len(values) != models):
        raise ValueError(f"order must be {shapes}. Received: an array of shape {values.shape} and dtype "
                         f"{values.dtype}.")
    if values.shape[-1] < batch_size:
        raise ValueError(f"order must select at least one mini-batch. Received: {values.shape[-1]} indices, "
                         f"batch_size={batch_size}.")
    if values.min() < 0 or values.max() >= n:
        raise ValueError(f"order holds indices outside the {n} examples of x. Received: indices from "
                         f"{values.min()} to {values.max()}; expected 0 to {n - 1}.")
    return values.astype(np.int32, copy=False)


def _logs(model, decays):
    logs = {name: float(keras.ops.convert_to_numpy(value)) for name, value in model.get_metrics_result().items()}
    if decays and "loss" in logs:  # the decayed penalties were not in the steps' loss: add their final value
        variables = model.trainable_variables
        logs["loss"] += sum(float(keras.ops.convert_to_numpy(variables[index].regularizer(variables[index])))
                            for index, _ in decays)
    return logs


def fit_epoch(model, x, y, *, batch_size=10, order=None, jit_compile="auto", verbose=0):
    """Train ``model`` for one epoch of plain mini-batch SGD over ``(x, y)`` in the given order.

    The mini-batches are ``x[0:m], x[m:2m], ...`` (the last one smaller when
    ``m`` does not divide the set, as in the book), or, with ``order``, the
    examples ``order[0:m], order[m:2m], ...``: pass a fresh permutation each
    epoch for the chapter 1-5 protocol and the data never moves (with ``x``
    and ``y`` already backend tensors, e.g. ``keras.ops.convert_to_tensor``,
    nothing is copied per epoch). Each step is ``model.train_step``, the same update
    ``model.fit`` makes. The compiled epoch is cached on the model, so only the
    first epoch of a given set size pays the compilation (a few seconds).

    Args:
        model: a compiled Keras model (``nnzoo.build`` compiles).
        x: float32 images, shape ``(n, 28, 28, 1)`` for the nnzoo networks: a
            NumPy array or a tensor of the backend.
        y: integer labels, shape ``(n,)`` (or whatever the model's loss takes;
            with nnzoo's costs, digits 0-9 or one-hot rows ``(n, 10)``, else a
            ``ValueError``). A NumPy ``x`` with a NaN or infinite pixel is refused.
        batch_size: the mini-batch size ``m`` (the book's 10).
        order: optional integer indices into ``x``: the epoch visits
            ``x[order]`` without building it (``None``: ``x`` as it is).
        jit_compile: compile the epoch with XLA. ``"auto"`` (default): always
            under JAX; under TensorFlow unless the model has convolutions and
            no GPU is visible (XLA's CPU convolutions are ~20x slower than
            TensorFlow's oneDNN kernels at this batch size, so those run the
            same loop as a plain TensorFlow graph).
        verbose: 1 shows a progress bar, advanced ~20 times an epoch (the
            epoch then runs as ~20 compiled calls of whole mini-batches, the
            same steps in the same order); 0 (default) is silent.

    Returns:
        A dict of Python floats: the epoch's running training ``loss`` and the
        compiled metrics (``accuracy`` for the nnzoo networks), as ``fit``
        reports them. Where the L2 penalty ran as weight decay (see the
        module's docstring), ``loss`` is the mean mini-batch cost C₀ plus the
        penalty of the weights at the end of the epoch (``fit`` averages the
        penalty over the steps instead; the two differ by how much the
        penalty moved during the epoch).
    """
    x, y = _checked_data([model], x, y)
    _check(model, x, y, batch_size, jit_compile, verbose)
    order = _check_order(order, len(y), batch_size)
    # Without Keras's _symbolic_build (see _start_epoch), or on another backend, use fit itself.
    if not supported() or not hasattr(model, "_symbolic_build"):
        x, y = (np.asarray(a) if order is None else np.asarray(a)[order] for a in (x, y))
        history = model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False,
                            verbose=1 if verbose else 0).history
        return {key: float(values[-1]) for key, values in history.items()}
    _start_epoch(model, x, y, batch_size)
    decays = _weight_decays(model)
    functions = model.__dict__.setdefault(_CACHE_ATTRIBUTE, {})
    key = (batch_size, _resolve_jit(model, jit_compile), tuple(decays))
    if key not in functions:
        functions[key] = (_tensorflow_epoch([model], *key) if keras.backend.backend() == "tensorflow"
                          else _jax_epoch(model, *key))
    with _penalties_as_decay([model], decays):
        _run_in_pieces(functions[key], x, y, order, batch_size, verbose)
    return _logs(model, decays)


def fit_epochs_lockstep(models, x, y, *, batch_size=10, order=None, verbose=0):
    """One epoch for each of several same-architecture models, stepped together.

    The book's protocols train several copies of one network on the same
    data: three runs per experiment and the ensemble's five members. Here one
    compiled epoch steps all of them: each mini-batch step runs every model's
    ``train_step``, so each model gets exactly the updates it would get alone
    with ``fit_epoch`` (dropout masks included: each model has its own seed
    state). Under TensorFlow the models' steps are one graph and run side by
    side on the CPU's cores (2 cores: three ``conv2`` runs in ~0.7x the time
    of three separate epochs, dense nets in the same time, ``bench/probes/lockstep.py``);
    under JAX their states are
    stacked and ``train_step`` is vmapped (on a GPU, k models for little more
    than the time of one).

    Args:
        models: compiled models of one architecture, learning rate and
            penalty, e.g. ``[nnzoo.build("conv2_relu", seed=s) for s in (0, 1, 2)]``.
        x, y, batch_size, verbose: as ``fit_epoch``: the same training set for
            every model.
        order: ``None`` (the set as it is), one order for every model (a 1-D
            array of indices, as ``fit_epoch``), or one order per model (a
            sequence of ``len(models)`` such arrays of one length, or a 2-D
            array): the chapter 1-5 runs, each reshuffled with its own seed.

    Returns:
        One logs dict per model, as ``fit_epoch`` returns.

    Example:

    >>> models = [nnzoo.build("conv2_dropout", seed=s) for s in range(5)]  # doctest: +SKIP
    >>> logs = fit_epochs_lockstep(models, x, y)  # doctest: +SKIP
    """
    models = list(models)
    if not models:
        raise ValueError("fit_epochs_lockstep needs at least one model. Received: an empty list.")
    x, y = _checked_data(models, x, y)
    for model in models:
        _check(model, x, y, batch_size, "auto", verbose)
    order = _check_order(order, len(y), batch_size, models=len(models))
    shapes = [tuple(tuple(v.shape) for v in model.weights) for model in models]
    etas = {float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) for model in models}
    decays = {tuple(_weight_decays(model)) for model in models}
    if len(set(shapes)) > 1 or len(etas) > 1 or len(decays) > 1:
        raise ValueError(
            f"Models trained in lockstep must share one architecture, learning rate and L2 penalty. Received: "
            f"{[model.name for model in models]} with learning rates {sorted(etas)} and "
            f"{len(decays)} different penalties."
        )
    decays = decays.pop()
    if len(models) == 1 or not supported() or not hasattr(models[0], "_symbolic_build"):
        orders = [order] * len(models) if order is None or order.ndim == 1 else list(order)
        return [fit_epoch(model, x, y, batch_size=batch_size, order=own, verbose=verbose)
                for model, own in zip(models, orders)]
    template = models[0]
    for model in models:
        _start_epoch(model, x, y, batch_size)
    functions = template.__dict__.setdefault(_CACHE_ATTRIBUTE, {})
    if keras.backend.backend() == "tensorflow":
        # The graph holds these very models: the key names them (the cache on the first keeps them alive).
        key = (batch_size, _resolve_jit(template, "auto"), decays, tuple(id(model) for model in models))
        if key not in functions:
            functions[key] = _tensorflow_epoch(models, *key[:3])
        epoch = functions[key]
    else:
        key = (batch_size, True, decays, len(models))
        if key not in functions:
            functions[key] = _jax_epoch(template, *key[:3], members=len(models))
        epoch = functools.partial(functions[key], models=models)
    with _penalties_as_decay(models, decays):
        _run_in_pieces(epoch, x, y, order, batch_size, verbose)
    return [_logs(model, decays) for model in models]
