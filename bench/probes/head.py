#!/usr/bin/env python
"""What bounds conv2_dropout's fully-connected head: its matrix products against a core's sgemm rate.

conv2_dropout's head (640 -> 1000 -> 1000, chapter 6) holds 1.64 M of its 1.67 M weights. At the book's
mini-batch of 10 each training step multiplies them three times: the forward pass (10x640 by 640x1000,
10x1000 by 1000x1000), the input gradients and the weight gradients, 98 MFLOP in six products. This times
those six products, each step's waiting for the previous step's (as training steps do), against a large
square product (1024x1024, 2.1 GFLOP), the rate a core's sgemm reaches:

- NumPy (OpenBLAS, one thread) and TensorFlow (one thread per op, as ``nnzoo.train`` sets) on the square product;
- TensorFlow with one and with two threads per op on the head's products, in a compiled ``tf.while_loop``;
- PyTorch eager with one and with two threads on both, when PyTorch is installed.

Each case runs in a process of its own (TensorFlow fixes its thread count once per process), rounds alternate
the cases' order, and the report gives each case's median GFLOP/s.

    python bench/probes/head.py            # about 5 minutes -> bench/results/head.json and a Markdown table
    python bench/probes/head.py --quick    # smoke test (timings meaningless)
    python bench/probes/head.py --markdown bench/results/head.json
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

BATCH, HEAD = 10, (640, 1000, 1000)
HEAD_FLOP = 3 * 2 * BATCH * sum(a * b for a, b in zip(HEAD, HEAD[1:]))
SQUARE = 1024
SQUARE_FLOP = 2 * SQUARE ** 3
# (library, kernel, threads, calls per timing)
CASES = [
    ("numpy", "square", 1, 40),
    ("tensorflow", "square", 1, 40),
    ("torch", "square", 1, 40),
    ("torch", "square", 2, 80),
    ("tensorflow", "head", 1, 2000),
    ("tensorflow", "head", 2, 2000),
    ("torch", "head", 1, 2000),
    ("torch", "head", 2, 2000),
]
FULL = dict(repeats=5, scale=1.0)
QUICK = dict(repeats=1, scale=0.02)


def case_name(library, kernel, threads):
    return f"{library}, {kernel}, {threads} thread{'s' if threads > 1 else ''}"


def parse_args(argv):
    parser = bench_env.probe_parser(__file__, __doc__, "head", quick_help="few calls, for a smoke test")
    parser.add_argument("--repeats", type=int, help=f"rounds (default {FULL['repeats']})")
    parser.add_argument("--settle", type=float, default=0.5, help="idle seconds before each timing")
    parser.add_argument("--worker", nargs=4, metavar=("LIBRARY", "KERNEL", "THREADS", "CALLS"), help=argparse.SUPPRESS)
    args = bench_env.parse(parser, argv)
    sizes = QUICK if args.quick else FULL
    args.repeats = args.repeats or sizes["repeats"]
    args.scale = sizes["scale"]
    return args


def _numpy(kernel, threads):
    import numpy as np  # OPENBLAS_NUM_THREADS is set by measure()

    a = np.random.default_rng(0).random((SQUARE, SQUARE), dtype=np.float32)
    return lambda calls: [a @ a for _ in range(calls)]


def _tensorflow(kernel, threads):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.set_visible_devices([], "GPU")
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    rng = tf.random.Generator.from_seed(0)
    if kernel == "square":
        a = rng.normal([SQUARE, SQUARE])
        product = tf.function(lambda: tf.matmul(a, a)[0, 0])
        return lambda calls: [product().numpy() for _ in range(calls)]
    weights = [tf.Variable(rng.normal([n_in, n_out])) for n_in, n_out in zip(HEAD, HEAD[1:])]
    x, deltas = rng.normal([BATCH, HEAD[0]]), [rng.normal([BATCH, n]) for n in HEAD[1:]]

    @tf.function
    def loop(calls):
        def body(i, previous):
            # Each step's input depends on the last step's output, so steps do not overlap.
            activation, total = x + previous * 1e-30, 0.0
            for w, delta in zip(weights, deltas):
                output = tf.matmul(activation, w)
                total += (output[0, 0] + tf.matmul(delta, w, transpose_b=True)[0, 0]
                          + tf.matmul(activation, delta, transpose_a=True)[0, 0])
                activation = output
            return i + 1, total

        return tf.while_loop(lambda i, _: i < calls, body, (0, 0.0))[1]

    loop(tf.constant(2))
    return lambda calls: loop(tf.constant(calls)).numpy()


def _torch(kernel, threads):
    import torch

    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(0)
    if kernel == "square":
        a = torch.randn(SQUARE, SQUARE, generator=generator)
        return lambda calls: [a @ a for _ in range(calls)]
    weights = [torch.randn(n_in, n_out, generator=generator) for n_in, n_out in zip(HEAD, HEAD[1:])]
    x = torch.randn(BATCH, HEAD[0], generator=generator)
    deltas = [torch.randn(BATCH, n, generator=generator) for n in HEAD[1:]]

    def run(calls):
        for _ in range(calls):
            activation = x
            for w, delta in zip(weights, deltas):
                output = activation @ w
                delta @ w.T
                activation.T @ delta
                activation = output

    return run


def worker(library, kernel, threads, calls):
    """Warm up, time ``calls`` calls, print GFLOP/s."""
    calls, threads = int(calls), int(threads)
    run = {"numpy": _numpy, "tensorflow": _tensorflow, "torch": _torch}[library](kernel, threads)
    run(max(1, calls // 10))
    started = time.perf_counter()
    run(calls)
    seconds = time.perf_counter() - started
    print(f"{(HEAD_FLOP if kernel == 'head' else SQUARE_FLOP) * calls / seconds / 1e9:.3f}", flush=True)
    return 0


def measure(case, args):
    library, kernel, threads, calls = case
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2", OPENBLAS_NUM_THREADS=str(threads))
    command = [sys.executable, os.path.abspath(__file__), "--worker", library, kernel, str(threads),
               str(max(1, int(calls * args.scale)))]
    time.sleep(args.settle)
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def markdown(results):
    env = results["environment"]
    rates = {row["case"]: statistics.median(row["gflops"]) for row in results["rows"]}
    square = rates.get(case_name("tensorflow", "square", 1))
    lines = [
        f"CPU: {env['cpu']['model']} ({env['cpu']['cores_available']} cores); NumPy {env['numpy']}, TensorFlow "
        f"{env['tensorflow']}, PyTorch {env.get('torch_installed') or '–'}. {results['settings']['repeats']} rounds. "
        f"Load average at start/end: {results['load_average']['start']} / {results['load_average']['end']}.",
        "",
        f"| case | GFLOP/s (median; rounds) | of TensorFlow's one-thread {SQUARE}² rate |",
        "|---|---|---|",
    ]
    for row in results["rows"]:
        rate = rates[row["case"]]
        share = f"{rate / square:.0%}" if square else "–"
        lines.append(f"| {row['case']} | **{rate:.0f}** ({min(row['gflops']):.0f}–{max(row['gflops']):.0f}) "
                     f"| {share} |")
    return "\n".join(lines)


def measure_all(args):
    """Every case (PyTorch's when it is installed) in alternating order over the rounds: the results' rows."""
    try:
        import torch  # noqa: F401
        cases = CASES
    except ImportError:
        print("PyTorch is not installed (pip install -e '.[bench]'): its rows are skipped.")
        cases = [case for case in CASES if case[0] != "torch"]
    rows = {case: {"case": case_name(*case[:3]), "calls": case[3], "gflops": []} for case in cases}
    for round_index in range(args.repeats):
        for case in cases if round_index % 2 == 0 else cases[::-1]:
            rows[case]["gflops"].append(measure(case, args))
            print(f"round {round_index + 1}, {rows[case]['case']}: {rows[case]['gflops'][-1]:.0f} GFLOP/s", flush=True)
    return list(rows.values())


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.worker:
        return worker(*args.worker)

    settings = dict(repeats=args.repeats, settle_seconds=args.settle, quick=args.quick, head=HEAD, batch=BATCH,
                    square=SQUARE)
    return bench_env.report(__file__, args, settings, lambda: measure_all(args), markdown)

if __name__ == "__main__":
    sys.exit(main())
