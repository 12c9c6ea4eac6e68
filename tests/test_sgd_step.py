"""One SGD step by nnzoo equals one step of the book's update rule.

The oracle is ``book_reference``: plain float64 NumPy written from the book's
formulas. Starting from the same weights and the same mini-batch, the weights
after ``model.train_on_batch`` must match the oracle's to ~1e-5. This pins
the three traps that broke earlier ports: cost scaling (sum over outputs),
L2/L1 scaling (λ/n, network3's λ/num_batches) and the update itself.
"""

import keras
import numpy as np
import pytest

import book_reference as book
import nnzoo

ATOL = 1e-5


def dense_params(model):
    """The model's Dense layers as the oracle's [(W, b), ...] in float64."""
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    return [(np.asarray(layer.kernel, "float64"), np.asarray(layer.bias, "float64")) for layer in layers]


def dense_activations(model):
    return [layer.activation.__name__ for layer in model.layers if isinstance(layer, keras.layers.Dense)]


CASES = {
    # name: (registry name, overrides, oracle regularization)
    "quadratic+large (ch1)": ("shallow_sigmoid", {}, None),
    "cross_entropy+L2 λ=5 n=50k (network2)": ("network2", {"lmbda": 5.0, "n_train": 50_000}, "l2_network2"),
    "cross_entropy+L1 λ=5 n=50k": ("network2", {"lmbda": 5.0, "regularization": "l1"}, "l1"),
    "cross_entropy+default init+L2 λ=5 n=1k": ("deep_sigmoid_2", {"lmbda": 5.0, "n_train": 1_000}, "l2_network2"),
    # network3 zeroes the output layer, which would leave the hidden layer's
    # first step gradient-free; the default init makes every weight move.
    "log_likelihood+network3 L2 λ=0.1 (dense)": ("shallow_softmax", {"lmbda": 0.1, "init": "default"},
                                                 "l2_network3"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_step_matches_the_book(case, synthetic_batch):
    name, overrides, regularization = CASES[case]
    model = nnzoo.build(name, seed=3, **overrides)
    config = {**nnzoo.card(name).recipe, **overrides}
    x, y = synthetic_batch
    before = dense_params(model)

    model.train_on_batch(x, y)

    expected = book.sgd_step(
        before,
        dense_activations(model),
        x.reshape(len(x), -1),
        y,
        config["cost"],
        config["eta"],
        lmbda=config["lmbda"],
        regularization=regularization,
        n=config["n_train"],
        batch_size=config["batch_size"],
    )
    for (w, b), (w_expected, b_expected), (w_before, _) in zip(dense_params(model), expected, before):
        assert np.abs(w - w_before).max() > 10 * ATOL, "the step is too small for the comparison to mean anything"
        np.testing.assert_allclose(w, w_expected, atol=ATOL, rtol=0)
        np.testing.assert_allclose(b, b_expected, atol=ATOL, rtol=0)


def test_l2_scalings_differ_by_the_mini_batch_size():
    """Same λ and n: network3's penalty is m = 10 times network2's."""
    coefficients = {}
    for name in ("network2", "shallow_softmax"):
        model = nnzoo.build(name, seed=0, lmbda=5.0, n_train=50_000, init="default", hidden=(4,))
        kernels = [layer.kernel for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        penalty = sum(float(loss) for loss in model.losses)
        coefficients[name] = penalty / sum(float(np.sum(np.square(k))) for k in kernels)
    assert coefficients["network2"] == pytest.approx(5.0 / (2 * 50_000), rel=1e-5)
    assert coefficients["shallow_softmax"] == pytest.approx(10 * coefficients["network2"], rel=1e-5)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="a float64 oracle at rtol 1e-8: JAX computes in float32 unless x64 is enabled")
def test_conv_net_step_with_network3_l2():
    """conv2_relu (log-likelihood + network3 L2, λ = 0.1): every weight, in float64.

    The dense part is compared with the oracle fed the conv-pool features; the
    conv kernels and biases with θ − η·(finite-difference gradient of the
    regularized mini-batch objective).
    """
    previous = keras.config.floatx()
    keras.config.set_floatx("float64")
    try:
        rng = np.random.default_rng(7)
        x = rng.uniform(0, 1, size=(10, 28, 28, 1))
        y = np.arange(10)
        model = nnzoo.build("conv2_relu", seed=5, hidden=(12,), conv=((3, 5), (4, 5)), init="default")
        recipe = nnzoo.card("conv2_relu").recipe
        eta, lmbda, n, m = recipe["eta"], recipe["lmbda"], recipe["n_train"], recipe["batch_size"]

        features = keras.ops.convert_to_numpy(keras.Model(model.input, model.get_layer("flatten").output)(x))
        dense_before = dense_params(model)
        conv_layers = [model.get_layer("conv_1"), model.get_layer("conv_2")]

        def objective():
            probabilities = model(x, training=False)
            return float(model.loss(y, probabilities)) + sum(float(loss) for loss in model.losses)

        conv_expected = []
        probe = [(0, 0, 0, 0), (4, 4, 0, 2), (2, 3, 0, 1)]
        for layer in conv_layers:
            kernel = layer.kernel
            theta = kernel.numpy()

            def f(values, kernel=kernel):
                kernel.assign(values)
                return objective()

            indices = probe if kernel.shape[2] == 1 else [(0, 0, 0, 0), (4, 4, 2, 3), (1, 2, 1, 0)]
            gradient = book.numerical_gradient(f, theta, indices, eps=1e-6)
            kernel.assign(theta)
            conv_expected.append((indices, theta, gradient))

        model.train_on_batch(x, y)

        dense_expected = book.sgd_step(dense_before, dense_activations(model), features, y,
                                       "log_likelihood", eta, lmbda=lmbda, regularization="l2_network3",
                                       n=n, batch_size=m)
        for (w, b), (w_expected, b_expected) in zip(dense_params(model), dense_expected):
            np.testing.assert_allclose(w, w_expected, atol=1e-10, rtol=1e-8)
            np.testing.assert_allclose(b, b_expected, atol=1e-10, rtol=1e-8)
        for layer, (indices, theta, gradient) in zip(conv_layers, conv_expected):
            after = layer.kernel.numpy()
            for index, g in zip(indices, gradient):
                assert after[index] == pytest.approx(theta[index] - eta * g, abs=1e-8)
            assert np.abs(after - theta).max() > 1e-4, "the conv kernels barely moved"
    finally:
        keras.config.set_floatx(previous)


SATURATED = {
    # cost: (registry name, overrides, output biases that saturate the wrong outputs)
    # sigmoid: z ≈ 40 rounds σ(z) to exactly 1.0 in float32, so all nine wrong outputs have δ = 1.
    "cross_entropy": ("network2", {"hidden": (8,), "lmbda": 0.0}, np.full(10, 40.0)),
    # sigmoid, the other side: z ≈ −40 leaves the right output at σ(z) ≈ 4e-18, and δ = a − 1 ≈ −1.
    "cross_entropy, right output near 0": ("network2", {"hidden": (8,), "lmbda": 0.0}, np.full(10, -40.0)),
    # softmax: class 0 at z ≈ 40 leaves a_y ≈ 4e-18 < ε for every other label, and δ = a − y ≈ ±1.
    "log_likelihood": ("shallow_softmax", {"hidden": (8,), "init": "default", "lmbda": 0.0},
                       np.array([40.0] + [0.0] * 9)),
}


@pytest.mark.parametrize("trainer", ["train_on_batch", "epoch_xla", "epoch_graph"])
@pytest.mark.parametrize("cost", sorted(SATURATED))
def test_a_saturated_wrong_output_gets_the_books_delta(cost, trainer, synthetic_batch):
    """δ = a − y holds where a is exactly 1 (or a_y underflows), as in the book's closed form.

    Computed from a clipped activation, the gradient there would be zero and the
    network would stop learning exactly where the cross-entropy is meant to help.
    """
    from nnzoo.epoch import fit_epoch

    name, overrides, output_bias = SATURATED[cost]
    cost = cost.split(",")[0]
    model = nnzoo.build(name, seed=3, **overrides)
    output = model.get_layer("output")
    output.bias.assign(output_bias.astype("float32"))
    x, y = synthetic_batch
    before = dense_params(model)
    if trainer == "train_on_batch":
        model.train_on_batch(x, y)
    else:
        fit_epoch(model, x, y, jit_compile=trainer == "epoch_xla")
    config = {**nnzoo.card(name).recipe, **overrides}
    expected = book.sgd_step(before, dense_activations(model), x.reshape(len(x), -1), y, cost, config["eta"])
    (_, b_out), (_, b_expected) = dense_params(model)[-1], expected[-1]
    # The saturated outputs' biases move by η·mean(δ), at least η/10 (one image in ten): not "not at all".
    assert np.abs(b_out - output_bias).max() > 0.09 * config["eta"]
    for (w, b), (w_expected, b_expected) in zip(dense_params(model), expected):
        np.testing.assert_allclose(w, w_expected, atol=ATOL, rtol=0)
        np.testing.assert_allclose(b, b_expected, atol=ATOL, rtol=0)
