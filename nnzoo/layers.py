"""Layers the book needs that Keras does not have."""

import keras
import numpy as np
from keras import ops

__all__ = ["BookDropout", "PluralityVote", "vote"]


@keras.saving.register_keras_serializable(package="nnzoo")
class BookDropout(keras.layers.Dropout):
    """network3's dropout: kept inputs pass unscaled while training; every input is scaled by (1 − p) at inference.

    Keras's ``Dropout`` is *inverted*: it scales the kept inputs by 1/(1 − p)
    while training and passes them through at inference. Both give a layer the
    same expected input, but they do not train alike. With the inverted form
    the next layer's weights V play the role of the book's (1 − p)·W, so from
    the same initial weights and the same η, SGD starts from weights worth
    1/(1 − p) times the book's and moves them 1/(1 − p)² times as fast
    (2× and 4× at the book's p = 0.5). This layer makes network3's update:
    in ``FullyConnectedLayer`` and ``SoftmaxLayer`` the training output is
    act(dropout(x)·w + b) and the inference output act((1 − p)·x·w + b).

    The arguments are ``keras.layers.Dropout``'s (``rate`` is the book's
    ``p_dropout``, the fraction dropped). The masks are ``Dropout``'s own.

    Example:

    >>> layer = BookDropout(0.5, seed=1)
    >>> x = np.ones((1, 4), "float32")
    >>> ops.convert_to_numpy(layer(x, training=False)).tolist()
    [[0.5, 0.5, 0.5, 0.5]]
    >>> sorted(set(ops.convert_to_numpy(layer(x, training=True)).ravel().tolist())) <= [0.0, 1.0]
    True
    """

    def call(self, inputs, training=False):
        keep = 1.0 - self.rate
        if training and self.rate > 0:
            # Keras's mask, with its 1/(1 - p) undone: exact for p = 0.5 (powers of two).
            return super().call(inputs, training=True) * keep
        return inputs * keep


@keras.saving.register_keras_serializable(package="nnzoo")
class PluralityVote(keras.layers.Layer):
    """The book's ensemble vote, as a probability distribution over the digits.

    Takes a list of k member outputs of shape ``(batch, classes)``. Each member
    votes for its argmax; the returned distribution is

        (votes + ½·mean_probability) / (k + ½)

    which sums to 1 and whose argmax is the plurality winner. A tie between
    digits with equal votes goes to the digit with the larger mean member
    probability (½·mean_probability < 1 can never overturn a whole vote); an
    exact tie of that too goes to the lower digit, as ``argmax`` does.

    Example:

    >>> votes = PluralityVote()([p1, p2, p3])  # doctest: +SKIP
    >>> digit = ops.argmax(votes, axis=-1)  # doctest: +SKIP
    """

    def call(self, member_outputs):
        # The vote is not trainable: members learn on their own costs.
        stacked = ops.stop_gradient(ops.stack(member_outputs, axis=0))
        votes = ops.sum(_first_max_one_hot(stacked), axis=0)
        mean_probability = ops.mean(stacked, axis=0)
        members = float(len(member_outputs))
        return (votes + 0.5 * mean_probability) / (members + 0.5)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


def _first_max_one_hot(scores):
    """``one_hot(argmax(scores))`` from comparisons and a matrix product only.

    The same ties as ``argmax`` (the first maximum), without an ArgMax op: under
    TensorFlow, ``ops.argmax`` on floats lowers to Bitcast and BitwiseAnd, which
    TFLite's builtin ops, ONNX and TF.js cannot run.
    """
    num_classes = scores.shape[-1]
    is_max = ops.cast(scores >= ops.max(scores, axis=-1, keepdims=True), scores.dtype)
    # Running count of maxima along the classes (is_max @ upper-triangular ones): 1 at the first.
    running = ops.matmul(is_max, ops.convert_to_tensor(np.triu(np.ones((num_classes, num_classes))), scores.dtype))
    return is_max * ops.cast(ops.equal(running, 1.0), scores.dtype)


def vote(member_outputs):
    """The digits a plurality vote picks, as a NumPy array.

    Args:
        member_outputs: one ``(batch, classes)`` array of outputs per member.

    Ties are broken as in ``PluralityVote``.
    """
    return np.argmax(ops.convert_to_numpy(PluralityVote()(list(member_outputs))), axis=-1)
