"""``nnzoo.layers.BookDropout`` makes network3's dropout update, which Keras's inverted ``Dropout`` does not.

network3's ``FullyConnectedLayer`` and ``SoftmaxLayer`` train on act(dropout(x)·w + b), the kept
inputs unscaled, and infer with act((1 − p)·x·w + b). One SGD step of a small two-layer head is
compared with that update written in NumPy, with the very masks the step drew.
"""

import keras
import numpy as np
import pytest

import nnzoo
from nnzoo.layers import BookDropout

ETA, P = 0.5, 0.5


def _head(dropout_class):
    inputs = keras.Input((8,))
    x = dropout_class(P, seed=3, name="drop_1")(inputs)
    x = keras.layers.Dense(6, activation="relu", name="hidden",
                           kernel_initializer=keras.initializers.RandomNormal(0.0, 0.5, seed=1),
                           bias_initializer=keras.initializers.RandomNormal(0.0, 0.5, seed=2))(x)
    x = dropout_class(P, seed=4, name="drop_2")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="output",
                                 kernel_initializer=keras.initializers.RandomNormal(0.0, 0.5, seed=5))(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(ETA), loss=nnzoo.losses.get("log_likelihood"))
    return model


def _masks(model, batch):
    """The 0/1 masks the model's next training step will draw (same seed state, same shapes)."""
    masks = []
    for name, width in (("drop_1", 8), ("drop_2", 6)):
        layer = model.get_layer(name)
        state = keras.ops.convert_to_numpy(layer.seed_generator.state).copy()
        drawn = keras.ops.convert_to_numpy(layer(np.ones((batch, width), "float32"), training=True))
        layer.seed_generator.state.assign(state)  # the step draws the same mask again
        masks.append((drawn != 0).astype("float64"))
    return masks


def _network3_step(model, x, y, masks):
    (w1, b1), (w2, b2) = (model.get_layer(n).get_weights() for n in ("hidden", "output"))
    w1, b1, w2, b2 = (np.asarray(a, "float64") for a in (w1, b1, w2, b2))
    m1, m2 = masks
    x1 = m1 * x  # kept inputs, unscaled
    z1 = x1 @ w1 + b1
    a1 = np.maximum(z1, 0.0)
    x2 = m2 * a1
    z2 = x2 @ w2 + b2
    a2 = np.exp(z2 - z2.max(axis=1, keepdims=True))
    a2 /= a2.sum(axis=1, keepdims=True)
    delta2 = (a2 - np.eye(3)[y]) / len(y)  # mean log-likelihood over the mini-batch
    delta1 = (delta2 @ w2.T) * m2 * (z1 > 0)
    return [w1 - ETA * x1.T @ delta1, b1 - ETA * delta1.sum(0), w2 - ETA * x2.T @ delta2, b2 - ETA * delta2.sum(0)]


@pytest.mark.parametrize("dropout_class, network3", [(BookDropout, True), (keras.layers.Dropout, False)])
def test_one_step_is_network3s_update_only_with_book_dropout(dropout_class, network3):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 1.0, (10, 8)).astype("float32")
    y = rng.integers(0, 3, 10)
    model = _head(dropout_class)
    masks = _masks(model, len(y))
    expected = _network3_step(model, x.astype("float64"), y, masks)

    model.train_on_batch(x, y)

    got = model.get_layer("hidden").get_weights() + model.get_layer("output").get_weights()
    close = all(np.allclose(a, b, atol=1e-6) for a, b in zip(got, expected))
    assert close == network3  # inverted dropout: the same masks, another update


def test_book_dropout_scales_by_the_keep_fraction_at_inference_and_masks_unscaled_in_training():
    layer = BookDropout(0.5, seed=7)
    x = np.arange(1.0, 1001.0, dtype="float32").reshape(1, 1000)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), 0.5 * x)
    trained = keras.ops.convert_to_numpy(layer(x, training=True))
    assert np.all((trained == 0) | (trained == x))  # each input dropped or kept as it is
    assert 0.45 < (trained == x).mean() < 0.55


def test_conv2_dropout_uses_book_dropout_and_round_trips(tmp_path):
    model = nnzoo.build("conv2_dropout", seed=0, hidden=(16, 16), conv=((2, 5), (3, 5)))
    dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    assert [type(layer) for layer in dropouts] == [BookDropout] * 3
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert [type(layer) for layer in loaded.layers if isinstance(layer, keras.layers.Dropout)] == [BookDropout] * 3
    x = np.random.default_rng(1).uniform(0.0, 1.0, (4, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)),
                               atol=1e-7)
