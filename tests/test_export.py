"""``nnzoo.export`` (TF Serving SavedModels), ``nnzoo.load`` and ``nnzoo export``.

The exported SavedModels are checked the way a server sees them: in a fresh
process that never imports nnzoo, with ``saved_model_cli``, and with
``keras.layers.TFSMLayer``.
"""

import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import nnzoo
from nnzoo import cli

SERVED = ["shallow_sigmoid", "conv2_dropout", "conv2_dropout_ensemble"]
BIN = Path(sys.executable).parent
TF_ERRORS = (ValueError, TypeError, tf.errors.InvalidArgumentError)


def _randomize_output_layer(model, seed):
    """Move network3's all-zero output layer off zero, so outputs differ between images."""
    rng = np.random.default_rng(seed)
    kernel = model.get_layer("output").kernel
    kernel.assign(rng.normal(0.0, 0.05, size=kernel.shape).astype("float32"))


def _plurality_vote(member_outputs):
    """The book's vote in NumPy: most votes, then the larger mean probability, then the lower digit."""
    stacked = np.stack(member_outputs)  # (members, batch, 10)
    votes = np.stack([np.bincount(row, minlength=10) for row in stacked.argmax(-1).T])
    mean = stacked.mean(0)
    return np.array([np.lexsort((-np.arange(10), mean[i], votes[i]))[-1] for i in range(len(mean))])


def _images(n=6, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, size=(n, 28, 28, 1)).astype("float32")


def _small_model(name="shallow_sigmoid", seed=1):
    return nnzoo.build(name, compile=False, seed=seed)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One export of a dense net, a conv net with dropout and the ensemble, with Keras's outputs."""
    root = tmp_path_factory.mktemp("savedmodels")
    x = _images()
    np.save(root / "x.npy", x)
    out = {"root": root, "x": x, "paths": {}, "probabilities": {}}
    for name in SERVED:
        model = nnzoo.build(name, compile=False, seed=1)
        if name == "conv2_dropout":
            _randomize_output_layer(model, seed=1)
        if name == "conv2_dropout_ensemble":
            members = [model.get_layer(f"member_{k}") for k in range(1, 6)]
            for k, member in enumerate(members, start=1):
                _randomize_output_layer(member, seed=k)
            member_outputs = [keras.ops.convert_to_numpy(m(x, training=False)) for m in members]
            out["member_digits"] = np.stack([p.argmax(-1) for p in member_outputs])
            out["vote"] = _plurality_vote(member_outputs)
        out["probabilities"][name] = keras.ops.convert_to_numpy(model(x, training=False))
        out["paths"][name] = nnzoo.export(model, root / name, metadata={"test_accuracy": 0.5, "data": "synthetic"})
    return out


@pytest.fixture(scope="module")
def served(exported):
    """Run the SavedModels in a fresh process that imports TensorFlow only, never nnzoo."""
    script = textwrap.dedent(f"""
        import json, sys
        import numpy as np
        import tensorflow as tf
        x = tf.constant(np.load({str(exported["root"] / "x.npy")!r}))
        paths = {json.dumps({k: str(v) for k, v in exported["paths"].items()})}
        out = {{}}
        for name, path in paths.items():
            serve = tf.saved_model.load(path).signatures["serving_default"]
            first, second = serve(image=x), serve(image=x)
            bad = {{}}
            for label, value in [
                ("flat [1, 784]", tf.zeros([1, 784], tf.float32)),
                ("RGB [2, 28, 28, 3]", tf.zeros([2, 28, 28, 3], tf.float32)),
                ("30x30 [2, 30, 30, 1]", tf.zeros([2, 30, 30, 1], tf.float32)),
                ("channels first [2, 1, 28, 28]", tf.zeros([2, 1, 28, 28], tf.float32)),
                ("no channel [1, 28, 28]", tf.zeros([1, 28, 28], tf.float32)),
                ("float64", tf.zeros([1, 28, 28, 1], tf.float64)),
                ("int32", tf.zeros([1, 28, 28, 1], tf.int32)),
                ("numpy [1, 784]", np.zeros([1, 784], np.float32)),
            ]:
                try:
                    result = serve(image=value)
                    flagged = (result["digit"].numpy() == -1).all() and np.isnan(result["probabilities"].numpy()).all()
                    bad[label] = "flagged" if flagged else None
                except (ValueError, TypeError, tf.errors.InvalidArgumentError) as err:
                    bad[label] = type(err).__name__
            out[name] = {{
                "inputs": {{k: [v.dtype.name, v.shape.as_list()]
                           for k, v in serve.structured_input_signature[1].items()}},
                "outputs": {{k: [v.dtype.name, v.shape.as_list()] for k, v in serve.structured_outputs.items()}},
                "probabilities": first["probabilities"].numpy().tolist(),
                "digit": first["digit"].numpy().tolist(),
                "digit_dtype": first["digit"].dtype.name,
                "repeatable": bool(np.array_equal(first["probabilities"], second["probabilities"])),
                "bad_inputs": bad,
            }}
        out["nnzoo_imported"] = "nnzoo" in sys.modules
        print(json.dumps(out))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            cwd=exported["root"])
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", SERVED)
def test_each_weight_is_stored_once(exported, name):
    """The variables file holds the model's weights once (Keras's ExportArchive alone wrote them twice)."""
    import tensorflow as tf

    version = Path(exported["paths"][name])
    weight_bytes = sum(keras.ops.convert_to_numpy(w).nbytes for w in nnzoo.build(name, compile=False).weights)
    stored = sum(f.stat().st_size for f in (version / "variables").glob("variables.data-*"))
    assert weight_bytes <= stored < 1.05 * weight_bytes + 4096
    reloaded = tf.saved_model.load(str(version))
    assert len(reloaded.trainable_variables) == len(nnzoo.build(name, compile=False).trainable_weights)


# ----------------------------------------------------------------------------- the signature


def test_serving_runs_without_nnzoo(served):
    assert served["nnzoo_imported"] is False


@pytest.mark.parametrize("name", SERVED)
def test_signature_names_and_types(served, name):
    # Every dimension open in the signature: the graph checks [batch, 28, 28, 1] from run-time values.
    assert served[name]["inputs"] == {"image": ["float32", [None, None, None, None]]}
    assert served[name]["outputs"] == {"probabilities": ["float32", [None, 10]], "digit": ["int64", [None]]}
    assert served[name]["digit_dtype"] == "int64"


@pytest.mark.parametrize("name", SERVED)
def test_served_outputs_match_keras(exported, served, name):
    probabilities = np.array(served[name]["probabilities"])
    np.testing.assert_allclose(probabilities, exported["probabilities"][name], atol=1e-6)
    np.testing.assert_array_equal(served[name]["digit"], probabilities.argmax(-1))
    # Dropout is off when serving: the same images give the same outputs.
    assert served[name]["repeatable"]


def test_served_ensemble_digit_is_the_plurality_vote(exported, served):
    member_digits = exported["member_digits"]
    assert (member_digits != member_digits[0]).any(), "the members should disagree somewhere"
    np.testing.assert_array_equal(served["conv2_dropout_ensemble"]["digit"], exported["vote"])


@pytest.mark.parametrize("name", ["shallow_sigmoid", "conv2_dropout"])
def test_bad_inputs_are_refused_or_flagged(served, name):
    # Without the in-graph shape check, a [1, 784] tensor aborts the process in the conv kernel. A wrong
    # shape is flagged (digit -1, NaN probabilities for each image) from run-time values; a wrong dtype
    # is refused by the signature.
    bad = served[name]["bad_inputs"]
    assert all(outcome is not None for outcome in bad.values()), bad
    for label in ("flat [1, 784]", "no channel [1, 28, 28]", "RGB [2, 28, 28, 3]", "30x30 [2, 30, 30, 1]",
                  "channels first [2, 1, 28, 28]"):
        assert bad[label] == "flagged", (label, bad)


def test_bad_input_in_process(exported):
    serve = tf.saved_model.load(str(exported["paths"]["conv2_dropout"])).signatures["serving_default"]
    outputs = serve(image=tf.zeros([2, 784]))
    assert outputs["digit"].numpy().tolist() == [-1, -1] and np.isnan(outputs["probabilities"].numpy()).all()
    with pytest.raises(TF_ERRORS):
        serve(image=tf.zeros([1, 28, 28, 1], tf.float64))


def test_saved_model_cli_show(exported):
    result = subprocess.run(
        [str(BIN / "saved_model_cli"), "show", "--dir", str(exported["paths"]["shallow_sigmoid"]), "--all"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for word in ("serving_default", "inputs['image']", "outputs['probabilities']", "outputs['digit']",
                 "DT_INT64", "(-1, -1, -1, -1)"):
        assert word in result.stdout, word


def test_saved_model_cli_run(exported):
    # TF 2.21's --input_exprs accepts Python literals only (ast.literal_eval), not np.zeros(...).
    image = np.zeros((1, 28, 28, 1)).tolist()
    result = subprocess.run(
        [str(BIN / "saved_model_cli"), "run", "--dir", str(exported["paths"]["shallow_sigmoid"]),
         "--tag_set", "serve", "--signature_def", "serving_default", "--input_exprs", f"image={image}"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    digit = re.search(r"Result for output key digit:\s*\[(\d+)\]", result.stdout)
    assert digit and "Result for output key probabilities:" in result.stdout, result.stdout
    model = nnzoo.build("shallow_sigmoid", compile=False, seed=1)
    assert int(digit.group(1)) == int(np.argmax(model(np.zeros((1, 28, 28, 1), "float32"))))


def test_tfsm_layer_round_trip(exported):
    layer = keras.layers.TFSMLayer(exported["paths"]["conv2_dropout"], call_endpoint="serving_default")
    outputs = layer(exported["x"])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(outputs["probabilities"]),
                               exported["probabilities"]["conv2_dropout"], atol=1e-6)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(outputs["digit"]),
                                  exported["probabilities"]["conv2_dropout"].argmax(-1))


# ----------------------------------------------------------------------------- versions, atomicity


def _tree_digest(directory):
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(directory).rglob("*")) if p.is_file()}


def test_versions_count_up_and_never_overwrite(tmp_path):
    model = _small_model()
    first = nnzoo.export(model, tmp_path / "m")
    assert first == tmp_path / "m" / "1"
    assert {"saved_model.pb", "variables", "assets.extra"} <= set(os.listdir(first))
    assert os.listdir(first / "assets.extra") == ["nnzoo_card.json"]
    before = _tree_digest(first)
    second = nnzoo.export(model, tmp_path / "m")
    assert second == tmp_path / "m" / "2"
    assert _tree_digest(first) == before
    (tmp_path / "m" / "7").mkdir()  # the next version is one past the largest, as TF Serving serves the largest
    assert nnzoo.export(model, tmp_path / "m") == tmp_path / "m" / "8"
    assert sorted(os.listdir(tmp_path / "m")) == ["1", "2", "7", "8"]


@pytest.mark.parametrize("interruption", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_interrupted_export_leaves_nothing(tmp_path, monkeypatch, interruption):
    model = _small_model()
    base = tmp_path / "m"
    nnzoo.export(model, base)
    archive_class = type(keras.export.ExportArchive())
    real_write_out = archive_class.write_out

    def write_then_fail(self, filepath, *args, **kwargs):
        real_write_out(self, filepath, *args, **kwargs)  # a complete SavedModel in the temporary directory ...
        assert (Path(filepath) / "saved_model.pb").is_file()
        raise interruption  # ... then the card and the rename never happen

    monkeypatch.setattr(archive_class, "write_out", write_then_fail)
    with pytest.raises(type(interruption)):
        nnzoo.export(model, base)
    assert os.listdir(base) == ["1"]
    monkeypatch.undo()
    assert nnzoo.export(model, base) == base / "2"


def test_export_refuses_bad_targets_before_writing(tmp_path):
    model = _small_model()
    version = nnzoo.export(model, tmp_path / "m")
    with pytest.raises(ValueError, match="itself a SavedModel"):
        nnzoo.export(model, version)
    wrong = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match=r"\(batch, 10\)"):
        nnzoo.export(wrong, tmp_path / "wrong")
    with pytest.raises(ValueError, match="JSON"):
        nnzoo.export(model, tmp_path / "bad_meta", metadata={"note": object()})
    assert not (tmp_path / "wrong").exists() and not (tmp_path / "bad_meta").exists()


# ----------------------------------------------------------------------------- the card


def test_card_fields_and_checksum(exported):
    version = exported["paths"]["conv2_dropout"]
    card = json.loads((version / "assets.extra" / "nnzoo_card.json").read_text())
    assert card["name"] == card["registered_name"] == "conv2_dropout"
    assert card["recipe"] == json.loads(json.dumps(dict(nnzoo.card("conv2_dropout").recipe)))
    assert card["data"] == "synthetic" and card["test_accuracy"] == 0.5
    assert card["book_result"]["accuracy"] == 99.60
    assert card["versions"] == {"nnzoo": nnzoo.__version__, "tensorflow": tf.__version__,
                                "keras": keras.__version__}
    assert datetime.datetime.fromisoformat(card["exported_at"]).utcoffset() == datetime.timedelta(0)
    assert card["saved_model_sha256"] == hashlib.sha256((version / "saved_model.pb").read_bytes()).hexdigest()
    assert card["signature"]["inputs"] == {"image": {"dtype": "float32", "shape": [None, 28, 28, 1]}}


def test_card_for_unregistered_models(tmp_path):
    model = _small_model()
    model.name = "my_net"
    unknown = nnzoo.read_card(nnzoo.export(model, tmp_path / "a"))
    assert unknown["name"] == "my_net" and unknown["registered_name"] is None
    assert unknown["recipe"] is None and unknown["test_accuracy"] is None and unknown["data"] is None
    recipe = {"cost": "quadratic", "eta": 3.0, "epochs": 1, "data": "mnist[:100]"}
    given = nnzoo.read_card(nnzoo.export(model, tmp_path / "b", card="shallow_sigmoid",
                                                metadata={"recipe": recipe, "test_accuracy": np.float32(0.95),
                                                          "seed": 3}))
    assert given["registered_name"] == "shallow_sigmoid" and given["recipe"] == recipe
    assert given["data"] == "mnist[:100]" and given["test_accuracy"] == 0.95 and given["metadata"] == {"seed": 3}


# ----------------------------------------------------------------------------- nnzoo.load


def test_load_keras_file_and_run_dirs(tmp_path):
    model = _small_model()
    x = _images(3)
    expected = keras.ops.convert_to_numpy(model(x))
    model.save(tmp_path / "net.keras")
    (tmp_path / "run").mkdir()
    model.save(tmp_path / "run" / "model.keras")
    (tmp_path / "resumable").mkdir()
    model.save(tmp_path / "resumable" / "checkpoint-3.keras")
    for path in (tmp_path / "net.keras", tmp_path / "run", str(tmp_path / "resumable")):
        loaded = nnzoo.load(path)
        assert loaded.name == "shallow_sigmoid"
        np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), expected, atol=1e-6)


def test_load_refuses_saved_models_and_other_files(tmp_path):
    model = _small_model()
    version = nnzoo.export(model, tmp_path / "m")
    for path in (version, tmp_path / "m"):
        with pytest.raises(ValueError, match=r"TFSMLayer\(.*call_endpoint='serving_default'\)"):
            nnzoo.load(path)
    with pytest.raises(FileNotFoundError, match="model.keras"):
        nnzoo.load(tmp_path / "nowhere")
    model.save_weights(tmp_path / "w.weights.h5")
    with pytest.raises(ValueError, match="weights only"):
        nnzoo.load(tmp_path / "w.weights.h5")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="neither model.keras nor checkpoint-EPOCH.keras"):
        nnzoo.load(tmp_path / "empty")


def test_load_weights_takes_a_saved_model_the_way_build_does(tmp_path):
    """A SavedModel's variables fill a built model (version or base directory) when both compute the same."""
    trained = nnzoo.build("shallow_sigmoid", compile=False, seed=1)
    nnzoo.export(trained, tmp_path / "m")
    version = nnzoo.export(trained, tmp_path / "m")  # version 2, the latest
    for source in (version, tmp_path / "m"):
        model = nnzoo.load_weights(nnzoo.build("shallow_sigmoid", compile=False, seed=2), source)
        for a, b in zip(model.get_weights(), trained.get_weights()):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="do not fit"):
        nnzoo.load_weights(nnzoo.build("network2_100", compile=False), version)


# ----------------------------------------------------------------------------- the command line


def _served_probabilities(version, x):
    serve = tf.saved_model.load(str(version)).signatures["serving_default"]
    return serve(image=tf.constant(x))["probabilities"].numpy()


def test_cli_export_from_a_keras_file(tmp_path, capsys):
    trained = nnzoo.build("shallow_sigmoid", seed=7)
    x = _images(10)
    trained.train_on_batch(x, np.arange(10))
    trained.save(tmp_path / "final.keras")
    out = tmp_path / "savedmodels" / "shallow_sigmoid"
    argv = ["export", "shallow_sigmoid", "--weights", str(tmp_path / "final.keras"), "--out", str(out)]
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.strip() == str(out / "1")
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.strip() == str(out / "2")
    # The CLI built a fresh, unseeded model: the served outputs prove the weights were copied.
    np.testing.assert_allclose(_served_probabilities(out / "2", x), trained.predict(x, verbose=0), atol=1e-6)


def test_cli_export_from_weights_file_and_run_dir(tmp_path, capsys, monkeypatch):
    trained = _small_model(seed=3)
    x = _images(4)
    trained.save_weights(tmp_path / "net.weights.h5")
    (tmp_path / "run").mkdir()
    trained.save(tmp_path / "run" / "model.keras")
    (tmp_path / "meta.json").write_text(json.dumps({"test_accuracy": 0.9542, "data": "mnist"}))
    monkeypatch.chdir(tmp_path)  # the default --out is exports/NAME, never the shipped weights' savedmodels/
    assert cli.main(["export", "shallow_sigmoid", "--weights", "net.weights.h5"]) == 0
    assert cli.main(["export", "shallow_sigmoid", "--weights", "run", "--metadata", "meta.json"]) == 0
    assert capsys.readouterr().out.split() == [str(Path("exports/shallow_sigmoid") / v) for v in "12"]
    assert not (tmp_path / "savedmodels").exists()
    expected = keras.ops.convert_to_numpy(trained(x))
    for version in ("1", "2"):
        np.testing.assert_allclose(_served_probabilities(tmp_path / "exports/shallow_sigmoid" / version, x),
                                   expected, atol=1e-6)
    card = nnzoo.read_card(tmp_path / "exports/shallow_sigmoid/2")
    assert card["test_accuracy"] == 0.9542


def test_cli_export_errors(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["export", "shallow_sigmoid", "--weights", str(tmp_path / "missing.keras"),
                     "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "missing.keras" in err and "no such file" in err.lower()

    _small_model("shallow_sigmoid_100").save(tmp_path / "wide.keras")
    renamed = _small_model("shallow_sigmoid_100")
    renamed.name = "my_wide_net"
    renamed.save(tmp_path / "renamed.keras")
    _small_model("shallow_sigmoid_100").save_weights(tmp_path / "wide.weights.h5")
    nnzoo.build("network2", seed=1).save(tmp_path / "network2.keras")  # same shapes as shallow_sigmoid
    # Keras 3's load_weights silently skips arrays the model has no place for; export must not.
    longer = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(30),
                               keras.layers.Dense(10), keras.layers.Dense(10)])
    longer.save_weights(tmp_path / "longer.weights.h5")
    for weights, message in (("wide.keras", "holds a 'shallow_sigmoid_100' model"),
                             ("renamed.keras", "hidden_1/kernel has shape (784, 30), the file has (784, 100)"),
                             ("wide.weights.h5", "do not fit model 'shallow_sigmoid'"),
                             ("longer.weights.h5", "unexpected: layers/dense_2/vars/0"),
                             ("network2.keras", "nnzoo export network2")):
        assert cli.main(["export", "shallow_sigmoid", "--weights", str(tmp_path / weights),
                         "--out", str(out)]) == 2
        assert message in capsys.readouterr().err
    assert cli.main(["export", "shallow_sigmoidd", "--weights", str(tmp_path / "wide.keras")]) == 2
    assert "Did you mean: shallow_sigmoid" in capsys.readouterr().err
    assert not out.exists()


def test_out_of_contract_images_are_impossible_to_miss(exported):
    """#13.5: raw 0-255 pixels (a uint8 array the signature casts) and NaN images get digit -1, NaN scores."""
    x = exported["x"]
    raw = (x * 255).astype("uint8")
    nan = x.copy()
    nan[1:3] = np.nan
    for name, version in exported["paths"].items():
        serve = tf.saved_model.load(str(version)).signatures["serving_default"]
        outputs = serve(image=raw)
        assert (outputs["digit"].numpy() == -1).all(), name
        assert np.isnan(outputs["probabilities"].numpy()).all(), name
        outputs = serve(image=tf.constant(nan))
        np.testing.assert_array_equal(outputs["digit"].numpy()[1:3], [-1, -1])
        assert (outputs["digit"].numpy()[[0, 3, 4, 5]] >= 0).all(), name
        np.testing.assert_allclose(outputs["probabilities"].numpy()[0], exported["probabilities"][name][0], atol=1e-6)


def test_an_empty_batch_gives_empty_outputs(exported):
    """#13.10: a conv net and the ensemble served a batch of 0 images."""
    for name, version in exported["paths"].items():
        outputs = tf.saved_model.load(str(version)).signatures["serving_default"](image=tf.zeros([0, 28, 28, 1]))
        assert outputs["probabilities"].shape == (0, 10) and outputs["digit"].shape == (0,), name


def test_nnzoo_export_is_a_plain_function_and_the_old_module_names_warn(tmp_path):
    import nnzoo.exporting  # noqa: F401  (importing the writer's module leaves nnzoo.export the function)

    assert nnzoo.export is nnzoo.exporting.export and callable(nnzoo.export)
    model = nnzoo.build("shallow_sigmoid", compile=False, seed=1)
    with pytest.warns(DeprecationWarning, match=r"nnzoo.export.export is deprecated; use nnzoo.export\(...\)"):
        version = nnzoo.export.export(model, tmp_path / "m")
    with pytest.warns(DeprecationWarning, match="use nnzoo.read_card"):
        assert nnzoo.export.read_card(version)["name"] == "shallow_sigmoid"
    other = nnzoo.build("shallow_sigmoid", compile=False, seed=2)
    with pytest.warns(DeprecationWarning, match="use nnzoo.load_weights"):
        nnzoo.export.load_weights(other, version)
    for mine, theirs in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    assert nnzoo.read_card(version) == nnzoo.formats.read_card(version)
