"""The book's weight penalties, with the book's λ as the knob.

Keras adds a regularizer's value to the mini-batch loss, so the gradient step
on a weight is −η·(∂C₀/∂w + ∂penalty/∂w). Each class below stores the book's λ
and the sizes it is scaled by, and computes the penalty so that this step is
the book's update rule. They go on kernels only: the book never regularizes
biases.

=====================  ==========================  ===========================
book                   penalty per mini-batch      weight update
=====================  ==========================  ===========================
network2 L2 (ch. 3)    (λ/2n)·Σw²                  w ← (1 − ηλ/n)·w − η·∂C₀/∂w
L1 (ch. 3)             (λ/n)·Σ|w|                  w ← w − (ηλ/n)·sgn(w) − η·∂C₀/∂w
network3 L2 (ch. 6)    ½λ·Σw² / (n/m)              w ← (1 − ηλm/n)·w − η·∂C₀/∂w
=====================  ==========================  ===========================

n is the training-set size and m the mini-batch size. For the same λ the
network3 penalty is m times stronger than network2's (10× at the book's m=10).

The two L2 penalties also expose ``decay_rate`` (their gradient is
``decay_rate·w``): nnzoo's compiled epoch (:mod:`nnzoo.epoch`) applies them as
that weight decay, w ← w − η·∂C₀/∂w − η·decay_rate·w, which is the book's
code line for line and spares a Σw² every step. ``model.fit`` and
``model.losses`` still see the penalty.

Example:

>>> reg = Network2L2(lmbda=5.0, n=50_000)
>>> reg.coefficient  # the Keras-style l2 factor: λ / 2n
5e-05
"""

import keras
from keras import ops

__all__ = ["Network2L2", "Network3L2", "L1", "get", "REGULARIZATIONS"]


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}.")


def _check_lmbda(lmbda):
    if isinstance(lmbda, bool) or not isinstance(lmbda, (int, float)) or lmbda < 0:
        raise ValueError(
            f"lmbda (the book's regularization parameter λ) must be a number >= 0. "
            f"Received: lmbda={lmbda!r}."
        )


class _TrainingSetPenalty(keras.regularizers.Regularizer):
    """A penalty scaled by the training-set size n: stores and serializes λ and n."""

    def __init__(self, lmbda, n=50_000):
        _check_lmbda(lmbda)
        _check_positive_int("n", n)
        self.lmbda = float(lmbda)
        self.n = int(n)

    def get_config(self):
        return {"lmbda": self.lmbda, "n": self.n}


@keras.saving.register_keras_serializable(package="nnzoo")
class Network2L2(_TrainingSetPenalty):
    """network2's L2 penalty (λ/2n)·Σw² (the book's eq. 87).

    Args:
        lmbda: the book's λ (``lmbda`` in the book's code).
        n: the size of the training set (50,000 for the book's MNIST split,
            1,000 for its overfitting experiments).
    """

    @property
    def coefficient(self):
        return self.lmbda / (2.0 * self.n)

    @property
    def decay_rate(self):
        """λ/n: the penalty's gradient is ``decay_rate·w`` (see :mod:`nnzoo.epoch`)."""
        return 2.0 * self.coefficient

    def __call__(self, x):
        return self.coefficient * ops.sum(ops.square(x))


@keras.saving.register_keras_serializable(package="nnzoo")
class L1(_TrainingSetPenalty):
    """The book's L1 penalty (λ/n)·Σ|w| (eq. 95); sgn(0) = 0 in the update.

    Args:
        lmbda: the book's λ.
        n: the size of the training set.
    """

    @property
    def coefficient(self):
        return self.lmbda / self.n

    def __call__(self, x):
        return self.coefficient * ops.sum(ops.abs(x))


@keras.saving.register_keras_serializable(package="nnzoo")
class Network3L2(keras.regularizers.Regularizer):
    """network3's L2 penalty ½λ·Σw² / num_training_batches.

    num_training_batches = n // batch_size, as ``network3.py`` computes it.

    Args:
        lmbda: the book's λ.
        n: the size of the training set (250,000 for the expanded data).
        batch_size: the mini-batch size (10 throughout chapter 6).
    """

    def __init__(self, lmbda, n=50_000, batch_size=10):
        _check_lmbda(lmbda)
        _check_positive_int("n", n)
        _check_positive_int("batch_size", batch_size)
        if n // batch_size == 0:
            raise ValueError(
                f"The training set must hold at least one mini-batch. "
                f"Received: n={n}, batch_size={batch_size}."
            )
        self.lmbda = float(lmbda)
        self.n = int(n)
        self.batch_size = int(batch_size)

    @property
    def num_training_batches(self):
        return self.n // self.batch_size

    @property
    def coefficient(self):
        return 0.5 * self.lmbda / self.num_training_batches

    @property
    def decay_rate(self):
        """λ/num_training_batches: the penalty's gradient is ``decay_rate·w``."""
        return 2.0 * self.coefficient

    def __call__(self, x):
        return self.coefficient * ops.sum(ops.square(x))

    def get_config(self):
        return {"lmbda": self.lmbda, "n": self.n, "batch_size": self.batch_size}


REGULARIZATIONS = ("l2", "l1")


def get(regularization, *, lmbda, n, batch_size, style):
    """The penalty for one kernel, or ``None`` when λ is 0.

    Args:
        regularization: ``"l2"`` or ``"l1"``.
        lmbda: the book's λ.
        n: training-set size.
        batch_size: mini-batch size (used by network3's L2 only).
        style: ``"network2"`` (chapters 1-5) or ``"network3"`` (chapter 6),
            which decides how L2 is scaled.
    """
    if regularization not in REGULARIZATIONS:
        raise ValueError(
            f"Unknown regularization. Received: regularization={regularization!r}. "
            f"Expected one of {list(REGULARIZATIONS)}."
        )
    if not lmbda:
        return None
    if regularization == "l1":
        return L1(lmbda, n)
    if style == "network3":
        return Network3L2(lmbda, n, batch_size)
    return Network2L2(lmbda, n)
