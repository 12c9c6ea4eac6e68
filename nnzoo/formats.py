"""The deployable files of an export: TFLite and ONNX, with the model card inside, and the card read back.

``nnzoo.export(model, path, format="tflite")`` (or ``"onnx"``, optionally
``quantize="dynamic"``) writes a SavedModel with nnzoo's serving signature to a
temporary directory and hands it to ``write``, which converts it:

- ``tflite``: ``tf.lite.TFLiteConverter`` with TFLite's builtin ops only (no
  Flex ops, so any TFLite or LiteRT runtime runs it). ``quantize="dynamic"`` is
  the converter's dynamic-range quantization (int8 weights, float activations).
  The card is the model's metadata entry ``nnzoo_card`` (the flatbuffer's
  ``metadata`` list names a buffer holding the card's JSON, as TFLite's own
  ``min_runtime_version`` entry does).
- ``onnx``: tf2onnx (``pip install nnzoo[onnx]``), opset 17.
  ``quantize="dynamic"`` is ONNX Runtime's ``quantize_dynamic`` (int8 weights).
  The card is the model's ``metadata_props`` entry ``nnzoo_card``.

Both keep the SavedModel's signature: input ``image`` (float32, every dimension
open, the contract is ``[batch, 28, 28, 1]`` with pixels in [0, 1]), outputs
``probabilities`` and ``digit``; an input of another shape or a pixel outside
[0, 1] gives digit -1 and NaN probabilities (ONNX Runtime refuses another rank
itself). ``read_card(path)`` reads the card of any export: a ``.tflite`` file, an
``.onnx`` file or a SavedModel version directory.

>>> import nnzoo                                              # doctest: +SKIP
>>> path = nnzoo.export(nnzoo.build("conv2", weights="mnist"), "exports/conv2", format="tflite")  # doctest: +SKIP
>>> nnzoo.formats.read_card(path)["test_accuracy"]            # doctest: +SKIP
"""

import importlib.util
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from nnzoo import weights_io

__all__ = ["FORMATS", "QUANTIZE", "CARD_KEY", "check", "target", "write", "read_card"]

FORMATS = ("savedmodel", "tflite", "onnx")
QUANTIZE = ("dynamic",)
SUFFIXES = {"tflite": ".tflite", "onnx": ".onnx"}
CARD_KEY = "nnzoo_card"
ONNX_OPSET = 17
_TFLITE_IDENTIFIER = b"TFL3"


def check(format, quantize):
    """Refuse an unknown format or quantization (ValueError), before anything is built or written."""
    if format not in FORMATS:
        raise ValueError(f"Unknown export format {format!r}. Expected one of: {', '.join(FORMATS)}.")
    if quantize is not None and quantize not in QUANTIZE:
        raise ValueError(f"Unknown quantization {quantize!r}. Expected None or one of: {', '.join(QUANTIZE)}.")
    if quantize is not None and format == "savedmodel":
        raise ValueError(f"quantize={quantize!r} needs format='tflite' or 'onnx': a SavedModel keeps float32 "
                         f"weights. Received: format='savedmodel'.")
    if format == "onnx":
        for module in ("tf2onnx", "onnx") + (("onnxruntime",) if quantize else ()):
            if importlib.util.find_spec(module) is None:
                raise ValueError(f"format='onnx' needs {module}, which is not installed. Install the extra: "
                                 f"pip install 'nnzoo[onnx]' (tf2onnx and onnxruntime).")


def target(path, name, format, quantize):
    """The file an export of ``format`` writes: ``path`` itself when it ends with the format's suffix,
    else ``path/NAME.SUFFIX`` (``NAME_dynamic.SUFFIX`` when quantized)."""
    path = Path(path)
    suffix = SUFFIXES[format]
    if path.suffix == suffix:
        return path
    if path.suffix in SUFFIXES.values():
        raise ValueError(f"A {format} export is a {suffix} file. Received: path={str(path)!r}.")
    if path.exists() and not path.is_dir():
        raise ValueError(f"The export path must be a directory or a {suffix} file. Received: path={str(path)!r}, "
                         f"an existing file.")
    return path / f"{name}{'_' + quantize if quantize else ''}{suffix}"


def write(saved_model_dir, out_file, *, format, quantize, card):
    """Convert the SavedModel at ``saved_model_dir`` to ``out_file`` with ``card`` (a JSON-able dict) inside.

    The file is written beside its final name and renamed into place, so a
    failed conversion leaves no partial file (an older file of the same name
    is replaced only by a complete one). Returns ``out_file`` as a Path.
    """
    out_file = Path(out_file)
    card_bytes = json.dumps(card, indent=2).encode()
    content = _tflite(saved_model_dir, quantize) if format == "tflite" else _onnx(saved_model_dir, quantize)
    content = _tflite_with_metadata(content, CARD_KEY, card_bytes) if format == "tflite" else \
        _onnx_with_metadata(content, CARD_KEY, card_bytes.decode())
    out_file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_file.name}.", dir=out_file.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_file)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out_file


def read_card(path):
    """The model card inside an export: a ``.tflite`` or ``.onnx`` file, or a SavedModel version directory.

    Raises:
        FileNotFoundError: ``path`` does not exist, or holds no nnzoo card.
        ValueError: ``path`` is not an export nnzoo reads, or its card is not a JSON object.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No such file or directory: {str(path)!r}. Expected a .tflite or .onnx file or a "
                                f"SavedModel version directory written by nnzoo export.")
    if path.is_dir():
        return weights_io.read_card(path)
    if path.suffix == ".tflite":
        raw = _tflite_metadata(path.read_bytes(), path).get(CARD_KEY)
    elif path.suffix == ".onnx":
        raw = _onnx_metadata(path).get(CARD_KEY)
    else:
        raise ValueError(f"Expected a .tflite or .onnx file or a SavedModel version directory. Received: {str(path)!r}.")
    if raw is None:
        raise FileNotFoundError(f"{str(path)!r} holds no {CARD_KEY!r} metadata: it was not written by nnzoo export "
                                f"(or was converted without its card).")
    try:
        card = json.loads(raw)
    except ValueError as err:
        raise ValueError(f"The {CARD_KEY!r} metadata of {str(path)!r} is not JSON ({err}).") from None
    if not isinstance(card, dict):
        raise ValueError(f"The {CARD_KEY!r} metadata of {str(path)!r} is not a model card (a JSON object). "
                         f"Received: {type(card).__name__}.")
    return card


# ----------------------------------------------------------------------------- TFLite


def _tflite(saved_model_dir, quantize):
    import tensorflow as tf  # noqa: PLC0415

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no Flex (Select TF ops) fallback
    if quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # no representative data: dynamic range
    return converter.convert()


def _tflite_schema():
    from tensorflow.lite.python import schema_py_generated  # noqa: PLC0415  (TFLite's flatbuffer schema)

    return schema_py_generated


def _tflite_with_metadata(content, name, payload):
    """``content`` (a .tflite flatbuffer) with a metadata entry ``name`` naming a new buffer of ``payload``."""
    import flatbuffers  # noqa: PLC0415  (installed with TensorFlow)

    schema = _tflite_schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(content, 0))
    model.metadata = [entry for entry in (model.metadata or []) if _text(entry.name) != name]
    buffer = schema.BufferT()
    buffer.data = list(payload)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = name
    entry.buffer = len(model.buffers) - 1
    model.metadata.append(entry)
    builder = flatbuffers.Builder(len(content) + len(payload) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=_TFLITE_IDENTIFIER)
    return bytes(builder.Output())


def _tflite_metadata(content, path):
    """The metadata entries of a .tflite flatbuffer, by name (bytes)."""
    schema = _tflite_schema()
    if len(content) < 8 or content[4:8] != _TFLITE_IDENTIFIER:
        raise ValueError(f"{str(path)!r} is not a TFLite model (no {_TFLITE_IDENTIFIER.decode()} identifier).")
    model = schema.Model.GetRootAsModel(content, 0)
    entries = {}
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        buffer = model.Buffers(entry.Buffer())
        entries[_text(entry.Name())] = buffer.DataAsNumpy().tobytes() if buffer.DataLength() else b""
    return entries


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


# ----------------------------------------------------------------------------- ONNX


def _onnx(saved_model_dir, quantize):
    with tempfile.TemporaryDirectory(prefix="nnzoo-onnx-") as tmp:
        output = Path(tmp) / "model.onnx"
        # In a process of its own: tf2onnx changes TensorFlow's global state (it imports TF1 graph tools).
        result = subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(saved_model_dir),
                                 "--output", str(output), "--opset", str(ONNX_OPSET)],
                                capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        if result.returncode != 0 or not output.is_file():
            raise RuntimeError(f"tf2onnx could not convert the SavedModel (exit {result.returncode}):\n"
                               f"{result.stderr[-2000:]}")
        if quantize == "dynamic":
            from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: PLC0415

            quantized = Path(tmp) / "model_dynamic.onnx"
            # Its one warning (a root-logger line suggesting shape pre-processing) says nothing about this model.
            previous = logging.root.manager.disable
            logging.disable(max(previous, logging.WARNING))
            try:
                quantize_dynamic(str(output), str(quantized), weight_type=QuantType.QInt8)
            finally:
                logging.disable(previous)
            output = quantized
        return output.read_bytes()


def _onnx_with_metadata(content, name, text):
    import onnx  # noqa: PLC0415

    model = onnx.load_from_string(content)
    kept = [entry for entry in model.metadata_props if entry.key != name]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    model.metadata_props.add(key=name, value=text)
    return model.SerializeToString()


def _onnx_metadata(path):
    import onnx  # noqa: PLC0415

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:  # onnx raises DecodeError and friends for a file that is not a model
        raise ValueError(f"{str(path)!r} is not an ONNX model ({type(err).__name__}: {err}).") from None
    return {entry.key: entry.value for entry in model.metadata_props}
