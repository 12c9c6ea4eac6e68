"""The book's figures, drawn from nnzoo run directories and trained models.

Every function returns a ``matplotlib.figure.Figure`` drawn on the Agg canvas
(no display, no pyplot state) and, given ``out=``, also writes it as a PNG.
matplotlib is imported only when a function is called, so ``import nnzoo``
never needs it (``pip install -e ".[plots]"``).

A *run* is a run directory written by ``nnzoo.train`` or ``nnzoo train`` (it
holds ``history.json``), a ``history.json`` file, a directory of several runs
(``run-1/``, ``run-2/``, ... with the ``summary.json`` that names the best),
or a history itself (a list of per-epoch dicts). Accuracies are fractions in
the histories and are drawn in percent, as the book draws them.

============================  =====================================================
function                      the book's figures (P8 ... P38)
============================  =====================================================
``accuracy_curves``           P23/P24 (old vs new init), P37 (tanh vs sigmoid),
                              P38 (the chapter 6 ladder)
``overfitting``               P8-P11 (C3-07), P13/P14 (C3-09, L2)
``train_vs_test``             P12 (C3-08), P15 (C3-10)
``training_costs``            P25 (three learning rates, C3-22)
``filters``                   P35 (the first layer's 5×5 filters)
``misclassified``             P34 (the ensemble's misclassified test digits)
``layer_speeds``              P30-P32 (speed vs epoch); ``kind="bars"``: P29
============================  =====================================================

Example:

>>> from nnzoo import plots
>>> fig = plots.accuracy_curves(["docs/runs/h100/conv2", "docs/runs/h100/conv2_tanh"],
...                             labels=["sigmoid", "tanh"], out="p37.png")  # doctest: +SKIP
>>> fig = plots.overfitting("runs/experiments/C3-07", out="overfitting.png")  # doctest: +SKIP
"""

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from nnzoo import rundir
from nnzoo.rundir import RunDir

__all__ = [
    "load_history",
    "output_path",
    "accuracy_curves",
    "overfitting",
    "train_vs_test",
    "training_costs",
    "filters",
    "misclassified",
    "vote",
    "layer_speeds",
]

#: The keys ``nnzoo.train(..., monitor=True)`` adds to every epoch.
MONITOR_KEYS = ("training_cost", "training_accuracy", "validation_cost", "test_cost")

# The book's plotting scripts (overfitting.py, multiple_eta.py) use these colours.
_BLUE, _ORANGE, _YELLOW, _RED = "#2A6EA6", "#FFA933", "#FFCD33", "#FF7033"
_COLORS = (_BLUE, _ORANGE, "#3A9D3A", _RED, "#8E5BB5", "#7F7F7F", "#D4A017", "#17BECF")
DPI = 100


# --------------------------------------------------------------------------- helpers


def _figure(width, height):
    """A Figure on the Agg canvas, outside pyplot (nothing to close, no display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, out):
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=DPI)
    return fig


def output_path(out, run, kind):
    """Where ``nnzoo plot --kind KIND RUN --out OUT`` writes: ``OUT``, or ``OUT/NAME-KIND.png`` for a directory.

    ``NAME`` is the run's directory name. A dangling symbolic link as ``OUT``
    is refused, naming where it points.
    """
    out = Path(out)
    if out.is_symlink() and not out.exists():
        raise ValueError(f"--out {out} is a broken symbolic link (to {os.readlink(out)!r}, which does not exist). "
                         f"Remove the link, or pass another --out.")
    if out.is_dir():
        source = Path(run)
        name = (source.parent if source.is_file() else source).resolve().name or "plot"
        return out / f"{name}-{kind}.png"
    return out


def _read_history(path):
    """A history file given by its path (a run directory's is read by ``RunDir.history``)."""
    history = rundir.read_json(path, "a run's history")
    if not isinstance(history, list) or not all(isinstance(entry, Mapping) for entry in history):
        raise ValueError(f"{str(path)!r} is not a run history: expected a list of per-epoch objects, as nnzoo.train "
                         f"writes, received a JSON {type(history).__name__}.")
    return history


def _history_source(run):
    """(history list, a short name) of one run."""
    if isinstance(run, Sequence) and not isinstance(run, (str, bytes)):
        history = list(run)
        if not all(isinstance(entry, Mapping) for entry in history):
            raise ValueError("A history must be a list of per-epoch dicts (history.json's content).")
        return history, "history"
    path = Path(run)
    if path.is_file():
        return _read_history(path), path.parent.name or str(path)
    if not path.is_dir():
        raise FileNotFoundError(
            f"No such run: {str(path)!r}. Expected a run directory holding history.json "
            f"(written by nnzoo.train / nnzoo train) or a history.json file."
        )
    directory = RunDir(path)
    if directory.history_file.is_file():
        return directory.history(), path.name
    runs = [run.path.name for run in directory.runs()]
    members = [member.path.name for member in directory.members()]
    best = directory.best_run() if runs and directory.summary_file.is_file() else None
    if best is not None and best.history_file.is_file():
        return best.history(), path.name
    if runs:
        raise ValueError(
            f"{path} holds runs ({', '.join(runs)}) and no summary.json naming the best; "
            f"pass one of them, e.g. {path / runs[0]}."
        )
    if members:
        raise ValueError(
            f"{path} is an ensemble: its members ({', '.join(members)}) have histories, the vote has none; "
            f"pass member directories, e.g. {path / members[0]}."
        )
    raise ValueError(f"{path} holds no history.json: is it a run directory written by nnzoo.train?")


def load_history(run):
    """The per-epoch history of a run (see the module docstring for what a run is).

    >>> history = load_history("docs/runs/h100/conv2")  # doctest: +SKIP
    >>> history[0]["validation_accuracy"]  # doctest: +SKIP
    0.9091
    """
    return _history_source(run)[0]


def _require(history, key, name, hint=None):
    if not history:
        raise ValueError(f"The run {name!r} has no completed epoch yet.")
    missing = [entry.get("epoch", i) for i, entry in enumerate(history) if key not in entry]
    if missing:
        if hint is None and key in MONITOR_KEYS:
            hint = "train it with monitor=True (nnzoo.train(..., monitor=True))"
        keys = ", ".join(sorted(history[0]))
        raise ValueError(
            f"The run {name!r} has no {key}" + (f": {hint}" if hint else "")
            + f". Its history records: {keys}."
        )


def _series(history, key, percent=False, xmin=0):
    epochs = np.array([entry.get("epoch", i) for i, entry in enumerate(history)])
    values = np.array([float(entry[key]) for entry in history], dtype=float)
    if percent:
        values = 100.0 * values
    keep = epochs >= xmin
    return epochs[keep], values[keep]


def _start(history, xmin):
    """``xmin`` when the run reaches it, else 0 (a short run is drawn whole)."""
    last = history[-1].get("epoch", len(history) - 1)
    return xmin if xmin <= last else 0


def _pretty(key):
    return key.replace("_", " ").capitalize()


def _as_list(runs):
    if isinstance(runs, (str, Path)) or (
        isinstance(runs, Sequence) and runs and isinstance(runs[0], Mapping)
    ):
        return [runs]
    return list(runs)


def _labels(labels, names, count):
    if labels is None:
        return names
    labels = [labels] if isinstance(labels, str) else list(labels)
    if len(labels) != count:
        raise ValueError(f"Got {len(labels)} labels for {count} runs. Received: labels={labels!r}.")
    return labels


def _epoch_axis(ax):
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("Epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)


# --------------------------------------------------------------------------- history figures


def accuracy_curves(run_dirs, metric="validation_accuracy", labels=None, *, title=None, ylim=None,
                    reference=None, out=None):
    """Per-epoch accuracy of several runs, one line each (P23, P37, P38).

    Args:
        run_dirs: runs (directories, history.json files or histories).
        metric: any accuracy key of the histories: ``validation_accuracy``,
            ``test_accuracy``, ``accuracy`` (Keras's running training
            value) or, for monitored runs, ``training_accuracy``.
        labels: legend labels (default: the directory names).
        title: the axes title.
        ylim: ``(low, high)`` in percent, e.g. ``(97, 100)``.
        reference: ``{label: accuracy}`` (fractions) drawn as dashed
            horizontal lines, e.g. the book's numbers or an ensemble's vote.
        out: write the figure to this PNG file.

    Example (P37, tanh vs sigmoid):

    >>> fig = accuracy_curves(["docs/runs/h100/conv2", "docs/runs/h100/conv2_tanh"],
    ...                       labels=["sigmoid", "tanh"])  # doctest: +SKIP
    """
    if not metric.endswith("accuracy"):
        raise ValueError(
            f"metric must be an accuracy key such as 'validation_accuracy' or 'test_accuracy'. "
            f"Received: metric={metric!r}. For costs use training_costs()."
        )
    sources = [_history_source(run) for run in _as_list(run_dirs)]
    legend = len(sources) > 1 or labels is not None or bool(reference)
    labels = _labels(labels, [name for _, name in sources], len(sources))
    entries = len(sources) + len(reference or {})
    outside = legend and entries > 3
    fig = _figure(6.4, 4.2 + (0.22 * entries + 0.2 if outside else 0.0))
    ax = fig.add_subplot()
    for index, ((history, name), label) in enumerate(zip(sources, labels)):
        _require(history, metric, name, "train it with monitor=True" if metric == "training_accuracy" else None)
        x, y = _series(history, metric, percent=True)
        ax.plot(x, y, color=_COLORS[index % len(_COLORS)], label=label, lw=1.5)
    for index, (label, value) in enumerate((reference or {}).items()):
        ax.axhline(100 * value, color=_COLORS[(len(sources) + index) % len(_COLORS)], ls="--", lw=1.2,
                   label=label)
    _epoch_axis(ax)
    ax.set_ylabel(f"{_pretty(metric)} (%)")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_title(title or f"{_pretty(metric)} per epoch")
    if outside:  # many entries would hide the curves: list them under the axes
        fig.legend(loc="outside lower center", fontsize=9, frameon=False)
    elif legend:
        ax.legend(loc="lower right")
    return _save(fig, out)


def overfitting(run_dir, *, training_cost_xmin=200, test_accuracy_xmin=200, test_cost_xmin=0,
                training_accuracy_xmin=0, title=None, out=None):
    """The four overfitting panels of one monitored run (P8-P11; P13/P14 for the L2 run).

    Training cost, test accuracy, test cost and training accuracy per epoch,
    each from its own first epoch; the defaults are the book's
    (``overfitting.py``: the training cost and the test accuracy from epoch
    200). A run shorter than a panel's first epoch is drawn whole.

    Raises:
        ValueError: the run was trained without ``monitor=True``.

    Example (C3-07: network2 on 1,000 images for 400 epochs):

    >>> fig = overfitting("runs/experiments/C3-07", out="overfitting.png")  # doctest: +SKIP
    """
    history, name = _history_source(run_dir)
    for key in ("training_cost", "test_cost", "training_accuracy", "test_accuracy"):
        _require(history, key, name)
    panels = (
        ("training_cost", training_cost_xmin, False, "Cost on the training data"),
        ("test_accuracy", test_accuracy_xmin, True, "Accuracy (%) on the test data"),
        ("test_cost", test_cost_xmin, False, "Cost on the test data"),
        ("training_accuracy", training_accuracy_xmin, True, "Accuracy (%) on the training data"),
    )
    fig = _figure(10, 7)
    axes = fig.subplots(2, 2)
    last = history[-1].get("epoch", len(history) - 1)
    for ax, (key, xmin, percent, ylabel) in zip(axes.flat, panels):
        start = _start(history, xmin)
        x, y = _series(history, key, percent=percent, xmin=start)
        ax.plot(x, y, color=_BLUE, lw=1.3)
        _epoch_axis(ax)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{ylabel.replace(' (%)', '')}, epochs {start}-{last}")
    fig.suptitle(title or f"Overfitting: {name}", fontsize=13)
    return _save(fig, out)


def train_vs_test(run_dir, *, training_key="training_accuracy", xmin=0, ylim=None, title=None, out=None):
    """Training vs test accuracy per epoch of one run (P12, P15).

    ``training_key="training_accuracy"`` is network2's full pass over the
    training set after each epoch (recorded with ``monitor=True``);
    ``"accuracy"`` is Keras's running mean over the epoch's mini-batches,
    which every run has but which trails the end-of-epoch value.

    Example (C3-08, the unregularized net on all 50,000 images):

    >>> fig = train_vs_test("runs/experiments/C3-08", ylim=(90, 100))  # doctest: +SKIP
    """
    history, name = _history_source(run_dir)
    hint = ("train it with monitor=True, or pass training_key='accuracy' for Keras's running value"
            if training_key == "training_accuracy" else None)
    _require(history, training_key, name, hint)
    _require(history, "test_accuracy", name)
    start = _start(history, xmin)
    fig = _figure(6.4, 4.2)
    ax = fig.add_subplot()
    x, y = _series(history, "test_accuracy", percent=True, xmin=start)
    ax.plot(x, y, color=_BLUE, lw=1.5, label="Accuracy on the test data")
    x, y = _series(history, training_key, percent=True, xmin=start)
    suffix = "" if training_key == "training_accuracy" else " (running, during the epoch)"
    ax.plot(x, y, color=_ORANGE, lw=1.5, label=f"Accuracy on the training data{suffix}")
    _epoch_axis(ax)
    ax.set_ylabel("Accuracy (%)")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_title(title or f"Training vs test accuracy: {name}")
    ax.legend(loc="lower right")
    return _save(fig, out)


def training_costs(run_dirs, labels=None, *, xmin=0, log=False, title=None, out=None):
    """Training cost per epoch of several monitored runs, one line each (P25).

    Args:
        run_dirs: runs trained with ``monitor=True``.
        labels: legend labels (default: the directory names), e.g.
            ``["η = 0.025", "η = 0.25", "η = 2.5"]``.
        xmin: the first epoch drawn.
        log: a logarithmic cost axis.

    Example (C3-22, three learning rates):

    >>> fig = training_costs([f"runs/experiments/C3-22-eta{eta}" for eta in ("0.025", "0.25", "2.5")],
    ...                      labels=["η = 0.025", "η = 0.25", "η = 2.5"])  # doctest: +SKIP
    """
    sources = [_history_source(run) for run in _as_list(run_dirs)]
    labels = _labels(labels, [name for _, name in sources], len(sources))
    fig = _figure(6.4, 4.2)
    ax = fig.add_subplot()
    colors = (_BLUE, _YELLOW, _RED) if len(sources) <= 3 else _COLORS
    for index, ((history, name), label) in enumerate(zip(sources, labels)):
        _require(history, "training_cost", name)
        x, y = _series(history, "training_cost", xmin=_start(history, xmin))
        ax.plot(x, y, color=colors[index % len(colors)], lw=1.8, label=label)
    _epoch_axis(ax)
    ax.set_ylabel("Cost on the training data")
    if log:
        ax.set_yscale("log")
    ax.set_title(title or "Training cost per epoch")
    ax.legend(loc="upper right")
    return _save(fig, out)


# --------------------------------------------------------------------------- model figures


def _load_model(model_or_path):
    if hasattr(model_or_path, "predict"):
        return model_or_path
    import nnzoo  # noqa: F401  (registers nnzoo's costs, layers, initialisers)
    from nnzoo.weights_io import load_model

    return load_model(model_or_path, compile=False)


def filters(model_or_path, layer="conv_1", *, channel=0, ncols=10, shared_scale=False, title=None, out=None):
    """The learned filters of a convolutional layer as a grid of images (P35).

    Drawn as the book draws them: darker = larger weight, whiter = smaller
    (typically more negative). Each filter has its own grey scale unless
    ``shared_scale=True``.

    Args:
        model_or_path: a ``keras.Model``, a ``.keras`` file or a run directory.
        layer: the Conv2D layer's name (``conv_1`` is the first).
        channel: which input channel's weights to draw for a layer with
            several (``conv_2``); the first layer has one.
        ncols: filters per row.

    Example (the first layer of the book's best single network, shipped weights):

    >>> import nnzoo
    >>> fig = filters(nnzoo.build("conv2_dropout", weights="mnist"), out="filters.png")  # doctest: +SKIP
    """
    model = _load_model(model_or_path)
    try:
        conv = model.get_layer(layer)
    except ValueError:
        convs = [lay.name for lay in model.layers if len(getattr(lay, "kernel", np.zeros(0)).shape) == 4]
        raise ValueError(
            f"Model {model.name!r} has no layer {layer!r}. Its convolutional layers: {convs or 'none'}."
        ) from None
    kernel = getattr(conv, "kernel", None)
    if kernel is None or len(kernel.shape) != 4:
        raise ValueError(f"Layer {layer!r} of {model.name!r} is not a 2-D convolution (no 4-D kernel).")
    import keras

    kernel = keras.ops.convert_to_numpy(kernel)  # (height, width, in_channels, filters)
    if not 0 <= channel < kernel.shape[2]:
        raise ValueError(f"channel must be in [0, {kernel.shape[2]}). Received: channel={channel!r}.")
    weights = kernel[:, :, channel, :]
    count = weights.shape[-1]
    ncols = min(ncols, count)
    nrows = math.ceil(count / ncols)
    fig = _figure(0.8 * ncols + 0.4, 0.8 * nrows + 0.9)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    vmin, vmax = (weights.min(), weights.max()) if shared_scale else (None, None)
    for index, ax in enumerate(axes):
        ax.set_axis_off()
        if index < count:
            ax.imshow(weights[:, :, index], cmap="Greys", interpolation="nearest", vmin=vmin, vmax=vmax)
    height, width = weights.shape[:2]
    which = f"input channel {channel} of " if kernel.shape[2] > 1 else ""
    fig.suptitle(title or f"{model.name}: the {count} learned {height}×{width} filters of {which}{layer}\n"
                 f"(darker = larger weight, whiter = smaller)", fontsize=11)
    return _save(fig, out)


def _images(x):
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.dtype.kind in "ui":
        x = x.astype("float32") / np.float32(255.0)
    return x.astype("float32", copy=False)


def vote(models_or_paths, x, *, batch_size=1000):
    """The digits the plurality vote of the models picks for images ``x``.

    One model gives its own argmax. Models may be ``keras.Model`` objects,
    ``.keras`` files or run directories; ``x`` is ``(n, 28, 28[, 1])``, uint8
    or floats in [0, 1].
    """
    from nnzoo import layers

    models = [_load_model(m) for m in _as_models(models_or_paths)]
    x = _images(x)
    outputs = [np.asarray(model.predict(x, batch_size=batch_size, verbose=0)) for model in models]
    return layers.vote(outputs)  # one model: its own argmax


def _as_models(models_or_paths):
    if isinstance(models_or_paths, (str, Path)) or hasattr(models_or_paths, "predict"):
        return [models_or_paths]
    return list(models_or_paths)


def _voters(models):
    """How many networks vote: an ensemble model's members (its ``PluralityVote`` inputs), else the models."""
    if len(models) == 1 and hasattr(models[0], "layers"):
        from nnzoo.layers import PluralityVote

        for layer in models[0].layers:
            if isinstance(layer, PluralityVote):
                return len(layer.input)
    return len(models)


def misclassified(models_or_paths, x, y, max_images=40, *, ncols=10, batch_size=1000, title=None, out=None):
    """The digits the models' plurality vote gets wrong (P34).

    Each image carries its true label top-right (dark) and the vote's
    prediction bottom-right (red), as in the book's figure of the ensemble's
    errors. Shows the first ``max_images`` errors in dataset order; the title
    gives the total. The figure's ``nnzoo_wrong`` attribute holds
    ``(indices, predictions)`` of all errors.

    Args:
        models_or_paths: the ensemble's members (models, ``.keras`` files or
            run directories) or one model (an ensemble model votes inside).
        x, y: images ``(n, 28, 28[, 1])`` (uint8 or floats in [0, 1]) and
            integer labels, e.g. the official test set.

    Example (the shipped five-member conv2_dropout ensemble on the test set):

    >>> import nnzoo
    >>> from nnzoo import data
    >>> test = data.load_split().test  # doctest: +SKIP
    >>> ensemble = nnzoo.build("conv2_dropout_ensemble", weights="mnist")  # doctest: +SKIP
    >>> fig = misclassified(ensemble, test.x, test.y, out="errors.png")  # doctest: +SKIP
    >>> wrong_indices, predictions = fig.nnzoo_wrong  # doctest: +SKIP
    """
    models = _as_models(models_or_paths)
    x = _images(x)
    y = np.asarray(y).astype(int).ravel()
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length. Received: {len(x)} images and {len(y)} labels.")
    predictions = vote(models, x, batch_size=batch_size)
    wrong = np.flatnonzero(predictions != y)
    shown = wrong[:max_images]
    ncols = max(1, min(ncols, len(shown)))
    nrows = max(1, math.ceil(len(shown) / ncols))
    fig = _figure(max(1.0 * ncols + 0.3, 5.0), 1.0 * nrows + 0.8)
    voters = _voters(models)
    who = f"the plurality vote of {voters} networks" if voters > 1 else "the network"
    more = f"; the first {len(shown)} shown" if len(shown) < len(wrong) else ""
    fig.suptitle(title or f"{len(wrong)} of {len(y):,} digits misclassified by {who}{more}\n"
                 f"(true label top right, prediction bottom right in red)", fontsize=11)
    if not len(shown):
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no misclassified digits", ha="center", va="center", transform=ax.transAxes)
    else:
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for ax, index in zip(axes, list(shown) + [None] * (len(axes) - len(shown))):
            ax.set_axis_off()
            if index is None:
                continue
            ax.imshow(x[index, :, :, 0], cmap="Greys", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.text(0.98, 0.98, str(y[index]), transform=ax.transAxes, ha="right", va="top",
                    fontsize=11, fontweight="bold", color="#1F3A93")
            ax.text(0.98, 0.02, str(predictions[index]), transform=ax.transAxes, ha="right", va="bottom",
                    fontsize=11, fontweight="bold", color="#C0392B")
    fig.nnzoo_wrong = (wrong, predictions[wrong])
    return _save(fig, out)


# --------------------------------------------------------------------------- learning speed


def layer_speeds(speeds, layer_names=None, *, kind="lines", reference=None, title=None, out=None):
    """Chapter 5's speed of learning ‖∂C/∂bˡ‖ of each hidden layer, log scale.

    ``kind="lines"`` (P30-P32): ``speeds`` is
    ``nnzoo.callbacks.LayerLearningSpeed(...).speeds``, one list of
    per-layer speeds per measurement (at initialisation, then after every
    epoch); one line per layer.

    ``kind="bars"`` (P29, the speeds at initialisation): ``speeds`` is one
    network's per-layer speeds (or the callback's ``speeds``, whose first
    measurement is used), or ``{network: per-layer speeds}`` for grouped
    bars, one group per hidden layer. ``reference`` (same shape) is drawn as
    black markers, e.g. the book's numbers
    (``nnzoo.experiments.get("C5-05").book.values``).

    Args:
        layer_names: legend / axis names of the layers (default
            ``Hidden layer 1``, ...).

    Example:

    >>> speed = nnzoo.callbacks.LayerLearningSpeed((x[:1000], y[:1000]))  # doctest: +SKIP
    >>> model.fit(x[:1000], y[:1000], batch_size=1000, epochs=500, callbacks=[speed])  # doctest: +SKIP
    >>> fig = layer_speeds(speed.speeds, speed.layer_names)  # doctest: +SKIP
    """
    if kind == "lines":
        return _speed_lines(speeds, layer_names, title, out)
    if kind == "bars":
        return _speed_bars(speeds, layer_names, reference, title, out)
    raise ValueError(f"kind must be 'lines' or 'bars'. Received: kind={kind!r}.")


def _default_names(count):
    return [f"Hidden layer {i + 1}" for i in range(count)]


def _speed_lines(speeds, layer_names, title, out):
    table = np.asarray(speeds, dtype=float)
    if table.ndim != 2 or not table.size:
        raise ValueError(
            "For kind='lines', speeds must be a list of measurements, each a list of per-layer speeds "
            f"(LayerLearningSpeed.speeds). Received an array of shape {table.shape}."
        )
    names = list(layer_names) if layer_names is not None else _default_names(table.shape[1])
    if len(names) != table.shape[1]:
        raise ValueError(f"Got {len(names)} layer names for {table.shape[1]} layers.")
    fig = _figure(6.4, 4.2)
    ax = fig.add_subplot()
    for index, name in enumerate(names):
        ax.plot(np.arange(len(table)), table[:, index], color=_COLORS[index % len(_COLORS)], lw=1.5, label=name)
    ax.set_yscale("log")
    _epoch_axis(ax)
    ax.set_xlabel("Epoch (0 = at initialisation)")
    ax.set_ylabel("Speed of learning ‖∂C/∂b‖")
    ax.set_title(title or f"Speed of learning: {table.shape[1]} hidden layers")
    ax.legend(loc="best")
    return _save(fig, out)


def _bar_table(speeds):
    if isinstance(speeds, Mapping):
        return {str(k): [float(v) for v in values] for k, values in speeds.items()}
    speeds = list(speeds)
    if speeds and isinstance(speeds[0], (Sequence, np.ndarray)):
        speeds = speeds[0]
    return {"": [float(v) for v in speeds]}


def _speed_bars(speeds, layer_names, reference, title, out):
    table = _bar_table(speeds)
    if not table or not all(table.values()):
        raise ValueError("For kind='bars', speeds needs at least one per-layer speed.")
    refs = {}
    if reference is not None:
        given = _bar_table(reference)
        if "" in given and len(table) == 1:
            refs = {next(iter(table)): given[""]}
        else:
            refs = {name: values for name, values in given.items() if name in table}
    depth = max(len(values) for values in table.values())
    names = list(layer_names) if layer_names is not None else _default_names(depth)
    if len(names) != depth:
        raise ValueError(f"Got {len(names)} layer names for {depth} layers.")
    fig = _figure(max(6.4, 1.0 + 0.55 * depth * len(table)), 4.4)
    ax = fig.add_subplot()
    width = 0.8 / len(table)
    labelled = False
    for group, (network, values) in enumerate(table.items()):
        positions = np.arange(len(values)) - 0.4 + width * (group + 0.5)
        ax.bar(positions, values, width=width * 0.9, color=_COLORS[group % len(_COLORS)],
               label=network or "measured")
        for position, value in zip(positions, values):
            ax.annotate(f"{value:.2g}", (position, value), textcoords="offset points", xytext=(0, -3),
                        ha="center", va="top", fontsize=7, color="white", fontweight="bold")
        if network in refs:
            count = min(len(values), len(refs[network]))
            ax.scatter(positions[:count], refs[network][:count], marker="_", s=250, color="black",
                       linewidths=2, zorder=3, label=None if labelled else "the book")
            labelled = True
    ax.set_yscale("log")
    highest = max(max(values) for values in [*table.values(), *refs.values()])
    lowest = min(min(values) for values in [*table.values(), *refs.values()])
    ax.set_ylim(lowest / 3, highest * 6)  # room for the legend and the value labels
    ax.set_xticks(np.arange(depth), names)
    ax.set_ylabel("Speed of learning ‖∂C/∂b‖ at initialisation")
    ax.set_title(title or "Speed of learning of each hidden layer at initialisation")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper left", fontsize=9)
    return _save(fig, out)


def accuracy_vs_size(curves, *, log_x=False, reference=None, title=None, out=None):
    """Accuracy against training-set size (chapter 3's P18 linear / P19 log x-axis).

    Args:
        curves: ``{label: {size: accuracy in percent}}``, e.g. the network's
            and the SVM's curves that ``recipes/ch3_more_data.py`` writes.
        log_x: a logarithmic size axis (P19).
        reference: ``{label: (size, accuracy)}`` single points drawn as black
            markers, e.g. the book's quoted numbers.

    Example:

    >>> fig = accuracy_vs_size({"network": {1000: 85.0, 5000: 93.0}}, log_x=True)  # doctest: +SKIP
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError(f"curves must be a non-empty {{label: {{size: accuracy}}}} mapping. Received: {curves!r}.")
    fig = _figure(6.4, 4.2)
    ax = fig.add_subplot()
    for label, points in curves.items():
        sizes = sorted(int(size) for size in points)
        ax.plot(sizes, [points[size] if size in points else points[str(size)] for size in sizes],
                marker="o", label=label)
    for label, (size, accuracy) in (reference or {}).items():
        ax.plot([size], [accuracy], "k*", markersize=10, label=label)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel("training-set size")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title or "Accuracy against training-set size")
    return _save(fig, out)
