"""``nnzoo export --format savedmodel|tflite|onnx [--quantize dynamic]`` and ``nnzoo.formats`` (#30), and the
serving graph's run-time shape check in every runtime (#29.10).

conv2 with its shipped weights goes through the command line in each format; each file runs in its own
runtime (TensorFlow, TFLite's signature runner with its default XNNPACK delegate, LiteRT, ONNX Runtime) on
real test images, gives Keras's digits, and carries the model card, read back with ``read_card``. Inputs of
the wrong shape are flagged (digit -1, NaN probabilities) or refused in each runtime, never served as digits.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter as LiteRTInterpreter

import nnzoo
from nnzoo import cli, formats, pretrained

N_IMAGES = 300
NAME = "conv2"
EXPORTS = {  # label: (--format, --quantize)
    "savedmodel": ("savedmodel", None),
    "tflite": ("tflite", None),
    "tflite_dynamic": ("tflite", "dynamic"),
    "onnx": ("onnx", None),
}
# Wrong shapes that TFLite's XNNPACK delegate used to serve as digits (#29.10), and a channels-first batch.
BAD_SHAPES = [(8, 28, 28, 3), (8, 29, 29, 1), (8, 30, 30, 1), (8, 784), (8, 1, 28, 28), (8, 28, 28)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("formats")
    paths = {}
    for label, (format, quantize) in EXPORTS.items():
        argv = ["export", NAME, "--weights", "mnist", "--format", format, "--out", str(out / label)]
        assert cli.main(argv + (["--quantize", quantize] if quantize else [])) == 0, label
        paths[label] = next((out / label).iterdir())
    return paths


def _runner(label, path):
    """A function images -> {"digit", "probabilities"} in the format's own runtime (``label`` may name another
    runtime for the same file: ``litert``)."""
    if label == "savedmodel":
        serve = tf.saved_model.load(str(path)).signatures["serving_default"]
        return lambda x: {k: v.numpy() for k, v in serve(image=tf.constant(x)).items()}
    if label == "onnx":
        session = onnxruntime.InferenceSession(str(path))
        names = [output.name for output in session.get_outputs()]
        return lambda x: dict(zip(names, session.run(None, {"image": x})))
    interpreter = LiteRTInterpreter if label == "litert" else tf.lite.Interpreter
    runner = interpreter(model_path=str(path), num_threads=2).get_signature_runner("serving_default")
    return lambda x: runner(image=x)


@pytest.fixture(scope="module")
def keras_digits(mnist_split):
    model = nnzoo.build(NAME, compile=False, weights="mnist")
    return model.predict(mnist_split.test.x[:N_IMAGES], verbose=0).argmax(-1)


@pytest.mark.parametrize("label", list(EXPORTS))
def test_each_format_gives_keras_digits_and_carries_its_card(label, exported, keras_digits, mnist_split):
    path = exported[label]
    format, quantize = EXPORTS[label]
    assert path.name == {"savedmodel": "1", "tflite": "conv2.tflite", "tflite_dynamic": "conv2_dynamic.tflite",
                         "onnx": "conv2.onnx"}[label]
    outputs = _runner(format, path)(mnist_split.test.x[:N_IMAGES])
    agree = np.mean(outputs["digit"] == keras_digits)
    assert agree == 1.0 if quantize is None else agree >= 0.99, agree
    assert np.isfinite(outputs["probabilities"]).all()  # tf2onnx once made every probability NaN

    card = formats.read_card(path)
    record = nnzoo.card(NAME).weights
    assert card["name"] == NAME and card["format"] == format and card["quantize"] == quantize
    assert card["test_accuracy"] == record.test_accuracy and card["book_result"]["experiment"] == "C6-04"
    assert card["metadata"]["weights_sha256"] == record.sha256
    assert card["metadata"]["experiment"] == record.experiment and card["metadata"]["command"] == record.command
    assert card["recipe"] == json.loads(json.dumps(dict(record.recipe)))
    assert card["signature"]["inputs"]["image"]["shape"] == [None, 28, 28, 1]


def test_quantized_tflite_is_smaller(exported):
    assert exported["tflite_dynamic"].stat().st_size < 0.5 * exported["tflite"].stat().st_size


@pytest.mark.parametrize("runtime", ["savedmodel", "tflite", "litert", "onnx"])
def test_wrong_shapes_are_flagged_or_refused_in_every_runtime(runtime, exported):
    path = exported["tflite" if runtime == "litert" else runtime]
    run = _runner(runtime, path)
    rng = np.random.default_rng(0)
    for shape in BAD_SHAPES + [(8, 28, 28, 1)]:
        x = rng.uniform(0, 1, size=shape).astype(np.float32)
        try:
            outputs = run(x)
        except Exception as err:  # a refusal: only ONNX Runtime's own rank check gives one
            assert runtime == "onnx" and len(shape) != 4 and "Invalid rank" in str(err), (runtime, shape, err)
            continue
        digit, probabilities = outputs["digit"], outputs["probabilities"]
        assert digit.shape == (8,) and probabilities.shape == (8, 10), (runtime, shape)
        if shape == (8, 28, 28, 1):
            assert (digit >= 0).all() and np.isfinite(probabilities).all(), runtime
        else:
            assert (digit == -1).all() and np.isnan(probabilities).all(), (runtime, shape, digit)


def test_new_graph_serves_the_shipped_graphs_outputs_bit_for_bit(tmp_path, mnist_split):
    # A fresh export serves exactly what the shipped conv2_dropout SavedModel serves. (The shipped one was
    # re-exported with the run-time shape check, #29.10; on 2026-12-07 its outputs on all 10,000 test images
    # were bit-identical to those of the version it replaced, exported with the blank-image concatenation.)
    shipped = pretrained.CHECKOUT_DIR / nnzoo.card("conv2_dropout").weights.file
    x = tf.constant(mnist_split.test.x[:500])
    version = nnzoo.export(nnzoo.build("conv2_dropout", compile=False, weights="mnist"), tmp_path)
    new = tf.saved_model.load(str(version)).signatures["serving_default"](image=x)
    old = tf.saved_model.load(str(shipped)).signatures["serving_default"](image=x)
    for key in ("probabilities", "digit"):
        np.testing.assert_array_equal(new[key].numpy(), old[key].numpy())


def test_bad_format_arguments_are_refused_before_writing(tmp_path):
    model = nnzoo.build("shallow_sigmoid", compile=False, seed=1)
    for kwargs, message in (({"format": "coreml"}, "Unknown export format 'coreml'"),
                            ({"format": "tflite", "quantize": "int4"}, "Unknown quantization 'int4'"),
                            ({"quantize": "dynamic"}, "needs format='tflite' or 'onnx'")):
        with pytest.raises(ValueError, match=message):
            nnzoo.export(model, tmp_path / "out", **kwargs)
    with pytest.raises(ValueError, match="is a .tflite file"):
        nnzoo.export(model, tmp_path / "model.onnx", format="tflite")
    assert not any(tmp_path.iterdir())


def test_file_path_and_read_card_errors(tmp_path, capsys):
    model = nnzoo.build("shallow_sigmoid", compile=False, seed=1)
    path = nnzoo.export(model, tmp_path / "named.tflite", format="tflite", metadata={"test_accuracy": 0.5})
    assert path == tmp_path / "named.tflite" and formats.read_card(path)["test_accuracy"] == 0.5
    assert [p.name for p in tmp_path.iterdir()] == ["named.tflite"]  # no temporary file left behind

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [tf.function(lambda x: x * 2.0).get_concrete_function(tf.TensorSpec([1], tf.float32))])
    (tmp_path / "plain.tflite").write_bytes(converter.convert())
    with pytest.raises(FileNotFoundError, match="holds no 'nnzoo_card' metadata"):
        formats.read_card(tmp_path / "plain.tflite")
    (tmp_path / "junk.tflite").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="is not a TFLite model"):
        formats.read_card(tmp_path / "junk.tflite")
    with pytest.raises(ValueError, match="Expected a .tflite or .onnx file"):
        formats.read_card(_touch(tmp_path / "x.txt"))
    assert cli.main(["export", "shallow_sigmoid", "--weights", "mnist", "--format", "savedmodel",
                     "--quantize", "dynamic", "--out", str(tmp_path / "sm")]) == 2
    assert "needs format='tflite' or 'onnx'" in capsys.readouterr().err


def _touch(path):
    path.write_text("x")
    return path


def test_serving_bench_renders_its_results():
    # bench/results/serving.json (bench/serving.py) is quoted by docs/SERVING.md; the renderer reads it back.
    bench = Path(__file__).resolve().parent.parent / "bench"
    results = json.loads((bench / "results" / "serving.json").read_text())
    done = subprocess.run([sys.executable, str(bench / "serving.py"), "--markdown", str(bench / "results" / "serving.json")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    formats_measured = {row["format"] for row in results["rows"]}
    assert formats_measured == {"savedmodel", "tflite", "tflite dynamic", "onnx", "onnx dynamic"}
    for row in results["rows"]:
        assert f"| {row['format']} | {row['runtime']} |" in done.stdout
