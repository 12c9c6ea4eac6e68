"""The ``nnzoo`` command line: ``nnzoo list [PATTERN]``, ``nnzoo info NAME``."""

import argparse
import json
import sys


def _list(args):
    from nnzoo import registry

    for name in registry.list_models(args.pattern or "*"):
        model_card = registry.card(name)
        result = model_card.book_result
        reported = f"{result.accuracy:.2f}% {result.split}" if result else "-"
        print(f"{name:<24} ch{model_card.chapter}  {model_card.params:>10,} params  book: {reported:<16} "
              f"{model_card.summary}")
    return 0


def _info(args):
    from nnzoo import registry

    try:
        model_card = registry.card(args.name)
    except ValueError as err:
        print(f"nnzoo: {err}", file=sys.stderr)
        return 2
    print(json.dumps(model_card.to_dict(), indent=2, default=list))
    return 0


def _parse_value(text):
    """``--set`` values: JSON where it parses (numbers, lists, true), else the string."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return tuple(value) if isinstance(value, list) else value


def _train(args):
    from nnzoo import data, training

    overrides = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            print(f"nnzoo: --set expects key=value, e.g. --set eta=0.1. Received: {item!r}", file=sys.stderr)
            return 2
        overrides[key] = _parse_value(value)
    try:
        result = training.train(
            args.name, epochs=args.epochs, runs=args.runs, data=args.data, seed=args.seed, out=args.out,
            verbose=0 if args.quiet else 2 if args.verbose else 1, **overrides,
        )
    except (ValueError, training.TrainingError, data.DataError) as err:
        print(f"nnzoo: {err}", file=sys.stderr)
        return 2
    if args.quiet:
        print(f"{result.name}: {100 * result.reported:.2f}% ({result.protocol}); run dir {result.run_dir}")
    return 0


def _export(args):
    from pathlib import Path

    import nnzoo
    from nnzoo import registry
    from nnzoo.export import load_weights

    try:
        registry.card(args.name)
        if not Path(args.weights).exists():
            raise FileNotFoundError(f"--weights {args.weights}: no such file or directory. Expected a .keras file, "
                                    f"a .weights.h5 file or a run directory containing model.keras.")
        metadata = json.loads(Path(args.metadata).read_text()) if args.metadata else None
        model = load_weights(nnzoo.build(args.name, compile=False), args.weights)
        version_dir = nnzoo.export(model, args.out or Path("savedmodels") / args.name, metadata=metadata)
    except (ValueError, OSError) as err:
        print(f"nnzoo export: {err}", file=sys.stderr)
        return 2
    print(version_dir)
    return 0


def _plot(args):
    try:
        from nnzoo import plots

        runs, title, kind = args.runs, args.title, args.kind
        if kind in ("overfitting", "train-vs-test", "filters") and len(runs) != 1:
            raise ValueError(f"--kind {kind} draws one run; received {len(runs)}: {' '.join(runs)}")
        if args.labels and kind not in ("accuracy", "costs"):
            raise ValueError(f"--labels applies to --kind accuracy and costs, not {kind}")
        if kind == "accuracy":
            plots.accuracy_curves(runs, metric=args.metric, labels=args.labels, title=title,
                                  ylim=args.ylim, out=args.out)
        elif kind == "overfitting":
            plots.overfitting(runs[0], title=title, out=args.out)
        elif kind == "train-vs-test":
            plots.train_vs_test(runs[0], ylim=args.ylim, title=title, out=args.out)
        elif kind == "costs":
            plots.training_costs(runs, labels=args.labels, title=title, out=args.out)
        else:
            plots.filters(runs[0], layer=args.layer, title=title, out=args.out)
    except ImportError as err:
        print(f"nnzoo plot needs matplotlib: pip install \"nnzoo[plots]\" ({err})", file=sys.stderr)
        return 2
    except (ValueError, OSError) as err:
        print(f"nnzoo plot: {err}", file=sys.stderr)
        return 2
    print(args.out)
    return 0


def make_parser():
    parser = argparse.ArgumentParser(
        prog="nnzoo", description="The networks of Nielsen's Neural Networks and Deep Learning, in Keras 3."
    )
    verbs = parser.add_subparsers(dest="verb", required=True)
    list_parser = verbs.add_parser("list", help="list the registered networks")
    list_parser.add_argument("pattern", nargs="?", help="fnmatch pattern, e.g. 'conv2_*'")
    list_parser.set_defaults(run=_list)
    info_parser = verbs.add_parser("info", help="show a network's model card as JSON")
    info_parser.add_argument("name")
    info_parser.set_defaults(run=_info)
    export_parser = verbs.add_parser(
        "export", help="export trained weights as a TensorFlow Serving SavedModel (OUT/VERSION/)"
    )
    export_parser.add_argument("name", help="registry name of the network, e.g. conv2_dropout")
    export_parser.add_argument("--weights", required=True,
                               help="a .keras file, a .weights.h5 file, or a run directory with model.keras")
    export_parser.add_argument("--out", help="base directory of the versions (default: savedmodels/NAME)")
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
    train_parser.add_argument("--out", help="run directory (default: runs/NAME-seedSEED)")
    train_parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                              help="model override, e.g. --set eta=0.1 --set hidden=[100]")
    loudness = train_parser.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true", help="only the final line")
    loudness.add_argument("-v", "--verbose", action="store_true", help="also a progress bar within each epoch")
    train_parser.set_defaults(run=_train)
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
    return parser


def main(argv=None):
    args = make_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
