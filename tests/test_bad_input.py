"""Bad data requests and bad inputs are refused with a clear error, never a silently wrong result (issue #29).

Every refusal here happens before anything is created or trained: no run directory, no changed weights.
"""

import numpy as np
import pytest

import nnzoo
from nnzoo import cli, data, options
from nnzoo.recipe import Recipe


# --- #29.7: a data request that selects nothing is not "the whole set" --------------------------------


@pytest.mark.parametrize("spec", ["mnist[:0]", "expanded[:0]", "mnist[:000]"])
def test_first_zero_images_refused(spec):
    with pytest.raises(ValueError, match=r"selects no training images.*n >= 1"):
        data.parse_spec(spec)


@pytest.mark.parametrize("request_, match", [
    (dict(data="mnist[:0]"), r"data='mnist\[:0\]' selects no training images"),
    (dict(data=""), r"Unknown data. Received: data=''"),
    (dict(n_validation=0), r"n_validation must be None \(all 10,000 images\) or a number of images in 1..10000. "
                           r"Received: n_validation=0"),
    (dict(n_test=0), r"n_test must be .* Received: n_test=0"),
    (dict(n_validation=-5), r"Received: n_validation=-5"),
    (dict(n_test=10_001), r"Received: n_test=10001"),
    (dict(n_test=True), r"Received: n_test=True"),
])
def test_train_refuses_empty_requests_before_creating_anything(tmp_path, request_, match):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=match):
        nnzoo.train("network2", epochs=1, out=out, verbose=0, **request_)
    assert not out.exists()


def test_cli_refuses_first_zero_images_without_making_out(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(["train", "network2", "--epochs", "1", "--data", "mnist[:0]", "--out", str(out)])
    assert code == 2
    assert "selects no training images" in capsys.readouterr().err
    assert not out.exists()


def test_recipe_refuses_empty_data():
    with pytest.raises(ValueError, match="selects no training images"):
        Recipe("network2", data="mnist[:0]")
    with pytest.raises(ValueError, match="Unknown data"):
        Recipe("network2", data="")


# --- #29.9: a bool is not a number ----------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, 0, -0.1, float("nan"), "0.01"])
def test_eta_final_must_be_a_positive_number(tmp_path, value):
    with pytest.raises(ValueError, match=r"eta_final .* must be a number > 0.*Received: eta_final="):
        nnzoo.train("network2", epochs=1, eta_final=value, out=tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()
    assert options.check_eta_final(0.01, "network2") == 0.01


# --- #29.8, #29.9, #29.14: fit refuses bad data before a single step --------------------------------


def _images(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, n)


def _weights(model):
    return [np.array(v) for v in model.get_weights()]


def _unchanged(model, before):
    return all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


_LABEL_EXPECTATION = r"Expected integer labels 0-9 of shape \(N,\) \(or one-hot rows of shape \(N, 10\)\)"


@pytest.mark.parametrize("bad, shown", [
    (10, "y[0]=10"), (-1, "y[0]=-1"), (10**6, "y[0]=1000000"),
])
def test_fit_refuses_labels_outside_0_to_9(bad, shown):
    x, y = _images()
    y[[0, 7]] = bad
    model = nnzoo.build("network2", n_train=len(x))
    before = _weights(model)
    with pytest.raises(ValueError) as info:
        model.fit(x, y, batch_size=10, verbose=0)
    assert str(info.value).startswith(f"y holds 2 label(s) that are not a digit 0-9 ({shown}, y[7]=")
    assert f"Received: y of shape (40,) and dtype {y.dtype}." in str(info.value)
    assert _unchanged(model, before)


def test_fit_and_compiled_epoch_refuse_fractional_labels():
    x, y = _images()
    model = nnzoo.build("network2", n_train=len(x))
    before = _weights(model)
    for fit in (lambda: model.fit(x, y + 0.7, batch_size=10, verbose=0),
                lambda: nnzoo.epoch.fit_epoch(model, x, y + 0.7, batch_size=10)):
        with pytest.raises(ValueError, match=r"y holds 40 label\(s\) that are not a digit 0-9 \(y\[0\]=\d\.7, "
                                             r"y\[1\]=\d\.7, y\[2\]=\d\.7, …\). Received: y of shape \(40,\) and "
                                             r"dtype float64. " + _LABEL_EXPECTATION):
            fit()
    assert _unchanged(model, before)


def test_one_hot_labels_train_exactly_as_integer_labels():
    x, y = _images()
    weights = []
    for labels, run in ((y, "fit"), (np.eye(10, dtype="float32")[y], "fit"), (np.eye(10)[y], "epoch")):
        model = nnzoo.build("network2", n_train=len(x), seed=1)
        if run == "fit":
            model.fit(x, labels, batch_size=10, verbose=0, shuffle=False)
        else:
            nnzoo.epoch.fit_epoch(model, x, labels, batch_size=10)
        weights.append(model.get_weights())
    for other in weights[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(weights[0], other))
    assert not np.array_equal(weights[0][0], nnzoo.build("network2", n_train=len(x), seed=1).get_weights()[0])


def test_another_loss_keeps_its_one_hot_labels():
    """A network recompiled with Keras's categorical cross-entropy gets its one-hot rows as they are (checked)."""
    import keras

    x, y = _images()
    model = nnzoo.build("network2", n_train=len(x), compile=False)
    model.compile(optimizer="sgd", loss=keras.losses.CategoricalCrossentropy(), metrics=["accuracy"])
    history = model.fit(x, np.eye(10)[y], batch_size=10, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    with pytest.raises(ValueError, match=r"y holds 1 label\(s\) that are not a digit 0-9 \(y\[0\]=12\)"):
        model.fit(x, np.where(np.arange(len(y)) == 0, 12, y), batch_size=10, verbose=0)


def test_fit_refuses_rows_that_are_not_one_hot():
    x, y = _images()
    soft = np.full((len(y), 10), 0.1)
    with pytest.raises(ValueError, match=r"row\(s\) are not one 1 and nine 0s \(y\[0\]=\[0.1, "):
        nnzoo.build("network2", n_train=len(x)).fit(x, soft, batch_size=10, verbose=0)


@pytest.mark.parametrize("batch_size", [0, -10, True, 2.5])
def test_fit_refuses_a_batch_size_that_is_not_a_positive_integer(batch_size):
    x, y = _images()
    model = nnzoo.build("network2", n_train=len(x))
    with pytest.raises(ValueError, match=rf"batch_size must be a positive integer .*Received: "
                                         rf"batch_size={batch_size!r}\."):
        model.fit(x, y, batch_size=batch_size, verbose=0)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_fit_refuses_a_pixel_that_is_not_finite(value):
    x, y = _images()
    x[3, 14, 14, 0] = value
    model = nnzoo.build("conv2", n_train=len(x))
    before = _weights(model)
    for fit in (lambda: model.fit(x, y, batch_size=10, verbose=0),
                lambda: nnzoo.epoch.fit_epoch(model, x, y, batch_size=10)):
        with pytest.raises(ValueError) as info:
            fit()
        assert str(info.value).startswith(f"x[3, 14, 14, 0] is {value}: x holds 1 pixel(s) that are NaN or infinite")
    assert _unchanged(model, before)


def test_fit_on_empty_arrays():
    model = nnzoo.build("network2")  # λ > 0: the penalty's n was a division by len(x)
    with pytest.raises(ValueError) as info:
        model.fit(np.zeros((0, 28, 28, 1), "float32"), np.zeros((0,), "int32"), verbose=0)
    assert str(info.value) == "x holds no images (shape (0, 28, 28, 1)): there is nothing to fit."


# --- #29.15: conv kernels that do not fit the feature maps ---------------------------------------------


def test_conv_kernel_larger_than_the_image():
    with pytest.raises(ValueError) as info:
        nnzoo.build("conv1", conv=((20, 30),))
    message = str(info.value)
    assert message.startswith("conv layer 1 of 1 does not fit: its 30×30 kernel is larger than the 28×28 feature "
                              "map it gets;")
    assert "Received: conv=((20, 30),) for 'conv1'." in message


def test_conv_layer_pooled_to_nothing():
    with pytest.raises(ValueError, match=r"conv layer 2 of 2 does not fit: its 12×12 kernel leaves a 1×1 map, which "
                                         r"2×2 max-pooling reduces to nothing \(the layers before it take the image "
                                         r"28×28 → 12×12\)"):
        nnzoo.build("conv2", conv=((20, 5), (40, 12)))
    assert nnzoo.build("conv2", conv=((20, 5), (40, 5), (60, 3)), compile=False).count_params() > 0
