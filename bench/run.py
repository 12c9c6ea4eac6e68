#!/usr/bin/env python
"""nnzoo's training-throughput benchmark at the book's mini-batch of 10.

One command, one process, every row run sequentially:

    python bench/run.py                          # full run -> bench/results/run.json + Markdown table
    python bench/run.py --quick                  # smoke test with tiny sizes (timings meaningless)
    python bench/run.py --check                  # the NumPy and PyTorch trainers are correct and learn
    python bench/run.py --markdown bench/results/run.json   # the table of a saved run
    python bench/run.py --unset-openblas-env ... # re-run itself without OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE

For every net (default: shallow_sigmoid, network2_100, deep_sigmoid_4, conv2,
conv2_dropout) and every implementation (nnzoo, stock Keras fit, PyTorch eager,
the NumPy reference for dense nets), training on the first N real MNIST training
images at mini-batch 10: one warm-up pass, then R timed passes; the median pass
gives images/s. The timed passes of the implementations are interleaved
(round r times every implementation once), so a slow drift of the machine hits
all rows alike, and every pass starts after ``--settle`` idle seconds, so that
the previous library's worker threads (OpenBLAS's spin for ~0.1 s after a
call) are not still running when the next one starts. Each pass gets the same
data order for every implementation: a fresh permutation per pass for the
chapter 1-5 nets (as ``nnzoo.train`` reshuffles every epoch), the fixed order
for the chapter 6 nets; shuffling is not timed (nnzoo gets the order, the
others a reordered copy made before the clock starts). See
docs/PERFORMANCE.md.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for path in (HERE, ROOT):
    if path not in sys.path:
        sys.path.insert(0, path)

import bench_env  # noqa: E402  (stdlib-only module)
from bench_env import OPENBLAS_VARS, REMOVED_MARKER  # noqa: E402

DEFAULT_NETS = ("shallow_sigmoid", "network2_100", "deep_sigmoid_4", "conv2", "conv2_dropout")
IMPLS = ("nnzoo", "nnzoo_fit", "keras", "torch", "numpy")
BATCH_SIZE = 10
FULL = dict(n_dense=20_000, n_conv=5_000, repeats=5, warmup=1, serve_calls_1=500, serve_calls_1000=5)
QUICK = dict(n_dense=1_000, n_conv=200, repeats=2, warmup=1, serve_calls_1=50, serve_calls_1000=1)
TORCH_HINT = "PyTorch is not installed (pip install torch==2.13.0, or pip install -e '.[bench]')"


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Defaults: N = 20,000 images (dense) / 5,000 (conv), 5 repeats; --quick: 1,000 / 200, 2 repeats.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="tiny sizes for a smoke test")
    mode.add_argument("--check", action="store_true",
                      help="check that the NumPy and PyTorch trainers are right and reduce the cost")
    mode.add_argument("--markdown", metavar="JSON", help="print the Markdown report of a results file and exit")
    parser.add_argument("--out", help="results JSON (default bench/results/run.json; bench/results/run-quick.json with --quick)")
    parser.add_argument("--nets", nargs="+", default=list(DEFAULT_NETS), metavar="NET", help="registry names")
    parser.add_argument("--impls", nargs="+", default=list(IMPLS), choices=IMPLS, metavar="IMPL",
                        help=f"implementations to run (default: all of {', '.join(IMPLS)})")
    parser.add_argument("--n-dense", type=int, help="training images per pass for the dense nets")
    parser.add_argument("--n-conv", type=int, help="training images per pass for the conv nets")
    parser.add_argument("--repeats", type=int, help="timed passes per row (the median is reported)")
    parser.add_argument("--warmup", type=int, help="untimed warm-up passes per row (default 1)")
    parser.add_argument("--settle", type=float, default=0.5, metavar="SECONDS",
                        help="idle time before every pass, so that the worker threads of the previous pass "
                             "(OpenBLAS, OpenMP, TensorFlow) have stopped spinning (default 0.5)")
    parser.add_argument("--tf-intra-op-threads", type=int, default=0, metavar="N",
                        help="TensorFlow's intra-op threads for the nnzoo and Keras rows (0 = TensorFlow's default; "
                             "1 = what `nnzoo train` and the recipes use)")
    parser.add_argument("--no-inference", action="store_true", help="skip the SavedModel serving rows")
    parser.add_argument("--seed", type=int, default=0, help="initial weights and data order")
    parser.add_argument("--n-check", type=int, default=500, help="--check: real training images used")
    parser.add_argument("--unset-openblas-env", action="store_true",
                        help=f"re-run this command without {' and '.join(OPENBLAS_VARS)} in the environment")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    for key in ("n_dense", "n_conv", "repeats", "warmup"):
        if getattr(args, key) is None:
            setattr(args, key, sizes[key])
    args.serve_calls = {1: sizes["serve_calls_1"], 1000: sizes["serve_calls_1000"]}
    if args.out is None:
        args.out = bench_env.default_out("run", args.quick)
    for key in ("n_dense", "n_conv", "repeats"):
        if getattr(args, key) < 1:
            parser.error(f"--{key.replace('_', '-')} must be >= 1")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    if args.settle < 0:
        parser.error("--settle must be >= 0")
    for key in ("n_dense", "n_conv"):
        value = getattr(args, key)
        if value % BATCH_SIZE or value > 50_000:
            parser.error(f"--{key.replace('_', '-')} must be a multiple of {BATCH_SIZE} and at most 50,000")
    return args


def reexec_without_openblas_env(argv):
    """Replace this process by the same command without the OpenBLAS variables (before numpy loads)."""
    removed = {k: os.environ[k] for k in OPENBLAS_VARS if k in os.environ}
    if not removed:
        return
    env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARS}
    env[REMOVED_MARKER] = json.dumps(removed)
    print(f"re-running without {', '.join(f'{k}={v}' for k, v in removed.items())}", flush=True)
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *argv], env)


def log(text):
    print(text, flush=True)


def import_torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


# ----------------------------------------------------------------------------- the rows


class PassData:
    """One pass's training data: the base set, its order for this pass, and the reordered copy."""

    def __init__(self, x, y, order):
        self.x, self.y, self.order = x, y, order
        self._shuffled = None

    @property
    def shuffled(self):
        """``(x[order], y[order])``, made once (untimed) for the rows that train on a reordered copy."""
        if self._shuffled is None:
            self._shuffled = (self.x, self.y) if self.order is None else (self.x[self.order], self.y[self.order])
        return self._shuffled


class Row:
    """One implementation of one net: ``prepare`` (untimed) then ``run`` (timed) per pass."""

    def __init__(self, impl, prepare, run, details=None):
        self.impl, self.prepare, self.run = impl, prepare, run
        self.details = details or {}


def make_row(impl, name, config, book_code, seed):
    import numpy as np

    if impl in ("nnzoo", "nnzoo_fit", "keras"):
        import keras

        import bench_keras

        model = bench_keras.stock_model(name, config, seed) if impl == "keras" else \
            bench_keras.nnzoo_model(name, seed)
        state = {}
        if impl == "nnzoo":  # as nnzoo.train: the set goes to the backend once, each pass gives its order
            def run():
                bench_keras.nnzoo_pass(model, *state["resident"], order=state["data"].order, batch_size=BATCH_SIZE)
        elif impl == "nnzoo_fit":  # the pass's reordered copy as tensors, made before the clock like torch's
            def run():
                bench_keras.nnzoo_fit_pass(model, *state["tensors"], batch_size=BATCH_SIZE)
        else:
            def run():
                bench_keras.stock_pass(model, *state["data"].shuffled, batch_size=BATCH_SIZE)

        def prepare(data, pass_seed):
            keras.utils.set_random_seed(pass_seed)  # as nnzoo.train does before each epoch
            state["data"] = data
            if impl == "nnzoo_fit":
                state["tensors"] = tuple(keras.ops.convert_to_tensor(a) for a in data.shuffled)
            elif impl == "keras":
                data.shuffled  # noqa: B018  (the reordered copy is made here, before the clock starts)
            elif "resident" not in state:  # nnzoo: the same base set every pass
                state["resident"] = tuple(keras.ops.convert_to_tensor(a) for a in (data.x, data.y))

        return Row(impl, prepare, run,
                   dict(steps_per_execution=int(model.steps_per_execution), params=int(model.count_params()),
                        shuffle_in_fit=impl == "keras"))
    if impl == "torch":
        import torch

        import bench_torch

        torch.manual_seed(seed)
        model, optimizer, loss_fn, kind = bench_torch.build(config, book_code, seed=seed)
        state = {}

        def prepare(data, pass_seed):
            torch.manual_seed(pass_seed)
            state["xt"] = bench_torch.prepare(*data.shuffled, config["cost"], kind)

        return Row(impl, prepare, lambda: bench_torch.train_pass(model, optimizer, loss_fn, *state["xt"],
                                                                 batch_size=BATCH_SIZE),
                   dict(params=sum(p.numel() for p in model.parameters()), threads=torch.get_num_threads()))
    if impl == "numpy":
        import bench_numpy

        net = bench_numpy.NumpyNet.from_config(config, book_code, seed=seed)
        eye = np.eye(10, dtype=np.float32)
        state = {}

        def prepare(data, pass_seed):
            x, y = data.shuffled
            state["xy"] = (np.ascontiguousarray(x.reshape(len(x), 784)), eye[y])

        return Row(impl, prepare, lambda: net.train_pass(*state["xy"], batch_size=BATCH_SIZE),
                   dict(params=int(sum(w.size + b.size for w, b in zip(net.W, net.b)))))
    raise ValueError(impl)


def benchmark_net(name, train_x, train_y, args, torch_module):
    """All rows of one net: warm-up each, then ``repeats`` interleaved rounds."""
    import numpy as np

    from nnzoo import options, registry
    from nnzoo.training import Protocol

    card = registry.card(name)
    config = options.resolve(card, {})
    dense = not config.get("conv")
    n = args.n_dense if dense else args.n_conv
    x, y = train_x[:n], train_y[:n]
    shuffle = Protocol.for_card(card).shuffle
    results, rows = [], []
    for impl in args.impls:
        base = dict(net=name, impl=impl, n_images=n, batch_size=BATCH_SIZE, shuffled_per_pass=shuffle)
        if impl == "numpy" and not dense:
            continue  # the NumPy reference covers the dense nets only
        if impl == "torch" and torch_module is None:
            results.append(dict(base, skipped=TORCH_HINT, images_per_second=None))
            continue
        rows.append((make_row(impl, name, config, card.book_code, args.seed), base))

    def pass_data(index):
        if not shuffle:
            return PassData(x, y, None)
        return PassData(x, y, np.random.default_rng([args.seed, 7919, index]).permutation(n))

    timings = {row.impl: [] for row, _ in rows}
    warmups = {row.impl: [] for row, _ in rows}
    log(f"{name}: {n} images, batch {BATCH_SIZE}, {args.warmup} warm-up + {args.repeats} timed passes "
        f"of {', '.join(row.impl for row, _ in rows)}")
    for index in range(args.warmup + args.repeats):
        data = pass_data(index)
        for row, _ in rows:
            row.prepare(data, args.seed * 1000 + index)
            time.sleep(args.settle)
            started = time.perf_counter()
            row.run()
            seconds = time.perf_counter() - started
            (warmups if index < args.warmup else timings)[row.impl].append(seconds)
    for row, base in rows:
        seconds = timings[row.impl]
        speeds = [n / s for s in seconds]
        results.append(dict(base, **row.details, warmup_seconds=warmups[row.impl], seconds=seconds,
                            images_per_second=float(np.median(speeds)), images_per_second_all=speeds))
        log(f"  {row.impl:6s} {np.median(speeds):12,.0f} images/s  "
            f"(passes: {', '.join(f'{s:.2f}s' for s in seconds)}; warm-up "
            f"{', '.join(f'{s:.2f}s' for s in warmups[row.impl])})")
    return results


def check_nets(names):
    """Unknown names and ensembles fail before anything runs."""
    import nnzoo

    for name in names:
        try:
            card = nnzoo.card(name)
        except ValueError as err:
            raise SystemExit(f"bench/run.py: {err}") from None
        if card.is_ensemble:
            raise SystemExit(f"bench/run.py: {name} is an ensemble; benchmark its member network instead")


def run_benchmark(args):
    import tensorflow as tf

    tf.config.set_visible_devices([], "GPU")  # a CPU benchmark: TensorFlow must not use a GPU
    if args.tf_intra_op_threads:  # what `nnzoo train` and the recipes set (nnzoo.epoch.single_threaded_ops)
        tf.config.threading.set_intra_op_parallelism_threads(args.tf_intra_op_threads)
    torch_module = import_torch() if "torch" in args.impls else None
    if "torch" in args.impls and torch_module is None:
        log(f"skipping the PyTorch rows: {TORCH_HINT}")

    import bench_report
    from nnzoo import data

    check_nets(args.nets)
    started = time.time()
    results = bench_env.new_results(__file__, dict(
        quick=args.quick, batch_size=BATCH_SIZE, n_dense=args.n_dense, n_conv=args.n_conv, repeats=args.repeats,
        warmup=args.warmup, seed=args.seed, nets=args.nets, impls=args.impls, inference_repeats=args.repeats,
        settle_seconds=args.settle, inference_calls=args.serve_calls, order="interleaved rounds",
        tf_intra_op_threads=args.tf_intra_op_threads))
    results.update(environment=bench_env.environment(torch_module), training=[], inference=[])
    if results["load_average"]["start"] and results["load_average"]["start"][0] > 0.5:
        log(f"warning: 1-minute load average {results['load_average']['start'][0]}: the machine is busy, "
            f"timings will not be representative")
    split = data.load_split()
    train_x, train_y = split.train
    for name in args.nets:
        results["training"] += benchmark_net(name, train_x, train_y, args, torch_module)
    if not args.no_inference:
        import bench_keras

        images = split.test.x[:1000]
        for name in args.nets:
            results["inference"] += bench_keras.serving_throughput(
                name, images, batch_sizes=(1, 1000), calls=args.serve_calls, repeats=args.repeats,
                warmup_calls={1: 20, 1000: 2}, seed=args.seed, log=log)
    results["load_average"]["end"] = bench_env.load_average()
    results["wall_seconds"] = time.time() - started
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(results, handle, indent=2, default=str)
    log(f"wrote {args.out}\n")
    print(bench_report.render(results))
    return 0


# ----------------------------------------------------------------------------- --check


def _load_book_reference():
    import importlib.util

    path = os.path.join(ROOT, "tests", "book_reference.py")
    if not os.path.exists(path):
        return None
    spec = importlib.util.spec_from_file_location("_book_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module



def _params64(net):
    import numpy as np

    return [(w.astype(np.float64), b.astype(np.float64)) for w, b in zip(net.W, net.b)]


def _update_error(before, after, expected_after):
    """max over tensors of max|Δ - Δ_expected| / max|Δ_expected| (Δ = after - before)."""
    import numpy as np

    before = [p for pair in before for p in pair]
    after = [p for pair in after for p in pair] if isinstance(after[0], tuple) else after
    worst = 0.0
    for p0, p1, e1 in zip(before, after, expected_after):
        expected = e1 - p0
        scale = max(float(np.max(np.abs(expected))), 1e-12)
        worst = max(worst, float(np.max(np.abs((p1 - p0) - expected))) / scale)
    return worst


def run_check(args):
    """The NumPy reference matches the book's oracle step; PyTorch matches NumPy; both learn."""
    import numpy as np

    import bench_numpy
    from nnzoo import data, options, registry

    check_nets(args.nets)
    torch_module = import_torch()
    split = data.load_split()
    n = args.n_check
    x, labels = split.train.x[:n], split.train.y[:n]
    x_flat = np.ascontiguousarray(x.reshape(n, 784))
    y_hot = np.eye(10, dtype=np.float32)[labels]
    book = _load_book_reference()
    failures, lines = [], []

    def report(ok, text):
        lines.append(("ok   " if ok else "FAIL ") + text)
        log(lines[-1])
        if not ok:
            failures.append(text)

    epochs = 3
    for name in args.nets:
        card = registry.card(name)
        config = options.resolve(card, {})
        dense = not config.get("conv")
        if torch_module is not None:
            import bench_torch

            count = sum(p.numel() for p in bench_torch.build(config, card.book_code)[0].parameters())
            report(count == card.params, f"{name}: PyTorch mirror has {count:,} parameters (card: {card.params:,})")
        if dense:
            # 1. one NumPy step == the book's float64 oracle step. The step checks compare the
            # *updates* (after - before), relative to the oracle's largest update per tensor; with
            # λ > 0 they use n = 100, so the weight decay is as visible as the gradient term.
            step_config = dict(config, n_train=100) if config["lmbda"] else config
            xb, yb, lb = x_flat[:BATCH_SIZE], y_hot[:BATCH_SIZE], labels[:BATCH_SIZE]
            net = bench_numpy.NumpyNet.from_config(config, card.book_code, seed=args.seed)
            count = int(sum(w.size + b.size for w, b in zip(net.W, net.b)))
            report(count == card.params, f"{name}: NumPy reference has {count:,} parameters (card: {card.params:,})")
            net = bench_numpy.NumpyNet.from_config(step_config, card.book_code, seed=args.seed)
            before = _params64(net)
            net.step(xb, yb)
            if book is not None:
                regularization = None if not config["lmbda"] else (
                    "l2_network3" if card.book_code == "network3.py" else "l2_network2")
                expected = book.sgd_step(before, net.acts, xb.astype(np.float64), lb, config["cost"],
                                         config["eta"], lmbda=config["lmbda"], regularization=regularization,
                                         n=step_config["n_train"], batch_size=config["batch_size"])
                error = _update_error(before, _params64(net), [p for pair in expected for p in pair])
                report(error < 1e-2, f"{name}: NumPy step vs tests/book_reference.py: "
                                     f"max relative update error {error:.1e}")
            else:
                log(f"     {name}: tests/book_reference.py not found; oracle comparison skipped")
            # 2. one PyTorch step == one NumPy step from the same weights
            if torch_module is not None:
                import bench_torch

                net = bench_numpy.NumpyNet.from_config(step_config, card.book_code, seed=args.seed)
                model, optimizer, loss_fn, kind = bench_torch.build(step_config, card.book_code, seed=args.seed)
                linears = [m for m in model if isinstance(m, torch_module.nn.Linear)]
                with torch_module.no_grad():
                    for linear, w, b in zip(linears, net.W, net.b):
                        linear.weight.copy_(torch_module.from_numpy(w.T.copy()))
                        linear.bias.copy_(torch_module.from_numpy(b))
                before = _params64(net)
                xt, tt = bench_torch.prepare(x[:BATCH_SIZE], lb, config["cost"], kind)
                bench_torch.train_pass(model, optimizer, loss_fn, xt, tt, batch_size=BATCH_SIZE)
                net.step(xb, yb)
                torch_after = [t.detach().numpy().astype(np.float64) for l in linears for t in (l.weight.T, l.bias)]
                error = _update_error(before, torch_after, [p for pair in _params64(net) for p in pair])
                report(error < 1e-2, f"{name}: PyTorch step vs NumPy step: max relative update error {error:.1e}")
            # 3. NumPy training reduces the cost
            net = bench_numpy.NumpyNet.from_config(config, card.book_code, seed=args.seed)
            cost0, acc0 = net.mean_cost(x_flat, y_hot), net.accuracy(x_flat, labels)
            for epoch in range(epochs):
                order = np.random.default_rng([args.seed, epoch]).permutation(n)
                net.train_pass(x_flat[order], y_hot[order], batch_size=BATCH_SIZE)
            cost1, acc1 = net.mean_cost(x_flat, y_hot), net.accuracy(x_flat, labels)
            report(np.isfinite(cost1) and cost1 < cost0,
                   f"{name}: NumPy {epochs} passes over {n} images: cost {cost0:.4f} -> {cost1:.4f}, "
                   f"training accuracy {acc0:.1%} -> {acc1:.1%}")
        # 4. PyTorch training reduces the cost
        if torch_module is not None:
            import bench_torch

            torch_module.manual_seed(args.seed)
            model, optimizer, loss_fn, kind = bench_torch.build(config, card.book_code, seed=args.seed)
            xt, tt = bench_torch.prepare(x, labels, config["cost"], kind)
            cost0, acc0 = bench_torch.mean_cost(model, loss_fn, xt, tt), bench_torch.accuracy(model, xt, labels)
            for epoch in range(epochs):
                order = np.random.default_rng([args.seed, epoch]).permutation(n) if dense else np.arange(n)
                xe, te = bench_torch.prepare(x[order], labels[order], config["cost"], kind)
                bench_torch.train_pass(model, optimizer, loss_fn, xe, te, batch_size=BATCH_SIZE)
            cost1, acc1 = bench_torch.mean_cost(model, loss_fn, xt, tt), bench_torch.accuracy(model, xt, labels)
            report(np.isfinite(cost1) and cost1 < cost0,
                   f"{name}: PyTorch {epochs} passes over {n} images: cost {cost0:.4f} -> {cost1:.4f}, "
                   f"training accuracy {acc0:.1%} -> {acc1:.1%}")
    if torch_module is None:
        log(f"skipped the PyTorch checks: {TORCH_HINT}")
    log(f"\n{len(lines) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


# ----------------------------------------------------------------------------- main


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.markdown:
        import bench_report

        with open(args.markdown) as handle:
            print(bench_report.render(json.load(handle)), end="")
        return 0
    if args.unset_openblas_env:
        reexec_without_openblas_env(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.check:
        return run_check(args)
    return run_benchmark(args)


if __name__ == "__main__":
    sys.exit(main())
