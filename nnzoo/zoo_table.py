"""The README's zoo table: every registered network, the book's number and the shipped weights' measured one.

Rendered from the cards and ``nnzoo/pretrained.json`` only (no TensorFlow), so the README cannot drift from
them; ``tests/test_zoo_table.py`` checks that the README holds exactly this output between its markers.

    python -m nnzoo.zoo_table            # print the table (Markdown)
    python -m nnzoo.zoo_table --write    # replace the table in README.md
"""

import argparse
import sys
from pathlib import Path

from nnzoo import registry

__all__ = ["BEGIN", "END", "markdown", "replace_in", "row"]

BEGIN = "<!-- zoo-table: python -m nnzoo.zoo_table --write -->"
END = "<!-- /zoo-table -->"
README = Path(__file__).resolve().parent.parent / "README.md"

_HEADER = ("| network | chapter | what it is | params | book | nnzoo (`weights=\"mnist\"`) |\n"
           "|---|---|---|---|---|---|")


def _percent(accuracy, split):
    return f"{accuracy:.2f}% {'val' if split == 'validation' else split}"


def row(name):
    """One network's row: name, chapter, summary, parameters, the book's number (and its experiment), the
    shipped weights' test accuracy (and the experiment that trained them); "–" where there is none."""
    card = registry.card(name)
    book, weights = card.book_result, card.weights
    reported = f"{_percent(book.accuracy, book.split)} ({book.experiment})" if book else "–"
    measured = f"{_percent(100 * weights.test_accuracy, 'test')} ({weights.experiment})" if weights else "–"
    return f"| `{name}` | {card.chapter} | {card.summary} | {card.params:,} | {reported} | {measured} |"


def markdown():
    """The whole table, header included, one row per registered network in the registry's order."""
    return "\n".join([_HEADER, *(row(name) for name in registry.list_models())])


def replace_in(text):
    """``text`` with the table between ``BEGIN`` and ``END`` replaced by ``markdown()``.

    Raises:
        ValueError: when the markers are missing or out of order.
    """
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"The zoo table's markers are missing or out of order. Expected a line {BEGIN!r} "
                         f"followed later by a line {END!r}; add them where the table belongs.")
    return f"{text[:start]}{BEGIN}\n{markdown()}\n{text[end:]}"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m nnzoo.zoo_table", description=__doc__.splitlines()[0])
    parser.add_argument("--write", nargs="?", const=str(README), metavar="FILE",
                        help="replace the table between the markers in FILE (default: the checkout's README.md)")
    args = parser.parse_args(argv)
    if args.write is None:
        print(markdown())
        return 0
    path = Path(args.write)
    try:
        path.write_text(replace_in(path.read_text(encoding="utf-8")), encoding="utf-8")
    except (OSError, ValueError) as err:
        print(f"nnzoo.zoo_table: {err}", file=sys.stderr)
        return 2
    print(f"wrote the zoo table into {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
