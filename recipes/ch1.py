"""Chapter 1: the sigmoid network with the quadratic cost, and learning rates too small or too large.

    python recipes/ch1.py [--only C1-01 ...] [--runs K] [--epochs N] [--out runs/experiments]
"""

import sys

from nnzoo import runner

if __name__ == "__main__":
    sys.exit(runner.main([1], __doc__))
