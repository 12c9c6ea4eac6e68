"""Chapter 3: cross-entropy, overfitting on 1,000 images, L2, more data, initialisation, hyper-parameters.

    python recipes/ch3.py [--only C3-07 C3-09 ...] [--runs K] [--epochs N] [--out runs/experiments]
"""

import sys

from nnzoo import runner

if __name__ == "__main__":
    sys.exit(runner.main([3], __doc__))
