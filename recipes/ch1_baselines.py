"""Chapter 1's baselines on the book split: random guessing, average darkness, and (with scikit-learn) an SVM.

    python recipes/ch1_baselines.py [--svm]
"""

import argparse
import time

from nnzoo import baselines, data
from nnzoo.experiments import BASELINES


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--svm", action="store_true",
                        help="also fit the SVM with today's and with the book's defaults (scikit-learn; ~10 minutes)")
    args = parser.parse_args()
    split = data.load_split()
    runs = {"C1-05": lambda: baselines.random_guess(split.test),
            "C1-06": lambda: baselines.average_darkness(split.train, split.test)}
    if args.svm:
        runs["C1-07"] = lambda: baselines.svm(split.train, split.test)
        runs["C1-07 (gamma='auto', the book's scikit-learn default)"] = lambda: baselines.svm(
            split.train, split.test, gamma="auto")
    for experiment_id, score in runs.items():
        title, book, source = BASELINES[experiment_id.split()[0]]
        started = time.perf_counter()
        accuracy = score()
        print(f"{experiment_id} {title}: measured {100 * accuracy:.2f}%, book {book:.2f}% ({source}), "
              f"{time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
