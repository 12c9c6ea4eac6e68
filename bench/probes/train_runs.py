#!/usr/bin/env python
"""The book's best-of-k end to end: the wall time of ``nnzoo train NET --runs K`` against ``--runs 1``.

``bench/probes/lockstep.py`` times the epochs alone. This times what a user waits
for: the whole command, each in a fresh process — TensorFlow's import, the data
load, every epoch with its evaluations, the protocol pick and the record — once
with one run, once with k runs in lockstep (the default), and once with k runs
in k processes (``--processes K``):

    python bench/probes/train_runs.py            # -> bench/results/train-runs.json and a Markdown table
    python bench/probes/train_runs.py --quick    # smoke test, tiny sizes (timings meaningless)
    python bench/probes/train_runs.py --markdown bench/results/train-runs.json

R interleaved rounds; each round runs the three commands in a rotated order
(so no way always comes first), each from an empty run directory and after
``--settle`` idle seconds. The ratio is the median over rounds of (the k-run
command's seconds / the one-run command's seconds of the same round). A short
command overweights what a 40-epoch run amortises (start-up, the last
evaluation): pass ``--epochs`` and ``--data`` closer to the recipe's for a
figure nearer the campaign's.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bench/: bench_env and the benchmark
ROOT = os.path.dirname(HERE)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import bench_env  # noqa: E402  (stdlib-only module)

FULL = dict(data="mnist", epochs=2, repeats=3)
QUICK = dict(data="mnist[:300]", epochs=1, repeats=1)


def parse_args(argv):
    parser = bench_env.probe_parser(__file__, __doc__, "train-runs")
    parser.add_argument("--net", default="conv2_dropout", help="a registry name (default conv2_dropout)")
    parser.add_argument("--runs", type=int, default=3, help="k, the runs of the best-of-k (default 3)")
    parser.add_argument("--data", help=f"the training data (default {FULL['data']})")
    parser.add_argument("--epochs", type=int, help=f"epochs per run (default {FULL['epochs']})")
    parser.add_argument("--repeats", type=int, help=f"timed rounds (default {FULL['repeats']})")
    parser.add_argument("--settle", type=float, default=2.0, help="idle seconds before each command")
    args = bench_env.parse(parser, argv)
    if args.runs < 2:
        parser.error(f"--runs is the k of a best-of-k, at least 2. Received: --runs {args.runs}.")
    sizes = QUICK if args.quick else FULL
    args.data = args.data or sizes["data"]
    args.epochs = args.epochs or sizes["epochs"]
    args.repeats = args.repeats or sizes["repeats"]
    return args


def ways(k):
    """(label, extra command-line arguments) for each way timed."""
    return [("one run", ["--runs", "1"]),
            (f"{k} runs in lockstep", ["--runs", str(k)]),
            (f"{k} runs in {k} processes", ["--runs", str(k), "--processes", str(k)])]


def time_command(args, extra, scratch):
    """Seconds the ``nnzoo train`` command takes from an empty run directory."""
    out = tempfile.mkdtemp(dir=scratch)
    os.rmdir(out)  # nnzoo creates it
    command = [sys.executable, "-m", "nnzoo", "train", args.net, "--data", args.data, "--epochs",
               str(args.epochs), "--out", out, "-q", *extra]
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2")  # a CPU benchmark
    time.sleep(args.settle)
    started = time.perf_counter()
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if finished.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({finished.returncode}):\n{finished.stderr[-3000:]}")
    return seconds, finished.stdout.strip().splitlines()[-1]


def markdown(results):
    env, settings = results["environment"], results["settings"]
    lines = [
        f"CPU: {env['cpu']['model']} ({env['cpu']['cores_available']} cores); TensorFlow {env['tensorflow']}, "
        f"Keras {env['keras']}. `nnzoo train {settings['net']} --data {settings['data']} --epochs "
        f"{settings['epochs']}`, {settings['repeats']} rounds. Load average at start/end: "
        f"{results['load_average']['start']} / {results['load_average']['end']}.",
        "",
        "| way | seconds (median) | time / one run's (median; rounds) |",
        "|---|---|---|",
    ]
    for row in results["rows"]:
        ratios = row.get("over_one_run")
        ratio = (f"**{statistics.median(ratios):.2f}×** ({min(ratios):.2f}–{max(ratios):.2f})" if ratios
                 else "1")
        lines.append(f"| {row['way']} (`{' '.join(row['arguments'])}`) | {statistics.median(row['seconds']):.1f} "
                     f"| {ratio} |")
    return "\n".join(lines)


def measure(args):
    """Each way timed once a round, the ways' order rotating over the rounds: the results' rows."""
    rows = [{"way": label, "arguments": extra, "seconds": [], "last_line": None} for label, extra in ways(args.runs)]
    with tempfile.TemporaryDirectory(prefix="nnzoo-bench-") as scratch:
        for round_index in range(args.repeats):
            for shift in range(len(rows)):
                row = rows[(round_index + shift) % len(rows)]
                seconds, row["last_line"] = time_command(args, row["arguments"], scratch)
                row["seconds"].append(seconds)
                print(f"round {round_index + 1}: {row['way']}: {seconds:.1f} s", flush=True)
    for row in rows[1:]:
        row["over_one_run"] = [seconds / one for seconds, one in zip(row["seconds"], rows[0]["seconds"])]
    return rows


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)

    settings = dict(net=args.net, runs=args.runs, data=args.data, epochs=args.epochs, repeats=args.repeats,
                    settle_seconds=args.settle, quick=args.quick)
    return bench_env.report(__file__, args, settings, lambda: measure(args), markdown)

if __name__ == "__main__":
    sys.exit(main())
