"""The book's three cost functions as Keras losses.

Every cost sums the per-neuron cost over the 10 output neurons and Keras
averages over the mini-batch, exactly as the book does. Keras's own
``MeanSquaredError`` and ``BinaryCrossentropy`` *average* over the outputs
instead, which silently divides the gradient (and so the book's learning
rate) by 5 and by 10 respectively.

All three accept integer class labels (shape ``(batch,)`` or ``(batch, 1)``)
or one-hot vectors (shape ``(batch, classes)``); integer labels are turned
into the book's one-hot target vectors inside the loss.

Example:

>>> import numpy as np
>>> cost = QuadraticCost()
>>> a = np.array([[0.5, 0.5]], "float32")
>>> float(cost(np.array([0]), a))  # 0.5 * ((1 - .5)**2 + (0 - .5)**2)
0.25
"""

import keras
import numpy as np
from keras import ops

__all__ = ["QuadraticCost", "CrossEntropyCost", "LogLikelihood", "get", "COSTS"]


def _logits(a, activation):
    """The pre-activation z of the output ``a``, where the backend kept it; else ``None``.

    Keras's sigmoid and softmax attach z to their output under TensorFlow
    (``_keras_logits``, the attribute Keras's own cross-entropies read). A cost
    computed from z has the book's output error δ = a − y even where ``a`` has
    rounded to exactly 0 or 1 in float32 (|z| > ~17), where a cost computed
    from a clipped ``a`` has a zero gradient. z is used only when ``a`` is
    visibly the output of ``activation`` (a graph tensor of that op: inside
    ``fit``, ``train_on_batch`` and ``nnzoo.epoch``); JAX arrays and eager
    tensors keep no z, and there the clipped formula applies.
    """
    z = getattr(a, "_keras_logits", None)
    try:
        op_type = a.op.type
    except AttributeError:  # an eager tensor or another backend's array
        return None
    return z if z is not None and op_type == activation else None


def _tiny(a):
    """The smallest normal number of ``a``'s dtype: the floor the costs clip an activation to.

    Where the cost is computed from ``a`` itself, the gradient reaches z through
    ∂C/∂a and the activation's derivative, and the clip zeroes it below the floor.
    Keras's floor, ε = 1e-7, is met as soon as a wrong logit leads by ~16, and a
    network that starts there never learns (``conv1_nofc`` at the book's η = 0.1
    stalls at chance under that clip). Down to the smallest normal number the
    products stay finite and exact: a_y · (1/a_y) = 1, so δ = a − y.
    """
    return float(np.finfo(keras.backend.standardize_dtype(a.dtype)).tiny)


def _one_hot_targets(y_true, y_pred):
    """Integer labels -> one-hot vectors; one-hot targets pass through."""
    num_classes = y_pred.shape[-1]
    y_true = ops.convert_to_tensor(y_true)
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == num_classes:
        return ops.cast(y_true, y_pred.dtype)
    labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
    return ops.one_hot(labels, num_classes, dtype=y_pred.dtype)


class _BookCost(keras.losses.Loss):
    """Shared plumbing: per-example cost, averaged over the mini-batch."""

    default_name = None

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name or self.default_name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        return self.per_example(_one_hot_targets(y_true, y_pred), y_pred)

    def per_example(self, y, a):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="nnzoo")
class QuadraticCost(_BookCost):
    """The book's quadratic cost, C_x = ½‖y − a‖² summed over the outputs.

    Used with sigmoid outputs in chapter 1 (``network.py``). Its output error is
    δᴸ = (a − y) ⊙ σ′(zᴸ), which Keras obtains by differentiating through the
    sigmoid.

    Example:

    >>> model = nnzoo.build("shallow_sigmoid", compile=False)  # doctest: +SKIP
    >>> model.compile(optimizer=keras.optimizers.SGD(3.0), loss=QuadraticCost())  # doctest: +SKIP
    """

    default_name = "quadratic_cost"

    def per_example(self, y, a):
        return 0.5 * ops.sum(ops.square(y - a), axis=-1)


@keras.saving.register_keras_serializable(package="nnzoo")
class CrossEntropyCost(_BookCost):
    """The book's cross-entropy for sigmoid outputs, summed over the outputs.

    C_x = −Σⱼ [yⱼ ln aⱼ + (1 − yⱼ) ln(1 − aⱼ)]. Its output error is δᴸ = a − y.

    Under TensorFlow, inside a compiled step, the cost is computed from the
    output layer's z (``sigmoid_cross_entropy_with_logits``), so even a neuron
    saturated at exactly 0 or 1 gets δ = a − y. Elsewhere (JAX, eager
    tensors, NumPy predictions) the activations are clipped to [τ, 1 − ε]
    (τ the dtype's smallest normal number, ε = 1e-7) before the logarithm:
    a finite cost where the book's ``np.nan_to_num`` would give one, and the
    book's gradient inside that range, which reaches z ≈ −87 below but only
    z ≈ 16 above: a wrong output whose σ(z) has rounded to 1.0 gets none there.
    (Keras's ``CategoricalCrossentropy`` drops the (1 − y) ln(1 − a) term and
    ``BinaryCrossentropy`` divides by the number of outputs: neither is this.)
    """

    default_name = "cross_entropy_cost"

    def per_example(self, y, a):
        z = _logits(a, "Sigmoid")
        if z is not None:
            return ops.sum(ops.binary_crossentropy(y, z, from_logits=True), axis=-1)
        a = ops.clip(a, _tiny(a), 1.0 - keras.config.epsilon())
        return -ops.sum(y * ops.log(a) + (1.0 - y) * ops.log(1.0 - a), axis=-1)


@keras.saving.register_keras_serializable(package="nnzoo")
class LogLikelihood(_BookCost):
    """The log-likelihood cost of a softmax output layer, C_x = −ln a_y.

    Chapter 6's ``network3.py`` cost. Its output error is δᴸ = a − y. Under
    TensorFlow, inside a compiled step, it is computed from the softmax's z
    (``softmax_cross_entropy_with_logits``), so an example whose a_y has
    underflowed still gets δ = a − y; elsewhere (JAX, eager tensors, NumPy
    predictions) a_y is clipped at the dtype's smallest normal number τ
    (1.2e-38 in float32) before the logarithm, which keeps the book's δ until
    a wrong logit leads the right one by ~87. (Keras's categorical
    cross-entropy, the same cost, clips at 1e-7: its gradient vanishes at a
    lead of ~16, and ``conv1_nofc`` never leaves chance under it.)
    """

    default_name = "log_likelihood"

    def per_example(self, y, a):
        z = _logits(a, "Softmax")
        if z is not None:
            return ops.categorical_crossentropy(y, z, from_logits=True)
        return -ops.sum(y * ops.log(ops.clip(a, _tiny(a), 1.0)), axis=-1)


COSTS = {
    "quadratic": QuadraticCost,
    "cross_entropy": CrossEntropyCost,
    "log_likelihood": LogLikelihood,
}

#: The output-layer activation each cost is defined for in the book.
OUTPUT_ACTIVATION = {
    "quadratic": "sigmoid",
    "cross_entropy": "sigmoid",
    "log_likelihood": "softmax",
}


def get(name):
    """Return a new cost instance by its book name (see ``COSTS``)."""
    try:
        return COSTS[name]()
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown cost. Received: cost={name!r}. "
            f"Expected one of {sorted(COSTS)}."
        ) from None
