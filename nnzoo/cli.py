"""The ``nnzoo`` command line: ``nnzoo list [PATTERN]``, ``nnzoo info NAME``."""

import argparse
import ast
import json
import os
import sys
from pathlib import Path

from nnzoo import quiet


def _utf8_stdout():
    """Write UTF-8 whatever the locale (the cards hold η, λ, ‖∂C/∂b‖): JSON is UTF-8, and a terminal of
    another encoding shows a replacement character instead of a UnicodeEncodeError."""
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "").replace("_", "")
    if encoding != "utf8" and hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8", errors="replace")


def _check_target(name):
    """Refuse a name that is neither a network nor a book experiment id, before TensorFlow loads."""
    import difflib  # noqa: PLC0415

    from nnzoo import experiments, registry  # noqa: PLC0415  (cards and the experiments' table: data)

    names, ids = registry.list_models(), experiments.ids()
    if name in names or name in ids:
        return
    close = difflib.get_close_matches(name, names + ids, n=5, cutoff=0.5)
    if not close and name[:1].upper() == "C":  # an id of a chapter with experiments: C9-99 -> C3-..., C6-...
        close = difflib.get_close_matches(name.upper(), ids, n=5, cutoff=0.3)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ValueError(f"unknown network or experiment {name!r}. Expected a network name (`nnzoo list` shows them) "
                     f"or a book experiment id such as {', '.join(ids[:2])} or C6-11 (`nnzoo info ID` shows one; "
                     f"`nnzoo reproduce --help` runs them).{hint}")


def _list(args):
    from nnzoo import pretrained, registry

    _utf8_stdout()
    names = registry.list_models(args.pattern or "*", pretrained=args.pretrained)
    print(f"{'name':<24} {'ch':<3} {'params':>10}  {'book':<18} {'weights=mnist':<13}  summary")
    missing = []
    for name in names:
        model_card = registry.card(name)
        result, weights = model_card.book_result, model_card.weights
        reported = f"{result.accuracy:.2f}% {result.split}" if result else "-"
        shipped = f"{100 * weights.test_accuracy:.2f}% test" if weights else "-"
        if weights and not pretrained.available(weights):
            missing.append(weights)
            shipped += "*"
        print(f"{name:<24} {model_card.chapter:<3} {model_card.params:>10,}  {reported:<18} {shipped:<13}  "
              f"{model_card.summary}")
    if missing:
        print(f"* weights not on this machine ({len(missing)}): looked in {'; '.join(pretrained.places(missing[0]))}. "
              f"weights='mnist' downloads them from {missing[0].url.rsplit('/', 1)[0]}/ (NNZOO_WEIGHTS_URL); "
              f"a wheel or `pip install .` of a checkout carries them all.")
    return 0


def _info(args):
    from nnzoo import experiments, registry  # noqa: PLC0415

    try:
        _check_target(args.name)
        if args.name in experiments.ids():  # a book experiment: its row, its recipe and its network's card
            experiment = experiments.get(args.name)
            info = {"experiment": experiments.describe(experiment),
                    "card": registry.card(experiment.model).to_dict() if experiment.model else None}
        else:
            info = registry.card(args.name).to_dict()
    except ValueError as err:
        print(f"nnzoo: {err}", file=sys.stderr)
        return 2
    _utf8_stdout()
    print(json.dumps(info, indent=2, default=list, ensure_ascii=False))
    return 0


# Options of their own, not model overrides: ``--set seed=5`` is answered with ``--seed 5``.
_OWN_OPTIONS = ("seed", "epochs", "runs", "data", "out", "processes")


def _parse_value(text):
    """``--set`` values: JSON or a Python literal where one parses (``[100]``, ``(100,)``, ``true``,
    ``True``), else the string. Literals only: nothing is evaluated."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return text
    return tuple(value) if isinstance(value, list) else value


def _overrides(items):
    overrides = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects key=value, e.g. --set eta=0.1. Received: {item!r}")
        if key in _OWN_OPTIONS:
            raise ValueError(f"{key} is an option of its own, not a model override. Received: --set {item}. "
                             f"Use --{key} {value} instead.")
        overrides[key] = _parse_value(value)
    return overrides


def _stopped_at(out):
    """'after epoch N' for the runs under ``out`` (their completed epochs are kept)."""
    from nnzoo import rundir  # noqa: PLC0415

    done = []
    for history in sorted(Path(out).glob(f"**/{rundir.HISTORY}")):
        try:
            done.append(len(rundir.read_json(history, "a run's history")))
        except ValueError:
            continue
    return f"after epoch {min(done) - 1}" if done and min(done) else "before the first epoch ended"


def _tensorboard(log_dir):
    """TensorBoard logs in LOG_DIR/run-K for each run (or member) K; view them with `tensorboard --logdir`."""
    if log_dir is None:
        return None
    import keras  # noqa: PLC0415

    return lambda index: [keras.callbacks.TensorBoard(log_dir=str(Path(log_dir) / f"run-{index}"))]


def _train(args):
    try:
        _check_target(args.name)  # in a fraction of a second, before TensorFlow loads
    except ValueError as err:
        print(f"nnzoo: {err}", file=sys.stderr)
        return 2
    _start_keras(training_threads=True)
    from nnzoo import data, experiments, runner, training  # noqa: PLC0415

    try:
        overrides = _overrides(args.set)
        if args.tensorboard and args.processes > 1:
            raise ValueError(f"--tensorboard logs from this process, and --processes {args.processes} trains the runs "
                             f"in others. Pass --processes 1 with --tensorboard.")
        result = runner.train(
            args.name, epochs=args.epochs, runs=args.runs, data=args.data, seed=args.seed, out=args.out,
            verbose=0 if args.quiet else 2 if args.verbose else 1, callbacks=_tensorboard(args.tensorboard),
            processes=args.processes, **overrides,
        )
    except (ValueError, training.TrainingError, data.DataError) as err:
        print(f"nnzoo: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # an unwritable --out, a full disk, ...
        print(f"nnzoo: {err.strerror or err}: {err.filename or ''} ({type(err).__name__})".replace(":  (", " ("),
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        out = args.out or (f"runs/{args.name}-seed{args.seed}" if args.name in experiments.ids()
                           else training.default_out(args.name, args.seed))
        print(f"\nnnzoo: stopped {_stopped_at(out)}; the completed epochs are kept in {out}. "
              f"Re-run the same command to resume.", file=sys.stderr)
        return 130
    if args.quiet:
        print(f"{result.name}: {100 * result.reported:.2f}% ({result.protocol}); book {result.book.text()}; "
              f"run dir {result.run_dir}")
    return 0


def _export(args):
    _start_keras()
    import nnzoo  # noqa: PLC0415
    from nnzoo import metadata as user_metadata  # noqa: PLC0415
    from nnzoo import registry, trained  # noqa: PLC0415

    def export():
        registry.card(args.name)
        metadata = user_metadata.read(args.metadata) if args.metadata else {}
        model, measured = trained.model_and_record(args.name, args.weights)
        return nnzoo.export(model, args.out or Path("exports") / args.name, format=args.format,
                            quantize=args.quantize, metadata={**measured, **metadata})

    return _print_or_fail("export", export)


def _print_or_fail(command, work):
    """Run ``work()`` and print the path it returns (exit 0), or its ValueError / OSError as one line (exit 2)."""
    try:
        path = work()
    except (ValueError, OSError) as err:
        print(f"nnzoo {command}: {err}", file=sys.stderr)
        return 2
    print(path)
    return 0


def _reproduce(args):
    from nnzoo import reproduce  # noqa: PLC0415  (the experiments' table and the records: no TensorFlow)

    try:
        reproduce.check(args)  # ids and output paths, in a fraction of a second, before any training
    except ValueError as err:
        print(f"nnzoo reproduce: {err}", file=sys.stderr)
        return 2
    _start_keras(training_threads=True)
    from nnzoo import data, training  # noqa: PLC0415

    try:
        return reproduce.main(args)
    except (ValueError, training.TrainingError, data.DataError) as err:
        print(f"nnzoo reproduce: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nnnzoo reproduce: stopped; finished experiments are kept. Re-run the same command to go on.",
              file=sys.stderr)
        return 130


def _plot(args):
    _start_keras()
    from nnzoo import plots  # noqa: PLC0415  (matplotlib is imported when a figure is drawn)

    def plot():
        try:
            return draw()
        except ImportError as err:
            raise ValueError(f"drawing needs matplotlib: pip install \"nnzoo[plots]\" ({err})") from None

    def draw():
        runs, title, kind = args.runs, args.title, args.kind
        if kind in ("overfitting", "train-vs-test", "filters") and len(runs) != 1:
            raise ValueError(f"--kind {kind} draws one run; received {len(runs)}: {' '.join(runs)}")
        if args.labels and kind not in ("accuracy", "costs"):
            raise ValueError(f"--labels applies to --kind accuracy and costs, not {kind}")
        out = plots.output_path(args.out, runs[0], kind)  # OUT/NAME-KIND.png when OUT is a directory
        if kind == "accuracy":
            plots.accuracy_curves(runs, metric=args.metric, labels=args.labels, title=title,
                                  ylim=args.ylim, out=out)
        elif kind == "overfitting":
            plots.overfitting(runs[0], title=title, out=out)
        elif kind == "train-vs-test":
            plots.train_vs_test(runs[0], ylim=args.ylim, title=title, out=out)
        elif kind == "costs":
            plots.training_costs(runs, labels=args.labels, title=title, out=out)
        else:
            plots.filters(runs[0], layer=args.layer, title=title, out=out)
        return out

    return _print_or_fail("plot", plot)


def _demo(args):
    from nnzoo import demo  # noqa: PLC0415  (TensorFlow only when the site is built)

    return demo.main(args)


def _start_keras(training_threads=False):
    """Import nnzoo's Keras side (and start TensorFlow's runtime, with the thread setting training wants)."""
    import nnzoo  # noqa: PLC0415

    nnzoo._import_keras_side()

    if training_threads:
        from nnzoo.epoch import single_threaded_ops  # noqa: PLC0415

        single_threaded_ops()  # before TensorFlow's runtime starts


def _version():
    from importlib import metadata  # noqa: PLC0415  (no TensorFlow import for --version)

    try:
        return metadata.version("nnzoo")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def make_parser():
    parser = argparse.ArgumentParser(
        prog="nnzoo", description="The networks of Nielsen's Neural Networks and Deep Learning, in Keras 3."
    )
    parser.add_argument("--version", action="version", version=f"nnzoo {_version()}")
    verbs = parser.add_subparsers(dest="verb", required=True)
    list_parser = verbs.add_parser("list", help="list the registered networks")
    list_parser.add_argument("pattern", nargs="?", help="fnmatch pattern, e.g. 'conv2_*'")
    list_parser.add_argument("--pretrained", action="store_true", help="only networks with shipped weights")
    list_parser.set_defaults(run=_list)
    info_parser = verbs.add_parser("info", help="show a network's model card, or a book experiment, as JSON")
    info_parser.add_argument("name", help="a registry name (nnzoo list) or a book experiment id, e.g. C3-12")
    info_parser.set_defaults(run=_info)
    export_parser = verbs.add_parser(
        "export", help="export trained weights as a SavedModel (OUT/VERSION/), a TFLite or an ONNX file"
    )
    export_parser.add_argument("name", help="registry name of the network, e.g. conv2_dropout")
    export_parser.add_argument("--weights", required=True,
                               help="mnist (the shipped weights), a .keras file, a .weights.h5 file, or a run "
                                    "directory of nnzoo train (built with the run's own recipe)")
    export_parser.add_argument("--format", default="savedmodel", choices=("savedmodel", "tflite", "onnx"),
                               help="savedmodel (OUT/VERSION/), tflite (builtin ops) or onnx (tf2onnx: nnzoo[onnx])")
    export_parser.add_argument("--quantize", choices=("dynamic",), help="int8 weights (tflite and onnx)")
    export_parser.add_argument("--out", help="directory (default: exports/NAME), or a .tflite / .onnx file")
    export_parser.add_argument("--metadata", help="JSON file for the model card, e.g. {\"test_accuracy\": 0.99}")
    export_parser.set_defaults(run=_export)
    train_parser = verbs.add_parser(
        "train", help="train a network with its book recipe (re-run the same command to resume)"
    )
    train_parser.add_argument("name", help="a registry name (nnzoo list) or a book experiment id, e.g. C3-12")
    train_parser.add_argument("--epochs", type=int, help="default: the card's")
    train_parser.add_argument("--runs", type=int, default=1, help="independent runs; the best is reported")
    train_parser.add_argument("--data", help="mnist | expanded | mnist[:N] (default: the card's)")
    train_parser.add_argument("--seed", type=int, default=0)
    train_parser.add_argument("--processes", type=int, default=1, metavar="K",
                              help="train the runs (members) in K processes at once (default 1: in lockstep in one)")
    train_parser.add_argument("--out", help="run directory (default: runs/NAME-seedSEED)")
    train_parser.add_argument("--tensorboard", metavar="DIR",
                              help="write TensorBoard logs to DIR/run-K (view: tensorboard --logdir DIR)")
    train_parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                              help="model override, e.g. --set eta=0.1 --set hidden=[100]")
    loudness = train_parser.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true", help="only the final line")
    loudness.add_argument("-v", "--verbose", action="store_true", help="also a progress bar within each epoch")
    train_parser.set_defaults(run=_train)
    reproduce_parser = verbs.add_parser(
        "reproduce", help="train the book's experiments by their recipes (skipping finished ones) and summarise")
    reproduce_parser.add_argument("ids", nargs="*", metavar="ID", help="experiment ids, e.g. C1-01 C3-12")
    reproduce_parser.add_argument("--chapter", type=int, action="append", metavar="N",
                                  help="every experiment of chapter N (repeatable); no ids and no --chapter: all")
    reproduce_parser.add_argument("--out", default="runs/experiments", help="parent of the run directories")
    reproduce_parser.add_argument("--seed", type=int, default=0)
    reproduce_parser.add_argument("--ray", metavar="ADDRESS",
                                  help="run each experiment as a task on this Ray cluster ('auto', 'ray://host:10001')")
    reproduce_parser.add_argument("--results", metavar="FILE.md",
                                  help="re-render the results table in FILE.md (e.g. docs/RESULTS.md) from the records: "
                                       "between its table markers, or a new file (created with them)")
    reproduce_parser.add_argument("--subset", type=int, metavar="N",
                                  help="smoke run: the first N training, validation and test images (into ID-subsetN)")
    reproduce_parser.add_argument("--epochs", type=int, metavar="N",
                                  help="smoke run: N epochs instead of the book's (into ID-epochsN)")
    reproduce_parser.add_argument("-v", "--verbose", action="store_true", help="also TensorFlow's start-up lines")
    reproduce_parser.add_argument("--figures", metavar="DIR",
                                  help="draw the book's figures whose experiments have records (needs matplotlib)")
    reproduce_parser.set_defaults(run=_reproduce)
    plot_parser = verbs.add_parser("plot", help="draw a figure of the book from run directories as a PNG")
    plot_parser.add_argument("runs", nargs="+", metavar="RUN_DIR",
                             help="run directories (history.json); for --kind filters a .keras file or run dir")
    plot_parser.add_argument("--kind", required=True,
                             choices=["accuracy", "overfitting", "train-vs-test", "costs", "filters"])
    plot_parser.add_argument("--out", required=True, metavar="FILE.png")
    plot_parser.add_argument("--metric", default="validation_accuracy",
                             help="accuracy key for --kind accuracy (validation_accuracy, test_accuracy, ...)")
    plot_parser.add_argument("--labels", nargs="+", help="one legend label per run")
    plot_parser.add_argument("--ylim", nargs=2, type=float, metavar=("LOW", "HIGH"), help="y range in percent")
    plot_parser.add_argument("--title")
    plot_parser.add_argument("--layer", default="conv_1", help="the conv layer for --kind filters")
    plot_parser.set_defaults(run=_plot)
    demo_parser = verbs.add_parser("demo", help="the zoo in a browser: draw a digit, every network answers "
                                                 "(builds the static site, serves it on 127.0.0.1, opens it)")
    demo_parser.add_argument("--build", metavar="DIR", help="only write the static site into DIR (no server)")
    demo_parser.add_argument("--port", type=int, default=8000, help="the server's port (default 8000)")
    demo_parser.add_argument("--no-browser", action="store_true", help="serve without opening a browser")
    demo_parser.add_argument("--check-images", type=int, default=10000, metavar="N",
                             help="test images each converted model must agree with Keras on (default all 10000)")
    demo_parser.set_defaults(run=_demo)
    return parser


def main(argv=None):
    args = make_parser().parse_args(argv)
    if args.run in (_list, _info):  # cards are data: no TensorFlow
        try:
            return args.run(args)
        except BrokenPipeError:  # `nnzoo list | head`: the reader has what it wanted
            sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115  (Python flushes it at exit)
            return 0
    with quiet.hide_native_logs(quiet.wanted(argv) and not getattr(args, "verbose", False)):
        return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
