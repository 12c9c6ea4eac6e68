#!/usr/bin/env python
"""What training several models in lockstep saves: k runs stepped together vs one after the other.

The book's protocols train 3 runs of every experiment and 5 ensemble members.
``nnzoo.train(name, runs=k)`` steps the runs at the same epoch together
(``nnzoo.epoch.fit_epochs_lockstep``); this measures that against training
them one after the other with ``fit_epoch``, in the same process, on the same
data and orders:

    python bench/probes/lockstep.py                 # -> bench/results/lockstep.json and a Markdown table
    python bench/probes/lockstep.py --quick         # smoke test, tiny sizes (timings meaningless)
    python bench/probes/lockstep.py --markdown bench/results/lockstep.json

Per case (a net and k): k models (seeds 0..k-1) for each way, one untimed
warm-up epoch each, then R interleaved rounds (round r times one epoch of the
k models each way, after ``--settle`` idle seconds). Orders as ``nnzoo.train``
gives them: chapter 1-5 nets a fresh permutation per model and epoch, chapter 6
nets the fixed order. TensorFlow runs one thread per op, as ``nnzoo.train``
sets. The speed-up is the median over rounds of (separate seconds / lockstep
seconds); both ways make the same updates (``tests/test_epoch.py``).

The machine's limit (``--limit``, on by default for the conv nets): what two
independent processes, each training one model single-threaded per op as
``nnzoo.train`` does, reach together against one such process alone, timed in
the same rounds. Lockstep in one process can at best match that; for k runs
the best ratio of k runs' time to one run's is then k / (that throughput
ratio). Both are reported beside lockstep's own ratio (its time / one model's), and so is the
alternative to lockstep: k such processes at once, one per model (their time over one process's).
For each way the cores it kept busy are recorded too: its CPU seconds (all threads, all its processes)
over its wall seconds, at most 2 on a 2-core machine; where lockstep is slower than k processes, this
says whether it leaves a core idle or is busy and still slower.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bench/: bench_env and the benchmark
ROOT = os.path.dirname(HERE)
for path in (HERE, ROOT):
    if path not in sys.path:
        sys.path.insert(0, path)

import bench_env  # noqa: E402  (stdlib-only module)

DEFAULT_CASES = ("shallow_sigmoid:3", "network2_100:3", "conv2:3", "conv2_dropout:3", "conv2_dropout:5")
FULL = dict(n_dense=20_000, n_conv=5_000, repeats=5)
QUICK = dict(n_dense=1_000, n_conv=200, repeats=2)


def parse_args(argv):
    parser = bench_env.probe_parser(__file__, __doc__, "lockstep")
    parser.add_argument("--cases", nargs="+", default=list(DEFAULT_CASES), metavar="NET:K",
                        help=f"nets and how many models to step together (default: {' '.join(DEFAULT_CASES)})")
    parser.add_argument("--repeats", type=int, help="timed rounds (default 5; 2 with --quick)")
    parser.add_argument("--settle", type=float, default=0.5, help="idle seconds before each timed pass")
    parser.add_argument("--limit", choices=("auto", "on", "off"), default="auto",
                        help="also time one and two independent processes (auto: for the conv nets)")
    args = bench_env.parse(parser, argv)
    cases = []
    for case in args.cases:
        name, _, k = case.partition(":")
        if not k.isdigit() or int(k) < 2:
            parser.error(f"a case is NET:K with K >= 2 models. Received: {case!r}.")
        cases.append((name, int(k)))
    args.cases = cases
    sizes = QUICK if args.quick else FULL
    args.n_dense, args.n_conv = sizes["n_dense"], sizes["n_conv"]
    args.repeats = args.repeats or sizes["repeats"]
    return args


def _process_worker(name, n, rounds, start, end, cpu_seconds):
    """One model in a process of its own: warm up, then one epoch between the two barriers of each round, whose
    CPU time (all the process's threads) it puts on ``cpu_seconds``."""
    import tensorflow as tf

    from nnzoo.epoch import single_threaded_ops

    tf.config.set_visible_devices([], "GPU")
    single_threaded_ops()
    import keras

    import nnzoo
    from nnzoo import data
    from nnzoo.epoch import fit_epoch

    train = data.load_split().train
    x = keras.ops.convert_to_tensor(train.x.reshape(-1, 28, 28, 1)[:n])
    y = keras.ops.convert_to_tensor(train.y[:n])
    model = nnzoo.build(name, seed=0)
    fit_epoch(model, x, y)
    for _ in range(rounds):
        start.wait()
        before = time.process_time()
        fit_epoch(model, x, y)
        cpu_seconds.put(time.process_time() - before)
        end.wait()


def machine_limit(name, n, rounds, settle, k=2):
    """Seconds per round of one epoch in one process alone, in two processes at once and in k processes at once
    (each training its own model), in interleaved rounds; and the cores they kept busy (their CPU seconds over
    the round's wall seconds)."""
    import multiprocessing

    import numpy as np

    context = multiprocessing.get_context("spawn")
    groups = {}
    for processes in sorted({1, 2, k}):
        barriers = context.Barrier(processes + 1), context.Barrier(processes + 1)
        cpu_seconds = context.Queue()
        workers = [context.Process(target=_process_worker, args=(name, n, rounds, *barriers, cpu_seconds))
                   for _ in range(processes)]
        for worker in workers:
            worker.start()
        groups[processes] = (barriers, workers, [], cpu_seconds, [])
    for _ in range(rounds):
        for (start, end), workers, times, cpu_seconds, busy in groups.values():
            time.sleep(settle)
            start.wait()
            started = time.perf_counter()
            end.wait()
            times.append(time.perf_counter() - started)
            busy.append(sum(cpu_seconds.get() for _ in workers) / times[-1])
    for _, workers, *_ in groups.values():
        for worker in workers:
            worker.join()
    one, two, several = (float(np.median(groups[processes][2])) for processes in (1, 2, k))
    return dict(one_process_seconds=groups[1][2], two_processes_seconds=groups[2][2],
                two_process_throughput_ratio=2 * one / two, processes=k, k_processes_seconds=groups[k][2],
                k_processes_time_over_one_model=several / one,
                cores_busy={f"{processes} process{'es' if processes > 1 else ''}": float(np.median(group[4]))
                            for processes, group in groups.items()})


def benchmark_case(name, k, x, y, args):
    import keras
    import numpy as np

    import nnzoo
    from nnzoo.epoch import fit_epoch, fit_epochs_lockstep
    from nnzoo.training import Protocol

    shuffle = Protocol.for_card(nnzoo.card(name)).shuffle
    n = len(y)
    separate = [nnzoo.build(name, seed=seed) for seed in range(k)]
    together = [nnzoo.build(name, seed=seed) for seed in range(k)]
    x, y = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)

    def orders(index):
        if not shuffle:
            return [None] * k
        return [np.random.default_rng([index, seed]).permutation(n) for seed in range(k)]

    def run_separate(own):
        for model, order in zip(separate, own):
            fit_epoch(model, x, y, order=order)

    def run_together(own):
        fit_epochs_lockstep(together, x, y, order=None if own[0] is None else own)

    seconds = {"separate": [], "lockstep": []}
    busy = {"separate": [], "lockstep": []}  # CPU seconds (all threads) over wall seconds
    for index in range(1 + args.repeats):  # round 0 is the warm-up (tracing, compilation)
        own = orders(index)
        for way, run in (("separate", run_separate), ("lockstep", run_together)):
            time.sleep(args.settle)
            started, cpu_before = time.perf_counter(), time.process_time()
            run(own)
            if index:
                seconds[way].append(time.perf_counter() - started)
                busy[way].append((time.process_time() - cpu_before) / seconds[way][-1])
    ratios = [s / t for s, t in zip(seconds["separate"], seconds["lockstep"])]
    row = dict(net=name, models=k, n_images=n, shuffled=shuffle, seconds=seconds,
               speedup=float(np.median(ratios)), speedups=ratios,
               time_over_one_model=float(np.median([k * t / s for s, t in zip(seconds["separate"],
                                                                                 seconds["lockstep"])])),
               images_per_second={way: float(np.median([k * n / s for s in values]))
                                  for way, values in seconds.items()},
               cores_busy={way: float(np.median(values)) for way, values in busy.items()})
    print(f"  {name} x{k}: separate {np.median(seconds['separate']):.2f} s, lockstep "
          f"{np.median(seconds['lockstep']):.2f} s per epoch of all {k}: {row['speedup']:.2f}x "
          f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}); {row['time_over_one_model']:.2f}x one model's time",
          flush=True)
    conv = bool(nnzoo.card(name).architecture.get("conv"))
    if args.limit == "on" or (args.limit == "auto" and conv):
        limit = machine_limit(name, n, args.repeats, args.settle, k)
        limit["best_time_over_one_model"] = k / limit["two_process_throughput_ratio"]
        row["machine_limit"] = limit
        print(f"    two processes reach {limit['two_process_throughput_ratio']:.2f}x one process's throughput: "
              f"{k} runs cannot take less than {limit['best_time_over_one_model']:.2f}x one run's time here; "
              f"{k} processes at once took {limit['k_processes_time_over_one_model']:.2f}x", flush=True)
    print(f"    cores busy: {_busy(row)}", flush=True)
    return row


def _busy(row):
    """Cores kept busy by each way (CPU seconds of all threads over wall seconds), e.g. "1.31 / 1.78 / 1.95"."""
    busy = dict(row.get("cores_busy") or {})
    busy.update((row.get("machine_limit") or {}).get("cores_busy") or {})
    k_processes = f"{row['models']} processes"
    return " / ".join("–" if busy.get(way) is None else f"{busy[way]:.2f}"
                      for way in ("separate", "lockstep", k_processes))


def markdown(results):
    env = results["environment"]
    lines = [
        f"CPU: {env['cpu']['model']} ({env['cpu']['cores_available']} cores); TensorFlow {env['tensorflow']}, "
        f"Keras {env['keras']}, intra-op threads {env['tensorflow_threads']['intra_op']}. Load average at "
        f"start/end: {results['load_average']['start']} / {results['load_average']['end']}.",
        "",
        "| net | models | images | separate: images/s (all models) | lockstep: images/s | speed-up (median; "
        "rounds) | lockstep time / one model's | two processes / one (throughput) | best possible time / one "
        "model's | k processes at once: time / one model's | cores busy: one at a time / lockstep / k processes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["rows"]:
        speeds, limit = row["images_per_second"], row.get("machine_limit")
        over_one = row.get("time_over_one_model")

        def times(value):
            return "–" if value is None else f"{value:.2f}×"

        lines.append(f"| `{row['net']}` | {row['models']} | {row['n_images']:,} | {speeds['separate']:,.0f} | "
                     f"{speeds['lockstep']:,.0f} | **{row['speedup']:.2f}×** "
                     f"({min(row['speedups']):.2f}–{max(row['speedups']):.2f}) | {times(over_one)} | "
                     f"{times(limit and limit['two_process_throughput_ratio'])} | "
                     f"{times(limit and limit['best_time_over_one_model'])} | "
                     f"{times(limit and limit.get('k_processes_time_over_one_model'))} | {_busy(row)} |")
    return "\n".join(lines)


def measure(args):
    """Every case on the first real training images, one thread per op as ``nnzoo.train``: the results' rows."""
    import tensorflow as tf

    import nnzoo
    from nnzoo import data
    from nnzoo.epoch import single_threaded_ops

    tf.config.set_visible_devices([], "GPU")  # a CPU benchmark
    single_threaded_ops()  # as nnzoo.train
    train = data.load_split().train
    images = train.x.reshape(-1, 28, 28, 1)
    rows = []
    for name, k in args.cases:
        n = args.n_conv if nnzoo.card(name).architecture.get("conv") else args.n_dense
        rows.append(benchmark_case(name, k, images[:n], train.y[:n], args))
    return rows


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)

    if not args.markdown:
        import nnzoo

        for name, _ in args.cases:
            nnzoo.card(name)  # an unknown name fails before anything runs
    settings = dict(quick=args.quick, n_dense=args.n_dense, n_conv=args.n_conv, repeats=args.repeats,
                    settle_seconds=args.settle, batch_size=10)
    return bench_env.report(__file__, args, settings, lambda: measure(args), markdown)

if __name__ == "__main__":
    sys.exit(main())
