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
    return parser


def main(argv=None):
    args = make_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
