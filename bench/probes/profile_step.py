#!/usr/bin/env python
"""Where a training step's time goes, one model alone against k models in lockstep: TensorFlow's profiler.

``bench/probes/lockstep.py`` times lockstep against one model and against k processes; this says why the times are
what they are. For one model (``fit_epoch``) and for k models stepped together (``fit_epochs_lockstep``), each
in a fresh process with one thread per op as ``nnzoo.train`` sets, one epoch on the first N real training
images is timed without the profiler (after a warm-up epoch), then traced with ``tf.profiler``. From the trace:

- how busy TensorFlow's inter-op threads were (their summed time inside the executor over the traced span:
  2.0 would be both threads all the time);
- the kernels' time per model and step, grouped (convolutions and pooling, the fully-connected layers'
  matrix products, the SGD updates, the rest) and by op type, so that one model's kernels can be compared
  with the same kernels running beside the other models' (lockstep).

    python bench/probes/profile_step.py                      # conv2_dropout, 3 models, 1,000 images: ~1 minute
    python bench/probes/profile_step.py --net conv2 --models 3
    python bench/probes/profile_step.py --quick              # smoke test (timings meaningless)
    python bench/probes/profile_step.py --markdown bench/results/profile.json

The profiler adds a few per cent to the epoch (both times are recorded).
"""

import argparse
import collections
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bench/: bench_env and the benchmark
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import bench_env  # noqa: E402  (stdlib-only module)

BATCH = 10
GROUPS = (("convolutions and pooling", ("Conv2D", "MaxPool")), ("matrix products", ("MatMul",)),
          ("SGD updates", ("ResourceApply",)))


def parse_args(argv):
    parser = bench_env.probe_parser(__file__, __doc__, "profile", quick_help="few images, for a smoke test")
    parser.add_argument("--net", default="conv2_dropout", help="a registry name (default conv2_dropout)")
    parser.add_argument("--models", type=int, default=3, help="k, the models stepped together (default 3)")
    parser.add_argument("--images", type=int, help="training images per epoch (default 1000; 100 with --quick)")
    parser.add_argument("--worker", nargs=3, metavar=("NET", "MODELS", "IMAGES"), help=argparse.SUPPRESS)
    args = bench_env.parse(parser, argv)
    if args.models < 2:
        parser.error(f"--models is the k of k models in lockstep, at least 2. Received: {args.models}.")
    args.images = args.images or (100 if args.quick else 1000)
    return args


def group_of(op_type):
    for group, markers in GROUPS:
        if any(marker in op_type for marker in markers):
            return group
    return "rest"


def summarize_trace(logdir, steps):
    """Executor busy fraction and kernel microseconds per model-step, from the trace in ``logdir``."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with open(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)[0], "rb") as handle:
        space.ParseFromString(handle.read())
    plane = next(plane for plane in space.planes if plane.name.startswith("/host:CPU"))
    names = {key: metadata.name for key, metadata in plane.event_metadata.items()}
    executor_ps, first, last, threads = 0, None, None, 0
    kernels = collections.Counter()
    for line in plane.lines:
        if not line.name.startswith("tf_Compute"):  # the inter-op threads, where the ops run
            continue
        threads += 1
        for event in line.events:
            name = names.get(event.metadata_id, "")
            first = event.offset_ps if first is None else min(first, event.offset_ps)
            last = max(last or 0, event.offset_ps + event.duration_ps)
            if name == "ExecutorState::Process":
                executor_ps += event.duration_ps
            elif "/" in name and ":" in name:  # "while/body/.../MatMul:_MklMatMul": an op's kernel
                kernels[name.rsplit(":", 1)[1]] += event.duration_ps
    per_step = {op: ps / 1e6 / steps for op, ps in kernels.items()}
    groups = collections.Counter()
    for op, us in per_step.items():
        groups[group_of(op)] += us
    return dict(threads=threads, span_seconds=(last - first) / 1e12,
                executor_cores=executor_ps / (last - first) if last else None,
                executor_us_per_model_step=executor_ps / 1e6 / steps,
                kernels_us_per_model_step=sum(per_step.values()), groups_us=dict(groups), ops_us=per_step)


def worker(net, models, images):
    """One way (``models`` = 1: ``fit_epoch``; more: lockstep) in this process; its summary as JSON on stdout."""
    from nnzoo.epoch import single_threaded_ops

    single_threaded_ops()  # before TensorFlow starts, as nnzoo.train
    import keras
    import tensorflow as tf

    import nnzoo
    from nnzoo import data
    from nnzoo.epoch import fit_epoch, fit_epochs_lockstep

    tf.config.set_visible_devices([], "GPU")
    models, images = int(models), int(images)
    train = data.load_split().train
    x = keras.ops.convert_to_tensor(train.x.reshape(-1, 28, 28, 1)[:images])
    y = keras.ops.convert_to_tensor(train.y[:images])
    built = [nnzoo.build(net, seed=seed) for seed in range(models)]

    def epoch():
        if models == 1:
            fit_epoch(built[0], x, y)
        else:
            fit_epochs_lockstep(built, x, y)

    epoch()  # tracing and compilation
    started, cpu = time.perf_counter(), time.process_time()
    epoch()
    seconds = time.perf_counter() - started
    cores_busy = (time.process_time() - cpu) / seconds
    with tempfile.TemporaryDirectory(prefix="nnzoo-profile-") as logdir:
        tf.profiler.experimental.start(logdir)
        started = time.perf_counter()
        epoch()
        profiled_seconds = time.perf_counter() - started
        tf.profiler.experimental.stop()
        summary = summarize_trace(logdir, steps=models * (images // BATCH))
    print(json.dumps(dict(models=models, seconds=seconds, cores_busy=cores_busy, profiled_seconds=profiled_seconds,
                          **summary)))
    return 0


def run_way(args, models):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", args.net, str(models),
                           str(args.images)], env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the profiling process failed:\n{done.stderr[-3000:]}")
    way = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{models} model{'s' if models > 1 else ''}: {way['seconds']:.2f} s an epoch ({way['profiled_seconds']:.2f} s "
          f"profiled), inter-op threads in the executor {way['executor_cores']:.2f} cores' worth, kernels "
          f"{way['kernels_us_per_model_step']:.0f} us per model-step", flush=True)
    return way


def measure(args):
    return [run_way(args, 1), run_way(args, args.models)]


def markdown(results):
    env, (one, several) = results["environment"], results["rows"]
    k = several["models"]
    lines = [
        f"CPU: {env['cpu']['model']} ({env['cpu']['cores_available']} cores); TensorFlow {env['tensorflow']}; "
        f"`{results['settings']['net']}`, {results['settings']['images']:,} images an epoch, mini-batch {BATCH}. "
        f"Load average at start/end: {results['load_average']['start']} / {results['load_average']['end']}.",
        "",
        f"| | one model | {k} models in lockstep |",
        "|---|---|---|",
        f"| epoch (profiled) | {one['seconds']:.2f} s ({one['profiled_seconds']:.2f} s) | {several['seconds']:.2f} s "
        f"({several['profiled_seconds']:.2f} s): {several['seconds'] / one['seconds']:.2f}× one model's |",
        f"| cores busy (CPU time / wall time) | {one['cores_busy']:.2f} | {several['cores_busy']:.2f} |",
        f"| inter-op threads in the executor (their summed time / traced span) | {one['executor_cores']:.2f} "
        f"({one['threads']} threads) | {several['executor_cores']:.2f} ({several['threads']} threads) |",
        f"| executor time per model-step | {one['executor_us_per_model_step']:,.0f} µs | "
        f"{several['executor_us_per_model_step']:,.0f} µs |",
        "",
        "| kernels, µs per model-step | one model | lockstep | lockstep / one |",
        "|---|---|---|---|",
    ]

    def row(label, a, b):
        return f"| {label} | {a:,.0f} | {b:,.0f} | {b / a:.2f}× |" if a else f"| {label} | – | {b:,.0f} | – |"

    for group in [name for name, _ in GROUPS] + ["rest"]:
        lines.append(row(group, one["groups_us"].get(group, 0.0), several["groups_us"].get(group, 0.0)))
    lines.append(row("**all kernels**", one["kernels_us_per_model_step"], several["kernels_us_per_model_step"]))
    top = sorted(one["ops_us"], key=one["ops_us"].get, reverse=True)[:8]
    lines += ["", "| op type | one model | lockstep | lockstep / one |", "|---|---|---|---|"]
    lines += [row(f"`{op}`", one["ops_us"][op], several["ops_us"].get(op, 0.0)) for op in top]
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.worker:
        return worker(*args.worker)

    settings = dict(net=args.net, models=args.models, images=args.images, quick=args.quick, batch_size=BATCH)
    return bench_env.report(__file__, args, settings, lambda: measure(args), markdown)


if __name__ == "__main__":
    sys.exit(main())
