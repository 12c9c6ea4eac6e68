#!/usr/bin/env python
"""What a second core adds: one kernel in one process alone against the same kernel in two processes at once.

conv2's compiled epoch is bound by its convolution kernels (docs/PERFORMANCE.md), and two processes training
conv nets reach little more than one's throughput. This separates the machine from TensorFlow. Per case, a
kernel is called in a loop by one process alone, then by two processes started together:

- ``sgemm``: NumPy's float32 512×512 matrix product, one BLAS thread (what the cores do with dense arithmetic);
- ``conv, 2 inter-op threads``: conv2's largest kernel, the second conv layer's filter gradient
  (``Conv2DBackpropFilter``: 10×12×12×20 input, 5×5×20×40 kernel, mini-batch 10), in a compiled
  ``tf.while_loop`` whose every call waits for the previous one (as training steps do), one thread per op
  and TensorFlow's default two inter-op threads (what ``nnzoo.train`` runs with);
- ``conv, 1 inter-op thread``: the same with ``TF_NUM_INTEROP_THREADS=1``.

    python bench/probes/cores.py            # about 3 minutes -> bench/results/cores.json and a Markdown table
    python bench/probes/cores.py --quick    # smoke test (timings meaningless)
    python bench/probes/cores.py --markdown bench/results/cores.json

R rounds, alternating which comes first; every process warms up (and compiles) before a barrier, then times
its calls. Throughput ratio: 2 × (µs per call alone) / (µs per call of the two at once, averaged): 2.0 when
the second process runs at full speed beside the first, 1.0 when it adds nothing.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bench/: bench_env and the benchmark
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import bench_env  # noqa: E402  (stdlib-only module)

CASES = {
    "sgemm": dict(kernel="sgemm", env={"OPENBLAS_NUM_THREADS": "1"}, calls=400),
    "conv, 2 inter-op threads": dict(kernel="conv", env={"TF_NUM_INTEROP_THREADS": "2"}, calls=3000),
    "conv, 1 inter-op thread": dict(kernel="conv", env={"TF_NUM_INTEROP_THREADS": "1"}, calls=3000),
}
FULL = dict(repeats=5, scale=1.0)
QUICK = dict(repeats=1, scale=0.05)


def parse_args(argv):
    parser = bench_env.probe_parser(__file__, __doc__, "cores")
    parser.add_argument("--repeats", type=int, help=f"rounds per case (default {FULL['repeats']})")
    parser.add_argument("--settle", type=float, default=0.5, help="idle seconds before each timing")
    parser.add_argument("--worker", nargs=2, metavar=("KERNEL", "CALLS"), help=argparse.SUPPRESS)
    args = bench_env.parse(parser, argv)
    sizes = QUICK if args.quick else FULL
    args.repeats = args.repeats or sizes["repeats"]
    args.calls = {name: max(1, int(case["calls"] * sizes["scale"])) for name, case in CASES.items()}
    return args


def _sgemm(calls):
    import numpy as np

    a = np.random.default_rng(0).random((512, 512), dtype=np.float32)
    b = a.copy()

    def run():
        for _ in range(calls):
            a @ b

    return run


def _conv(calls):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.set_visible_devices([], "GPU")
    tf.config.threading.set_intra_op_parallelism_threads(1)  # as nnzoo.train; inter-op threads from the environment
    rng = tf.random.Generator.from_seed(0)
    x, gradient = rng.normal([10, 12, 12, 20]), rng.normal([10, 8, 8, 40])

    @tf.function
    def loop():
        def body(i, previous):
            # Each call's input depends on the previous call's output, as a training step's on the last update:
            # otherwise TensorFlow runs independent iterations of the loop side by side.
            shifted = x + previous * 1e-30
            kernel_gradient = tf.compat.v1.nn.conv2d_backprop_filter(
                shifted, [5, 5, 20, 40], gradient, [1, 1, 1, 1], "VALID")
            return i + 1, kernel_gradient[0, 0, 0, 0]

        return tf.while_loop(lambda i, _: i < calls, body, (0, 0.0))[1]

    return lambda: loop().numpy()


def worker(kernel, calls):
    """Warm up, say ``ready``, wait for ``go`` on stdin, time ``calls`` calls, print µs per call."""
    calls = int(calls)
    run = {"sgemm": _sgemm, "conv": _conv}[kernel](calls)
    run()
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.perf_counter()
    run()
    print(f"{(time.perf_counter() - started) / calls * 1e6:.3f}", flush=True)
    return 0


def time_processes(name, processes, args):
    """µs per call of each of ``processes`` workers of case ``name`` started together."""
    case = CASES[name]
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2", **case["env"])
    command = [sys.executable, os.path.abspath(__file__), "--worker", case["kernel"], str(args.calls[name])]
    workers = [subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
               for _ in range(processes)]
    for process in workers:
        line = process.stdout.readline().strip()
        if line != "ready":
            process.kill()
            raise SystemExit(f"{' '.join(command)} did not start (it printed {line!r}).")
    time.sleep(args.settle)
    for process in workers:
        process.stdin.write("go\n")
        process.stdin.flush()
    times = [float(process.communicate()[0].strip().splitlines()[-1]) for process in workers]
    if any(process.returncode for process in workers):
        raise SystemExit(f"{' '.join(command)} failed.")
    return times


def markdown(results):
    env = results["environment"]
    lines = [
        f"CPU: {env['cpu']['model']} ({env['cpu']['cores_available']} cores); NumPy {env['numpy']}, TensorFlow "
        f"{env['tensorflow']}. {results['settings']['repeats']} rounds. Load average at start/end: "
        f"{results['load_average']['start']} / {results['load_average']['end']}.",
        "",
        "| kernel | µs per call, alone | µs per call, two processes at once | two processes / one (throughput; "
        "rounds) |",
        "|---|---|---|---|",
    ]
    for row in results["rows"]:
        ratios = row["throughput_ratio"]
        together = [statistics.mean(pair) for pair in row["together_us"]]
        lines.append(f"| {row['case']} | {statistics.median(row['alone_us']):.0f} | {statistics.median(together):.0f} "
                     f"| **{statistics.median(ratios):.2f}×** ({min(ratios):.2f}–{max(ratios):.2f}) |")
    return "\n".join(lines)


def measure(args):
    """Each case alone and two at once, in alternating order over the rounds: the results' rows."""
    rows = []
    for name, case in CASES.items():
        row = {"case": name, "environment": case["env"], "alone_us": [], "together_us": [], "throughput_ratio": []}
        for round_index in range(args.repeats):
            for processes in (1, 2) if round_index % 2 == 0 else (2, 1):
                times = time_processes(name, processes, args)
                if processes == 1:
                    row["alone_us"].append(times[0])
                else:
                    row["together_us"].append(times)
            row["throughput_ratio"].append(2 * row["alone_us"][-1] / statistics.mean(row["together_us"][-1]))
            print(f"{name}, round {round_index + 1}: alone {row['alone_us'][-1]:.0f} µs, two at once "
                  f"{' and '.join(f'{t:.0f}' for t in row['together_us'][-1])} µs", flush=True)
        rows.append(row)
    return rows


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.worker:
        return worker(*args.worker)

    settings = dict(repeats=args.repeats, settle_seconds=args.settle, quick=args.quick, calls=args.calls)
    return bench_env.report(__file__, args, settings, lambda: measure(args), markdown)

if __name__ == "__main__":
    sys.exit(main())
