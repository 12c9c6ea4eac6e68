"""Pieces every model family shares: the input, the fully-connected head, compiling."""

import numpy as np

# Keras and the modules that register with it are imported inside the builders: the cards (and the
# command line's `nnzoo list` / `nnzoo info`) must not need TensorFlow.

IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10

# How the book picked the number it reports is the card's nnzoo.protocols.Protocol (BookResult.protocol).


class SeedStream:
    """Distinct, reproducible integer seeds for the layers of one model.

    ``SeedStream(None)`` yields ``None`` forever (Keras's unseeded behaviour).
    """

    def __init__(self, seed):
        self._seed = seed
        self._count = 0

    def __call__(self):
        if self._seed is None:
            return None
        self._count += 1
        return int(np.random.SeedSequence([self._seed, self._count]).generate_state(1)[0] >> 1)


def image_input():
    import keras  # noqa: PLC0415

    return keras.Input(shape=IMAGE_SHAPE, name="image")


def penalty(config, book_code):
    """A fresh book penalty for one weight matrix (None when λ = 0)."""
    from nnzoo import regularizers  # noqa: PLC0415

    return regularizers.get(
        config["regularization"],
        lmbda=config["lmbda"],
        n=config["n_train"],
        batch_size=config["batch_size"],
        style="network3" if book_code == "network3.py" else "network2",
    )


def dense(x, units, activation, config, book_code, seeds, name, output_layer=False):
    import keras  # noqa: PLC0415
    from nnzoo import initializers  # noqa: PLC0415

    kernel_init, bias_init = initializers.initializers_for(
        config["init"], output_layer=output_layer, seed=seeds()
    )
    return keras.layers.Dense(
        units,
        activation=activation,
        kernel_initializer=kernel_init,
        bias_initializer=bias_init,
        kernel_regularizer=penalty(config, book_code),
        name=name,
    )(x)


def dropout(x, config, seeds, name):
    """network3's dropout: a mask on the *input* of a fully-connected layer.

    ``nnzoo.layers.BookDropout``: kept inputs unscaled while training, every
    input scaled by (1 - p) at inference, as network3 does. Keras's inverted
    ``Dropout`` would agree in expectation but train differently at the same
    initialisation and η (see ``BookDropout``).
    """
    from nnzoo.layers import BookDropout  # noqa: PLC0415

    if not config["p_dropout"]:
        return x
    return BookDropout(config["p_dropout"], seed=seeds(), name=name)(x)


def fully_connected_head(x, config, book_code, seeds):
    """Hidden layers ``config["hidden"]`` then the 10-neuron output layer.

    The output activation follows the cost: sigmoid for the quadratic and
    cross-entropy costs, softmax for the log-likelihood.
    """
    from nnzoo import losses  # noqa: PLC0415

    for index, width in enumerate(config["hidden"], start=1):
        x = dropout(x, config, seeds, name=f"dropout_{index}")
        x = dense(x, width, config["activation"], config, book_code, seeds, name=f"hidden_{index}")
    x = dropout(x, config, seeds, name="dropout_output")
    return dense(
        x,
        NUM_CLASSES,
        losses.OUTPUT_ACTIVATION[config["cost"]],
        config,
        book_code,
        seeds,
        name="output",
        output_layer=True,
    )


def accuracy_metric():
    import keras  # noqa: PLC0415

    return keras.metrics.SparseCategoricalAccuracy(name="accuracy")


# At the book's mini-batch of 10, per-step overhead dominates; running 100 SGD
# steps per call into the compiled graph is ~5x faster on CPU (same updates).
STEPS_PER_EXECUTION = 100


def finish(model_card, config, inputs, outputs):
    """Wrap the graph in a ``BookModel`` (a Functional model) and compile it the book's way."""
    import keras  # noqa: PLC0415
    from nnzoo import losses  # noqa: PLC0415
    from nnzoo.models.book_model import BookModel  # noqa: PLC0415

    model = BookModel(inputs, outputs, name=model_card.name)
    if config["compile"]:
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=config["eta"]),
            loss=losses.get(config["cost"]),
            metrics=[accuracy_metric()],
            steps_per_execution=steps_per_execution(),
        )
    return model


def steps_per_execution():
    """``STEPS_PER_EXECUTION``, or 1 under a multi-replica ``tf.distribute`` strategy.

    Keras's ``fit`` fails under MirroredStrategy with more than one replica and
    ``steps_per_execution > 1``; a model built in the strategy's scope steps once per call.
    """
    import keras  # noqa: PLC0415

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf  # noqa: PLC0415

        if tf.distribute.has_strategy() and tf.distribute.get_strategy().num_replicas_in_sync > 1:
            return 1
    return STEPS_PER_EXECUTION
