"""Training callbacks for the book's stopping rules, schedules and measurements.

* ``NoImprovementStopping`` — chapter 3's early stopping "no-improvement-in-n".
* ``HalveOnPlateau`` — chapter 3's schedule: halve η on each no-improvement-in-10
  and stop when η reaches η₀/128 (Keras's ``ReduceLROnPlateau`` never stops and
  has ``min_delta=1e-4``).
* ``BestValidationTest`` — chapter 6's protocol: the test accuracy at the epoch
  of best validation accuracy, ties going to the later epoch.
* ``BookMonitor`` — network2's four monitoring flags, each an end-of-epoch full
  pass (Keras's training metrics are running averages in training mode).
* ``LayerLearningSpeed`` — chapter 5's per-layer speed of learning ‖∂C/∂bˡ‖.

All work on epochs and keep nothing in the per-batch hot loop.
"""

import math
import sys

import keras
import numpy as np

from nnzoo import losses, regularizers

__all__ = [
    "NoImprovementStopping",
    "HalveOnPlateau",
    "BestValidationTest",
    "BookMonitor",
    "LayerLearningSpeed",
]


def _metric(logs, monitor, callback):
    if logs is None or monitor not in logs:
        available = sorted(logs or {})
        raise ValueError(
            f"{callback} monitors {monitor!r}, which is not in the epoch logs. "
            f"Available: {available}. Pass validation_data to fit() or choose another monitor."
        )
    return float(logs[monitor])


def _is_real(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_patience(patience):
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
        raise ValueError(f"patience must be a positive integer, e.g. 10. Received: patience={patience!r}.")


class NoImprovementStopping(keras.callbacks.Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    The book's "no-improvement-in-n" rule on validation accuracy (n = 10 for
    exploring MNIST, then 20 or 50). An epoch improves only when it beats the
    best so far (an equal value is not an improvement), so training stops at
    the ``patience``-th epoch in a row without one; the weights are left as
    they are at the stop.

    Attributes:
        best, best_epoch: the best value so far and its 0-based epoch.
        wait: epochs since the last improvement.
        stopped_epoch: the epoch training was stopped at, or ``None``.

    Example:

    >>> model.fit(x, y, validation_data=(xv, yv), epochs=100,
    ...           callbacks=[NoImprovementStopping(patience=10)])  # doctest: +SKIP
    """

    def __init__(self, patience=10, monitor="val_accuracy"):
        super().__init__()
        _check_patience(patience)
        self.patience = patience
        self.monitor = monitor
        self.best = -math.inf
        self.best_epoch = None
        self.wait = 0
        self.stopped_epoch = None

    def on_train_begin(self, logs=None):
        self.best, self.best_epoch, self.wait, self.stopped_epoch = -math.inf, None, 0, None

    def on_epoch_end(self, epoch, logs=None):
        value = _metric(logs, self.monitor, type(self).__name__)
        if value > self.best:  # NaN never improves
            self.best, self.best_epoch, self.wait = value, epoch, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True


class HalveOnPlateau(keras.callbacks.Callback):
    """Halve η on each no-improvement-in-``patience``; stop at η₀·``min_fraction``.

    The book's exercise schedule (chapter 3): hold η while validation accuracy
    improves; each time it has not improved for ``patience`` epochs, multiply
    η by ``factor`` and restart the count (the best value is kept: an
    improvement must still beat it); terminate as soon as η has fallen to
    ``min_fraction`` of its starting value (1/128: seven halvings). η₀ is the
    optimizer's learning rate when training begins, and the k-th change sets
    η = η₀·factorᵏ exactly (no float32 drift, so ``factor=0.1`` with
    ``min_fraction=1e-3`` stops after three changes, as the book's "a factor
    of ten … 1,000 times lower" intends).

    The current η is written to the epoch logs as ``"eta"``.

    Attributes:
        initial_eta: η₀.
        reductions: how many times η has been changed in this run.
        history: a list of ``(epoch, new_eta)`` for every change.

    Example:

    >>> model.fit(x, y, validation_data=(xv, yv), epochs=1000,
    ...           callbacks=[HalveOnPlateau()])  # doctest: +SKIP
    """

    def __init__(self, patience=10, factor=0.5, min_fraction=1 / 128, monitor="val_accuracy"):
        super().__init__()
        _check_patience(patience)
        if not _is_real(factor) or not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be a number in (0, 1), e.g. 0.5. Received: factor={factor!r}.")
        if not _is_real(min_fraction) or not 0.0 < min_fraction < 1.0:
            raise ValueError(
                f"min_fraction must be a number in (0, 1), e.g. 1/128. Received: min_fraction={min_fraction!r}."
            )
        self.patience = patience
        self.factor = float(factor)
        self.min_fraction = float(min_fraction)
        self.monitor = monitor
        self.initial_eta = None
        self.reductions = 0
        self.history = []

    def on_train_begin(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            raise ValueError(
                "HalveOnPlateau needs a compiled model with an optimizer. Received a model with "
                "optimizer=None: call model.compile(optimizer=keras.optimizers.SGD(eta), ...) first."
            )
        schedule = optimizer._learning_rate
        if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule) or callable(schedule):
            raise ValueError(
                "HalveOnPlateau sets the learning rate, so the optimizer needs a float learning_rate. "
                f"Received: learning_rate={schedule!r}."
            )
        self.initial_eta = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        self.best = -math.inf
        self.wait = 0
        self.reductions = 0
        self.history = []

    @property
    def eta(self):
        """The η the schedule has set (η₀·factor^reductions)."""
        return self.initial_eta * self.factor**self.reductions

    def on_epoch_end(self, epoch, logs=None):
        value = _metric(logs, self.monitor, type(self).__name__)
        if value > self.best:  # NaN never improves
            self.best, self.wait = value, 0
        else:
            self.wait += 1
        if self.wait >= self.patience:
            self.wait = 0
            self.reductions += 1
            self.model.optimizer.learning_rate = self.eta
            self.history.append((epoch, self.eta))
            if self.factor**self.reductions <= self.min_fraction * (1 + 1e-9):
                self.model.stop_training = True
        if logs is not None:
            logs["eta"] = self.eta


class BestValidationTest(keras.callbacks.Callback):
    """Record the test accuracy at the epoch of best validation accuracy.

    network3's rule: after each epoch, if the validation accuracy is at least
    the best so far (so ties go to the later epoch), evaluate the test set and
    remember both. The test set is evaluated only at those epochs. The record
    restarts with every ``fit``.

    Args:
        test_data: a batched ``tf.data.Dataset`` of ``(x, y)`` pairs or an
            ``(x, y)`` tuple, with integer labels.
        monitor: the validation metric in the epoch logs.
        batch_size: batch size for evaluating an ``(x, y)`` tuple.

    Attributes:
        best_epoch: 0-based epoch of the best validation accuracy.
        validation_accuracy, test_accuracy: the values at that epoch (the
            test accuracy as a fraction, also logged as
            ``"best_test_accuracy"``).

    Example:

    >>> best = BestValidationTest((x_test, y_test))  # doctest: +SKIP
    >>> model.fit(ds, validation_data=val, epochs=60, callbacks=[best])  # doctest: +SKIP
    >>> best.test_accuracy  # doctest: +SKIP
    """

    def __init__(self, test_data, monitor="val_accuracy", batch_size=1000):
        super().__init__()
        _check_data("test_data", test_data, allow_dataset=True)
        _check_batch_size(batch_size)
        self.test_data = test_data
        self.monitor = monitor
        self.batch_size = batch_size
        self._reset()

    def _reset(self):
        self.best_epoch = None
        self.validation_accuracy = -math.inf
        self.test_accuracy = None

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        value = _metric(logs, self.monitor, type(self).__name__)
        if value >= self.validation_accuracy:  # ties: the later epoch wins
            self.best_epoch, self.validation_accuracy = epoch, value
            self.test_accuracy = _accuracy(self.model, self.test_data, self.batch_size)
        if logs is not None and self.test_accuracy is not None:
            logs["best_test_accuracy"] = self.test_accuracy


def _is_tf_dataset(data):
    tf = sys.modules.get("tensorflow")  # no tf.data without TensorFlow loaded
    return tf is not None and isinstance(data, tf.data.Dataset)


def _check_batch_size(batch_size):
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer. Received: batch_size={batch_size!r}.")


def _check_data(name, data, allow_dataset=False):
    if allow_dataset and _is_tf_dataset(data):
        return
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        expected = "a tf.data.Dataset of (x, y) batches or an (x, y) tuple" if allow_dataset else "an (x, y) tuple"
        raise ValueError(f"{name} must be {expected}. Received: {name} of type {type(data).__name__}.")
    x, y = data
    if len(x) != len(y):
        raise ValueError(f"{name} must hold as many labels as inputs. Received: {len(x)} inputs, {len(y)} labels.")


def _labels(y):
    """Integer class labels from integer labels or one-hot rows."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[-1] > 1:
        return np.argmax(y, axis=-1)
    return y.reshape(-1)


def _correct(model, data, batch_size):
    """(number correct, number of examples): argmax of the output vs the label."""
    if _is_tf_dataset(data):
        correct = total = 0
        for batch in data:
            x, y = batch[0], batch[1]
            predictions = keras.ops.convert_to_numpy(model(x, training=False))
            labels = _labels(keras.ops.convert_to_numpy(y))
            correct += int(np.sum(np.argmax(predictions, axis=-1) == labels))
            total += len(labels)
        return correct, total
    x, y = data
    predictions = model.predict(x, batch_size=batch_size, verbose=0)
    labels = _labels(y)
    return int(np.sum(np.argmax(predictions, axis=-1) == labels)), len(labels)


def _accuracy(model, data, batch_size):
    """Fraction of ``data`` the model classifies correctly (inference mode)."""
    correct, total = _correct(model, data, batch_size)
    if total == 0:
        raise ValueError("Cannot measure accuracy on empty data. Received: 0 examples.")
    return correct / total


def _weight_matrices(model):
    """The kernels of every Dense and Conv layer: what the book regularizes."""
    return [
        layer.kernel
        for layer in model._flatten_layers(include_self=False)
        if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D))
    ]


class BookMonitor(keras.callbacks.Callback):
    """network2's four monitors, each a full pass at the end of every epoch.

    ``total_cost`` follows network2 exactly: the mean cost over the evaluated
    set plus the penalty term computed with **that set's size** as n (so the
    λ term differs between the training and evaluation costs, as in the
    book): ``0.5·(λ/len(data))·Σ‖w‖²`` for L2, ``(λ/len(data))·Σ|w|`` for L1,
    over every weight matrix (never the biases). Accuracies are counts of
    correct images, as the book prints them. The lists restart with every
    ``fit``, as each call of network2's ``SGD`` returns fresh ones.

    Args:
        cost: ``"quadratic"``, ``"cross_entropy"`` or ``"log_likelihood"``.
        training_data, evaluation_data: ``(x, y)`` arrays with integer labels
            (one-hot rows are accepted too).
        lmbda, regularization: the book's λ and ``"l2"`` / ``"l1"``. Pass
            the model's λ: it is not read from the model.
        monitor_evaluation_cost, monitor_evaluation_accuracy,
        monitor_training_cost, monitor_training_accuracy: network2's flags.
        batch_size: the batch size of the evaluation passes.

    Attributes:
        evaluation_cost, evaluation_accuracy, training_cost,
        training_accuracy: one entry per epoch, empty when the flag is off
        (``results`` returns the four as network2's ``SGD`` does). Each
        value is also logged as ``"book_<name>"``.

    Example:

    >>> monitor = BookMonitor("cross_entropy", evaluation_data=(xv, yv), lmbda=5.0,
    ...                       monitor_evaluation_accuracy=True)  # doctest: +SKIP
    >>> model.fit(x, y, batch_size=10, epochs=30, callbacks=[monitor])  # doctest: +SKIP
    >>> evaluation_cost, evaluation_accuracy, _, _ = monitor.results()  # doctest: +SKIP
    """

    def __init__(self, cost, training_data=None, evaluation_data=None, *, lmbda=0.0,
                 regularization="l2", monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
                 monitor_training_cost=False, monitor_training_accuracy=False, batch_size=1000):
        super().__init__()
        self.cost = losses.get(cost)
        flags = dict(
            evaluation_cost=monitor_evaluation_cost,
            evaluation_accuracy=monitor_evaluation_accuracy,
            training_cost=monitor_training_cost,
            training_accuracy=monitor_training_accuracy,
        )
        for which, data in (("training", training_data), ("evaluation", evaluation_data)):
            wanted = [f"monitor_{key}=True" for key, on in flags.items() if on and key.startswith(which)]
            if wanted and data is None:
                raise ValueError(
                    f"{' and '.join(wanted)} needs {which}_data=(x, y). Received: {which}_data=None."
                )
            if data is not None:
                _check_data(f"{which}_data", data)
        if regularization not in regularizers.REGULARIZATIONS:
            raise ValueError(
                f"Unknown regularization. Received: regularization={regularization!r}. "
                f"Expected one of {list(regularizers.REGULARIZATIONS)}."
            )
        if not _is_real(lmbda) or lmbda < 0:
            raise ValueError(
                f"lmbda (the book's regularization parameter λ) must be a number >= 0. Received: lmbda={lmbda!r}."
            )
        _check_batch_size(batch_size)
        self.training_data = training_data
        self.evaluation_data = evaluation_data
        self.lmbda = float(lmbda)
        self.regularization = regularization
        self.flags = flags
        self.batch_size = batch_size
        self._reset()

    def _reset(self):
        self.evaluation_cost, self.evaluation_accuracy = [], []
        self.training_cost, self.training_accuracy = [], []

    def on_train_begin(self, logs=None):
        self._reset()

    def total_cost(self, data):
        """network2's ``total_cost``: mean cost + penalty with n = len(data)."""
        x, y = data
        predictions = self.model.predict(x, batch_size=self.batch_size, verbose=0)
        cost = float(self.cost(y, predictions))
        n = len(x)
        weights = [keras.ops.convert_to_numpy(w).astype("float64") for w in _weight_matrices(self.model)]
        if self.regularization == "l2":
            penalty = 0.5 * (self.lmbda / n) * sum(float(np.sum(w * w)) for w in weights)
        else:
            penalty = (self.lmbda / n) * sum(float(np.sum(np.abs(w))) for w in weights)
        return cost + penalty

    def accuracy(self, data):
        """Number of correctly classified images, as network2 reports it."""
        return _correct(self.model, data, self.batch_size)[0]

    def on_epoch_end(self, epoch, logs=None):
        for key, enabled in self.flags.items():
            if not enabled:
                continue
            which, quantity = key.split("_")
            data = self.training_data if which == "training" else self.evaluation_data
            value = self.total_cost(data) if quantity == "cost" else self.accuracy(data)
            getattr(self, key).append(value)
            if logs is not None:
                logs[f"book_{key}"] = value

    def results(self):
        """``(evaluation_cost, evaluation_accuracy, training_cost, training_accuracy)``."""
        return self.evaluation_cost, self.evaluation_accuracy, self.training_cost, self.training_accuracy


class LayerLearningSpeed(keras.callbacks.Callback):
    """Chapter 5's speed of learning of each hidden layer, ‖∂C/∂bˡ‖.

    ∂C/∂bˡ is the gradient of the mean cost over ``data`` with respect to the
    bias vector of hidden layer l (δˡ averaged over the examples, as the
    book's ``generate_gradient.py`` computes it; the penalty has no bias
    term). Measured in inference mode before training (``speeds[0]``, the
    book's "immediately after the network is initialized") and after every
    epoch. The hidden layers are the Dense and Conv2D layers with a bias,
    except the output layer (the one named ``"output"``, else the last).

    Args:
        data: ``(x, y)`` arrays, e.g. the first 1,000 training images.
        cost: the book cost name; defaults to the model's compiled loss.

    Attributes:
        layer_names: the hidden layers measured, input side first.
        speeds: one list of per-layer speeds per measurement.

    Example:

    >>> speed = LayerLearningSpeed((x_train[:1000], y_train[:1000]))  # doctest: +SKIP
    >>> model.fit(x_train[:1000], y_train[:1000], batch_size=1000, epochs=500,
    ...           callbacks=[speed])  # doctest: +SKIP
    >>> speed.speeds[0]  # doctest: +SKIP
    """

    def __init__(self, data, cost=None):
        super().__init__()
        _check_data("data", data)
        self.data = data
        self.cost_name = cost
        self._cost = None if cost is None else losses.get(cost)
        self.layer_names = []
        self.speeds = []

    def _loss(self):
        if self._cost is not None:
            return self._cost
        loss = getattr(self.model, "loss", None)
        if isinstance(loss, str):
            loss = losses.get(loss) if loss in losses.COSTS else keras.losses.get(loss)
        if not callable(loss):
            raise ValueError(
                "LayerLearningSpeed needs a cost: pass cost='cross_entropy' (or another book cost) "
                f"or compile the model with a loss. Received: cost=None and model.loss={loss!r}."
            )
        return loss

    def _hidden_layers(self):
        layers = [
            layer for layer in self.model._flatten_layers(include_self=False)
            if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D)) and layer.use_bias
        ]
        names = [layer.name for layer in layers]
        hidden = [layer for layer in layers if layer.name != "output"] if "output" in names else layers[:-1]
        if not hidden:
            raise ValueError(
                f"LayerLearningSpeed measures hidden layers, and model {self.model.name!r} has none. "
                f"Received layers with a bias: {names}."
            )
        return hidden

    def measure(self):
        """The current per-layer speeds, as a list of floats (TensorFlow backend)."""
        import tensorflow as tf

        cost = self._loss()
        hidden = self._hidden_layers()
        self.layer_names = [layer.name for layer in hidden]
        x, y = self.data
        x = np.asarray(x)
        if x.dtype.kind == "f":
            x = x.astype(keras.backend.floatx())
        with tf.GradientTape() as tape:
            value = cost(y, self.model(x, training=False))
        gradients = tape.gradient(value, [layer.bias for layer in hidden])
        return [float(tf.norm(g)) for g in gradients]

    def on_train_begin(self, logs=None):
        self.speeds = [self.measure()]

    def on_epoch_end(self, epoch, logs=None):
        self.speeds.append(self.measure())
