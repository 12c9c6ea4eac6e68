"""Independent NumPy oracle for one mini-batch SGD step of the book's networks.

This module re-derives, in plain float64 NumPy, what one step of the book's
mini-batch stochastic gradient descent does (Nielsen, *Neural Networks and
Deep Learning*, ch. 1-3 and 6).  It is the reference that the package's tests
compare Keras against, so it deliberately imports neither TensorFlow nor Keras
and is written from the book's formulas, not from any framework:

* feed-forward  a^l = act(z^l),  z^l = a^{l-1} W^l + b^l
* costs (the book's chapters 1 and 3)
    quadratic       C_x = 1/2 ||y - a||^2                         (eq. 6 / 26)
    cross_entropy   C_x = -sum_j [y_j ln a_j + (1-y_j) ln(1-a_j)] (eq. 63)
    log_likelihood  C_x = -ln a_y                                 (eq. 80)
  the mini-batch cost is the mean of C_x over the m examples.
* backpropagation BP1-BP4 (book ch. 2), in matrix form over the mini-batch
    BP1  delta^L = grad_a C (.) act'(z^L)
         = (a - y) (.) sigma'(z^L)   for quadratic + sigmoid     (eq. 30)
         = a - y                     for cross-entropy + sigmoid (eq. 66)
         = a - y                     for log-likelihood + softmax(eq. 84)
    BP2  delta^l = (delta^{l+1} W^{l+1 T}) (.) act'(z^l)
    BP3  dC/db^l = delta^l
    BP4  dC/dW^l = a^{l-1 T} delta^l
* update rules (chapters 1-3 and 6)
    none         w -> w - (eta/m) sum_x dC_x/dw                        (eq. 20)
    l2_network2  w -> (1 - eta*lmbda/n) w - (eta/m) sum_x dC_x/dw      (eq. 93)
    l1           w -> w - (eta*lmbda/n) sgn(w) - (eta/m) sum_x dC_x/dw (eq. 97)
                 with sgn(0) = 0
    l2_network3  w -> w - eta*(lmbda/nb) w - (eta/m) sum_x dC_x/dw,
                 nb = num_training_batches = n // batch_size  (network3.py)
  Biases are never regularized (eq. 94).

Conventions (chosen to match Keras ``Dense``):

* ``params`` is a list of ``(W, b)`` pairs, ``W`` of shape ``(n_in, n_out)``
  and ``b`` of shape ``(n_out,)`` (the book stores the transpose,
  ``(n_out, n_in)``; the mathematics is identical).
* ``x`` has shape ``(m, n_in)`` (already flattened), one example per row.
* ``y`` is a vector of ``m`` integer class indices, turned into one-hot
  vectors with as many entries as the last layer has units.  A 2-D float
  array of shape ``(m, n_out)`` is also accepted and used as the target
  vectors as they are (handy for the book's one-neuron examples, where the
  target is the number 0).
* ``activations`` is a list of names, one per layer, from
  ``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"softmax"`` (softmax only on the
  last layer).  ``relu'(0)`` is taken as 0.

Everything is computed in float64 and no function mutates its inputs.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "COSTS",
    "REGULARIZATIONS",
    "activate",
    "activation_prime",
    "one_hot",
    "forward",
    "per_example_cost",
    "regularization_term",
    "cost",
    "output_delta",
    "backprop",
    "regularization_gradient",
    "sgd_step",
    "numerical_gradient",
    "init_large",
    "init_default",
]

ACTIVATIONS = ("sigmoid", "tanh", "relu", "softmax")
COSTS = ("quadratic", "cross_entropy", "log_likelihood")
REGULARIZATIONS = (None, "l2_network2", "l1", "l2_network3")


# --------------------------------------------------------------------------
# Activation functions and their derivatives
# --------------------------------------------------------------------------

def _sigmoid(z):
    # Numerically stable form of 1 / (1 + exp(-z)) (eq. 3), no overflow
    # warnings for large |z|.
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def _softmax(z):
    # a_j = exp(z_j) / sum_k exp(z_k) (eq. 78), row-wise; shifting by the row
    # maximum does not change the value.
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def activate(name, z):
    """Apply the activation function called ``name`` to ``z``."""
    z = np.asarray(z, dtype=np.float64)
    if name == "sigmoid":
        return _sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "softmax":
        return _softmax(z)
    raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}")


def activation_prime(name, z):
    """Elementwise derivative act'(z) for the elementwise activations.

    sigma' = sigma (1 - sigma); tanh' = 1 - tanh^2; relu' = 1 for z > 0 and 0
    otherwise.  Softmax is not elementwise (its Jacobian couples the outputs),
    so it is rejected here; ``output_delta`` handles it.
    """
    z = np.asarray(z, dtype=np.float64)
    if name == "sigmoid":
        s = _sigmoid(z)
        return s * (1.0 - s)
    if name == "tanh":
        t = np.tanh(z)
        return 1.0 - t * t
    if name == "relu":
        return (z > 0).astype(np.float64)
    if name == "softmax":
        raise ValueError("softmax is not elementwise; it may only be the output layer")
    raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}")


# --------------------------------------------------------------------------
# Input checking helpers
# --------------------------------------------------------------------------

def _as_params(params):
    out = []
    for i, pair in enumerate(params):
        W, b = pair
        W = np.asarray(W, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        if W.ndim != 2 or b.ndim != 1 or b.shape[0] != W.shape[1]:
            raise ValueError(
                f"layer {i}: expected W (n_in, n_out) and b (n_out,), "
                f"got {W.shape} and {b.shape}")
        if i > 0 and W.shape[0] != out[-1][0].shape[1]:
            raise ValueError(
                f"layer {i}: n_in={W.shape[0]} does not match previous "
                f"n_out={out[-1][0].shape[1]}")
        out.append((W, b))
    if not out:
        raise ValueError("params must contain at least one (W, b) layer")
    return out


def _check_activations(activations, n_layers):
    activations = list(activations)
    if len(activations) != n_layers:
        raise ValueError(
            f"got {len(activations)} activation names for {n_layers} layers")
    for i, name in enumerate(activations):
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; expected one of {ACTIVATIONS}")
        if name == "softmax" and i != n_layers - 1:
            raise ValueError("softmax is only allowed on the last layer")
    return activations


def one_hot(y, num_classes):
    """Targets as an ``(m, num_classes)`` float64 array.

    Integer class indices of shape ``(m,)`` become one-hot rows (the book's
    ``vectorized_result``).  A 2-D array is taken to already hold the target
    vectors and is returned as float64 after a shape check.
    """
    y = np.asarray(y)
    if y.ndim == 2:
        if y.shape[1] != num_classes:
            raise ValueError(f"target vectors have {y.shape[1]} entries, expected {num_classes}")
        return y.astype(np.float64)
    if y.ndim != 1:
        raise ValueError(f"y must be (m,) class indices or (m, {num_classes}) targets")
    if not np.issubdtype(y.dtype, np.integer):
        yi = y.astype(np.int64)
        if not np.array_equal(yi, y):
            raise ValueError("class indices must be integers")
        y = yi
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"class index out of range [0, {num_classes})")
    out = np.zeros((y.shape[0], num_classes), dtype=np.float64)
    out[np.arange(y.shape[0]), y] = 1.0
    return out


def _as_x(x, n_in):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != n_in:
        raise ValueError(f"x must have shape (m, {n_in}), got {x.shape}")
    return x


# --------------------------------------------------------------------------
# Feed-forward and cost
# --------------------------------------------------------------------------

def forward(params, activations, x):
    """Feed ``x`` forward through the network.

    Returns ``(zs, activations_list)`` as in the book's ``backprop``:
    ``zs[l]`` is the weighted input ``z`` of layer ``l`` (``l = 0 .. L-1``),
    shape ``(m, n_out_l)``; ``activations_list`` has ``L + 1`` entries,
    ``activations_list[0]`` is ``x`` itself and ``activations_list[l + 1]``
    is the output of layer ``l``.  The network output is
    ``activations_list[-1]``.
    """
    params = _as_params(params)
    acts = _check_activations(activations, len(params))
    a = _as_x(x, params[0][0].shape[0])
    zs, activations_list = [], [a]
    for (W, b), name in zip(params, acts):
        z = a @ W + b
        a = activate(name, z)
        zs.append(z)
        activations_list.append(a)
    return zs, activations_list


def per_example_cost(a, y_vec, cost_name):
    """C_x for every example (row) of the output ``a``; shape ``(m,)``.

    ``y_vec`` holds the target vectors, shape like ``a``.  No clipping and no
    ``nan_to_num``: the oracle evaluates the exact formula.
    """
    a = np.asarray(a, dtype=np.float64)
    y_vec = np.asarray(y_vec, dtype=np.float64)
    if cost_name == "quadratic":
        # C_x = 1/2 ||y - a||^2, summed over the outputs (eq. 26).
        return 0.5 * np.sum((y_vec - a) ** 2, axis=1)
    if cost_name == "cross_entropy":
        # C_x = -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)] (eq. 63).
        return -np.sum(y_vec * np.log(a) + (1.0 - y_vec) * np.log1p(-a), axis=1)
    if cost_name == "log_likelihood":
        # C_x = -ln a_y (eq. 80); with a one-hot y this is -sum_j y_j ln a_j.
        return -np.sum(y_vec * np.log(a), axis=1)
    raise ValueError(f"unknown cost {cost_name!r}; expected one of {COSTS}")


def _num_training_batches(n, batch_size):
    if n is None or batch_size is None:
        raise ValueError("l2_network3 needs n and batch_size")
    nb = int(n) // int(batch_size)
    if nb <= 0:
        raise ValueError(f"n // batch_size must be positive, got n={n}, batch_size={batch_size}")
    return nb


def _check_regularization(regularization, n, batch_size):
    if regularization not in REGULARIZATIONS:
        raise ValueError(
            f"unknown regularization {regularization!r}; expected one of {REGULARIZATIONS}")
    if regularization in ("l2_network2", "l1"):
        if n is None or n <= 0:
            raise ValueError(f"{regularization} needs the training-set size n > 0")
    if regularization == "l2_network3":
        _num_training_batches(n, batch_size)


def regularization_term(params, lmbda, regularization, n=None, batch_size=None):
    """The penalty added to the mini-batch cost (weights only, never biases).

    * ``"l2_network2"``: (lmbda / 2n) sum w^2            (eq. 87)
    * ``"l1"``:          (lmbda / n) sum |w|             (eq. 95)
    * ``"l2_network3"``: 0.5 lmbda sum w^2 / (n // batch_size)  (network3.py)
    * ``None``: 0
    """
    _check_regularization(regularization, n, batch_size)
    if regularization is None:
        return 0.0
    params = _as_params(params)
    if regularization == "l1":
        return float(lmbda) / n * sum(float(np.sum(np.abs(W))) for W, _ in params)
    sq = sum(float(np.sum(W * W)) for W, _ in params)
    if regularization == "l2_network2":
        return float(lmbda) / (2.0 * n) * sq
    return 0.5 * float(lmbda) * sq / _num_training_batches(n, batch_size)


def cost(params, activations, x, y, cost_name, *, lmbda=0.0, regularization=None,
         n=None, batch_size=None):
    """Mean over the mini-batch of C_x, plus the regularization term.

    This is the per-mini-batch objective whose gradient gives the book's
    update (see ``sgd_step``).  Returns a Python float.
    """
    if cost_name not in COSTS:
        raise ValueError(f"unknown cost {cost_name!r}; expected one of {COSTS}")
    params = _as_params(params)
    _, acts = forward(params, activations, x)
    a = acts[-1]
    y_vec = one_hot(y, a.shape[1])
    if y_vec.shape[0] != a.shape[0]:
        raise ValueError(f"{y_vec.shape[0]} targets for {a.shape[0]} inputs")
    c0 = float(np.mean(per_example_cost(a, y_vec, cost_name)))
    return c0 + regularization_term(params, lmbda, regularization, n, batch_size)


# --------------------------------------------------------------------------
# Backpropagation
# --------------------------------------------------------------------------

def _grad_a(a, y_vec, cost_name):
    """nabla_a C_x for each row (general form used by BP1a)."""
    if cost_name == "quadratic":
        return a - y_vec
    if cost_name == "cross_entropy":
        return (a - y_vec) / (a * (1.0 - a))
    if cost_name == "log_likelihood":
        return -y_vec / a
    raise ValueError(f"unknown cost {cost_name!r}; expected one of {COSTS}")


def output_delta(z, a, y_vec, cost_name, output_activation):
    """delta^L = dC_x/dz^L for each example (row), shape ``(m, n_out)``.

    The book's closed forms are used where the book gives them:

    * quadratic + sigmoid:        (a - y) * sigma'(z)   (eq. 30)
    * cross_entropy + sigmoid:    a - y                 (eq. 66)
    * log_likelihood + softmax:   a - y                 (eq. 84)

    Any other combination falls back on BP1a, delta = nabla_a C (.) act'(z),
    or for a softmax output on the softmax Jacobian,
    delta_j = a_j (g_j - sum_k a_k g_k) with g = nabla_a C.
    """
    z = np.asarray(z, dtype=np.float64)
    a = np.asarray(a, dtype=np.float64)
    y_vec = np.asarray(y_vec, dtype=np.float64)
    if cost_name not in COSTS:
        raise ValueError(f"unknown cost {cost_name!r}; expected one of {COSTS}")
    if output_activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {output_activation!r}")
    if cost_name == "quadratic" and output_activation == "sigmoid":
        return (a - y_vec) * activation_prime("sigmoid", z)
    if cost_name == "cross_entropy" and output_activation == "sigmoid":
        return a - y_vec
    if cost_name == "log_likelihood" and output_activation == "softmax":
        return a - y_vec
    if cost_name in ("cross_entropy", "log_likelihood") and \
            output_activation not in ("sigmoid", "softmax"):
        raise ValueError(
            f"{cost_name} needs outputs in (0, 1): use a sigmoid or softmax output layer")
    g = _grad_a(a, y_vec, cost_name)
    if output_activation == "softmax":
        return a * (g - np.sum(a * g, axis=1, keepdims=True))
    return g * activation_prime(output_activation, z)


def backprop(params, activations, x, y, cost_name):
    """Gradient of the mean (over the mini-batch) unregularized cost.

    Returns a list of ``(dC/dW, dC/db)`` pairs with the same shapes as
    ``params``, i.e. ``(1/m) sum_x dC_x/dW`` and ``(1/m) sum_x dC_x/db``,
    computed with BP1-BP4 in matrix form over the mini-batch.
    """
    params = _as_params(params)
    acts_names = _check_activations(activations, len(params))
    zs, acts = forward(params, acts_names, x)
    m = acts[0].shape[0]
    y_vec = one_hot(y, acts[-1].shape[1])
    if y_vec.shape[0] != m:
        raise ValueError(f"{y_vec.shape[0]} targets for {m} inputs")

    L = len(params)
    grads = [None] * L
    # BP1: error of the output layer, one row per example.
    delta = output_delta(zs[-1], acts[-1], y_vec, cost_name, acts_names[-1])
    for l in range(L - 1, -1, -1):
        # BP3 / BP4, summed over the examples (matrix product) then averaged.
        dW = acts[l].T @ delta / m
        db = np.sum(delta, axis=0) / m
        grads[l] = (dW, db)
        if l > 0:
            # BP2: propagate the error back through W^{l} (row-vector form).
            W = params[l][0]
            delta = (delta @ W.T) * activation_prime(acts_names[l - 1], zs[l - 1])
    return grads


def regularization_gradient(params, lmbda, regularization, n=None, batch_size=None):
    """Gradient of ``regularization_term`` w.r.t. each W (biases: zeros).

    l2_network2: (lmbda/n) W; l1: (lmbda/n) sgn(W) with sgn(0) = 0;
    l2_network3: (lmbda / (n // batch_size)) W; None: zeros.
    """
    _check_regularization(regularization, n, batch_size)
    params = _as_params(params)
    out = []
    for W, b in params:
        if regularization is None:
            gW = np.zeros_like(W)
        elif regularization == "l2_network2":
            gW = (float(lmbda) / n) * W
        elif regularization == "l1":
            gW = (float(lmbda) / n) * np.sign(W)  # np.sign(0.0) == 0.0
        else:
            gW = (float(lmbda) / _num_training_batches(n, batch_size)) * W
        out.append((gW, np.zeros_like(b)))
    return out


# --------------------------------------------------------------------------
# One SGD step
# --------------------------------------------------------------------------

def sgd_step(params, activations, x, y, cost_name, eta, *, lmbda=0.0,
             regularization=None, n=None, batch_size=None):
    """One step of the book's mini-batch SGD on the mini-batch ``(x, y)``.

    Returns a new list of ``(W, b)`` pairs (the inputs are not modified):

    * ``None``:          W - eta dW
    * ``"l2_network2"``: (1 - eta lmbda / n) W - eta dW            (eq. 93)
    * ``"l1"``:          W - (eta lmbda / n) sgn(W) - eta dW       (eq. 97)
    * ``"l2_network3"``: W - eta (lmbda / (n // batch_size)) W - eta dW
    * biases always:     b - eta db                                (eq. 94)

    where ``dW = (1/m) sum_x dC_x/dW`` comes from ``backprop``.
    """
    _check_regularization(regularization, n, batch_size)
    params = _as_params(params)
    grads = backprop(params, activations, x, y, cost_name)
    eta = float(eta)
    lmbda = float(lmbda)
    new_params = []
    for (W, b), (dW, db) in zip(params, grads):
        if regularization is None:
            W_new = W - eta * dW
        elif regularization == "l2_network2":
            W_new = (1.0 - eta * lmbda / n) * W - eta * dW
        elif regularization == "l1":
            W_new = W - (eta * lmbda / n) * np.sign(W) - eta * dW
        else:  # "l2_network3"
            nb = _num_training_batches(n, batch_size)
            W_new = W - eta * (lmbda / nb) * W - eta * dW
        new_params.append((W_new, b - eta * db))
    return new_params


# --------------------------------------------------------------------------
# Gradient checking and initialization helpers
# --------------------------------------------------------------------------

def numerical_gradient(f, theta, index_list, eps=1e-6):
    """Central finite differences (f(t + eps) - f(t - eps)) / (2 eps).

    ``theta`` is a float ndarray that is perturbed *in place*, one
    coordinate at a time, and ``f(theta)`` is called after each
    perturbation; so ``f`` may either use its argument or be a closure over
    an array that ``theta`` is part of (e.g. a ``W`` inside ``params``).
    Every coordinate is restored exactly afterwards.  ``index_list`` is an
    iterable of indices into ``theta`` (ints for 1-D arrays, tuples for
    n-D arrays).  Returns a float64 array with one derivative per index.
    """
    if not isinstance(theta, np.ndarray) or not np.issubdtype(theta.dtype, np.floating):
        raise TypeError("theta must be a floating-point numpy array (it is perturbed in place)")
    index_list = list(index_list)
    out = np.empty(len(index_list), dtype=np.float64)
    for k, idx in enumerate(index_list):
        old = theta[idx].copy() if isinstance(theta[idx], np.ndarray) else theta[idx]
        try:
            theta[idx] = old + eps
            f_plus = float(f(theta))
            theta[idx] = old - eps
            f_minus = float(f(theta))
        finally:
            theta[idx] = old
        out[k] = (f_plus - f_minus) / (2.0 * eps)
    return out


def _rng(rng):
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    return rng


def init_large(sizes, rng=None):
    """The book's "large" initializer: weights and biases ~ N(0, 1).

    ``sizes`` is the list of layer sizes, e.g. ``[784, 30, 10]``; returns
    ``[(W, b), ...]`` with ``W`` of shape ``(n_in, n_out)``.  ``rng`` is a
    ``numpy.random.Generator`` (or a seed).
    """
    rng = _rng(rng)
    return [(rng.standard_normal((n_in, n_out)), rng.standard_normal(n_out))
            for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def init_default(sizes, rng=None):
    """The book's default (network2) initializer.

    Weights ~ N(0, 1/sqrt(n_in)) (standard deviation 1/sqrt(n_in)), biases
    ~ N(0, 1).  Same return convention as ``init_large``.
    """
    rng = _rng(rng)
    return [(rng.standard_normal((n_in, n_out)) / np.sqrt(n_in), rng.standard_normal(n_out))
            for n_in, n_out in zip(sizes[:-1], sizes[1:])]
