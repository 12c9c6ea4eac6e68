#!/usr/bin/env python
"""Serving conv2_dropout: each export format's size, test accuracy and images/s at batch 1 and 256.

conv2_dropout with its shipped weights is exported the way ``nnzoo export`` does (``nnzoo.export(...,
format=...)``): a SavedModel, TFLite (builtin ops) and ONNX (tf2onnx), each float and, for TFLite and ONNX,
``quantize="dynamic"`` (int8 weights). Each file then runs in its runtime: the SavedModel's
``serving_default`` signature in TensorFlow, the TFLite file in LiteRT's signature runner (``num_threads``
as many as the cores, XNNPACK by default), the ONNX file in onnxruntime (default session options). The report
gives each one's file size, its accuracy on the 10,000 test images (needs NNZOO_DATA_DIR) and its median
images/s over the rounds, at batch 1 (one image per call, as a request server) and batch 256. The machine's
load average is recorded at the start and the end: on a shared machine the speeds move with it.

    python bench/serving.py              # about 2 minutes -> bench/results/serving.json and a Markdown table
    python bench/serving.py --quick      # smoke test (1,000 test images, short timings)
    python bench/serving.py --markdown bench/results/serving.json
"""

import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import bench_env  # noqa: E402  (stdlib-only module)

NAME = "conv2_dropout"
EXPORTS = [("savedmodel", None), ("tflite", None), ("tflite", "dynamic"), ("onnx", None), ("onnx", "dynamic")]
BATCHES = (1, 256)
FULL = dict(repeats=3, seconds=1.5, n_test=10_000)
QUICK = dict(repeats=1, seconds=0.2, n_test=1_000)


def label(format, quantize):
    return format + (f" {quantize}" if quantize else "")


def runner(format, path, threads):
    """A function images -> digits in the format's runtime, and the runtime's name."""
    import numpy as np  # noqa: PLC0415

    if format == "savedmodel":
        import tensorflow as tf  # noqa: PLC0415

        serve = tf.saved_model.load(str(path)).signatures["serving_default"]
        return (lambda x: serve(image=tf.constant(x))["digit"].numpy()), f"TensorFlow {tf.__version__}"
    if format == "tflite":
        import ai_edge_litert  # noqa: PLC0415
        from ai_edge_litert.interpreter import Interpreter  # noqa: PLC0415

        run = Interpreter(model_path=str(path), num_threads=threads).get_signature_runner("serving_default")
        version = getattr(ai_edge_litert, "__version__", None) or _version("ai-edge-litert")
        return (lambda x: run(image=x)["digit"]), f"LiteRT {version}, signature runner, {threads} threads"
    import onnxruntime  # noqa: PLC0415

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    digit = [output.name for output in session.get_outputs()].index("digit")
    return (lambda x: np.asarray(session.run(None, {"image": x})[digit])), f"onnxruntime {onnxruntime.__version__}"


def _version(distribution):
    from importlib import metadata  # noqa: PLC0415

    return metadata.version(distribution)


def images_per_second(run, x, batch, seconds, repeats):
    """Median over ``repeats`` rounds of images/s, each round as many calls of ``batch`` images as fill ``seconds``."""
    inputs = [x[i:i + batch] for i in range(0, len(x) - batch + 1, batch)]
    for sample in inputs[:3]:
        run(sample)  # warm up (first-call allocation, delegate set-up)
    rates = []
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            run(inputs[calls % len(inputs)])
            calls += 1
        rates.append(calls * batch / (time.perf_counter() - start))
    return statistics.median(rates)


def accuracy(run, x, y):
    import numpy as np  # noqa: PLC0415

    digits = np.concatenate([run(x[i:i + 256]) for i in range(0, len(x), 256)])
    return float(np.mean(digits == y))


def measure(args):
    import nnzoo  # noqa: PLC0415
    from nnzoo import data  # noqa: PLC0415

    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    split = data.load_split()
    x, y = split.test.x[:args.n_test], split.test.y[:args.n_test]
    model = nnzoo.build(NAME, compile=False, weights="mnist")
    rows = []
    with tempfile.TemporaryDirectory(prefix="nnzoo-serving-") as tmp:
        for format, quantize in EXPORTS:
            path = nnzoo.export(model, os.path.join(tmp, format), format=format, quantize=quantize)
            size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size
            run, runtime = runner(format, path, threads)
            rows.append({
                "format": label(format, quantize), "runtime": runtime, "size_bytes": size,
                "test_accuracy": accuracy(run, x, y), "n_test": len(x),
                "images_per_s": {str(batch): images_per_second(run, x, batch, args.seconds, args.repeats)
                                 for batch in BATCHES},
            })
            print(f"{rows[-1]['format']}: {size / 1e6:.2f} MB, {100 * rows[-1]['test_accuracy']:.2f}%, "
                  f"{rows[-1]['images_per_s']}", file=sys.stderr)
    return rows


def markdown(results):
    env = results["environment"]
    settings = results["settings"]
    lines = [
        f"{NAME} with its shipped weights. CPU: {env['cpu']['model']} ({env['cpu']['cores_available']} cores); "
        f"TensorFlow {env['tensorflow']}. Median of {settings['repeats']} rounds of {settings['seconds']} s. "
        f"Load average at start/end: {results['load_average']['start']} / {results['load_average']['end']}.",
        "",
        f"| format | runtime | size (MB) | test accuracy ({results['rows'][0]['n_test']:,} images) | "
        + " | ".join(f"images/s, batch {batch}" for batch in BATCHES) + " |",
        "|---|---|---|---|" + "---|" * len(BATCHES),
    ]
    for row in results["rows"]:
        speeds = " | ".join(f"{row['images_per_s'][str(batch)]:,.0f}" for batch in BATCHES)
        lines.append(f"| {row['format']} | {row['runtime']} | {row['size_bytes'] / 1e6:.2f} | "
                     f"{100 * row['test_accuracy']:.2f}% | {speeds} |")
    return "\n".join(lines)


def main(argv=None):
    parser = bench_env.probe_parser(__file__, __doc__, "serving")
    args = bench_env.parse(parser, argv)
    for key, value in (QUICK if args.quick else FULL).items():
        setattr(args, key, value)
    settings = {"network": NAME, "repeats": args.repeats, "seconds": args.seconds, "n_test": args.n_test,
                "batches": list(BATCHES)}
    return bench_env.report(__file__, args, settings, lambda: measure(args), markdown)


if __name__ == "__main__":
    sys.exit(main())
