"""C3-14 (with C3-13's curve): accuracy against training-set size, the network and the SVM (scikit-learn).

Chapter 3 trains its [784, 30, 10] cross-entropy network on the first n training images for several n,
with the 50,000-image recipe's 30 epochs scaled up to 30 * 50,000 / n and λ = 5.0 scaled down to
5.0 * n / 50,000, and scores each trained net once, at the end; the SVM gets the same subsets with
scikit-learn's defaults of the book's day (gamma="auto"). The book plots the curves (P18, P19) and quotes
two points: the network at 5,000 images (93.24%) and the SVM at 50,000 (94.48%). ~15 minutes on 2 cores.

    python recipes/ch3_more_data.py [--out runs/experiments] [--plot DIR] [--subset N --epochs E (smoke test)] [-v]
"""

import argparse
import sys
from pathlib import Path

from nnzoo import data, figures, runner


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(runner.DEFAULT_OUT), help="parent of the run directory")
    parser.add_argument("--plot", type=Path, help="write P18 (linear) and P19 (log) PNGs into this directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--subset", type=int, metavar="N", help="smoke test: sizes up to N images only")
    parser.add_argument("--epochs", type=int, help="smoke test: epochs at 50,000 images (the book's 30)")
    parser.add_argument("-v", "--verbose", action="store_true", help="also TensorFlow's start-up lines")
    args = parser.parse_args(argv)
    out = Path(args.out) / f"C3-14{runner.reduced_suffix(args.subset, args.epochs)}"
    try:
        record = runner.run("C3-14", out=out, epochs=args.epochs, subset=args.subset, seed=args.seed,
                                 command=" ".join(["python", *sys.argv]))
    except data.DataError as err:  # no data: the message says how to provide it, without a traceback
        print(f"ch3_more_data.py: {err}", file=sys.stderr)
        return 1
    if args.plot:
        figures.size_curves(record, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
