"""``model.fit`` on an nnzoo network is the compiled epoch for in-memory data, stock Keras otherwise (#12)."""

import subprocess
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import nnzoo
from nnzoo import epoch as compiled_epoch
from nnzoo.models import book_model


def _data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (n, 28, 28, 1)).astype("float32"), rng.integers(0, 10, n).astype("int32")


def _assert_same_weights(a, b, atol=0.0):
    for left, right in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(left, right, atol=atol, rtol=0)


@pytest.mark.parametrize("name", ["network2", "conv2_dropout"])
def test_fit_is_the_compiled_epoch_and_stock_fit_to_round_off(name):
    x, y = _data()
    kwargs = dict(seed=3, n_train=len(y), hidden=(20,) if name == "network2" else (16, 16))
    fitted, stepped, stock = (nnzoo.build(name, **kwargs) for _ in range(3))
    keras.utils.set_random_seed(7)
    fitted.fit(x, y, batch_size=10, epochs=1, shuffle=False, verbose=0)
    keras.utils.set_random_seed(7)
    compiled_epoch.fit_epoch(stepped, x, y, batch_size=10)
    _assert_same_weights(fitted, stepped)
    keras.utils.set_random_seed(7)
    keras.Model.fit(stock, x, y, batch_size=10, epochs=1, shuffle=False, verbose=0)
    _assert_same_weights(fitted, stock, atol=1e-5)


def test_shuffle_draws_each_epochs_order_from_numpy():
    x, y = _data()
    fitted, stepped = nnzoo.build("network2", seed=1, n_train=200), nnzoo.build("network2", seed=1, n_train=200)
    keras.utils.set_random_seed(11)
    history = fitted.fit(x, y, batch_size=10, epochs=2, verbose=0)
    keras.utils.set_random_seed(11)
    for _ in range(2):
        compiled_epoch.fit_epoch(stepped, x, y, batch_size=10, order=np.random.permutation(len(y)))
    _assert_same_weights(fitted, stepped)
    assert sorted(history.history) == ["accuracy", "loss"] and len(history.history["loss"]) == 2


def test_validation_initial_epoch_and_callbacks_on_the_fast_path(monkeypatch):
    x, y = _data()
    calls = []
    monkeypatch.setattr(keras.Model, "fit", lambda *a, **k: pytest.fail("took stock fit"))
    recorder = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: calls.append("begin"),
        on_epoch_end=lambda epoch, logs: calls.append((epoch, sorted(logs))),
        on_train_end=lambda logs: calls.append("end"))
    model = nnzoo.build("network2", seed=0, n_train=200)
    history = model.fit(x, y, batch_size=10, epochs=4, initial_epoch=1, validation_data=(x[:50], y[:50]),
                        callbacks=[recorder], verbose=0)
    keys = ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert calls == ["begin", (1, keys), (2, keys), (3, keys), "end"]
    assert history is model.history and len(history.history["val_accuracy"]) == 3 and history.epoch == [1, 2, 3]
    expected = model.evaluate(x[:50], y[:50], verbose=0, return_dict=True)
    assert history.history["val_accuracy"][-1] == pytest.approx(expected["accuracy"])


def test_early_stopping_stops_the_fast_path():
    x, y = _data()
    model = nnzoo.build("network2", seed=0, n_train=200, eta=1e-9)  # nothing improves
    history = model.fit(x, y, batch_size=10, epochs=20, verbose=0,
                        callbacks=[keras.callbacks.EarlyStopping(monitor="loss", patience=1, min_delta=1.0)])
    assert len(history.history["loss"]) == 2


@pytest.mark.parametrize("extra", [
    {"validation_split": 0.2}, {"sample_weight": "ones"}, {"class_weight": {0: 2.0}}, {"steps_per_epoch": 5},
    {"dataset": True}, {"shuffle": "batch"},
])
def test_what_the_fast_path_does_not_cover_goes_to_stock_fit(extra, monkeypatch):
    x, y = _data()
    kwargs = dict(extra)
    if kwargs.pop("dataset", False):
        inputs = dict(x=tf.data.Dataset.from_tensor_slices((x, y)).batch(10))
    else:
        inputs = dict(x=x, y=y, batch_size=10)
    if kwargs.get("sample_weight") == "ones":
        kwargs["sample_weight"] = np.ones(len(y), "float32")
    assert book_model.fast_path_refusal(nnzoo.build("network2"), {
        **dict(x=None, y=None, batch_size=None, epochs=1, verbose=0, callbacks=None, validation_split=0.0,
               validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
               steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1),
        **inputs, **kwargs}) is not None
    monkeypatch.setattr(compiled_epoch, "fit_epoch", lambda *a, **k: pytest.fail("took the compiled epoch"))
    model = nnzoo.build("network2", seed=0, n_train=200)
    history = model.fit(**inputs, epochs=1, verbose=0, **kwargs)
    assert len(history.history["loss"]) == 1


def test_a_book_model_saves_and_loads_as_itself(tmp_path):
    model = nnzoo.build("conv2", seed=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded, book_model.BookModel)
    x, _ = _data(4)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_fitting_on_another_set_size_than_the_penalty_assumes_warns():
    x, y = _data()
    with pytest.warns(UserWarning, match=r"built with n_train=50000.*fitted on 200 examples: the penalty is 250x "
                                         r"weaker.*n_train=200"):
        nnzoo.build("network2", seed=0).fit(x, y, batch_size=10, epochs=1, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nnzoo.build("network2", seed=0, n_train=200).fit(x, y, batch_size=10, epochs=1, verbose=0)
        nnzoo.build("shallow_sigmoid", seed=0).fit(x, y, batch_size=10, epochs=1, verbose=0)  # λ = 0


def test_mirrored_strategy_with_two_replicas_trains_as_one_device():
    """#15: two logical CPU devices, MirroredStrategy: fit works and gives one device's weights."""
    script = textwrap.dedent("""
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        import keras, nnzoo
        rng = np.random.default_rng(0)
        x = rng.uniform(0, 1, (80, 28, 28, 1)).astype("float32"); y = rng.integers(0, 10, 80).astype("int32")
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert strategy.num_replicas_in_sync == 2
        with strategy.scope():
            mirrored = nnzoo.build("network2", seed=0, n_train=80)
        mirrored.fit(x, y, batch_size=20, epochs=2, shuffle=False, verbose=0)
        single = nnzoo.build("network2", seed=0, n_train=80)
        single.fit(x, y, batch_size=20, epochs=2, shuffle=False, verbose=0)
        print(max(float(np.abs(a - b).max()) for a, b in zip(mirrored.get_weights(), single.get_weights())))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert float(result.stdout.strip().splitlines()[-1]) < 1e-5
