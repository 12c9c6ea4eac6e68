"""Self-checks for the NumPy oracle in ``tests/book_reference.py``.

The oracle is what the Keras implementation is compared against, so it is
checked here in ways that do not rely on its own backprop code:

1. backprop gradients == central finite differences of ``cost``;
2. regularized ``sgd_step`` == theta - eta * finite-difference gradient of
   the regularized ``cost``;
3. L1 with an exactly-zero weight: sgn(0) = 0 (eq. 97);
4. delta^L == a - y for cross-entropy/sigmoid (eq. 66) and
   log-likelihood/softmax (eq. 84);
plus closed-form values of the costs, the book's one-neuron example, input
immutability and the initializers.
"""

import os
import sys
import zlib

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import book_reference as br  # noqa: E402

SIZES = [6, 5, 4, 3]
M = 4
HIDDEN = ["sigmoid", "tanh", "relu"]
# (cost, output activation) pairs used by the book, plus two combinations that
# exercise the generic BP1a / softmax-Jacobian path of output_delta.
BOOK_HEADS = [("quadratic", "sigmoid"), ("cross_entropy", "sigmoid"),
              ("log_likelihood", "softmax")]
GENERIC_HEADS = [("quadratic", "softmax"), ("cross_entropy", "softmax"),
                 ("quadratic", "tanh"), ("log_likelihood", "sigmoid")]


def _problem(seed, sizes=SIZES, m=M, init=br.init_default):
    rng = np.random.default_rng(seed)
    params = init(sizes, rng)
    x = rng.standard_normal((m, sizes[0]))
    y = rng.integers(0, sizes[-1], size=m)
    return params, x, y


def _copy(params):
    return [(W.copy(), b.copy()) for W, b in params]


def _all_indices(a):
    return list(np.ndindex(a.shape))


def _fd_grads(params, acts, x, y, cost_name, **reg):
    """Finite-difference gradient of ``cost`` w.r.t. every parameter."""
    params = _copy(params)
    f = lambda _theta: br.cost(params, acts, x, y, cost_name, **reg)  # noqa: E731
    out = []
    for W, b in params:
        gW = br.numerical_gradient(f, W, _all_indices(W)).reshape(W.shape)
        gb = br.numerical_gradient(f, b, _all_indices(b)).reshape(b.shape)
        out.append((gW, gb))
    return out


def _flat(pairs):
    return np.concatenate([np.concatenate([W.ravel(), b.ravel()]) for W, b in pairs])


def _rel_err(a, b):
    a, b = _flat(a), _flat(b)
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


# ---------------------------------------------------------------------------
# (1) backprop == finite differences of cost
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("cost_name,out_act", BOOK_HEADS + GENERIC_HEADS)
def test_backprop_matches_finite_differences(hidden, cost_name, out_act):
    params, x, y = _problem(seed=zlib.crc32(f"{hidden}/{cost_name}/{out_act}".encode()))
    acts = [hidden, hidden, out_act]
    grads = br.backprop(params, acts, x, y, cost_name)
    fd = _fd_grads(params, acts, x, y, cost_name)
    assert _rel_err(grads, fd) < 1e-6
    # also coordinate-wise (a per-coordinate bug cannot hide in the norm)
    np.testing.assert_allclose(_flat(grads), _flat(fd), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("init", [br.init_large, br.init_default])
def test_backprop_mixed_hidden_and_large_init(init):
    sizes = [6, 5, 5, 4, 3]
    params, x, y = _problem(seed=7, sizes=sizes, init=init)
    for cost_name, out_act in BOOK_HEADS:
        acts = ["relu", "tanh", "sigmoid", out_act]
        grads = br.backprop(params, acts, x, y, cost_name)
        fd = _fd_grads(params, acts, x, y, cost_name)
        assert _rel_err(grads, fd) < 1e-6, cost_name


def test_backprop_is_mean_of_single_example_gradients():
    params, x, y = _problem(seed=3)
    acts = ["sigmoid", "sigmoid", "sigmoid"]
    batch = br.backprop(params, acts, x, y, "quadratic")
    singles = [br.backprop(params, acts, x[i:i + 1], y[i:i + 1], "quadratic")
               for i in range(M)]
    for l, (dW, db) in enumerate(batch):
        np.testing.assert_allclose(dW, np.mean([s[l][0] for s in singles], axis=0),
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(db, np.mean([s[l][1] for s in singles], axis=0),
                                   rtol=1e-12, atol=1e-15)


def test_no_hidden_layer_network():
    params, x, y = _problem(seed=11, sizes=[6, 3])
    for cost_name, out_act in BOOK_HEADS:
        grads = br.backprop(params, [out_act], x, y, cost_name)
        fd = _fd_grads(params, [out_act], x, y, cost_name)
        assert _rel_err(grads, fd) < 1e-6


# ---------------------------------------------------------------------------
# (2) regularized sgd_step == theta - eta * FD gradient of the regularized cost
# ---------------------------------------------------------------------------

REG_CASES = [
    (None, {}),
    ("l2_network2", dict(lmbda=5.0, n=50)),
    ("l2_network3", dict(lmbda=0.1, n=40, batch_size=M)),
    ("l1", dict(lmbda=2.0, n=50)),  # weights here are all far from 0
]


@pytest.mark.parametrize("regularization,kw", REG_CASES)
@pytest.mark.parametrize("cost_name,out_act", BOOK_HEADS)
def test_sgd_step_equals_fd_descent_on_regularized_cost(regularization, kw, cost_name, out_act):
    params, x, y = _problem(seed=21)
    # keep every weight away from 0 so that |w| is differentiable for L1
    params = [(np.where(np.abs(W) < 0.05, np.where(W >= 0, 0.05, -0.05), W), b)
              for W, b in params]
    acts = ["tanh", "sigmoid", out_act]
    eta = 0.3
    reg = dict(regularization=regularization, **kw)
    new = br.sgd_step(params, acts, x, y, cost_name, eta, **reg)
    fd = _fd_grads(params, acts, x, y, cost_name, **reg)
    expected = [(W - eta * gW, b - eta * gb) for (W, b), (gW, gb) in zip(params, fd)]
    step = [(Wn - W, bn - b) for (Wn, bn), (W, b) in zip(new, params)]
    step_fd = [(We - W, be - b) for (We, be), (W, b) in zip(expected, params)]
    assert _rel_err(step, step_fd) < 1e-6
    np.testing.assert_allclose(_flat(new), _flat(expected), rtol=1e-8, atol=1e-10)


def test_regularized_updates_match_book_formulas():
    params, x, y = _problem(seed=5)
    acts = ["sigmoid", "sigmoid", "sigmoid"]
    eta, lmbda, n, mb = 0.5, 5.0, 1000, 10
    g = br.backprop(params, acts, x, y, "cross_entropy")
    # eq. 93: multiplicative weight decay (1 - eta lmbda / n)
    new = br.sgd_step(params, acts, x, y, "cross_entropy", eta,
                      lmbda=lmbda, regularization="l2_network2", n=n)
    for (W, b), (dW, db), (Wn, bn) in zip(params, g, new):
        np.testing.assert_allclose(Wn, (1 - eta * lmbda / n) * W - eta * dW, rtol=1e-14)
        np.testing.assert_allclose(bn, b - eta * db, rtol=1e-14)  # biases unregularized
    # network3: decay eta * lmbda / (n // mb), i.e. mb times network2's for same lmbda, n
    new3 = br.sgd_step(params, acts, x, y, "cross_entropy", eta,
                       lmbda=lmbda, regularization="l2_network3", n=n, batch_size=mb)
    for (W, b), (dW, db), (Wn, bn) in zip(params, g, new3):
        np.testing.assert_allclose(Wn, W - eta * (lmbda / (n // mb)) * W - eta * dW, rtol=1e-14)
        np.testing.assert_allclose(bn, b - eta * db, rtol=1e-14)
    # integer division: n=1005, batch 10 -> 100 batches
    assert br.regularization_term([(np.ones((1, 1)), np.zeros(1))], 2.0, "l2_network3",
                                  n=1005, batch_size=10) == pytest.approx(0.5 * 2.0 / 100)


def test_regularization_term_values():
    params = [(np.array([[1.0, -2.0]]), np.array([10.0, 10.0])),
              (np.array([[3.0], [0.0]]), np.array([-7.0]))]
    # sum w^2 = 14, sum |w| = 6; biases ignored
    assert br.regularization_term(params, 0.1, None) == 0.0
    assert br.regularization_term(params, 4.0, "l2_network2", n=8) == pytest.approx(4.0 / 16 * 14)
    assert br.regularization_term(params, 4.0, "l1", n=8) == pytest.approx(4.0 / 8 * 6)
    assert br.regularization_term(params, 4.0, "l2_network3", n=80, batch_size=10) == \
        pytest.approx(0.5 * 4.0 * 14 / 8)


# ---------------------------------------------------------------------------
# (3) L1 with an exactly-zero weight: sgn(0) = 0
# ---------------------------------------------------------------------------

def test_l1_zero_weight_gets_no_regularization_push():
    params, x, y = _problem(seed=9)
    params = _copy(params)
    params[1][0][2, 1] = 0.0
    params[0][0][0, 0] = 0.0
    acts = ["relu", "sigmoid", "sigmoid"]
    eta, lmbda, n = 0.5, 3.0, 20
    plain = br.sgd_step(params, acts, x, y, "cross_entropy", eta)
    l1 = br.sgd_step(params, acts, x, y, "cross_entropy", eta,
                     lmbda=lmbda, regularization="l1", n=n)
    for (W, b), (Wp, bp), (Wl, bl) in zip(params, plain, l1):
        reg_part = Wl - Wp
        # zero weights: exactly no regularization contribution
        assert np.all(reg_part[W == 0] == 0.0)
        # nonzero weights: shrink by the constant eta lmbda / n towards 0
        np.testing.assert_allclose(reg_part[W != 0], -(eta * lmbda / n) * np.sign(W[W != 0]),
                                   rtol=1e-12)
        np.testing.assert_array_equal(bl, bp)
    assert l1[1][0][2, 1] == plain[1][0][2, 1]
    gr = br.regularization_gradient(params, lmbda, "l1", n=n)
    assert gr[1][0][2, 1] == 0.0 and gr[0][0][0, 0] == 0.0


# ---------------------------------------------------------------------------
# (4) delta^L = a - y (eq. 66, eq. 84), and delta^L = dC_x/dz^L generally
# ---------------------------------------------------------------------------

def _fd_delta(z, y_vec, cost_name, out_act, eps=1e-6):
    """dC_x/dz^L by finite differences of the per-example cost."""
    out = np.empty_like(z)
    for i, j in np.ndindex(z.shape):
        zp, zm = z[i:i + 1].copy(), z[i:i + 1].copy()
        zp[0, j] += eps
        zm[0, j] -= eps
        cp = br.per_example_cost(br.activate(out_act, zp), y_vec[i:i + 1], cost_name)[0]
        cm = br.per_example_cost(br.activate(out_act, zm), y_vec[i:i + 1], cost_name)[0]
        out[i, j] = (cp - cm) / (2 * eps)
    return out


@pytest.mark.parametrize("cost_name,out_act", [("cross_entropy", "sigmoid"),
                                               ("log_likelihood", "softmax")])
def test_output_error_is_a_minus_y(cost_name, out_act):
    params, x, y = _problem(seed=13)
    acts = ["sigmoid", "tanh", out_act]
    zs, a_list = br.forward(params, acts, x)
    a, z = a_list[-1], zs[-1]
    y_vec = br.one_hot(y, 3)
    delta = br.output_delta(z, a, y_vec, cost_name, out_act)
    np.testing.assert_array_equal(delta, a - y_vec)
    # independent: it is the derivative of C_x with respect to z^L
    np.testing.assert_allclose(delta, _fd_delta(z, y_vec, cost_name, out_act),
                               rtol=1e-6, atol=1e-9)
    # BP3 for the output layer: dC/db^L = mean over the batch of (a - y)
    grads = br.backprop(params, acts, x, y, cost_name)
    np.testing.assert_allclose(grads[-1][1], np.mean(a - y_vec, axis=0), rtol=1e-12)
    np.testing.assert_allclose(grads[-1][0], a_list[-2].T @ (a - y_vec) / M, rtol=1e-12)


@pytest.mark.parametrize("cost_name,out_act", [("quadratic", "sigmoid")] + GENERIC_HEADS)
def test_output_error_other_heads_is_dC_dz(cost_name, out_act):
    rng = np.random.default_rng(17)
    z = rng.standard_normal((M, 3))
    y_vec = br.one_hot(rng.integers(0, 3, size=M), 3)
    a = br.activate(out_act, z)
    delta = br.output_delta(z, a, y_vec, cost_name, out_act)
    np.testing.assert_allclose(delta, _fd_delta(z, y_vec, cost_name, out_act),
                               rtol=1e-6, atol=1e-9)
    if (cost_name, out_act) == ("quadratic", "sigmoid"):  # eq. 30
        np.testing.assert_allclose(delta, (a - y_vec) * a * (1 - a), rtol=1e-14)


# ---------------------------------------------------------------------------
# Closed-form values, book examples, API hygiene
# ---------------------------------------------------------------------------

def test_cost_closed_form_values_at_zero_weights():
    k = 3
    params = [(np.zeros((6, 5)), np.zeros(5)), (np.zeros((5, k)), np.zeros(k))]
    x = np.random.default_rng(0).standard_normal((M, 6))
    y = np.array([0, 1, 2, 1])
    # sigmoid(0) = 1/2 everywhere
    q = br.cost(params, ["sigmoid", "sigmoid"], x, y, "quadratic")
    assert q == pytest.approx(0.5 * (0.25 + (k - 1) * 0.25))
    ce = br.cost(params, ["sigmoid", "sigmoid"], x, y, "cross_entropy")
    assert ce == pytest.approx(k * np.log(2.0))
    # softmax of zeros is uniform: -ln(1/k)
    ll = br.cost(params, ["relu", "softmax"], x, y, "log_likelihood")
    assert ll == pytest.approx(np.log(k))
    # regularization added on top: all weights zero -> no change
    assert br.cost(params, ["sigmoid", "sigmoid"], x, y, "quadratic", lmbda=5.0,
                   regularization="l2_network2", n=10) == pytest.approx(q)


def test_cost_is_mean_of_per_example_formula():
    params, x, y = _problem(seed=23)
    acts = ["tanh", "relu", "sigmoid"]
    a = br.forward(params, acts, x)[1][-1]
    t = np.eye(3)[y]
    q = np.mean([0.5 * np.sum((t[i] - a[i]) ** 2) for i in range(M)])
    ce = np.mean([-np.sum(t[i] * np.log(a[i]) + (1 - t[i]) * np.log(1 - a[i])) for i in range(M)])
    assert br.cost(params, acts, x, y, "quadratic") == pytest.approx(q, rel=1e-13)
    assert br.cost(params, acts, x, y, "cross_entropy") == pytest.approx(ce, rel=1e-13)
    acts_s = ["tanh", "relu", "softmax"]
    s = br.forward(params, acts_s, x)[1][-1]
    ll = np.mean([-np.log(s[i, y[i]]) for i in range(M)])
    assert br.cost(params, acts_s, x, y, "log_likelihood") == pytest.approx(ll, rel=1e-13)


def test_book_single_neuron_example():
    # Ch. 3 toy neuron: x = 1, target 0, w = 0.6, b = 0.9 -> output 0.82
    params = [(np.array([[0.6]]), np.array([0.9]))]
    x, y = np.array([[1.0]]), np.array([[0.0]])
    a = br.forward(params, ["sigmoid"], x)[1][-1][0, 0]
    assert round(a, 2) == 0.82
    gq = br.backprop(params, ["sigmoid"], x, y, "quadratic")
    gce = br.backprop(params, ["sigmoid"], x, y, "cross_entropy")
    assert gq[0][1][0] == pytest.approx(a * a * (1 - a))   # (a - y) sigma'(z)
    assert gce[0][1][0] == pytest.approx(a)                 # sigma(z) - y (eq. 61-62)
    new = br.sgd_step(params, ["sigmoid"], x, y, "quadratic", 0.15)
    assert new[0][0][0, 0] == pytest.approx(0.6 - 0.15 * a * a * (1 - a))


def test_forward_shapes_and_values():
    params, x, y = _problem(seed=29)
    acts = ["sigmoid", "relu", "softmax"]
    zs, a_list = br.forward(params, acts, x)
    assert len(zs) == 3 and len(a_list) == 4
    np.testing.assert_array_equal(a_list[0], x)
    a = x
    for (W, b), name, z, an in zip(params, acts, zs, a_list[1:]):
        z_manual = np.array([[sum(a[i, k] * W[k, j] for k in range(W.shape[0])) + b[j]
                              for j in range(W.shape[1])] for i in range(a.shape[0])])
        np.testing.assert_allclose(z, z_manual, rtol=1e-12)
        a = an
    np.testing.assert_allclose(a_list[-1].sum(axis=1), 1.0, rtol=1e-14)
    assert all(z.dtype == np.float64 for z in zs)


def test_sgd_step_does_not_mutate_inputs_and_keeps_shapes():
    params, x, y = _problem(seed=31)
    before = _copy(params)
    new = br.sgd_step(params, ["sigmoid", "sigmoid", "softmax"], x, y, "log_likelihood",
                      0.1, lmbda=0.1, regularization="l2_network3", n=40, batch_size=4)
    for (W, b), (W0, b0), (Wn, bn) in zip(params, before, new):
        np.testing.assert_array_equal(W, W0)
        np.testing.assert_array_equal(b, b0)
        assert Wn.shape == W.shape and bn.shape == b.shape
        assert Wn.dtype == np.float64


def test_float32_inputs_are_promoted():
    params, x, y = _problem(seed=37)
    p32 = [(W.astype(np.float32), b.astype(np.float32)) for W, b in params]
    g = br.backprop(p32, ["tanh", "tanh", "softmax"], x.astype(np.float32), y, "log_likelihood")
    assert all(dW.dtype == np.float64 and db.dtype == np.float64 for dW, db in g)


def test_one_hot():
    np.testing.assert_array_equal(br.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    t = np.array([[0.2, 0.8]])
    np.testing.assert_array_equal(br.one_hot(t, 2), t)
    with pytest.raises(ValueError):
        br.one_hot(np.array([3]), 3)


def test_bad_arguments_raise():
    params, x, y = _problem(seed=41)
    with pytest.raises(ValueError):
        br.forward(params, ["softmax", "sigmoid", "sigmoid"], x)
    with pytest.raises(ValueError):
        br.forward(params, ["sigmoid", "sigmoid"], x)
    with pytest.raises(ValueError):
        br.cost(params, ["sigmoid"] * 3, x, y, "hinge")
    with pytest.raises(ValueError):
        br.cost(params, ["sigmoid"] * 3, x, y, "quadratic", lmbda=1.0, regularization="l2")
    with pytest.raises(ValueError):
        br.sgd_step(params, ["sigmoid"] * 3, x, y, "quadratic", 0.1, lmbda=1.0,
                    regularization="l2_network2")  # n missing
    with pytest.raises(ValueError):
        br.sgd_step(params, ["sigmoid"] * 3, x, y, "quadratic", 0.1, lmbda=1.0,
                    regularization="l2_network3", n=40)  # batch_size missing
    with pytest.raises(ValueError):
        br.backprop(params, ["sigmoid", "sigmoid", "relu"], x, y, "cross_entropy")


def test_numerical_gradient_restores_theta_and_is_exact_on_quadratic():
    theta = np.array([[1.0, -2.0], [0.5, 3.0]])
    orig = theta.copy()
    g = br.numerical_gradient(lambda t: float(np.sum(t ** 2) + t[0, 1] * t[1, 0]), theta,
                              [(0, 0), (0, 1), (1, 0), (1, 1)])
    np.testing.assert_allclose(g, [2.0, -4.0 + 0.5, 1.0 - 2.0, 6.0], rtol=1e-8)
    np.testing.assert_array_equal(theta, orig)
    with pytest.raises(TypeError):
        br.numerical_gradient(lambda t: 0.0, np.array([1, 2]), [0])


@pytest.mark.parametrize("init", [br.init_large, br.init_default])
def test_initializers(init):
    rng = np.random.default_rng(0)
    sizes = [400, 300, 10]
    p = init(sizes, rng)
    assert [(W.shape, b.shape) for W, b in p] == [((400, 300), (300,)), ((300, 10), (10,))]
    W, b = p[0]
    expected_std = 1.0 if init is br.init_large else 1.0 / np.sqrt(400)
    assert abs(W.std() / expected_std - 1) < 0.02
    assert abs(W.mean()) < 0.01 * expected_std * 10
    assert abs(np.concatenate([p[0][1], p[1][1]]).std() - 1) < 0.15
    # reproducible with the same seed, and a seed int works
    q = init(sizes, np.random.default_rng(0))
    np.testing.assert_array_equal(q[1][0], p[1][0])
    assert init([3, 2], 5)[0][0].shape == (3, 2)
