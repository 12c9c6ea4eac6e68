"""The book's three weight-initialisation schemes.

* ``"large"`` (chapter 1's ``network.py``): weights and biases ~ N(0, 1).
* ``"default"`` (chapter 3's ``network2.py``): weights ~ N(0, 1/√n_in),
  biases ~ N(0, 1).
* ``"network3"`` (chapter 6's ``network3.py``): weights ~ N(0, √(1/n_out)),
  biases ~ N(0, 1), and the softmax output layer all zeros. For a conv-pool
  layer n_out = filters·kh·kw / pool_area. The book's author notes n_in was
  intended; we keep n_out because it is what produced the book's numbers.

Every normal is untruncated (Keras's ``lecun_normal`` is truncated, so it is
not the book's ``default``).

Example:

>>> kernel_init, bias_init = initializers_for("default", seed=0)
>>> layer = keras.layers.Dense(30, kernel_initializer=kernel_init,
...                            bias_initializer=bias_init)  # doctest: +SKIP
"""

import keras

__all__ = ["LargeNormal", "InverseSqrtFanIn", "Network3Normal", "initializers_for", "INITS"]

INITS = ("large", "default", "network3")


@keras.saving.register_keras_serializable(package="nnzoo")
class LargeNormal(keras.initializers.RandomNormal):
    """N(0, 1): chapter 1's initialisation of weights and biases."""

    def __init__(self, seed=None):
        super().__init__(mean=0.0, stddev=1.0, seed=seed)

    def get_config(self):
        return {"seed": self._init_seed}


@keras.saving.register_keras_serializable(package="nnzoo")
class InverseSqrtFanIn(keras.initializers.VarianceScaling):
    """N(0, 1/√n_in): network2's default weight initialisation."""

    def __init__(self, seed=None):
        super().__init__(scale=1.0, mode="fan_in", distribution="untruncated_normal", seed=seed)

    def get_config(self):
        return {"seed": self._init_seed}


@keras.saving.register_keras_serializable(package="nnzoo")
class Network3Normal(keras.initializers.VarianceScaling):
    """N(0, √(1/n_out)) with network3's n_out = fan_out / pool_area.

    For a ``Dense`` layer pass ``pool_area=1`` (n_out = units). For a conv
    layer followed by 2×2 max-pooling pass ``pool_area=4``: Keras's conv fan_out
    is kh·kw·filters, and network3 divides it by the pool area.
    """

    def __init__(self, pool_area=1, seed=None):
        if isinstance(pool_area, bool) or not isinstance(pool_area, int) or pool_area < 1:
            raise ValueError(f"pool_area must be a positive integer. Received: pool_area={pool_area!r}.")
        self.pool_area = pool_area
        super().__init__(
            scale=float(pool_area), mode="fan_out", distribution="untruncated_normal", seed=seed
        )

    def get_config(self):
        return {"pool_area": self.pool_area, "seed": self._init_seed}


def initializers_for(init, *, output_layer=False, pool_area=1, seed=None):
    """(kernel_initializer, bias_initializer) of one layer under a book scheme.

    Args:
        init: ``"large"``, ``"default"`` or ``"network3"``.
        output_layer: whether the layer is the network's output layer
            (network3 initialises it to zeros).
        pool_area: the max-pool area after a conv layer (network3 only).
        seed: an int, or ``None`` for Keras's unseeded behaviour. The bias
            initializer gets ``seed + 1`` so kernel and bias draws differ.
    """
    bias_seed = None if seed is None else seed + 1
    if init == "large":
        return LargeNormal(seed), LargeNormal(bias_seed)
    if init == "default":
        return InverseSqrtFanIn(seed), LargeNormal(bias_seed)
    if init == "network3":
        if output_layer:
            return "zeros", "zeros"
        return Network3Normal(pool_area, seed), LargeNormal(bias_seed)
    raise ValueError(f"Unknown init. Received: init={init!r}. Expected one of {list(INITS)}.")
