"""Every export kind converts to a TF.js graph model that runs: its frozen serving graph holds only ops
that TF.js 4.22 executes.

tensorflowjs (the converter) pins an older TensorFlow and cannot be installed beside nnzoo, so this checks
what the converter would be given: the ``serving_default`` function with its variables frozen to constants
(what ``tensorflowjs_converter --input_format=tf_saved_model`` does first), against the op names of
``@tensorflow/tfjs-converter`` 4.22's op mapping, stored in ``fixtures/tfjs_graph_ops.json`` (written by
``fixtures/tfjs_graph_ops.js``). ``EnsureShape`` is in that mapping but broken: TF.js reads the shape as an
input where TensorFlow keeps an attribute, and the model fails at run time. The conversion itself and the
digits in node were checked by hand (docs/SERVING.md, "TF.js").
"""

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

import nnzoo

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "tfjs_graph_ops.json").read_text())
TFJS_OPS = frozenset(FIXTURE["ops"])
KINDS = {
    "dense": ("shallow_softmax", {}),
    "conv": ("conv2_dropout", {}),
    "ensemble": ("conv2_dropout_ensemble", {"hidden": (16, 16)}),
}


def _frozen_ops(function):
    """The op types of ``function`` (a concrete function) with its variables frozen, as the TF.js converter
    sees them."""
    graph_def = convert_variables_to_constants_v2(function).graph.as_graph_def()
    ops = {node.op for node in graph_def.node}
    ops |= {node.op for function_def in graph_def.library.function for node in function_def.node_def}
    return ops


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("web")
    return {kind: nnzoo.export(nnzoo.build(name, compile=False, seed=1, **kwargs), root / kind)
            for kind, (name, kwargs) in KINDS.items()}


@pytest.fixture(scope="module")
def serve(exports):
    return {kind: tf.saved_model.load(str(path)).signatures["serving_default"] for kind, path in exports.items()}


def test_fixture_is_the_tfjs_op_list():
    assert FIXTURE["source"].startswith("@tensorflow/tfjs-converter 4.22")
    assert {"Conv2D", "MatMul", "ConcatV2", "SelectV2", "ArgMax", "Placeholder"} <= TFJS_OPS
    assert "EnsureShape" in FIXTURE["broken"] and "EnsureShape" not in TFJS_OPS


@pytest.mark.parametrize("kind", list(KINDS))
def test_exported_graph_has_only_tfjs_ops(kind, exports):
    loaded = tf.saved_model.load(str(exports[kind]))  # kept alive: the frozen function reads its variables
    ops = _frozen_ops(loaded.signatures["serving_default"])
    assert {"Placeholder", "Shape", "Size", "ArgMax"} <= ops  # the graph was read, its run-time shape check too
    assert not ops - TFJS_OPS, f"ops TF.js 4.22 cannot run: {sorted(ops - TFJS_OPS)}"


def test_check_catches_ensure_shape():
    # The check can fail: tf.ensure_shape, which exports used before, gives an op TF.js cannot run.
    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32)])
    def serve(image):
        return tf.ensure_shape(image, [None, 28, 28, 1]) * 2.0

    assert _frozen_ops(serve.get_concrete_function()) - TFJS_OPS == {"EnsureShape"}


def test_wrong_shape_is_flagged_without_ensure_shape(serve):
    # The shape check that replaces EnsureShape reads tf.shape / tf.size at run time (the signature leaves
    # every dimension open, so no converter folds it): each image of a wrong shape gets digit -1 and NaN
    # probabilities, never an abort in the convolution.
    for kind in ("conv", "ensemble"):
        for shape in [[1, 784], [2, 784], [1, 28, 28], [2, 28, 28, 3], [2, 29, 29, 1], [2, 30, 30, 1], [1, 14, 56, 1],
                      [2, 1, 28, 28], [1, 28, 28, 1, 1], [784], [0, 784]]:
            outputs = serve[kind](image=tf.ones(shape) * 0.5)
            digit, probabilities = outputs["digit"].numpy(), outputs["probabilities"].numpy()
            assert digit.shape == (shape[0],) and probabilities.shape == (shape[0], 10), (kind, shape)
            assert (digit == -1).all() and np.isnan(probabilities).all(), (kind, shape)
        assert (serve[kind](image=tf.ones([2, 28, 28, 1]) * 0.5)["digit"].numpy() >= 0).all()


def test_empty_batch_and_out_of_range_pixels(serve):
    # digit's -1 is filled to the digits' shape: TF.js broadcasts a scalar -1 against shape [0] to [1].
    outputs = serve["dense"](image=tf.zeros([0, 28, 28, 1]))
    assert outputs["digit"].shape == [0] and outputs["probabilities"].shape == [0, 10]
    image = np.zeros([3, 28, 28, 1], np.float32)
    image[1, 5, 5, 0] = 255.0
    outputs = serve["dense"](image=tf.constant(image))
    assert outputs["digit"].numpy()[1] == -1 and (outputs["digit"].numpy()[[0, 2]] >= 0).all()
    probabilities = outputs["probabilities"].numpy()
    assert np.isnan(probabilities[1]).all() and not np.isnan(probabilities[[0, 2]]).any()
