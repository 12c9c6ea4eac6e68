"""Chapter 1's baselines on the book split: C1-05 random guessing, C1-06 average darkness and, with --svm,
C1-07 the SVM (scikit-learn: pip install -e ".[svm]"; ~10 minutes for the book-era and today's defaults).

    python recipes/ch1_baselines.py [--svm] [--out runs/experiments]
"""

import sys

from nnzoo import runner

if __name__ == "__main__":
    argv = sys.argv[1:]
    ids = ["C1-05", "C1-06"] + (["C1-07"] if "--svm" in argv else [])
    sys.exit(runner.main([1], __doc__, argv=["--only", *ids, *(a for a in argv if a != "--svm")]))
