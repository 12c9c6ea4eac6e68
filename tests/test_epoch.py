"""``nnzoo.epoch.fit_epoch``, the compiled whole-epoch loop, makes the book's updates.

Its steps are Keras's ``train_step``; these tests pin that the loop around
them slices the mini-batches in order (the smaller last one included), runs
each exactly once, and that XLA leaves the updates as they are: against the
float64 book oracle for several steps, and against ``train_on_batch``.
"""

import keras
import numpy as np
import pytest

import book_reference as book
import nnzoo
from nnzoo.epoch import fit_epoch
from test_sgd_step import CASES, SATURATED, dense_activations, dense_params


def _images(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, size=(n, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, size=n).astype("int32")
    return x, y


@pytest.mark.parametrize("jit_compile", [True, False])
@pytest.mark.parametrize("case", sorted(CASES))
def test_an_epoch_is_the_book_update_once_per_mini_batch(case, jit_compile):
    name, overrides, regularization = CASES[case]
    model = nnzoo.build(name, seed=3, **overrides)
    config = {**nnzoo.card(name).recipe, **overrides}
    x, y = _images(35)  # mini-batches of 10, 10, 10 and the book's last one of 5
    params = dense_params(model)

    logs = fit_epoch(model, x, y, batch_size=10, jit_compile=jit_compile)

    for start in range(0, len(y), 10):
        params = book.sgd_step(
            params, dense_activations(model), x[start:start + 10].reshape(-1, 784), y[start:start + 10],
            config["cost"], config["eta"], lmbda=config["lmbda"], regularization=regularization,
            n=config["n_train"], batch_size=config["batch_size"],
        )
    for (w, b), (w_expected, b_expected) in zip(dense_params(model), params):
        np.testing.assert_allclose(w, w_expected, atol=2e-5, rtol=0)
        np.testing.assert_allclose(b, b_expected, atol=2e-5, rtol=0)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 4
    assert set(logs) == {"loss", "accuracy"} and all(np.isfinite(v) for v in logs.values())


@pytest.mark.parametrize("name", ["conv2", "deep_sigmoid_2"])
def test_an_epoch_equals_train_on_batch_step_by_step(name):
    x, y = _images(40, seed=1)
    expected = nnzoo.build(name, seed=0, hidden=(16,) * (2 if name == "deep_sigmoid_2" else 1))
    model = nnzoo.build(name, seed=0, hidden=(16,) * (2 if name == "deep_sigmoid_2" else 1))
    batch_losses = [expected.train_on_batch(x[start:start + 10], y[start:start + 10], return_dict=True)["loss"]
                    for start in range(0, 40, 10)]

    logs = fit_epoch(model, x, y, batch_size=10)

    for got, want in zip(model.get_weights(), expected.get_weights()):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    # The epoch's loss is the running mean over its mini-batches, as fit reports it.
    assert logs["loss"] == pytest.approx(np.mean(batch_losses), rel=1e-5)


@pytest.mark.parametrize("case", sorted(SATURATED))
def test_saturated_outputs_get_the_books_delta_in_the_epoch(case):
    """δ = a − y where an output has saturated, on both backends.

    Under TensorFlow the costs read the output layer's z; under JAX they clip a
    at the smallest normal number, which keeps δ exact until a logit leads by
    ~87, but a sigmoid that has rounded to exactly 1.0 has no gradient left
    (σ′ computed from a is 0): that one case is a known limit of JAX.
    """
    if case == "cross_entropy" and keras.backend.backend() == "jax":
        pytest.xfail("JAX keeps no z: a wrong sigmoid output at exactly 1.0 gets no gradient (documented)")
    name, overrides, output_bias = SATURATED[case]
    model = nnzoo.build(name, seed=3, **overrides)
    model.get_layer("output").bias.assign(output_bias.astype("float32"))
    x, y = _images(10, seed=4)
    before = dense_params(model)
    fit_epoch(model, x, y)
    config = {**nnzoo.card(name).recipe, **overrides}
    expected = book.sgd_step(before, dense_activations(model), x.reshape(10, -1), y, case.split(",")[0],
                             config["eta"])
    for (w, b), (w_expected, b_expected) in zip(dense_params(model), expected):
        np.testing.assert_allclose(w, w_expected, atol=1e-5, rtol=0)
        np.testing.assert_allclose(b, b_expected, atol=1e-5, rtol=0)


def test_the_compiled_epoch_is_reused_and_metrics_restart_each_epoch():
    model = nnzoo.build("shallow_sigmoid", seed=0, hidden=(8,))
    x, y = _images(50)
    first = fit_epoch(model, x, y)
    second = fit_epoch(model, x, y)
    assert len(model.__dict__["_nnzoo_epoch_functions"]) == 1
    assert second["loss"] < first["loss"]  # running means of this epoch only, and it learned
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 10



def _graph_op_types(model):
    """The op types of a model's compiled TensorFlow epoch, the loop body's included."""
    (epoch,) = model.__dict__["_nnzoo_epoch_functions"].values()
    run = next(cell.cell_contents for cell in epoch.__closure__
               if hasattr(cell.cell_contents, "get_concrete_function"))
    types = set()
    for concrete in run._list_all_concrete_functions():
        graph = concrete.graph.as_graph_def()
        types |= {node.op for node in graph.node}
        types |= {node.op for function in graph.library.function for node in function.node_def}
    return types


@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_plain_sgd_runs_as_one_fused_update_in_the_tensorflow_graph(momentum):
    """Plain SGD's w ← w − η·g is one kernel per variable in the conv nets' graph; momentum keeps Keras's own."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the fused kernel is TensorFlow's")
    x, y = _images(30, seed=2)
    model, twin = (nnzoo.build("conv2", seed=0, hidden=(16,), compile=False) for _ in range(2))
    for each in (model, twin):
        each.compile(optimizer=keras.optimizers.SGD(0.1, momentum=momentum), loss=nnzoo.losses.get("log_likelihood"))
    for start in range(0, 30, 10):
        twin.train_on_batch(x[start:start + 10], y[start:start + 10])

    fit_epoch(model, x, y, jit_compile=False)

    for got, want in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
    ops = _graph_op_types(model)
    assert ("ResourceApplyGradientDescent" in ops) == (momentum == 0.0)
    assert "update_step" not in model.optimizer.__dict__  # the swap lasts only while tracing

@pytest.mark.parametrize("name, jit_compile", [("network2", True), ("network2", False), ("conv2", "auto")])
@pytest.mark.parametrize("verbose", [0, 1])
def test_an_order_gives_the_steps_of_the_reordered_set(name, jit_compile, verbose):
    """``order`` visits x[order] without building it; resident tensors are taken as they are."""
    x, y = _images(45, seed=4)
    order = np.random.default_rng(0).permutation(45)
    overrides = dict(hidden=(8,)) if name == "network2" else dict(hidden=(8,), conv=((2, 5), (3, 5)))
    shuffled, ordered = (nnzoo.build(name, seed=0, **overrides) for _ in range(2))

    expected = fit_epoch(shuffled, x[order], y[order], jit_compile=jit_compile)
    logs = fit_epoch(ordered, keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y), order=order,
                     jit_compile=jit_compile, verbose=verbose)

    for got, want in zip(ordered.get_weights(), shuffled.get_weights()):
        np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
    assert logs == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("order, message", [
    (np.arange(20).reshape(4, 5), "order must be a 1-D array of integer indices"),
    (np.linspace(0, 1, 20), "order must be a 1-D array of integer indices"),
    (np.arange(5), "order must select at least one mini-batch. Received: 5 indices"),
    (np.arange(1, 21), "indices outside the 20 examples of x. Received: indices from 1 to 20"),
])
def test_bad_orders_are_refused(order, message):
    x, y = _images(20)
    with pytest.raises(ValueError, match=message):
        fit_epoch(nnzoo.build("shallow_sigmoid", hidden=(4,)), x, y, order=order)


def _penalty(model):
    return sum(float(keras.ops.convert_to_numpy(loss)) for loss in model.losses)


@pytest.mark.parametrize("name, overrides, rate", [
    ("network2", dict(lmbda=5.0, n_train=50_000), 5.0 / 50_000),  # network2: λ/n
    ("conv2_relu", dict(hidden=(16,), conv=((2, 5), (3, 5))), 0.1 / 5_000),  # network3: λ/(n/m)
])
def test_l2_penalties_run_as_the_books_weight_decay(name, overrides, rate):
    from nnzoo.epoch import _weight_decays

    model = nnzoo.build(name, seed=0, **overrides)
    x, y = _images(30)
    fit_epoch(model, x, y)
    kernels = [i for i, v in enumerate(model.trainable_variables) if v.path.endswith("kernel")]
    decays = _weight_decays(model)
    assert [index for index, _ in decays] == kernels and len(kernels) >= 2  # every kernel, no bias
    assert [r for _, r in decays] == pytest.approx([rate] * len(kernels), rel=1e-6)
    # The penalties are back on the layers once the epoch is done.
    assert len(model.losses) == len(kernels) and _penalty(model) > 0


def test_the_epoch_loss_is_the_mean_cost_plus_the_final_penalty():
    """With the penalty run as decay, the steps' loss is C₀; the epoch adds the penalty's end value."""
    x, y = _images(40, seed=2)
    twin = nnzoo.build("network2", seed=0, lmbda=5.0, n_train=1_000)
    model = nnzoo.build("network2", seed=0, lmbda=5.0, n_train=1_000)
    costs = []
    for start in range(0, 40, 10):
        penalty = _penalty(twin)  # train_on_batch's loss holds the penalty of the weights before the step
        costs.append(twin.train_on_batch(x[start:start + 10], y[start:start + 10], return_dict=True)["loss"]
                     - penalty)

    logs = fit_epoch(model, x, y)

    for got, want in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(got, want, atol=2e-6, rtol=0)
    assert logs["loss"] == pytest.approx(np.mean(costs) + _penalty(twin), rel=1e-5)


def test_other_optimizers_keep_the_penalty_in_the_loss():
    from nnzoo.epoch import _weight_decays

    x, y = _images(40, seed=3)
    models = [nnzoo.build("network2", seed=0, lmbda=5.0, n_train=1_000, compile=False) for _ in range(2)]
    for model in models:
        model.compile(optimizer=keras.optimizers.SGD(0.5, momentum=0.5), loss=nnzoo.losses.get("cross_entropy"))
    twin, model = models
    losses = [twin.train_on_batch(x[start:start + 10], y[start:start + 10], return_dict=True)["loss"]
              for start in range(0, 40, 10)]

    logs = fit_epoch(model, x, y)

    assert _weight_decays(model) == []  # momentum would carry a decay term: the penalty stays in the loss
    # float32 rounding of XLA vs TensorFlow kernels ~2e-6; a lost penalty would be ~1e-3 (η·λ/n·w a step).
    for got, want in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    assert logs["loss"] == pytest.approx(np.mean(losses), rel=1e-5)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(batch_size=0), "batch_size must be a positive integer. Received: batch_size=0"),
        (dict(batch_size=2.5), "Received: batch_size=2.5"),
        (dict(batch_size=100), "smaller than one mini-batch. Received: 50 examples, batch_size=100"),
        (dict(jit_compile="yes"), "jit_compile must be 'auto', True or False. Received: jit_compile='yes'"),
    ],
)
def test_bad_arguments_are_refused(arguments, message):
    model = nnzoo.build("shallow_sigmoid", seed=0, hidden=(8,))
    x, y = _images(50)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        fit_epoch(model, x, y, **arguments)


def test_mismatched_and_uncompiled_inputs_are_refused():
    x, y = _images(50)
    with pytest.raises(ValueError, match="Received: 50 images and 49 labels"):
        fit_epoch(nnzoo.build("shallow_sigmoid", hidden=(8,)), x, y[:49])
    with pytest.raises(ValueError, match="needs a compiled model"):
        fit_epoch(nnzoo.build("shallow_sigmoid", hidden=(8,), compile=False), x, y)


def test_progress_runs_the_same_steps_in_pieces(capsys):
    x, y = _images(205)
    quiet = nnzoo.build("shallow_sigmoid", seed=0, hidden=(8,))
    shown = nnzoo.build("shallow_sigmoid", seed=0, hidden=(8,))
    quiet_logs = fit_epoch(quiet, x, y)
    shown_logs = fit_epoch(shown, x, y, verbose=1)
    for a, b in zip(quiet.get_weights(), shown.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)
    assert shown_logs == pytest.approx(quiet_logs, rel=1e-5)
    assert int(keras.ops.convert_to_numpy(shown.optimizer.iterations)) == 21
    assert "205/205" in capsys.readouterr().out


def test_progress_pieces_are_whole_mini_batches():
    from nnzoo.epoch import _chunks

    pieces = _chunks(250_000, 10, verbose=1)
    assert len(pieces) == 20 and pieces[-1][1] == 250_000
    assert all((stop - start) % 10 == 0 for start, stop in pieces)
    assert _chunks(205, 10, verbose=1)[-1] == (200, 205) and _chunks(205, 10, verbose=0) == [(0, 205)]


@pytest.mark.parametrize("name, overrides, orders, verbose", [
    ("shallow_sigmoid", dict(hidden=(8,)), None, 0),
    ("shallow_sigmoid", dict(hidden=(8,)), "one", 0),  # one order for all, passed as indices
    ("network2", dict(hidden=(8,), lmbda=5.0, n_train=45), "each", 0),  # chapter 3 runs: own orders, L2 decay
    ("network2", dict(hidden=(8,), lmbda=5.0, n_train=45), "each", 1),  # ... in progress-bar pieces
    ("conv2_dropout", dict(hidden=(16, 16), conv=((2, 5), (3, 5))), None, 0),  # dropout: each model's masks
    ("conv2_relu", dict(hidden=(16,), conv=((2, 5), (3, 5))), None, 1),  # network3 L2 as weight decay, pieces
])
def test_lockstep_epochs_equal_separate_epochs(name, overrides, orders, verbose):
    """The models step together (one TensorFlow graph, or a vmap under JAX); each gets its own updates."""
    from nnzoo.epoch import fit_epochs_lockstep

    x, y = _images(45, seed=2)
    rng = np.random.default_rng(1)
    own = [rng.permutation(45) for _ in range(3)] if orders == "each" else [
        rng.permutation(45) if orders == "one" else None] * 3
    alone = [nnzoo.build(name, seed=seed, **overrides) for seed in (0, 1, 2)]
    together = [nnzoo.build(name, seed=seed, **overrides) for seed in (0, 1, 2)]
    alone_logs = [fit_epoch(model, x, y, order=order) for model, order in zip(alone, own)]
    together_logs = fit_epochs_lockstep(together, x, y, order=own if orders == "each" else own[0], verbose=verbose)
    for a, b in zip(alone, together):
        for u, v in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_allclose(v, u, atol=2e-5, rtol=0)
    for a, b in zip(alone_logs, together_logs):
        assert b == pytest.approx(a, rel=1e-4)
    # The seeds differ, so the three models differ: a mix-up of states would show.
    assert not np.allclose(together[0].get_weights()[0], together[1].get_weights()[0])


def test_lockstep_is_one_compiled_epoch_per_set_of_models():
    from nnzoo.epoch import _CACHE_ATTRIBUTE, fit_epochs_lockstep

    x, y = _images(20)
    models = [nnzoo.build("shallow_sigmoid", hidden=(4,), seed=seed) for seed in (0, 1)]
    fit_epochs_lockstep(models, x, y)
    fit_epochs_lockstep(models, x, y)
    assert len(vars(models[0])[_CACHE_ATTRIBUTE]) == 1 and _CACHE_ATTRIBUTE not in vars(models[1])


@pytest.mark.parametrize("order, message", [
    ([np.arange(20), np.arange(20)], r"order must be a 1-D array of integer indices into x, or 3 of them of one length \(one per model\)"),
    ([np.arange(20)] * 2 + [np.arange(10)], "or 3 of them of one length"),
    (np.arange(60).reshape(3, 20) % 25, "indices outside the 20 examples of x. Received: indices from 0 to 24"),
])
def test_lockstep_refuses_bad_orders(order, message):
    from nnzoo.epoch import fit_epochs_lockstep

    x, y = _images(20)
    with pytest.raises(ValueError, match=message):
        fit_epochs_lockstep([nnzoo.build("shallow_sigmoid", hidden=(4,), seed=s) for s in range(3)], x, y,
                            order=order)


def test_lockstep_refuses_mixed_architectures():
    from nnzoo.epoch import fit_epochs_lockstep

    x, y = _images(20)
    models = [nnzoo.build("shallow_sigmoid", hidden=(8,)), nnzoo.build("shallow_sigmoid", hidden=(9,))]
    with pytest.raises(ValueError, match="share one architecture"):
        fit_epochs_lockstep(models, x, y)
    models = [nnzoo.build("network2", hidden=(8,), lmbda=lmbda) for lmbda in (1.0, 5.0)]
    with pytest.raises(ValueError, match="learning rate and L2 penalty.*2 different penalties"):
        fit_epochs_lockstep(models, x, y)


_TENSORFLOW_SUBPROCESS = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="runs a fresh TensorFlow process whatever the backend: the TensorFlow pass of the suite covers it")


@_TENSORFLOW_SUBPROCESS
def test_single_threaded_ops_in_a_fresh_process():
    import subprocess
    import sys

    code = ("import nnzoo, tensorflow as tf; from nnzoo.epoch import single_threaded_ops; "
            "print(single_threaded_ops(), tf.config.threading.get_intra_op_parallelism_threads())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "NNZOO_INTRA_OP_THREADS": "1",
                              "KERAS_BACKEND": "tensorflow"})  # the setting is TensorFlow's
    assert out.stdout.split()[-2:] == ["1", "1"]


@_TENSORFLOW_SUBPROCESS
def test_train_runs_one_thread_per_op_in_a_fresh_process(mnist_split, tmp_path):
    import os
    import subprocess
    import sys

    code = ("import nnzoo, tensorflow as tf; "
            f"nnzoo.train('shallow_sigmoid', epochs=1, data='mnist[:100]', n_validation=100, n_test=100, "
            f"out={str(tmp_path / 'run')!r}, verbose=0); "
            "print(tf.config.threading.get_intra_op_parallelism_threads())")
    env = {key: value for key, value in os.environ.items() if key != "NNZOO_INTRA_OP_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**env, "KERAS_BACKEND": "tensorflow"})
    assert out.stdout.split()[-1] == "1"


@pytest.mark.parametrize("value, expected", [("0", None)])
def test_single_threaded_ops_can_be_turned_off(monkeypatch, value, expected):
    from nnzoo.epoch import single_threaded_ops

    monkeypatch.setenv("NNZOO_INTRA_OP_THREADS", value)
    assert single_threaded_ops() is expected


def test_single_threaded_ops_refuses_a_bad_environment_value(monkeypatch):
    from nnzoo.epoch import single_threaded_ops

    monkeypatch.setenv("NNZOO_INTRA_OP_THREADS", "two")
    with pytest.raises(ValueError, match="Received: 'two'"):
        single_threaded_ops()
