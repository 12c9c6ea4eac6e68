"""The book's initialisation schemes: the right distribution on the right layers."""

import keras
import numpy as np
import pytest

import nnzoo
from nnzoo import initializers


def std(layer, attribute="kernel"):
    return float(np.std(np.asarray(getattr(layer, attribute))))


def test_large_init_is_unit_normal_for_weights_and_biases():
    model = nnzoo.build("shallow_sigmoid_100", seed=0)
    hidden = model.get_layer("hidden_1")
    assert std(hidden) == pytest.approx(1.0, rel=0.02)
    assert std(hidden, "bias") == pytest.approx(1.0, rel=0.3)
    assert float(np.mean(np.asarray(hidden.kernel))) == pytest.approx(0.0, abs=0.02)


def test_default_init_scales_weights_by_inverse_sqrt_fan_in():
    model = nnzoo.build("deep_sigmoid_2", seed=0)
    assert std(model.get_layer("hidden_1")) == pytest.approx(1 / np.sqrt(784), rel=0.03)
    assert std(model.get_layer("hidden_2")) == pytest.approx(1 / np.sqrt(30), rel=0.15)
    assert std(model.get_layer("hidden_1"), "bias") == pytest.approx(1.0, rel=0.35)


def test_default_init_is_untruncated():
    """Keras's lecun_normal truncates at 2σ; the book's normal does not."""
    kernel = np.asarray(initializers.InverseSqrtFanIn(seed=1)((1000, 1000)))
    assert np.abs(kernel).max() * np.sqrt(1000) > 3.5


def test_network3_init_uses_fan_out_with_the_pool_factor_and_zero_softmax():
    model = nnzoo.build("conv2_dropout", seed=0)
    # conv: n_out = filters·5·5/4 → 125 and 250; FC: n_out = units.
    assert std(model.get_layer("conv_1")) == pytest.approx(np.sqrt(1 / 125), rel=0.15)
    assert std(model.get_layer("conv_2")) == pytest.approx(np.sqrt(1 / 250), rel=0.05)
    assert std(model.get_layer("hidden_1")) == pytest.approx(np.sqrt(1 / 1000), rel=0.02)
    assert std(model.get_layer("hidden_2")) == pytest.approx(np.sqrt(1 / 1000), rel=0.02)
    output = model.get_layer("output")
    assert not np.any(np.asarray(output.kernel)) and not np.any(np.asarray(output.bias))
    assert std(model.get_layer("hidden_1"), "bias") == pytest.approx(1.0, rel=0.1)


def test_seed_makes_builds_reproducible_and_layers_distinct():
    first = nnzoo.build("deep_sigmoid_2", seed=11).get_weights()
    second = nnzoo.build("deep_sigmoid_2", seed=11).get_weights()
    other = nnzoo.build("deep_sigmoid_2", seed=12).get_weights()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(first[1], first[3][:30])  # kernel and bias draws differ


@pytest.mark.parametrize("init", [initializers.LargeNormal(3), initializers.InverseSqrtFanIn(3),
                                  initializers.Network3Normal(4, seed=3)])
def test_initializers_round_trip_through_keras_serialization(init):
    restored = keras.initializers.deserialize(keras.initializers.serialize(init))
    assert type(restored) is type(init) and restored.get_config() == init.get_config()


def test_unknown_init():
    with pytest.raises(ValueError, match="Received: init='xavier'"):
        initializers.initializers_for("xavier")
