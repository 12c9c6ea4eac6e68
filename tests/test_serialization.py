"""A ``.keras`` file of any zoo model loads in a fresh process after ``import nnzoo``."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nnzoo

MODELS = ["network2", "shallow_sigmoid", "conv2_relu", "conv2_dropout", "conv2_dropout_ensemble"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    directory = tmp_path_factory.mktemp("keras_files")
    x = np.random.default_rng(0).uniform(0, 1, size=(8, 28, 28, 1)).astype("float32")
    np.save(directory / "x.npy", x)
    expected = {}
    for name in MODELS:
        overrides = {"lmbda": 5.0, "regularization": "l1"} if name == "network2" else {}
        model = nnzoo.build(name, seed=1, **overrides)
        # One step moves the softmax layers off their all-zero initial weights.
        members = [layer for layer in model.layers if layer.name.startswith("member_")] or [model]
        for member in members:
            member.train_on_batch(x, np.arange(8))
        model.save(directory / f"{name}.keras")
        expected[name] = model.predict(x, verbose=0)
    return directory, expected


def test_keras_files_load_in_a_fresh_process(saved):
    directory, expected = saved
    script = textwrap.dedent(f"""
        import json, numpy as np, keras
        import nnzoo  # registers the custom costs, penalties, initializers and layers
        x = np.load({str(directory / "x.npy")!r})
        out = {{}}
        for name in {MODELS!r}:
            model = keras.models.load_model({str(directory)!r} + "/" + name + ".keras")
            out[name] = {{
                "predictions": model.predict(x, verbose=0).tolist(),
                "loss": type(model.loss).__name__,
                "penalties": sorted({{type(l.kernel_regularizer).__name__ for l in model.layers
                                     if getattr(l, "kernel_regularizer", None) is not None}}),
            }}
        print(json.dumps(out))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    for name in MODELS:
        np.testing.assert_allclose(np.array(loaded[name]["predictions"]), expected[name], atol=1e-6)
    assert loaded["network2"]["loss"] == "CrossEntropyCost"
    assert loaded["network2"]["penalties"] == ["L1"]
    assert loaded["conv2_relu"]["penalties"] == ["Network3L2"]
    assert loaded["shallow_sigmoid"]["loss"] == "QuadraticCost"
