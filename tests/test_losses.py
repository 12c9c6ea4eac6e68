"""Each cost and its output error against the book's formulas (§2.4)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from nnzoo import losses

RNG = np.random.default_rng(0)
Z = RNG.normal(0, 2, size=(6, 10)).astype("float32")  # pre-activations zᴸ
Y = np.array([0, 3, 9, 5, 5, 1])
Y_VEC = np.eye(10, dtype="float32")[Y]


def sigmoid(z):
    return 1 / (1 + np.exp(-z.astype("float64")))


def softmax(z):
    e = np.exp(z.astype("float64") - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


BOOK = {
    "quadratic": (sigmoid, lambda a, y: 0.5 * np.sum((y - a) ** 2, axis=1)),
    "cross_entropy": (sigmoid, lambda a, y: -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a), axis=1)),
    "log_likelihood": (softmax, lambda a, y: -np.log(np.sum(a * y, axis=1))),
}


@pytest.mark.parametrize("name", sorted(BOOK))
def test_cost_value_is_the_mini_batch_mean_of_the_book_cost(name):
    activation, per_example = BOOK[name]
    a = activation(Z)
    expected = per_example(a, Y_VEC).mean()
    assert float(losses.get(name)(Y, a.astype("float32"))) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", sorted(BOOK))
def test_integer_and_one_hot_labels_give_the_same_cost(name):
    a = BOOK[name][0](Z).astype("float32")
    cost = losses.get(name)
    assert float(cost(Y, a)) == pytest.approx(float(cost(Y_VEC, a)), rel=1e-6)
    assert float(cost(Y.reshape(-1, 1), a)) == pytest.approx(float(cost(Y_VEC, a)), rel=1e-6)


def output_error(name):
    """∂C_x/∂zᴸ per example, by autodiff through the output activation."""
    activation = keras.activations.softmax if name == "log_likelihood" else keras.activations.sigmoid
    z = tf.Variable(Z)
    cost = losses.get(name)
    with tf.GradientTape() as tape:
        total = cost(Y, activation(z)) * len(Z)  # undo the mean over the batch
    return tape.gradient(total, z).numpy()


@pytest.mark.parametrize("name", ["cross_entropy", "log_likelihood"])
def test_output_error_is_a_minus_y(name):
    """δᴸ = a − y for cross-entropy (eq. 66) and log-likelihood (eq. 84)."""
    a = BOOK[name][0](Z)
    np.testing.assert_allclose(output_error(name), a - Y_VEC, atol=2e-6)


def compiled_output_error(name, z_values, activation):
    """As ``output_error``, inside a ``tf.function``: where fit and nnzoo.epoch compute the cost."""
    z = tf.Variable(z_values)
    cost = losses.get(name)

    @tf.function
    def gradient():
        with tf.GradientTape() as tape:
            total = cost(Y, activation(z)) * len(z_values)
        return tape.gradient(total, z)

    return gradient().numpy()


@pytest.mark.parametrize("name", ["cross_entropy", "log_likelihood"])
def test_output_error_is_a_minus_y_in_a_compiled_step_even_saturated(name):
    """|z| up to ~100: a rounds to exactly 0 or 1 in float32, yet δᴸ = a − y as in the book."""
    saturated = Z * 20
    activation = keras.activations.softmax if name == "log_likelihood" else keras.activations.sigmoid
    a = BOOK[name][0](saturated)
    assert np.any(a.astype("float32") == (0.0 if name == "log_likelihood" else 1.0))  # really saturated
    np.testing.assert_allclose(compiled_output_error(name, saturated, activation), a - Y_VEC, atol=2e-6)


@pytest.mark.parametrize("name, activation", [("log_likelihood", keras.activations.sigmoid),
                                              ("cross_entropy", keras.activations.softmax)])
def test_another_activations_z_is_not_taken_for_the_costs_own(name, activation):
    """The costs read z only from their own output activation: a mismatched pairing gets the formula in a."""
    z = tf.constant(Z)
    a = activation(z).numpy()
    tiny, eps = np.finfo("float32").tiny, keras.config.epsilon()
    clipped = np.clip(a.astype("float64"), tiny, 1 - eps if name == "cross_entropy" else 1.0)
    expected = np.mean(BOOK[name][1](clipped, Y_VEC))
    got = tf.function(lambda: losses.get(name)(Y, activation(z)))()
    assert float(got) == pytest.approx(expected, rel=1e-5)


def test_quadratic_output_error_keeps_the_sigmoid_prime():
    """δᴸ = (a − y) ⊙ σ′(zᴸ) for the quadratic cost (eq. 30)."""
    a = sigmoid(Z)
    np.testing.assert_allclose(output_error("quadratic"), (a - Y_VEC) * a * (1 - a), atol=2e-6)


def test_keras_stock_losses_are_not_the_book_costs():
    """The trap: Keras averages over the outputs, the book sums."""
    a = sigmoid(Z).astype("float32")
    quadratic = float(losses.QuadraticCost()(Y_VEC, a))
    cross_entropy = float(losses.CrossEntropyCost()(Y_VEC, a))
    assert quadratic == pytest.approx(5 * float(keras.losses.MeanSquaredError()(Y_VEC, a)), rel=1e-5)
    assert cross_entropy == pytest.approx(10 * float(keras.losses.BinaryCrossentropy()(Y_VEC, a)), rel=1e-4)


def test_saturated_cross_entropy_is_finite():
    a = np.array([[1.0] + [0.0] * 9], "float32")
    assert np.isfinite(float(losses.CrossEntropyCost()(np.array([3]), a)))


def test_unknown_cost_name():
    with pytest.raises(ValueError, match=r"Received: cost='mse'.*cross_entropy"):
        losses.get("mse")


@pytest.mark.parametrize("cls", [losses.QuadraticCost, losses.CrossEntropyCost, losses.LogLikelihood])
def test_costs_round_trip_through_keras_serialization(cls):
    restored = keras.losses.deserialize(keras.losses.serialize(cls()))
    assert type(restored) is cls
