"""The training callbacks follow the book's rules exactly.

* ``NoImprovementStopping``: chapter 3's "no-improvement-in-n" (an equal
  value is not an improvement).
* ``HalveOnPlateau``: the chapter 3 exercise "halve η on each
  no-improvement-in-10, terminate when η = η₀/128".
* ``BestValidationTest``: network3's ``if validation_accuracy >=
  best_validation_accuracy`` → evaluate the test set (ties go to the later
  epoch, the test set is evaluated only then).
* ``BookMonitor``: network2's monitors, including the ``total_cost`` quirk
  (the penalty uses the size of the evaluated set, as network2's total_cost does).
* ``LayerLearningSpeed``: chapter 5's ‖∂C/∂bˡ‖ against the NumPy oracle.

The rules are driven with scripted epoch logs; a few tiny ``fit`` calls check
the wiring. Everything is synthetic, offline and seeded.
"""

import math

import keras
import numpy as np
import pytest

import book_reference as book
import nnzoo
from nnzoo import callbacks

# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def tiny_model(**overrides):
    """A compiled [784, 5, 10] sigmoid net (a couple of thousand weights)."""
    return nnzoo.build("shallow_sigmoid", **dict(dict(hidden=(5,), seed=0), **overrides))


def images(m, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, size=(m, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, size=m).astype("int32")
    return x, y


def drive(callback, model, values, monitor="val_accuracy"):
    """Run a scripted sequence of epoch-end values; return the epoch at which
    ``stop_training`` was raised (or ``None``) and the logs of every epoch."""
    callback.set_model(model)
    model.stop_training = False
    callback.on_train_begin()
    all_logs = []
    for epoch, value in enumerate(values):
        logs = {"loss": 1.0, monitor: value}
        callback.on_epoch_end(epoch, logs)
        all_logs.append(logs)
        if model.stop_training:
            return epoch, all_logs
    return None, all_logs


def lr(model):
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def dense_params(model):
    """The model's Dense layers as the oracle's [(W, b), ...] in float64."""
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    return [(np.asarray(layer.kernel, "float64"), np.asarray(layer.bias, "float64")) for layer in layers]


@pytest.fixture
def model():
    return tiny_model()


# --------------------------------------------------------------------------
# NoImprovementStopping
# --------------------------------------------------------------------------


@pytest.mark.parametrize("patience", [1, 3, 10])
def test_no_improvement_stops_exactly_after_patience_flat_epochs(model, patience):
    # Improves for epochs 0..4 (best at epoch 4), then never again.
    values = [0.1, 0.2, 0.3, 0.4, 0.5] + [0.45] * 30
    stopper = callbacks.NoImprovementStopping(patience=patience)
    stopped, _ = drive(stopper, model, values)
    assert stopped == 4 + patience
    assert stopper.stopped_epoch == 4 + patience
    assert stopper.best == 0.5 and stopper.best_epoch == 4


@pytest.mark.parametrize("patience", [1, 4])
def test_no_improvement_equal_values_are_not_improvements(model, patience):
    stopper = callbacks.NoImprovementStopping(patience=patience)
    stopped, _ = drive(stopper, model, [0.9] * 20)
    # Epoch 0 improves on -inf; epochs 1..patience only equal it.
    assert stopped == patience
    assert stopper.best_epoch == 0


def test_no_improvement_count_restarts_on_strict_improvement(model):
    stopper = callbacks.NoImprovementStopping(patience=3)
    values = [0.5, 0.5, 0.5, 0.6, 0.6, 0.6, 0.7, 0.69, 0.7, 0.7, 0.7]
    stopped, _ = drive(stopper, model, values)
    assert stopped == 9  # best at epoch 6; epochs 7, 8, 9 do not beat 0.7
    assert stopper.best_epoch == 6


def test_no_improvement_nan_is_not_an_improvement(model):
    stopper = callbacks.NoImprovementStopping(patience=2)
    stopped, _ = drive(stopper, model, [math.nan, math.nan, math.nan])
    assert stopped == 1 and stopper.best_epoch is None


def test_no_improvement_resets_between_fits(model):
    stopper = callbacks.NoImprovementStopping(patience=2)
    assert drive(stopper, model, [0.9, 0.9, 0.9])[0] == 2
    # A second run starts from scratch: a lower accuracy is an improvement on -inf.
    assert drive(stopper, model, [0.1, 0.2, 0.2, 0.2])[0] == 3
    assert stopper.best == 0.2 and stopper.best_epoch == 1


def test_no_improvement_missing_monitor_names_the_available_keys(model):
    stopper = callbacks.NoImprovementStopping(patience=2)
    stopper.set_model(model)
    stopper.on_train_begin()
    with pytest.raises(ValueError, match=r"'val_accuracy'.*Available: \['accuracy', 'loss'\]"):
        stopper.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5})


@pytest.mark.parametrize("patience", [0, -1, 2.5, True, "10"])
def test_no_improvement_rejects_bad_patience(patience):
    with pytest.raises(ValueError, match="patience must be a positive integer.*Received: patience="):
        callbacks.NoImprovementStopping(patience=patience)


def test_no_improvement_stops_a_real_fit():
    # η so small that nothing moves: validation accuracy is flat from epoch 0.
    model = tiny_model(eta=1e-9)
    x, y = images(40, seed=1)
    history = model.fit(x, y, batch_size=20, epochs=30, validation_data=(x, y), verbose=0,
                        callbacks=[callbacks.NoImprovementStopping(patience=2)])
    assert len(history.history["val_accuracy"]) == 3


# --------------------------------------------------------------------------
# HalveOnPlateau
# --------------------------------------------------------------------------


def test_halve_on_plateau_book_schedule_exact_history_and_stop(model):
    model.optimizer.learning_rate = 0.8
    # Improves for epochs 0..4, then flat forever: a halving every 10 epochs.
    values = [0.1, 0.2, 0.3, 0.4, 0.5] + [0.5] * 200
    schedule = callbacks.HalveOnPlateau()
    stopped, logs = drive(schedule, model, values)
    eta0 = schedule.initial_eta
    assert eta0 == pytest.approx(0.8, rel=1e-7)
    assert schedule.history == [(4 + 10 * k, eta0 / 2**k) for k in range(1, 8)]
    assert stopped == 74  # the 7th halving reaches η₀/128 and ends training
    assert lr(model) == eta0 / 128
    # η is held between changes and logged every epoch.
    expected = [eta0 / 2 ** max(0, (epoch - 4) // 10) for epoch in range(75)]
    assert [entry["eta"] for entry in logs] == expected


def test_halve_on_plateau_does_not_stop_before_the_seventh_halving(model):
    model.optimizer.learning_rate = 1.0
    schedule = callbacks.HalveOnPlateau(patience=2)
    stopped, _ = drive(schedule, model, [0.5] * 13)  # epochs 2, 4, ..., 12: six halvings
    assert stopped is None and not model.stop_training
    assert len(schedule.history) == 6 and lr(model) == 1 / 64
    schedule.on_epoch_end(13, {"val_accuracy": 0.5})
    assert not model.stop_training  # the count restarted after the 6th halving
    schedule.on_epoch_end(14, {"val_accuracy": 0.5})
    assert model.stop_training and lr(model) == 1 / 128 and schedule.history[-1] == (14, 1 / 128)


def test_halve_on_plateau_count_restarts_after_a_halving_and_on_improvement(model):
    model.optimizer.learning_rate = 1.0
    schedule = callbacks.HalveOnPlateau(patience=3)
    values = [
        0.5, 0.5, 0.5, 0.5,   # epochs 1-3 flat: halve at 3
        0.5, 0.5,             # 2 flat epochs after the halving: no change yet
        0.6,                  # improvement at 6: count restarts
        0.6, 0.6, 0.59,       # flat 7-9: halve at 9
        0.6, 0.6, 0.6,        # equal to the best is not an improvement: halve at 12
    ]
    stopped, logs = drive(schedule, model, values)
    assert stopped is None
    assert schedule.history == [(3, 0.5), (9, 0.25), (12, 0.125)]
    assert [entry["eta"] for entry in logs] == [1.0] * 3 + [0.5] * 6 + [0.25] * 3 + [0.125]


def test_halve_on_plateau_factor_ten_reaches_a_thousandth_in_three_steps(model):
    # The book's "a factor of ten ... until 1,000 times lower": η₀ = 0.1 is
    # not exact in float32, which must not cost a fourth reduction.
    model.optimizer.learning_rate = 0.1
    schedule = callbacks.HalveOnPlateau(patience=1, factor=0.1, min_fraction=1e-3)
    stopped, _ = drive(schedule, model, [0.5] * 10)
    assert stopped == 3
    eta0 = schedule.initial_eta
    assert [epoch for epoch, _ in schedule.history] == [1, 2, 3]
    np.testing.assert_allclose([eta for _, eta in schedule.history], [eta0 * 0.1, eta0 * 0.01, eta0 * 0.001],
                               rtol=1e-12)


def test_keras_learning_rate_assignment_updates_the_variable_used_by_training(model):
    optimizer = model.optimizer
    variable = optimizer._learning_rate
    x, y = images(8, seed=2)
    start = model.get_weights()
    model.train_on_batch(x, y)  # traces the train step with the variable
    step_full = [a - b for a, b in zip(model.get_weights(), start)]
    model.set_weights(start)
    optimizer.learning_rate = lr(model) / 2
    assert optimizer._learning_rate is variable  # assigned in place, not replaced
    assert float(variable.numpy()) == pytest.approx(1.5)
    model.train_on_batch(x, y)
    step_half = [a - b for a, b in zip(model.get_weights(), start)]
    # w - η·g in float32 rounds the tiny steps on large weights: compare with
    # an absolute tolerance of a few ulps of the weights, and the step norms.
    for full, half in zip(step_full, step_half):
        np.testing.assert_allclose(half, full / 2, rtol=1e-3, atol=1e-6)
    norm = lambda steps: math.sqrt(sum(float(np.sum(s.astype("float64") ** 2)) for s in steps))  # noqa: E731
    assert norm(step_half) == pytest.approx(norm(step_full) / 2, rel=1e-3)


def test_halve_on_plateau_in_a_real_fit():
    model = tiny_model(eta=2.0**-30)  # too small to change any prediction
    x, y = images(40, seed=3)
    schedule = callbacks.HalveOnPlateau(patience=1)
    history = model.fit(x, y, batch_size=20, epochs=50, validation_data=(x, y), verbose=0,
                        callbacks=[schedule])
    # Epoch 0 sets the best; epochs 1..7 halve; the 7th halving stops training.
    assert len(history.history["loss"]) == 8
    assert history.history["eta"] == [2.0**-30 / 2**k for k in range(8)]
    assert lr(model) == 2.0**-37
    assert [epoch for epoch, _ in schedule.history] == list(range(1, 8))


def test_halve_on_plateau_missing_monitor(model):
    schedule = callbacks.HalveOnPlateau()
    schedule.set_model(model)
    schedule.on_train_begin()
    with pytest.raises(ValueError, match=r"HalveOnPlateau monitors 'val_accuracy'.*Available: \['loss'\]"):
        schedule.on_epoch_end(0, {"loss": 0.3})


@pytest.mark.parametrize("kwargs, match", [
    (dict(factor=0.0), "factor must be a number in \\(0, 1\\).*Received: factor=0.0"),
    (dict(factor=1.0), "factor must be"),
    (dict(factor=2), "factor must be"),
    (dict(min_fraction=0.0), "min_fraction must be a number in \\(0, 1\\).*Received: min_fraction=0.0"),
    (dict(min_fraction=1.5), "min_fraction must be"),
    (dict(patience=0), "patience must be a positive integer"),
])
def test_halve_on_plateau_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        callbacks.HalveOnPlateau(**kwargs)


def test_halve_on_plateau_needs_a_settable_learning_rate():
    model = tiny_model(compile=False)
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")
    halve = callbacks.HalveOnPlateau()
    halve.set_model(model)
    with pytest.raises(ValueError, match="needs a float learning_rate.*Received: learning_rate="):
        halve.on_train_begin()


# --------------------------------------------------------------------------
# BestValidationTest
# --------------------------------------------------------------------------


def test_best_validation_ties_go_to_the_later_epoch_and_test_is_evaluated_only_then(model, monkeypatch):
    calls = []

    def fake_accuracy(m, data, batch_size):
        calls.append(len(calls))
        return 0.1 * len(calls)  # a distinct test accuracy per evaluation

    monkeypatch.setattr(callbacks, "_accuracy", fake_accuracy)
    best = callbacks.BestValidationTest(images(4, seed=0))
    values = [0.50, 0.70, 0.70, 0.60, 0.70, 0.65, 0.69]
    _, logs = drive(best, model, values)
    # Evaluated at epochs 0 (first), 1 (better), 2 (tie), 4 (tie): 4 times.
    assert len(calls) == 4
    assert best.best_epoch == 4
    assert best.validation_accuracy == 0.70
    assert best.test_accuracy == pytest.approx(0.4)
    assert [entry["best_test_accuracy"] for entry in logs] == pytest.approx([0.1, 0.2, 0.3, 0.3, 0.4, 0.4, 0.4])


def permutation_model():
    """A model whose output is its input: the prediction is argmax(x)."""
    inputs = keras.Input(shape=(4,))
    outputs = keras.layers.Dense(4, use_bias=False, kernel_initializer="identity")(inputs)
    return keras.Model(inputs, outputs)


def known_accuracy_data():
    predicted = np.array([0, 1, 2, 3, 0, 1, 2, 3, 0, 1])
    labels = np.array([0, 1, 2, 3, 0, 1, 2, 0, 1, 2])  # 7 of 10 right
    return np.eye(4, dtype="float32")[predicted], labels


@pytest.mark.parametrize("kind", ["tuple", "dataset", "one_hot"])
def test_best_validation_test_accuracy_on_controlled_predictions(kind):
    import tensorflow as tf

    x, y = known_accuracy_data()
    data = {
        "tuple": (x, y),
        "dataset": tf.data.Dataset.from_tensor_slices((x, y)).batch(3),
        "one_hot": (x, np.eye(4)[y]),
    }[kind]
    best = callbacks.BestValidationTest(data, batch_size=4)
    _, logs = drive(best, permutation_model(), [0.3, 0.2])
    assert best.best_epoch == 0
    assert best.test_accuracy == pytest.approx(0.7)
    assert logs[-1]["best_test_accuracy"] == pytest.approx(0.7)


def test_best_validation_in_a_real_fit(monkeypatch):
    model = tiny_model(eta=3.0)
    x, y = images(60, seed=4)
    evaluations = []
    real_accuracy = callbacks._accuracy

    def counting_accuracy(m, data, batch_size):
        evaluations.append(len(evaluations))
        return real_accuracy(m, data, batch_size)

    monkeypatch.setattr(callbacks, "_accuracy", counting_accuracy)
    best = callbacks.BestValidationTest((x, y))  # the test set is the validation set here
    history = model.fit(x, y, batch_size=10, epochs=6, validation_data=(x, y), verbose=0, callbacks=[best])
    val = history.history["val_accuracy"]
    running_best = np.maximum.accumulate(val)
    assert len(evaluations) == int(np.sum(np.asarray(val) >= running_best))
    assert best.best_epoch == max(i for i, v in enumerate(val) if v == max(val))
    assert best.validation_accuracy == pytest.approx(max(val))
    assert best.test_accuracy == pytest.approx(max(val), abs=1e-6)
    assert history.history["best_test_accuracy"][-1] == best.test_accuracy


def test_best_validation_restarts_with_each_fit(model, monkeypatch):
    monkeypatch.setattr(callbacks, "_accuracy", lambda m, data, batch_size: 0.5)
    best = callbacks.BestValidationTest(images(4, seed=0))
    drive(best, model, [0.9, 0.8])
    drive(best, model, [0.3, 0.2])
    assert best.best_epoch == 0 and best.validation_accuracy == 0.3


def test_best_validation_errors(model):
    with pytest.raises(ValueError, match="test_data must be a tf.data.Dataset.*or an \\(x, y\\) tuple"):
        callbacks.BestValidationTest(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="Received: 3 inputs, 2 labels"):
        callbacks.BestValidationTest((np.zeros((3, 4)), np.zeros(2)))
    best = callbacks.BestValidationTest(images(4, seed=0))
    best.set_model(model)
    best.on_train_begin()
    with pytest.raises(ValueError, match=r"Available: \['accuracy', 'loss'\]"):
        best.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.2})


# --------------------------------------------------------------------------
# BookMonitor
# --------------------------------------------------------------------------


@pytest.mark.parametrize("cost, regularization, oracle_reg", [
    ("cross_entropy", "l2", "l2_network2"),
    ("cross_entropy", "l1", "l1"),
    ("quadratic", "l2", "l2_network2"),
])
def test_book_monitor_matches_network2_total_cost_and_accuracy(cost, regularization, oracle_reg):
    lmbda = 5.0
    model = tiny_model(cost=cost, lmbda=lmbda, regularization=regularization, n_train=1000, eta=0.5)
    train, evaluation = images(40, seed=5), images(25, seed=6)
    monitor = callbacks.BookMonitor(
        cost, training_data=train, evaluation_data=evaluation, lmbda=lmbda, regularization=regularization,
        monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
        monitor_training_cost=True, monitor_training_accuracy=True,
    )
    history = model.fit(*train, batch_size=10, epochs=2, verbose=0, callbacks=[monitor])
    eval_cost, eval_acc, train_cost, train_acc = monitor.results()
    assert [len(v) for v in monitor.results()] == [2, 2, 2, 2]

    params = dense_params(model)  # the weights after the last epoch
    weights = [w for w, _ in params]
    for (x, y), cost_value, accuracy in ((train, train_cost[-1], train_acc[-1]),
                                         (evaluation, eval_cost[-1], eval_acc[-1])):
        flat = x.reshape(len(x), -1)
        # network2's total_cost: mean C_x + the penalty with n = len(data) (N11).
        expected = book.cost(params, ["sigmoid", "sigmoid"], flat, y, cost,
                             lmbda=lmbda, regularization=oracle_reg, n=len(x))
        assert cost_value == pytest.approx(expected, rel=1e-5)
        _, acts = book.forward(params, ["sigmoid", "sigmoid"], flat)
        mean_cost = float(np.mean(book.per_example_cost(acts[-1], book.one_hot(y, 10), cost)))
        if regularization == "l2":
            penalty = 0.5 * (lmbda / len(x)) * sum(np.linalg.norm(w) ** 2 for w in weights)
        else:
            penalty = (lmbda / len(x)) * sum(np.sum(np.abs(w)) for w in weights)
        assert cost_value == pytest.approx(mean_cost + penalty, rel=1e-5)
        # Accuracies are integer counts, as network2 prints them.
        assert type(accuracy) is int
        assert accuracy == int(np.sum(np.argmax(acts[-1], axis=1) == y))
    # The penalty uses the evaluated set's size, not the training-set size.
    assert history.history["book_training_cost"] == train_cost
    assert history.history["book_evaluation_accuracy"] == eval_acc


def test_book_monitor_results_has_empty_lists_for_disabled_flags():
    model = tiny_model(cost="cross_entropy")
    train, evaluation = images(20, seed=7), images(10, seed=8)
    monitor = callbacks.BookMonitor("cross_entropy", evaluation_data=evaluation, monitor_evaluation_accuracy=True)
    model.fit(*train, batch_size=10, epochs=3, verbose=0, callbacks=[monitor])
    results = monitor.results()
    assert isinstance(results, tuple) and len(results) == 4
    eval_cost, eval_acc, train_cost, train_acc = results
    assert eval_cost == [] and train_cost == [] and train_acc == []
    assert len(eval_acc) == 3 and all(type(a) is int and 0 <= a <= 10 for a in eval_acc)
    # A second fit returns fresh lists, as each network2.SGD call does.
    model.fit(*train, batch_size=10, epochs=1, verbose=0, callbacks=[monitor])
    assert len(monitor.results()[1]) == 1


@pytest.mark.parametrize("flag, needs", [
    ("monitor_training_cost", "training_data"),
    ("monitor_training_accuracy", "training_data"),
    ("monitor_evaluation_cost", "evaluation_data"),
    ("monitor_evaluation_accuracy", "evaluation_data"),
])
def test_book_monitor_flags_need_their_data(flag, needs):
    with pytest.raises(ValueError, match=f"{flag}=True needs {needs}=\\(x, y\\). Received: {needs}=None"):
        callbacks.BookMonitor("cross_entropy", **{flag: True})


def test_book_monitor_rejects_bad_arguments():
    data = images(4, seed=0)
    with pytest.raises(ValueError, match="Unknown regularization.*Received: regularization='l3'"):
        callbacks.BookMonitor("cross_entropy", data, regularization="l3")
    with pytest.raises(ValueError, match="lmbda.*Received: lmbda=-1"):
        callbacks.BookMonitor("cross_entropy", data, lmbda=-1)
    with pytest.raises(ValueError, match="Unknown cost.*Received: cost='mse'"):
        callbacks.BookMonitor("mse", data)
    with pytest.raises(ValueError, match="training_data must be an \\(x, y\\) tuple"):
        callbacks.BookMonitor("cross_entropy", data[0], monitor_training_accuracy=True)


# --------------------------------------------------------------------------
# LayerLearningSpeed
# --------------------------------------------------------------------------


def oracle_speeds(model, x, y):
    """‖mean over the examples of ∂C/∂bˡ‖ for each hidden layer (cross-entropy)."""
    params = dense_params(model)
    grads = book.backprop(params, ["sigmoid"] * len(params), x.reshape(len(x), -1), y, "cross_entropy")
    return [float(np.linalg.norm(db)) for _, db in grads[:-1]]


def test_layer_learning_speed_matches_the_oracle_at_init_and_in_a_fit():
    model = nnzoo.build("deep_sigmoid_2", seed=0, compile=True)
    x, y = images(100, seed=9)
    speed = callbacks.LayerLearningSpeed((x, y))
    speed.set_model(model)
    at_init = speed.measure()
    assert speed.layer_names == ["hidden_1", "hidden_2"]
    np.testing.assert_allclose(at_init, oracle_speeds(model, x, y), rtol=1e-4)
    # The book's chapter 5 observation: the first hidden layer learns slower.
    assert at_init[0] < at_init[1]

    model.fit(x, y, batch_size=100, epochs=2, verbose=0, callbacks=[speed])
    assert len(speed.speeds) == 1 + 2
    np.testing.assert_allclose(speed.speeds[0], at_init, rtol=1e-6)
    np.testing.assert_allclose(speed.speeds[-1], oracle_speeds(model, x, y), rtol=1e-4)
    assert speed.speeds[-1] != speed.speeds[0]


def test_layer_learning_speed_needs_a_cost():
    model = nnzoo.build("deep_sigmoid_2", seed=0, compile=False)
    x, y = images(8, seed=10)
    speed = callbacks.LayerLearningSpeed((x, y))
    speed.set_model(model)
    with pytest.raises(ValueError, match="pass cost='cross_entropy'.*Received: cost=None and model.loss=None"):
        speed.measure()
    named = callbacks.LayerLearningSpeed((x, y), cost="cross_entropy")
    named.set_model(model)
    np.testing.assert_allclose(named.measure(), oracle_speeds(model, x, y), rtol=1e-4)


def test_layer_learning_speed_errors():
    with pytest.raises(ValueError, match="Unknown cost"):
        callbacks.LayerLearningSpeed(images(4, seed=0), cost="hinge")
    with pytest.raises(ValueError, match="data must be an \\(x, y\\) tuple"):
        callbacks.LayerLearningSpeed(np.zeros((4, 28, 28, 1)))
    model = nnzoo.build("no_hidden_sigmoid", seed=0)
    speed = callbacks.LayerLearningSpeed(images(4, seed=0))
    speed.set_model(model)
    with pytest.raises(ValueError, match="has none. Received layers with a bias: \\['output'\\]"):
        speed.measure()
