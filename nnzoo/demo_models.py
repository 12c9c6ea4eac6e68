"""The demo's models: each shipped network as an ONNX model for ONNX Runtime Web, checked against Keras.

``convert(model)`` traces the network (dropout off) with tf2onnx into an ONNX model with one input,
``image`` (float32 ``[batch, 28, 28, 1]``, pixels in [0, 1]), and the output ``probabilities``
(``[batch, 10]``, the Keras model's output); an ensemble also outputs ``members``
(``[batch, k, 10]``, each member's output) so that the page can show the members' votes.

``quantize(proto)`` stores the weights of every matrix product and convolution as int8 with one
float32 scale per output unit (symmetric, per channel), dequantised in the graph by
``DequantizeLinear``: the arithmetic stays float32, only the weights are rounded, and the file is
about a quarter of the float32 one.

``prepare(name, x)`` does both for a shipped network and keeps the int8 model only where it gives the
Keras model's digit on at least ``MIN_AGREEMENT`` of the images ``x`` (else the float32 one), and
returns the file's bytes with a record of what was measured.

Example:

>>> from nnzoo import data, demo_models                              # doctest: +SKIP
>>> x = data.load_split().test.x                                     # doctest: +SKIP
>>> onnx_bytes, record = demo_models.prepare("conv2_dropout", x)    # doctest: +SKIP
>>> record["quantization"], record["agreement"]                      # doctest: +SKIP
('int8', 1.0)
"""

import numpy as np

__all__ = ["MIN_AGREEMENT", "OPSET", "convert", "quantize", "keras_digits", "onnx_outputs", "prepare"]

MIN_AGREEMENT = 0.999  # the bar for a quantised model: the Keras digit on >= 99.9% of the images
OPSET = 17
_MIN_QUANTIZED_SIZE = 1024  # smaller weights (biases, tiny kernels) stay float32
_BATCH = 1000


def convert(model):
    """An ONNX ``ModelProto`` computing ``model`` (dropout off): input ``image``, output
    ``probabilities`` (and ``members`` for an ensemble)."""
    import tensorflow as tf  # noqa: PLC0415  (TensorFlow only where a model is converted)
    import tf2onnx  # noqa: PLC0415

    members = _members(model)

    @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="image")])
    def serve(image):
        outputs = {"probabilities": model(image, training=False)}
        if members:
            outputs["members"] = tf.stack([member(image, training=False) for member in members], axis=1)
        return outputs

    proto, _ = tf2onnx.convert.from_function(serve, input_signature=serve.input_signature, opset=OPSET)
    return proto


def _members(model):
    """The member models of an nnzoo ensemble (``member_1`` ... ``member_k``), else []."""
    members = []
    while True:
        try:
            members.append(model.get_layer(f"member_{len(members) + 1}"))
        except ValueError:
            return members


def quantize(proto):
    """A copy of ``proto`` whose matrix-product and convolution weights are int8, one scale per output
    unit, dequantised by ``DequantizeLinear`` nodes (the arithmetic stays float32)."""
    import onnx  # noqa: PLC0415
    from onnx import helper, numpy_helper  # noqa: PLC0415

    proto = onnx.ModelProto.FromString(proto.SerializeToString())
    graph = proto.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    axes = {}
    for node in graph.node:
        if len(node.input) > 1 and node.input[1] in initializers:
            if node.op_type == "Conv":
                axes[node.input[1]] = 0  # [out, in, kh, kw]
            elif node.op_type == "MatMul":
                axes[node.input[1]] = 1  # [in, out]
            elif node.op_type == "Gemm":
                trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
                axes[node.input[1]] = 0 if trans_b else 1
    dequantize = []
    for name, axis in axes.items():
        weights = numpy_helper.to_array(initializers[name])
        if weights.dtype != np.float32 or weights.size < _MIN_QUANTIZED_SIZE:
            continue
        reduce = tuple(i for i in range(weights.ndim) if i != axis)
        scale = np.max(np.abs(weights), axis=reduce) / 127.0
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        shape = [1] * weights.ndim
        shape[axis] = -1
        quantized = np.clip(np.rint(weights / scale.reshape(shape)), -127, 127).astype(np.int8)
        graph.initializer.remove(initializers[name])
        graph.initializer.extend([numpy_helper.from_array(quantized, f"{name}_int8"),
                                  numpy_helper.from_array(scale, f"{name}_scale")])
        dequantize.append(helper.make_node("DequantizeLinear", [f"{name}_int8", f"{name}_scale"], [name],
                                           axis=axis, name=f"{name}_dequantize"))
    for node in reversed(dequantize):
        graph.node.insert(0, node)
    onnx.checker.check_model(proto)
    return proto


def keras_digits(model, x):
    """The Keras model's digits (argmax of its output, dropout off) on images ``x``."""
    return np.concatenate([np.asarray(model(x[i:i + _BATCH], training=False)).argmax(axis=1)
                           for i in range(0, len(x), _BATCH)]) if len(x) else np.zeros(0, np.int64)


def onnx_outputs(onnx_bytes, x):
    """Run an ONNX model (bytes) with onnxruntime on images ``x``; a dict of its outputs."""
    import onnxruntime  # noqa: PLC0415

    session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    batches = [session.run(names, {"image": x[i:i + _BATCH]}) for i in range(0, len(x), _BATCH)]
    return {name: np.concatenate([batch[j] for batch in batches]) for j, name in enumerate(names)}


def prepare(name, x, *, model=None, digits=None):
    """The demo's ONNX model of shipped network ``name`` and its record.

    Args:
        name: a network with shipped weights (``nnzoo.list_models(pretrained=True)``).
        x: float32 images ``(n, 28, 28, 1)`` on which the ONNX model must give the Keras digits.
        model: the Keras model, if already built (else ``nnzoo.build(name, weights="mnist")``).
        digits: the Keras model's digits on ``x``, if already computed.

    Returns:
        ``(onnx_bytes, record)``: ``record`` has ``quantization`` ("int8" or "float32"), ``agreement``
        (the fraction of ``x`` on which the shipped file's digit is the Keras one), ``int8_agreement``,
        ``checked_images``, ``disagreements`` (indices into ``x``) and ``bytes``.

    Raises:
        RuntimeError: the float32 ONNX model gives another digit than Keras on some image (the
            conversion itself is then wrong); the message names the images.
    """
    from nnzoo import registry  # noqa: PLC0415

    if model is None:
        model = registry.build(name, weights="mnist", compile=False)
    expected = keras_digits(model, x) if digits is None else digits
    full = convert(model)
    int8 = quantize(full).SerializeToString()
    int8_digits = onnx_outputs(int8, x)["probabilities"].argmax(axis=1)
    int8_agreement = float(np.mean(int8_digits == expected)) if len(x) else 1.0
    if int8_agreement >= MIN_AGREEMENT:
        chosen, onnx_digits, quantization = int8, int8_digits, "int8"
    else:
        chosen = full.SerializeToString()
        onnx_digits, quantization = onnx_outputs(chosen, x)["probabilities"].argmax(axis=1), "float32"
        if np.any(onnx_digits != expected):
            raise RuntimeError(f"The float32 ONNX model of {name!r} gives another digit than Keras on images "
                               f"{np.flatnonzero(onnx_digits != expected)[:20].tolist()}; expected the same "
                               "digits. Check the tf2onnx conversion.")
    return chosen, {
        "quantization": quantization,
        "agreement": float(np.mean(onnx_digits == expected)) if len(x) else 1.0,
        "int8_agreement": int8_agreement,
        "checked_images": int(len(x)),
        "disagreements": np.flatnonzero(onnx_digits != expected).tolist(),
        "bytes": len(chosen),
        "float32_bytes": full.ByteSize(),
    }
